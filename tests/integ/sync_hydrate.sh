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
# processes: a long-lived one and 8 short ones miss another name within the negative TTL: the
# lease holder asks the server once for all of them
srv seed /late/second.md "two" >/dev/null
srv config latency_ms=20 >/dev/null # the answer comes well within the 2 s negative TTL, even on a loaded machine
shim "$PY" -c '
import os, time
for _ in range(400):
    if os.path.exists("/sm/late/second.md"):
        break
    time.sleep(0.05)
print("poller saw it:", os.path.exists("/sm/late/second.md"))
' >"$T/poller" &
poller=$!
pids=()
for i in $(seq 1 8); do shim stat /sm/late/second.md >/dev/null 2>&1 & pids+=($!); done
wait "${pids[@]}" || true
wait "$poller"
cat "$T/poller"
grep -q "saw it: True" "$T/poller" || fail "the name missed by 9 processes never appeared"
n=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1]).count("/late/second.md"))' "$(srv stats list_filepaths)")
echo "requests for /late/second.md: $n"
[ "$n" -eq 1 ] || fail "$n requests for one name from 9 processes"
