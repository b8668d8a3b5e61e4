#!/usr/bin/env bash
# A file size limit (ulimit -f, RLIMIT_FSIZE) binds the program's own files as on a real disk, and
# never the cache's: the kernel sends SIGXFSZ (which ends a process) to a write past the limit,
# and the journal, LMDB's pages and the links file of the cache are written by the process too.
# Small files under a limit are written, and recorded or found by the next sync; a program's own
# write past the limit ends the same way on the prefix as on a real directory; a limit the
# program sets itself counts too.
. "$(dirname "$0")/../lib/common.sh"
CLI="$B/smshim"
start_server
mkdir -p "$T/real"
write40() { # write40 CACHE DIR: 40 small files under a 16 KiB limit; prints the last one read back
    (ulimit -f 16 && on "$1" shim bash -c "mkdir -p /sm/$2 && for i in \$(seq 1 40); do echo \"line \$i\" >/sm/$2/\$i.txt || exit 7; done; cat /sm/$2/40.txt") 2>&1
}

# a cache that exists (made by a process without the limit): every change is recorded
on "$T/c1" shim bash -c 'echo 0 >/sm/first.txt' || fail "the first write failed"
rc=0
out=$(write40 "$T/c1" f) || rc=$?
[ $rc -eq 0 ] && [ "$out" = "line 40" ] || fail "small files under ulimit -f 16: exit $rc: $out"
"$CLI" status --cache "$T/c1" --list >"$T/list" || fail "status --list failed"
for i in 1 20 40; do
    grep -qx "dirty */f/$i.txt" "$T/list" || fail "/f/$i.txt is not recorded: $(head -c 600 "$T/list")"
done
echo "ok - 40 files written and recorded under a 16 KiB file size limit"

# a cache made under the limit (its journal cannot grow to its size): the program still lives,
# and the next sync finds every file
rc=0
out=$(write40 "$T/c2" n) || rc=$?
[ $rc -eq 0 ] && [ "$out" = "line 40" ] || fail "a new cache under ulimit -f 16: exit $rc: $out"
"$CLI" sync --cache "$T/c2" >"$T/sync.out" 2>&1 || fail "smshim sync: $(cat "$T/sync.out")"
for i in 1 20 40; do
    [ "$(srv docs "/n/$i.txt" | cut -d' ' -f1)" = 1 ] || fail "/n/$i.txt was not pushed: $(cat "$T/sync.out")"
done
echo "ok - a cache made under the limit: the program lives, the next sync pushes every file"

# the program's own write past the limit: as on a real directory (SIGXFSZ, the file cut at it)
big() { (ulimit -f 16 && on "$T/c1" shim bash -c "head -c 40000 /dev/zero >$1; echo \$?") 2>/dev/null; }
want=$(big "$T/real/big")
got=$(big /sm/f/big)
[ -n "$want" ] && [ "$got" = "$want" ] || fail "a write past the limit: '$got' on the prefix, '$want' on a real directory"
rs=$(stat -c %s "$T/real/big")
ps=$(on "$T/c1" shim stat -c %s /sm/f/big)
[ "$ps" = "$rs" ] || fail "a write past the limit left $ps bytes on the prefix, $rs on a real directory"
echo "ok - a write past the limit ends as on a real directory (status $got, $rs bytes)"

# a limit the program sets after the cache is open (bash's ulimit is its setrlimit)
out=$(on "$T/c3" shim bash -c 'echo 0 >/sm/g0.txt && ulimit -f 16 && for i in $(seq 1 40); do echo "$i" >/sm/g$i.txt || exit 7; done; echo done' 2>&1) || true
[ "$out" = done ] || fail "a limit set by the program: $out"
"$CLI" status --cache "$T/c3" --list | grep -qx "dirty */g40.txt" || fail "/g40.txt is not recorded"
echo "ok - a limit the program sets itself binds its files only"
