#!/bin/bash
# A CLI that tells the truth: `smshim status` of a cache that does not exist, or cannot be read,
# exits non-zero with the reason (never all zeros); --prefix is accepted by every command that
# shows or passes a prefix; `smshim logs` shows the cache's log (and -f follows it); every
# command's --help lists its options and the environment it reads.
. "$(dirname "$0")/../lib/common.sh"

rc=0; "$B/smshim" status --cache "$T/nonexistent" >"$T/s1.out" 2>"$T/s1.err" || rc=$?
cat "$T/s1.err"
[ "$rc" = 1 ] && grep -q "no cache at $T/nonexistent" "$T/s1.err" || fail "status of a missing cache: exit $rc"
[ ! -e "$T/nonexistent" ] || fail "status created the cache it was asked about"
rc=0; "$B/smshim" status --json --cache "$T/nonexistent" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "status --json of a missing cache: exit $rc"
echo "ok - status of a missing cache fails with the reason"

shim bash -c 'mkdir -p /sm/d && echo a > /sm/d/a.md'
"$B/smshim" status >/dev/null || fail "status of a good cache"
if [ "$(id -u)" = 0 ]; then
    # root reads anything: a tree that is not a directory stands for a cache that cannot be read
    mv "$SMSHIM_CACHE/tree" "$T/tree.away" && : >"$SMSHIM_CACHE/tree"
    rc=0; "$B/smshim" status >"$T/s2.out" 2>"$T/s2.err" || rc=$?
    rm "$SMSHIM_CACHE/tree" && mv "$T/tree.away" "$SMSHIM_CACHE/tree"
else
    chmod 000 "$SMSHIM_CACHE/tree"
    rc=0; "$B/smshim" status >"$T/s2.out" 2>"$T/s2.err" || rc=$?
    chmod 755 "$SMSHIM_CACHE/tree"
fi
cat "$T/s2.err"
[ "$rc" = 1 ] && grep -q "cannot read the cache" "$T/s2.err" || fail "status of an unreadable cache: exit $rc"
echo "ok - status of an unreadable cache fails with the reason"

"$B/smshim" status --prefix /mnt/x | grep -q '^prefix: *\/mnt\/x ' || fail "status --prefix is not shown"
"$B/smshim" status --prefix=//mnt/./y/ --json | grep -q '"prefix":"/mnt/y"' || fail "status --prefix= in normal form"
rc=0; "$B/smshim" status --prefix / >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "status --prefix / was not refused"
echo "ok - --prefix in status"

rc=0; "$B/smshim" logs >/dev/null 2>"$T/l0.err" || rc=$?
[ "$rc" = 1 ] && grep -q "no log" "$T/l0.err" || fail "logs without a log: exit $rc"
SMSHIM_LOG=debug SMSHIM_SUD=1 shim bash -c 'echo b > /sm/d/b.md'
[ -s "$SMSHIM_CACHE/log" ] || fail "no log written"
"$B/smshim" logs >"$T/l1.out" || fail "smshim logs"
cmp -s "$T/l1.out" "$SMSHIM_CACHE/log" || fail "logs does not show the log"
"$B/smshim" logs -n 1 >"$T/l2.out" || fail "smshim logs -n 1"
[ "$(wc -l <"$T/l2.out")" = 1 ] && [ "$(cat "$T/l2.out")" = "$(tail -n 1 "$SMSHIM_CACHE/log")" ] || fail "logs -n 1"
# -f: a line written later appears (waits on lines, not on time: the last line shown first says
# logs -f is watching)
mkfifo "$T/follow"
"$B/smshim" logs -f -n 1 >"$T/follow" &
FPID=$!
exec 3<"$T/follow"
IFS= read -r first <&3 || fail "logs -f ended"
[ "$first" = "$(tail -n 1 "$SMSHIM_CACHE/log")" ] || fail "logs -f -n 1 did not start with the last line"
echo "a line written later" >>"$SMSHIM_CACHE/log"
IFS= read -r line <&3 || fail "logs -f ended"
kill "$FPID"; exec 3<&-
[ "$line" = "a line written later" ] || fail "logs -f showed '$line'"
echo "ok - logs, logs -n, logs -f"

for c in run status sync grep login logout whoami logs; do
    "$B/smshim" "$c" --help >"$T/h.out" || fail "smshim $c --help failed"
    grep -q "^usage: smshim $c" "$T/h.out" || fail "smshim $c --help has no usage line"
    grep -q "^Environment:" "$T/h.out" || fail "smshim $c --help does not list the environment"
done
"$B/smshim" --help | grep -q "smshim grep" || fail "smshim --help does not list grep"
echo "ok - every command's --help lists its options and environment"
