#!/bin/bash
# A server that answers a redirect (307, 301) is not followed, so the key never goes where the
# Location says, and the answer is a failure to try again, like a 5xx: the local change waits
# and is pushed once the server answers again. Once, a redirect was taken as a refusal for good
# (a 4xx): every file pushed meanwhile was poisoned and stayed unsynced until changed again.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_SYNC_TIMEOUT=4
other() { srv stats requests | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["other"])'; }
for status in 307 301; do
    srv config redirect=$status >/dev/null
    shim sh -c "echo 'redirected $status' >/sm/r$status.txt"
    rc=0; "$B/smshim" sync >"$T/sync.out" 2>&1 || rc=$?
    cat "$T/sync.out"
    [ "$rc" != 0 ] || fail "smshim sync reported success against redirects"
    grep -q "HTTP $status" "$T/sync.out" || fail "no error naming the redirect"
    [ "$(other)" = 0 ] || fail "a redirect was followed"
    "$B/smshim" status --json >"$T/st.json"
    grep -q '"poisoned":0' "$T/st.json" || { cat "$T/st.json"; fail "a redirect poisoned the file"; }
    srv config redirect=0 >/dev/null
    "$B/smshim" sync >"$T/sync2.out" 2>&1 || { cat "$T/sync2.out"; fail "sync failed once the server answered"; }
    [ "$(srv content /r$status.txt)" = "redirected $status" ] || fail "the change was not pushed after the redirects"
done
echo "ok - redirects are retried, never followed: $(grep -m1 "HTTP" "$T/sync.out")"
