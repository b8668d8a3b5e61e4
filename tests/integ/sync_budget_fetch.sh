#!/bin/bash
# Binary fetches hold slots of the cache's request budget like every other request: the bytes of
# 8 remote binary documents are fetched by `smshim sync` (its fetches held in flight by the
# server), then a second process writes 20 files: its uploads take only the slots the fetches
# left, so the server never has more than 8 requests in flight for the cache (4 fetches, the
# reads' share, and 4 uploads). Once released, every file arrives both ways.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$B/smshim" run -- true # binds the cache and pulls the (empty) container
# the process that uploads: the cache's lease holder once its first file is pushed; it writes 20
# files when told, then stays until told to go
shim "$PY" - "$T/write" "$T/go" <<'PY' >"$T/proc.out" 2>&1 &
import os, sys, time
os.makedirs("/sm/w", exist_ok=True)
with open("/sm/w/first.md", "w") as f:
    f.write("first\n")
def wait_for(path):
    for _ in range(2400):
        if os.path.exists(path):
            return
        time.sleep(0.05)
wait_for(sys.argv[1])
for i in range(1, 21):
    with open("/sm/w/f%d.md" % i, "w") as f:
        f.write("local %d\n" % i)
wait_for(sys.argv[2])
PY
proc=$!
for _ in $(seq 1 600); do [ "$(srv content /w/first.md 2>/dev/null)" = first ] && break; sleep 0.05; done
[ "$(srv content /w/first.md 2>/dev/null)" = first ] || fail "the process did not push its first file"
for i in $(seq 1 8); do srv seedbin "/f/b$i.png" image 3000 >/dev/null; done
srv config hold_files=true >/dev/null
until_n() { # until_n FIELD N: wait until the server's stats FIELD reaches N (or the bound)
    for _ in $(seq 1 600); do [ "$(srv stats "$1")" -ge "$2" ] && return 0; sleep 0.05; done
    return 1
}
"$B/smshim" sync >"$T/sync.out" 2>&1 &
sync=$!
until_n inflight 4 || fail "only $(srv stats inflight) fetches held at once (4 expected)"
srv config hold=true >/dev/null
touch "$T/write"
until_n inflight 8 || fail "only $(srv stats inflight) requests held at once (8 expected)"
held=$(srv stats inflight) uploads=$(srv stats inflight_uploads)
srv config hold=false hold_files=false >/dev/null
echo "held at once: $held requests, $uploads of them uploads"
touch "$T/go"
wait "$proc" || { cat "$T/proc.out"; fail "the process failed"; }
wait "$sync" || { cat "$T/sync.out"; fail "smshim sync failed"; }
"$B/smshim" sync >"$T/sync2.out" 2>&1 || { cat "$T/sync2.out"; fail "the second smshim sync failed"; }
max=$(srv stats max_inflight)
[ "$max" -le 8 ] || fail "$max requests in flight at once (at most 8)"
for i in $(seq 1 8); do
    [ "$(stat -c %s "$SMSHIM_CACHE/tree/f/b$i.png")" -eq 3000 ] || fail "the bytes of /f/b$i.png did not arrive"
done
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly one document per file"; }
echo "ok - binary fetches and uploads at once: at most $max in flight; $(tail -1 "$T/check")"
