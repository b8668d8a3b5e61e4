#!/bin/bash
# No process waits on a server that is not answering, and no write is lost to it. Against a server
# that accepts connections and never answers: the first process stops waiting once nothing moves
# and records in the cache that the server is not answering; the next processes (plain preload,
# and `smshim run` before and after its command) send it no request at all; every write stays
# queued, and all are pushed once the server answers again (which clears the record). The only
# requests while the record stands are the lease holder's probes (one request each, counted in
# the record, whenever a process happens to run past a probe's backoff): the server must have
# received exactly as many requests as probes were counted. Events only: the record, its probe
# count, the server's request counts, the documents.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_CACHE="$T/cache"
srv config hang=true >/dev/null
hung() { srv stats faults.hang; }
status() { "$B/smshim" status 2>&1; }
probes() { "$B/smshim" status --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["silent_probes"] if d["server_silent"] else "none")'; }

timeout -s KILL 120 env LD_PRELOAD="$PRELOAD" bash -c 'mkdir -p /sm/s && echo one > /sm/s/a.md' ||
    fail "the first process did not finish"
[ "$(hung)" -gt 0 ] || fail "the first process sent nothing to the server"
status | grep -q "not answering" || { status; fail "the cache does not record that the server is not answering"; }
echo "ok - the first process stopped waiting and recorded the server as not answering"

n1=$(hung) p1=$(probes)
[ "$p1" != none ] || fail "no record of the server not answering"
timeout -s KILL 120 env LD_PRELOAD="$PRELOAD" bash -c 'echo two > /sm/s/b.md' ||
    fail "the second process did not finish"
n2=$(hung) p2=$(probes)
[ "$p2" != none ] || fail "the record went while the server still does not answer"
[ $((n2 - n1)) = $((p2 - p1)) ] ||
    fail "the second process sent $((n2 - n1)) requests to a server recorded as not answering, $((p2 - p1)) of them probes"
echo "ok - the second process sent only its probes ($((p2 - p1)))"

timeout -s KILL 120 "$B/smshim" run -- bash -c 'echo three > /sm/s/c.md' >"$T/run.out" 2>&1 ||
    { cat "$T/run.out"; fail "smshim run failed"; }
cat "$T/run.out"
n3=$(hung) p3=$(probes)
[ "$p3" != none ] || fail "the record went while the server still does not answer"
[ $((n3 - n2)) = $((p3 - p2)) ] ||
    fail "smshim run sent $((n3 - n2)) requests to a server recorded as not answering, $((p3 - p2)) of them probes"
grep -q "not answering" "$T/run.out" || fail "smshim run did not say the server is not answering"
grep -q "still queued" "$T/run.out" || fail "smshim run did not say the changes stay queued"
q=$(status | sed -n 's/^queued: *//p')
[ "$q" -ge 3 ] || { status; fail "the writes are not all queued ($q)"; }
echo "ok - smshim run sent only its command's probes ($((p3 - p2))); $q changes queued"

srv config hang=false >/dev/null
timeout -s KILL 120 "$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync failed once the server answers"; }
for f in a:one b:two c:three; do
    got=$(srv content "/s/${f%%:*}.md") || fail "/s/${f%%:*}.md was not pushed"
    [ "$(printf %s "$got" | tr -d '\n')" = "${f#*:}" ] || fail "/s/${f%%:*}.md holds '$got'"
done
status | grep -q "not answering" && { status; fail "the record stays after the server answered"; }
status | grep -q "^queued: *0$" || { status; fail "changes are still queued"; }
echo "ok - every write was pushed once the server answered, and the record is cleared"
