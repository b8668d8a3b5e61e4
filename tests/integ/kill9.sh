#!/bin/bash
# SIGKILL writers at random points, 25 times, in one cache: afterwards the cache opens and reads
# back consistently, every file a writer finished is there with its content, and each of them is
# recorded for the sync engine.
. "$(dirname "$0")/../lib/common.sh"
# the cache exists before the first kill (a writer killed before its first file call would leave
# nothing for status to open)
shim mkdir -p /sm/k
start=0
for round in $(seq 1 25); do
    LD_PRELOAD="$PRELOAD" "$B/tests/killwriter" /sm/k "$start" >"$T/done.$round" &
    pid=$!
    sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    last=$(tail -n 1 "$T/done.$round" || true)
    [ -n "$last" ] && start=$((last + 1)) || start=$((start + 1000))
    "$B/smshim" status --json >/dev/null || fail "round $round: the cache does not open after SIGKILL"
done
cat "$T"/done.* | sort -n >"$T/done"
n=$(wc -l <"$T/done")
[ "$n" -gt 25 ] || fail "writers finished only $n files: the test did not exercise anything"
"$B/smshim" status --list >"$T/list"
"$PY" - "$T/done" "$SMSHIM_CACHE/tree/k" "$T/list" <<'PY'
import os, sys
done = [int(x) for x in open(sys.argv[1]).read().split()]
root = sys.argv[2]
tracked = {l.split()[1] for l in open(sys.argv[3]) if l.strip()}
bad = 0
for i in done:
    want = "".join("file %d line %d\n" % (i, k) for k in range(i % 40 + 1))
    try:
        got = open(os.path.join(root, "f%d" % i)).read()
    except OSError as e:
        got = str(e)
    if got != want:
        bad += 1; print("lost or torn: f%d" % i)
    if "/k/f%d" % i not in tracked:
        bad += 1; print("not recorded: /k/f%d" % i)
print("ok - %d finished files checked, %d problems" % (len(done), bad))
sys.exit(1 if bad else 0)
PY
