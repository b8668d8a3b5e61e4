#!/bin/bash
# Every loop of a pull has a bound: a Retry-After of 100000 s does not hold `smshim run` past
# SMSHIM_PULL_TIMEOUT (nor `smshim sync` past its own deadline); a listing that promises a
# billion pages and answers empty ones ends at the first empty page; pages that bring nothing new
# end the pull; pages beyond what the first answer promised are never asked for. Asserted on the
# requests the server saw (no timing): a loop without bound is stopped at 50 requests and fails.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
lists() { srv stats requests | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["POST /v3/documents/list"])'; }
fresh() { # a reset server and a new cache for each case
    "$PY" -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1] + "/_admin/reset", data=b"{}", method="POST")).read()' "$SRV"
    export SMSHIM_CACHE="$T/cache-$1"
}
# bounded CMD...: run CMD until it exits (its status in RC, its output in $T/out), or until the
# server has answered 50 list requests: then it is killed and the test fails
bounded() {
    "$@" >"$T/out" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(lists)" -ge 50 ]; then
            kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            cat "$T/out"
            fail "$* made $(lists) list requests and was still going"
        fi
        sleep 0.05
    done
    RC=0
    wait "$pid" || RC=$?
}

# 1. Retry-After: 100000 on every request. The pull of `smshim run` gives up at once (the capped
# wait is longer than what is left of SMSHIM_PULL_TIMEOUT) and the command runs.
fresh retry
srv config fault_429=1 retry_after=100000 >/dev/null
RC=0
SMSHIM_PULL_TIMEOUT=2 timeout -s KILL 120 "$B/smshim" run -- bash -c "echo ran > '$T/ran'" >"$T/out" 2>&1 || RC=$?
cat "$T/out"
[ "$RC" -ne 137 ] || fail "smshim run was still waiting on Retry-After: 100000 after 120 s (SMSHIM_PULL_TIMEOUT=2)"
[ "$RC" -eq 0 ] && [ -s "$T/ran" ] || fail "the command did not run (status $RC)"
grep -q "cannot pull" "$T/out" || fail "smshim run did not say the pull failed"
n=$(lists); echo "ok - smshim run: $n list request(s) under Retry-After: 100000"
[ "$n" -le 2 ] || fail "$n list requests"
RC=0
SMSHIM_SYNC_TIMEOUT=4 timeout -s KILL 120 "$B/smshim" sync >"$T/out" 2>&1 || RC=$?
cat "$T/out"
[ "$RC" -ne 137 ] || fail "smshim sync was still waiting on Retry-After: 100000 after 120 s"
[ "$RC" -eq 1 ] || fail "smshim sync exited $RC (1 expected: the pull failed)"
n=$(lists); echo "ok - smshim sync: $n list request(s) in all under Retry-After: 100000"
[ "$n" -le 4 ] || fail "$n list requests"

# 2. An empty container whose listing claims 1000000000 pages: one request.
fresh empty
srv config list_total_pages=1000000000 >/dev/null
bounded "$B/smshim" sync
cat "$T/out"
[ "$RC" -eq 0 ] || fail "smshim sync exited $RC on an empty listing"
n=$(lists); echo "ok - smshim sync: $n list request(s) for an empty listing of 1000000000 pages"
[ "$n" -eq 1 ] || fail "$n list requests"
fresh empty-run
srv config list_total_pages=1000000000 >/dev/null
bounded "$B/smshim" run -- true
[ "$RC" -eq 0 ] || { cat "$T/out"; fail "smshim run exited $RC"; }
n=$(lists); echo "ok - smshim run: $n list request(s)"
[ "$n" -eq 1 ] || fail "$n list requests"
# the same listing, pulled by the sync thread of a host process (plain LD_PRELOAD): the host
# lives until its thread has finished a pull (smshim status shows it)
fresh empty-host
srv config list_total_pages=1000000000 >/dev/null
# (a thread that cannot sync says so in the log: the host then stops waiting)
bounded env LD_PRELOAD="$PRELOAD" SMSHIM_LOG=warn bash -c "echo x > /sm/f.md
    until LD_PRELOAD= '$B/smshim' status | grep -q '^last pull'; do
        grep -q 'no sync in this process' '$SMSHIM_CACHE/log' 2>/dev/null && exit 3; sleep 0.05; done"
[ "$RC" -eq 0 ] || { cat "$T/out" "$SMSHIM_CACHE/log"; fail "the host process exited $RC"; }
n=$(lists); echo "ok - a host process's sync thread: $n list request(s)"
[ "$n" -eq 1 ] || fail "$n list requests"

# 3. Every page answers page 1 again (1000000000 pages promised): the second page brings nothing
# new and ends the pull, as a failure (the listing did not end); the documents of page 1 arrive.
fresh repeat
for i in 1 2 3; do srv seed "/rep/$i.md" "doc $i" >/dev/null; done
srv config list_total_pages=1000000000 list_repeat=true >/dev/null
bounded "$B/smshim" sync
cat "$T/out"
[ "$RC" -eq 1 ] || fail "smshim sync exited $RC on a listing that makes no progress (1 expected)"
grep -q "no progress" "$T/out" || fail "smshim sync did not say the listing makes no progress"
[ "$(cat "$SMSHIM_CACHE/tree/rep/2.md")" = "doc 2" ] || fail "the documents of the first page did not arrive"
n=$(lists); echo "ok - $n list requests for a listing that repeats its first page"
[ "$n" -eq 2 ] || fail "$n list requests"

# 4. Every answer promises one page more (and brings a new document): only the pages the first
# answer promised are asked for, by every listing the pull makes (the first pull's own, and those
# that follow it because its documents keep changing: the made-up ones are new every time).
fresh grow
srv config list_grow=true >/dev/null
bounded "$B/smshim" sync
cat "$T/out"
[ "$RC" -eq 0 ] || fail "smshim sync exited $RC"
n=$(lists); echo "ok - $n list requests for a listing whose promise grows with every page"
pages=$(srv stats list_pages)
"$PY" -c 'import json, sys
p = json.loads(sys.argv[1])
assert max(pg for pg, _, _ in p) <= 2, p
assert sorted(pg for pg, l, c in p if c and l == 100) == [1, 2], p' "$pages" ||
    fail "pages past the 2 the first answer promised were asked for: $pages"
[ -e "$SMSHIM_CACHE/tree/grow/p2.md" ] && [ ! -e "$SMSHIM_CACHE/tree/grow/p3.md" ] || {
    ls -R "$SMSHIM_CACHE/tree"; fail "pages beyond the first promise were pulled"; }
