#!/bin/bash
# An answer made of many small JSON values: a listing whose memories hold 300,000 entries that
# are not documents is read in one pass (each skipped as malformed; the document after them is
# pulled), not by counting from the array's start at every entry (an hour of CPU, past every
# deadline); an answer of more values than any answer of the API holds (2,000,000) is refused
# before it is parsed, never built into a tree of that many nodes.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_SYNC_TIMEOUT=20
srv seed /fine.md "fine" >/dev/null

srv config list_flood=300000 >/dev/null
rc=0; "$B/smshim" sync >"$T/sync.out" 2>&1 || rc=$?
cat "$T/sync.out"
[ "$rc" -eq 0 ] || fail "smshim sync exited $rc on a listing of 300,000 entries"
n=$(sed -n 's/.*skipped \([0-9]*\) listed documents.*/\1/p' "$T/sync.out")
[ "${n:-0}" -ge 300000 ] && [ $((n % 300000)) -eq 0 ] || fail "the entries were not all read and skipped"
[ "$(cat "$SMSHIM_CACHE/tree/fine.md")" = "fine" ] || fail "the document after the entries was not pulled"

srv config list_flood=2000000 >/dev/null
# a bound, not a measure (the refused listing is asked again until half of it has passed): at 4 s a
# loaded machine gave up on the 6 MB answer before it had arrived ("no answer: Timeout")
rc=0; SMSHIM_SYNC_TIMEOUT=30 "$B/smshim" sync --full >"$T/flood.out" 2>&1 || rc=$?
cat "$T/flood.out"
[ "$rc" -eq 1 ] || fail "smshim sync exited $rc (1 expected: the listing was refused)"
grep -q "malformed answer" "$T/flood.out" || fail "no error about the answer"
grep -q "more than .* JSON values" "$T/flood.out" || fail "the error does not say the answer held too many values"
[ "$(cat "$SMSHIM_CACHE/tree/fine.md")" = "fine" ] || fail "the refused listing changed the tree"
echo "ok - $(tail -1 "$T/flood.out")"
