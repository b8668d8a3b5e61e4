#!/usr/bin/env bash
# A signal handler installed without SA_RESTART makes a blocking call it interrupts fail with
# EINTR. The shim's own waits inside a program's call (the journal's lock, which every process
# takes at its first change while another makes the header, and the unrecorded list's) are the
# shim's, not the program's: an interrupted one is waited again. One failed, and the process
# then recorded none of its changes ("cannot open cache ...: Interrupted system call").
. "$(dirname "$0")/../lib/common.sh"
need flock
P="$B/tests/eintrlock"
mkdir -p "$T/real"
out=$("$P" "$T/real" 5) || fail "on a real directory: $out"
[ "$out" = "bad 0" ] || fail "on a real directory: $out"

shim bash -c 'echo 0 >/sm/first.txt' || fail "the first write failed"
J="$SMSHIM_CACHE/meta/journal"
ino=$(stat -c %i "$J")
# until locks PATTERN: /proc/locks shows a lock on the journal matching PATTERN (extended regex)
until_locks() {
    for _ in $(seq 1 1200); do
        grep -Eq "$1[0-9a-f]+:[0-9a-f]+:$ino " /proc/locks && return 0
        sleep 0.05
    done
    fail "no lock on the journal like '$1': $(cat /proc/locks)"
}
mkfifo "$T/go"
# another process holds the journal's lock, as the first opener does while it makes the header
flock "$J" -c "read x <'$T/go'" &
holder=$!
until_locks "^[0-9]+: FLOCK +ADVISORY +WRITE +$holder "
(LD_PRELOAD="$PRELOAD" exec "$P" /sm 5 >"$T/out.txt" 2>&1) &
pid=$!
until_locks "^[0-9]+: -> FLOCK +ADVISORY +WRITE +$pid " # the program's first change waits for it
kill -USR1 $pid
for _ in $(seq 1 1200); do grep -q '^h$' "$T/out.txt" && break; sleep 0.05; done
grep -q '^h$' "$T/out.txt" || fail "the handler did not run: $(cat "$T/out.txt")"
echo >"$T/go" # the lock is let go after the handler interrupted the wait
rc=0
wait $pid || rc=$?
wait $holder || true
out=$(cat "$T/out.txt")
[ $rc -eq 0 ] && [ "$out" = $'h\nbad 0' ] || fail "under the shim: exit $rc: $out"
"$B/smshim" status --list >"$T/list" || fail "status --list failed"
for i in 0 4; do
    grep -qx "dirty */e$i.txt" "$T/list" ||
        fail "/e$i.txt is not recorded after the interrupted wait: $(cat "$T/list")"
done
echo "ok - a wait for the journal's lock interrupted by a handler without SA_RESTART: no call fails, every change recorded"
