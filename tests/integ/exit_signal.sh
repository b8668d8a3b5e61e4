#!/usr/bin/env bash
# Exits never hang: a SIGALRM handler calling _exit while the program records changes under the
# prefix (with sync on, so the exit-time work runs) exits every time, whatever the signal
# interrupted. Each run is bounded by `timeout` only to turn a hang into a failure.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_EXIT_TIMEOUT=3
shim mkdir -p /sm/x || fail "mkdir"
for i in $(seq 1 60); do
    rc=0
    timeout -s KILL 30 env LD_PRELOAD="$PRELOAD" "$B/tests/exitsig" /sm/x "$i" || rc=$?
    [ "$rc" = 7 ] || fail "run $i (seed $i) ended with status $rc (137: it hung and was killed)"
done
# the cache is sound afterwards: a new process records and reads
shim bash -c 'echo after > /sm/x/after.txt && cat /sm/x/after.txt' >"$T/after" || fail "the cache is stuck"
[ "$(cat "$T/after")" = after ] || fail "read back: $(cat "$T/after")"
echo "ok - 60 exits from a signal handler"
