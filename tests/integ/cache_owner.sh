#!/bin/bash
# A cache belongs to the user who made it: another user's process that may write there (root
# under sudo, which keeps HOME and so the cache) made LMDB's files there its own, and from then on the owner's
# processes could not open the cache (EACCES: nothing folded, `smshim status` failed). Such a
# process refuses the cache loudly: `smshim run` exits 2 with a one-line reason, a preloaded
# process passes every call through and says why in one line, and nothing in the cache changes.
# Needs root (a cache of uid 65534's).
. "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root (makes a cache of uid 65534's)"
need setpriv
AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# under ASan the same in Python (setpriv's libcap-ng opens a file in its constructor, before a
# preloaded ASan runtime starts: see privdrop.sh)
[ "${SMSHIM_SAN:-}" = address ] && AS=("$PY" -c 'import os, sys
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
os.execvp(sys.argv[1], sys.argv[1:])')
# (in /tmp: the test's own directory may lie where uid 65534 cannot reach)
D=$(mktemp -d /tmp/smshim-owner.XXXXXX)
trap 'rm -rf "$D"' EXIT
chmod 755 "$D"
C="$D/theirs"
mkdir "$C" && chown 65534:65534 "$C"
SMSHIM_CACHE="$C" shim "${AS[@]}" bash -c 'echo first >/sm/first.txt' || fail "the owner's first write failed"
snap() { find "$C" -printf '%P %u %s\n' | sort; }
snap >"$T/before"

rc=0
"$B/smshim" run --cache "$C" -- sh -c 'echo x >/sm/root.txt' >"$T/run.out" 2>"$T/run.err" || rc=$?
[ "$rc" = 2 ] || { cat "$T/run.err"; fail "smshim run on another user's cache exited $rc, not 2"; }
[ "$(wc -l <"$T/run.err")" = 1 ] && grep -q '^smshim: .*belongs to uid 65534' "$T/run.err" ||
    { cat "$T/run.err"; fail "smshim run did not give a one-line reason"; }
echo "ok - smshim run: $(cat "$T/run.err")"

rc=0
SMSHIM_CACHE="$C" LD_PRELOAD="$PRELOAD" sh -c 'test -e /sm/first.txt && echo seen || echo passed' \
    >"$T/pre.out" 2>"$T/pre.err" || rc=$?
[ "$rc" = 0 ] && [ "$(cat "$T/pre.out")" = passed ] && [ "$(wc -l <"$T/pre.err")" = 1 ] &&
    grep -q '^smshim: .*belongs to uid 65534' "$T/pre.err" ||
    { cat "$T/pre.out" "$T/pre.err"; fail "a preloaded process on another user's cache: exit $rc"; }
rc=0
"$B/smshim" status --cache "$C" >"$T/st.out" 2>"$T/st.err" || rc=$?
[ "$rc" != 0 ] && grep -q 'belongs to uid 65534' "$T/st.err" ||
    { cat "$T/st.err"; fail "smshim status on another user's cache: exit $rc"; }
snap >"$T/after"
diff "$T/before" "$T/after" >"$T/diff" || fail "the cache changed: $(cat "$T/diff")"
echo "ok - preloaded and the CLI: refused, the cache untouched"

# its owner still uses it
SMSHIM_CACHE="$C" shim "${AS[@]}" bash -c 'echo second >/sm/second.txt' || fail "the owner's second write failed"
"${AS[@]}" "$B/smshim" status --cache "$C" --list >"$T/list" 2>&1 || fail "the owner's status: $(cat "$T/list")"
grep -qx "dirty */second.txt" "$T/list" || fail "the owner's second write is not recorded: $(cat "$T/list")"
echo "ok - the owner's processes still use the cache"
