#!/bin/bash
# A file that cannot be recorded (the cache's LMDB map is full: a limited address space gives a
# small map, and its record cannot be folded from the journal into LMDB) is not only logged: it is listed outside LMDB, `smshim status` (and --json) shows
# it and `smshim sync` exits 1 saying why, until a scan records it; then both are clean.
. "$(dirname "$0")/../lib/common.sh"
[ -z "${SMSHIM_SAN:-}" ] || skip "the sanitizer runtimes reserve more address space than the limit"
start_server
key=$SUPERMEMORY_API_KEY
unset SUPERMEMORY_API_KEY
meta="$SMSHIM_CACHE/meta"
shim bash -c 'echo a > /sm/a.md' || fail "the first write failed"
SUPERMEMORY_API_KEY=$key "$B/smshim" sync >"$T/sync0.out" 2>&1 || { cat "$T/sync0.out"; fail "the first sync failed"; }
# the environment grows to the end of a 128 MiB map
"$B/tests/lmdbfill" "$meta" 128 | grep -q '^full' || fail "lmdbfill could not fill the map"
# under this limit a process gets a 128 MiB map (small thread stacks: the sync's threads fit)
limited() { ( ulimit -s 256 && ulimit -v 220000 && "$@" ); }
# (an fsync: the process opens its environment, which a write alone leaves to the first
# transaction)
limited env SMSHIM_LOG=warn:"$T/shim.log" LD_PRELOAD="$PRELOAD" "$PY" -c '
import os
fd = os.open("/sm/b.md", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"b\n"); os.fsync(fd); os.close(fd)' ||
    fail "the write failed: recording must never fail the call"
cat "$T/shim.log"
grep -q '128 MiB map' "$T/shim.log" || fail "the limited process did not get a 128 MiB map"
[ "$(cat /sm/b.md 2>/dev/null || cat "$SMSHIM_CACHE/tree/b.md")" = b ] || fail "the tree lacks b.md"

# the write is in the cache's journal; a process with the same small map cannot fold it into
# LMDB, and lists the file
limited "$B/smshim" status >"$T/st.out" || fail "status failed"
cat "$T/st.out"
grep -q '^unrecorded: *1 (the cache.s LMDB map is full' "$T/st.out" || fail "status does not show the unrecorded file"
grep -q '^  last: /b.md$' "$T/st.out" || fail "status does not name the unrecorded file"
limited "$B/smshim" status --json >"$T/st.json" || fail "status --json failed"
"$PY" - "$T/st.json" <<'PY' || fail "status --json does not show the unrecorded file"
import json, sys
st = json.load(open(sys.argv[1]))
assert st["unrecorded"] == 1 and st["unrecorded_last"] == "/b.md", st
assert "full" in st["unrecorded_reason"], st
PY
echo "ok - status shows a file that could not be recorded"

export SUPERMEMORY_API_KEY=$key
# at once: no lease (no request slot) can be written in a full map, so nothing waits for one
rc=0; SMSHIM_SYNC_TIMEOUT=600 limited "$B/smshim" sync >"$T/sync1.out" 2>&1 || rc=$?
cat "$T/sync1.out"
[ "$rc" = 1 ] || fail "smshim sync exited $rc with a file it cannot record, not 1"
grep -q 'files could not be recorded (the cache.s LMDB map is full); last: /b.md' "$T/sync1.out" ||
    fail "smshim sync does not say a file could not be recorded"
grep -q "cannot pull .*the cache.s LMDB map is full" "$T/sync1.out" ||
    fail "smshim sync's pull does not fail at once saying the map is full"
grep -q "the cache.s LMDB map is full: nothing can be pushed" "$T/sync1.out" ||
    fail "smshim sync's push does not fail at once saying the map is full"
limited "$B/smshim" status | grep -q '^unrecorded: *1' || fail "a scan that could not record the file cleared it"
echo "ok - smshim sync exits 1 while the file cannot be recorded"

# a process with the whole map: its scan records the file, which leaves the list
rc=0; "$B/smshim" sync >"$T/sync2.out" 2>&1 || rc=$?
cat "$T/sync2.out"
[ "$rc" = 0 ] || fail "smshim sync exited $rc once the file could be recorded"
"$B/smshim" status >"$T/st2.out"
if grep -q unrecorded "$T/st2.out"; then fail "status still shows the file once it is recorded"; fi
"$B/smshim" status --json | "$PY" -c 'import json,sys; st=json.load(sys.stdin); assert st["unrecorded"] == 0 and st["unrecorded_last"] is None, st' ||
    fail "status --json still shows the file"
curl -s "$SUPERMEMORY_BASE_URL/_admin/documents" | grep -q '"/b.md"' || fail "b.md was not pushed"
echo "ok - a scan that records the file clears it; it is pushed"
