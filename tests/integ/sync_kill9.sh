#!/bin/bash
# SIGKILL a process in the middle of its uploads, 20 times at random points (it writes files,
# renames some, while its background thread pushes them at 50 ms latency). Then `smshim sync`:
# every file is on the server exactly once with its content: nothing lost, nothing duplicated.
. "$(dirname "$0")/../lib/common.sh"
start_server --latency-ms 50
start=0
for round in $(seq 1 20); do
    LD_PRELOAD="$PRELOAD" "$B/tests/killwriter" /sm/k "$start" 10000 >"$T/done.$round" &
    pid=$!
    sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    last=$(tail -n 1 "$T/done.$round" || true)
    [ -n "$last" ] && start=$((last + 1)) || start=$((start + 1000))
done
echo "before sync: $(srv stats requests)"
SMSHIM_SYNC_TIMEOUT=240 "$B/smshim" sync 2>"$T/sync.err" || { tail "$T/sync.err"; fail "smshim sync failed"; }
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { tail -20 "$T/check"; fail "lost or duplicated documents"; }
tail -1 "$T/check"
n=$(cat "$T"/done.* | wc -l)
[ "$n" -gt 20 ] || fail "only $n files were written: the test exercised nothing"
