#!/bin/bash
# The crawl burst against a server that fails: 20% 5xx, 10% 429 (Retry-After), 5% dropped
# connections before the request takes effect and 5% after it (the answer is lost). After
# `smshim sync` the server holds exactly one document per file: retries never duplicate; a second
# cache through the same container then reads every file byte for byte.
. "$(dirname "$0")/../lib/common.sh"
start_server --fault-5xx 0.2 --fault-429 0.1 --fault-drop 0.05 --fault-drop-after 0.05 --retry-after 1
SMSHIM_NOWAIT=1 shim "$PY" "$SRC/tests/lib/crawl.py" --dest /sm/docs | tee "$T/crawl"
grep -q ", 0 errors," "$T/crawl" || fail "errors in the crawl"
SMSHIM_SYNC_TIMEOUT=240 "$B/smshim" sync 2>"$T/sync.err" || { tail "$T/sync.err"; fail "smshim sync failed"; }
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "server contents differ"; }
tail -1 "$T/check"
faults=$(srv stats faults)
echo "faults injected: $faults"
"$PY" -c 'import json,sys; f=json.loads(sys.argv[1]); sys.exit(0 if f["429"] and f["drop_after"] and (f["500"]+f["502"]+f["503"]) else 1)' "$faults" ||
    fail "the server injected too few faults for the test to mean anything"
"$B/smshim" status --json | grep -q '"queued":0' || fail "records left in the queue"

# a second machine: another cache through the same container reads every file of the crawl
# byte for byte as the first wrote it (trailing newlines included: the service strips them)
srv config fault_5xx=0 fault_429=0 fault_drop=0 fault_drop_after=0 >/dev/null
SMSHIM_CACHE="$T/cache-b" "$B/smshim" sync >"$T/sync-b.out" 2>&1 || { cat "$T/sync-b.out"; fail "smshim sync of a second cache"; }
diff -r "$SMSHIM_CACHE/tree/docs" "$T/cache-b/tree/docs" >"$T/diff" || { head -20 "$T/diff"; fail "the second cache does not read the crawl's bytes"; }
echo "ok - a second cache reads all $(find "$T/cache-b/tree/docs" -type f | wc -l) files of the crawl byte for byte"
