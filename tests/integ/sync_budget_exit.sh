#!/bin/bash
# The request budget holds across a process's end: uploads a process leaves in flight when it is
# killed, or when it exits without waiting for its queue (SMSHIM_NOWAIT=1), count against the
# cache's 8 while the server may still be working on them, so `smshim sync` after it never has
# the server see more than 8 at once; and it does not wait for ever: it finishes once those
# requests can no longer be running.
# kill: the server holds every upload until released; a writer has 8 in flight and is killed
# with SIGKILL; `smshim sync` waits for the slots (and says so) instead of sending more.
# exit: the server answers each upload 1.5 s after it takes effect; the writer exits (not
# waiting for its queue) while 8 are in flight; `smshim sync` after it.
. "$(dirname "$0")/../lib/common.sh"
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
until_n() { # until_n FIELD N: wait until the server's stats FIELD reaches N (or the bound)
    for _ in $(seq 1 1200); do [ "$(srv stats "$1")" -ge "$2" ] && return 0; sleep 0.05; done
    return 1
}
for mode in kill exit; do
    export SMSHIM_CACHE="$T/cache-$mode" SMSHIM_TAG="budget$mode"
    start_server
    "$B/smshim" run -- true # binds the cache and pulls the (empty) container
    if [ "$mode" = kill ]; then srv config hold_uploads=true >/dev/null; else srv config hold_answer_ms=1500 >/dev/null; fi
    rm -f "$T/go"
    LD_PRELOAD="$PRELOAD" "$PY" - "$T/go" <<'PY' >"$T/writer.$mode" 2>&1 &
import os, sys, time
os.makedirs("/sm/w", exist_ok=True)
for i in range(1, 13):
    with open("/sm/w/f%d.md" % i, "w") as f:
        f.write("local %d\n" % i)
for _ in range(6000):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.02)
PY
    writer=$!
    until_n inflight_uploads 8 || fail "$mode: only $(srv stats inflight_uploads) uploads in flight (8 expected)"
    if [ "$mode" = kill ]; then kill -9 "$writer"; else touch "$T/go"; fi
    wait "$writer" 2>/dev/null || true
    echo "# $mode: the writer ended with $(srv stats inflight_uploads) uploads in flight at the server"
    "$B/smshim" sync >"$T/sync.$mode" 2>&1 &
    sync=$!
    if [ "$mode" = kill ]; then
        # until smshim sync says it waits for the slots the writer left, or sends more
        for _ in $(seq 1 1200); do
            grep -q "left in flight" "$T/sync.$mode" && break
            [ "$(srv stats inflight_uploads)" -le 8 ] || break
            sleep 0.05
        done
        n=$(srv stats inflight_uploads)
        [ "$n" -le 8 ] || { cat "$T/sync.$mode"; fail "$mode: $n uploads in flight at once after the writer's death"; }
        grep -q "left in flight" "$T/sync.$mode" || { cat "$T/sync.$mode"; fail "$mode: smshim sync did not say it waits"; }
        srv config hold_uploads=false >/dev/null
    fi
    wait "$sync" || { cat "$T/sync.$mode"; fail "$mode: smshim sync failed"; }
    cat "$T/sync.$mode"
    max=$(srv stats max_inflight_uploads)
    [ "$max" -le 8 ] || fail "$mode: $max uploads in flight at once (at most 8)"
    srv check "$SMSHIM_CACHE/tree" "budget$mode" >"$T/check" || { cat "$T/check"; fail "$mode: the server does not hold exactly one document per file"; }
    echo "ok - $mode: at most $max uploads in flight; $(tail -1 "$T/check")"
    kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
done
