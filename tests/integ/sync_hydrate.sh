#!/bin/bash
# A name that exists remotely but not yet locally: N threads (and N processes) looking it up get
# ENOENT at once, one filepath-filtered request reaches the server, and the file appears.
. "$(dirname "$0")/../lib/common.sh"
start_server --latency-ms 300 # slower than the burst of lookups below
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$B/smshim" run -- true # binds the cache and pulls the (empty) container
srv seed /late/new.md "arrived later" >/dev/null
srv seed /late/dir/inner.md "inside" >/dev/null
# 16 threads miss the same two names at once; the process stays alive until it sees them
shim "$PY" - <<'PY' || fail "the names did not appear"
import os, threading, time
misses = []
def look(p):
    try:
        os.stat(p)
    except FileNotFoundError:
        misses.append(p)
ts = [threading.Thread(target=look, args=(p,)) for p in ["/sm/late/new.md", "/sm/late/dir"] * 8]
for t in ts: t.start()
for t in ts: t.join()
assert len(misses) == 16, "the lookups did not answer ENOENT at once: %d" % len(misses)
for _ in range(400):
    if os.path.exists("/sm/late/new.md") and os.path.exists("/sm/late/dir/inner.md"):
        break
    time.sleep(0.05)
print(open("/sm/late/new.md").read(), open("/sm/late/dir/inner.md").read())
PY
reqs=$(srv stats list_filepaths)
echo "list filters seen: $reqs"
"$PY" -c 'import json,sys; f=json.loads(sys.argv[1]); n=f.count("/late/new.md"); sys.exit(0 if n == 1 else "%d requests for /late/new.md" % n)' "$reqs" || fail "not one request"
# processes: a long-lived one and 8 short ones miss another name: the lease holder asks the
# server once for all of them. The long-lived poller misses first and holds the lease (the
# test waits until its request is at the server): a short process that took the lease would
# exit with its request in flight, and the next holder would rightly ask again after the TTL.
srv seed /late/second.md "two" >/dev/null
srv config latency_ms=1000 >/dev/null # the request stays in flight while the others miss
shim "$PY" -c '
import os, time
for _ in range(400):
    if os.path.exists("/sm/late/second.md"):
        break
    time.sleep(0.05)
print("poller saw it:", os.path.exists("/sm/late/second.md"))
' >"$T/poller" &
poller=$!
asked() { [ "$(srv stats inflight)" -ge 1 ] || srv stats list_filepaths | grep -q '"/late/second.md"'; }
for _ in $(seq 1 600); do
    asked && break
    kill -0 "$poller" 2>/dev/null || break
    sleep 0.05
done
asked || fail "the poller never asked the server for the name"
pids=()
for i in $(seq 1 8); do shim stat /sm/late/second.md >/dev/null 2>&1 & pids+=($!); done
wait "${pids[@]}" || true
wait "$poller"
cat "$T/poller"
grep -q "saw it: True" "$T/poller" || fail "the name missed by 9 processes never appeared"
n=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1]).count("/late/second.md"))' "$(srv stats list_filepaths)")
echo "requests for /late/second.md: $n"
[ "$n" -eq 1 ] || fail "$n requests for one name from 9 processes"
