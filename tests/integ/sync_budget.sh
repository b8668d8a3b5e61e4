#!/bin/bash
# One request budget per cache: uploads, a pull and the hydration of misses, from two processes
# at once, never have more than 8 requests in flight at the server, of which pulls and hydration
# at most 4. The server holds every request until released: a process misses 12 remote names (4
# hydration requests held), `smshim sync` starts (its pull waits for a read slot), then the
# process writes 20 files (4 uploads take the slots left): 8 held at once, never more; once
# released, everything arrives: every name appears and the server holds exactly one document
# per file.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$B/smshim" run -- true # binds the cache and pulls the (empty) container
for i in $(seq 1 12); do srv seed "/b/r$i.md" "remote $i" >/dev/null; done
srv config hold=true >/dev/null
# the process: misses the names, writes its files when told, stays until every name is there
shim "$PY" - "$T/write" <<'PY' >"$T/proc.out" 2>&1 &
import os, sys, time
names = ["/sm/b/r%d.md" % i for i in range(1, 13)]
for n in names:
    os.path.exists(n)
for _ in range(2400):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.05)
os.makedirs("/sm/w", exist_ok=True)
for i in range(1, 21):
    with open("/sm/w/f%d.md" % i, "w") as f:
        f.write("local %d\n" % i)
for _ in range(2400):
    if all(os.path.exists(n) for n in names):
        break
    time.sleep(0.05)
print("saw", sum(os.path.exists(n) for n in names), flush=True)
PY
proc=$!
until_n() { # until_n FIELD N: wait until the server's stats FIELD reaches N (or the bound)
    for _ in $(seq 1 600); do [ "$(srv stats "$1")" -ge "$2" ] && return 0; sleep 0.05; done
    return 1
}
until_n inflight_lists 4 || fail "only $(srv stats inflight_lists) hydration requests held at once (4 expected)"
"$B/smshim" sync >"$T/sync.out" 2>&1 &
sync=$!
touch "$T/write"
until_n inflight 8 || fail "only $(srv stats inflight) requests held at once (8 expected)"
held=$(srv stats inflight) lists=$(srv stats inflight_lists)
srv config hold=false >/dev/null
echo "held at once: $held requests, $lists of them listings"
wait "$proc" || { cat "$T/proc.out"; fail "the process failed"; }
grep -q "saw 12" "$T/proc.out" || { cat "$T/proc.out"; fail "the missed names did not all appear"; }
wait "$sync" || { cat "$T/sync.out"; fail "smshim sync failed"; }
max=$(srv stats max_inflight) maxl=$(srv stats max_inflight_lists)
[ "$max" -le 8 ] || fail "$max requests in flight at once (at most 8)"
[ "$maxl" -le 4 ] || fail "$maxl pull and hydration requests in flight at once (at most 4)"
# the listings of the whole container (no filepath filter: not hydration's) are smshim sync's
# pull (this cache pulled at its start, so no process pulls on its own before an hour)
whole=$(srv stats | "$PY" -c 'import json,sys; s=json.load(sys.stdin); print(len(s["list_pages"]) - len(s["list_filepaths"]))')
[ "$whole" -ge 1 ] || fail "the pull of smshim sync did not list"
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly one document per file"; }
echo "ok - uploads, a pull and hydration at once: at most $max in flight, $maxl of them pulls and hydration; $(tail -1 "$T/check")"
