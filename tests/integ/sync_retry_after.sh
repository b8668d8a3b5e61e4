#!/bin/bash
# Retry-After is honoured up to 60 s, the longest backoff of the push queue: an upload answered
# 429 with Retry-After: 100000 is sent again within `smshim sync`'s 90 s (not given up as due in
# 28 hours). Takes about a minute (the capped wait itself).
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1
env -u SUPERMEMORY_API_KEY LD_PRELOAD="$PRELOAD" bash -c 'echo "one upload" > /sm/up.md' # local-only: no upload yet
srv config fault_429_uploads=1 retry_after=100000 >/dev/null
rc=0
SMSHIM_SYNC_TIMEOUT=90 timeout -s KILL 300 "$B/smshim" sync >"$T/out" 2>&1 || rc=$?
cat "$T/out"
creates=$(srv stats 'requests.POST /v3/documents')
echo "creates: $creates, 429s: $(srv stats faults.429)"
[ "$rc" -eq 0 ] || fail "smshim sync exited $rc: the upload waited for Retry-After: 100000 past its deadline"
[ "$creates" -eq 2 ] || fail "$creates creates (one answered 429, one accepted expected)"
srv check "$SMSHIM_CACHE/tree" || fail "the upload did not reach the server"
