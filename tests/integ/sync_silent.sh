#!/bin/bash
# No process waits on a server that is not answering, and no write is lost to it. Against a server
# that accepts connections and never answers: the first process stops waiting once nothing moves
# and records in the cache that the server is not answering; the next processes (plain preload,
# and `smshim run` before and after its command) send it no request at all; every write stays
# queued, and all are pushed once the server answers again (which clears the record). Events only:
# the record, the server's request counts, the documents.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_CACHE="$T/cache"
srv config hang=true >/dev/null
hung() { srv stats faults.hang; }
status() { "$B/smshim" status 2>&1; }

timeout -s KILL 120 env LD_PRELOAD="$PRELOAD" bash -c 'mkdir -p /sm/s && echo one > /sm/s/a.md' ||
    fail "the first process did not finish"
[ "$(hung)" -gt 0 ] || fail "the first process sent nothing to the server"
status | grep -q "not answering" || { status; fail "the cache does not record that the server is not answering"; }
echo "ok - the first process stopped waiting and recorded the server as not answering"

n1=$(hung)
timeout -s KILL 120 env LD_PRELOAD="$PRELOAD" bash -c 'echo two > /sm/s/b.md' ||
    fail "the second process did not finish"
n2=$(hung)
[ "$n2" = "$n1" ] || fail "the second process sent $((n2 - n1)) requests to a server recorded as not answering"
echo "ok - the second process sent no request"

timeout -s KILL 120 "$B/smshim" run -- bash -c 'echo three > /sm/s/c.md' >"$T/run.out" 2>&1 ||
    { cat "$T/run.out"; fail "smshim run failed"; }
cat "$T/run.out"
n3=$(hung)
[ "$n3" = "$n2" ] || fail "smshim run sent $((n3 - n2)) requests to a server recorded as not answering"
grep -q "not answering" "$T/run.out" || fail "smshim run did not say the server is not answering"
grep -q "still queued" "$T/run.out" || fail "smshim run did not say the changes stay queued"
q=$(status | sed -n 's/^queued: *//p')
[ "$q" -ge 3 ] || { status; fail "the writes are not all queued ($q)"; }
echo "ok - smshim run sent no request; $q changes queued"

srv config hang=false >/dev/null
timeout -s KILL 120 "$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync failed once the server answers"; }
for f in a:one b:two c:three; do
    got=$(srv content "/s/${f%%:*}.md") || fail "/s/${f%%:*}.md was not pushed"
    [ "$(printf %s "$got" | tr -d '\n')" = "${f#*:}" ] || fail "/s/${f%%:*}.md holds '$got'"
done
status | grep -q "not answering" && { status; fail "the record stays after the server answered"; }
status | grep -q "^queued: *0$" || { status; fail "changes are still queued"; }
echo "ok - every write was pushed once the server answered, and the record is cleared"
