#!/bin/bash
# Misses are answered by a pool of 4 hydration workers in the lease holder: 3 processes miss the
# same 12 remote names (and 4 that exist nowhere) at once; with the server holding every listing
# until released, 4 listings are held at once and never more, then every name appears, and each
# name (and the directory of that name) was asked for exactly once, whichever processes missed it.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$B/smshim" run -- true # binds the cache and pulls the (empty) container
for i in $(seq 1 12); do srv seed "/pool/f$i.md" "file $i" >/dev/null; done
srv config hold=true >/dev/null
pids=()
for p in 1 2 3; do
    shim "$PY" - "$T/done" <<'PY' >"$T/p$p" &
import os, sys, time
names = ["/sm/pool/f%d.md" % i for i in range(1, 13)]
for n in names + ["/sm/pool/none%d.md" % i for i in range(1, 5)]:
    os.path.exists(n)
for _ in range(2400):
    if all(os.path.exists(n) for n in names):
        break
    time.sleep(0.05)
print("saw", sum(os.path.exists(n) for n in names), flush=True)
for _ in range(2400):  # alive until the test has counted (the lease stays where it is)
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.05)
PY
    pids+=($!)
done
lists() { srv stats inflight_lists; }
for _ in $(seq 1 600); do [ "$(lists)" -ge 4 ] && break; sleep 0.05; done
held=$(lists)
srv config hold=false >/dev/null
echo "listings held at once: $held"
seen() { cat "$T"/p1 "$T"/p2 "$T"/p3 | grep -c "saw 12" || true; }
filters() { srv stats list_filepaths; }
dirs() { "$PY" -c 'import json,sys; print(sum(1 for f in json.loads(sys.argv[1]) if f.startswith("/pool/") and f.endswith("/")))' "$(filters)"; }
for _ in $(seq 1 1200); do [ "$(seen)" = 3 ] && [ "$(dirs)" -ge 16 ] && break; sleep 0.05; done
f=$(filters)
touch "$T/done"
wait "${pids[@]}" || { cat "$T"/p*; fail "a process that missed the names failed"; }
[ "$(seen)" = 3 ] || { cat "$T"/p*; fail "not every process saw the 12 names appear"; }
max=$(srv stats max_inflight_lists)
[ "$max" -le 4 ] || fail "$max hydration requests in flight at once (at most 4)"
[ "$held" -ge 4 ] || fail "only $held hydration requests in flight at once (a pool of 4)"
"$PY" - "$f" <<'PY' || fail "not exactly one request per name"
import json, sys
f = json.loads(sys.argv[1])
bad = 0
for n in ["/pool/f%d.md" % i for i in range(1, 13)] + ["/pool/none%d.md" % i for i in range(1, 5)]:
    for q in (n, n + "/"):
        if f.count(q) != 1:
            print("%s: %d requests" % (q, f.count(q)))
            bad += 1
sys.exit(1 if bad else 0)
PY
echo "ok - 16 names missed by 3 processes: at most $max in flight, $held at once, one request per name"
