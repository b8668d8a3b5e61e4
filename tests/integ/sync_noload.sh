#!/bin/bash
# A process whose sync thread cannot load libcurl or cJSON says why in the log (even as the first
# process of a new cache, whose log file does not exist until the cache does) and keeps its
# changes queued; the next process that can load them pushes them.
. "$(dirname "$0")/../lib/common.sh"
start_server
mkdir -p "$T/lib" && : >"$T/lib/libcjson.so.1" # found first, and not a library
[ ! -e "$SMSHIM_CACHE" ] || fail "the cache exists before the first process"
SMSHIM_LOG=warn LD_LIBRARY_PATH="$T/lib" shim bash -c 'echo queued > /sm/q.md'
cat "$SMSHIM_CACHE/log"
grep -q "no sync in this process (the changes stay queued): cannot load libcjson.so.1: .*file too short" "$SMSHIM_CACHE/log" ||
    fail "the first process of the cache did not log why it cannot sync"
"$B/smshim" status --list | grep -q "^dirty */q.md$" || fail "the change is not queued"
[ "$(srv stats 'requests.POST /v3/documents')" = 0 ] || fail "a document was created without the libraries"
echo "ok - a sync thread that cannot load its libraries says why; the change stays queued"
"$B/smshim" sync >/dev/null 2>&1 || fail "smshim sync"
[ "$(srv content /q.md)" = queued ] || fail "the queued change was not pushed later"
echo "ok - the change is pushed by the next process that can sync"
