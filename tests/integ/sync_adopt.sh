#!/bin/bash
# A local text file never pushed, and a remote document at the same filepath: the push adopts
# that document (one document stays, its id unchanged) and the local bytes win (a pending local
# write is never clobbered).
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$B/smshim" run -- true # binds the cache and pulls the (empty) container
SUPERMEMORY_API_KEY= shim bash -c 'mkdir -p /sm/d && echo "local bytes" > /sm/d/c.md'
id=$(srv seed /d/c.md "the remote version")
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync"; }
[ "$(cat "$SMSHIM_CACHE/tree/d/c.md")" = "local bytes" ] || fail "the pull clobbered the local write"
got=$(srv id /d/c.md 2>&1) || fail "not one document at the filepath: $got"
[ "$got" = "$id" ] || fail "the push made another document ($got) instead of adopting $id"
[ "$(srv content /d/c.md)" = "local bytes" ] || fail "the adopted document does not hold the local bytes"
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly one document per file"; }
echo "ok - a local file never pushed adopts the remote document at its filepath; $(tail -1 "$T/check")"

# a create that reached the server but whose answer was lost, then a remote document at the same
# filepath that the next pull adopts: the push updates that one, and the document its lost create
# made goes, so exactly one stays
SUPERMEMORY_API_KEY= shim bash -c 'echo "second local" > /sm/d/lost.md'
srv config fault_drop_after=1 >/dev/null
SMSHIM_SYNC_TIMEOUT=2 "$B/smshim" sync >"$T/lost.out" 2>&1 && fail "a sync whose every answer is lost succeeded"
srv config fault_drop_after=0 >/dev/null
"$PY" - "$SRV" <<'PY' || fail "the lost create did not reach the server once"
import json, sys, urllib.request
d = [x for x in json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
     if x["filepath"] == "/d/lost.md"]
assert len(d) == 1 and d[0]["customId"], d
PY
id2=$(srv seed /d/lost.md "made elsewhere")
"$B/smshim" sync >"$T/sync2.out" 2>&1 || { cat "$T/sync2.out"; fail "smshim sync after the lost answer"; }
[ "$(cat "$SMSHIM_CACHE/tree/d/lost.md")" = "second local" ] || fail "the pull clobbered the local write"
got=$(srv id /d/lost.md 2>&1) || fail "not one document at the filepath after a lost create and an adoption: $got"
[ "$got" = "$id2" ] || fail "the document kept ($got) is not the adopted one ($id2)"
[ "$(srv content /d/lost.md)" = "second local" ] || fail "the adopted document does not hold the local bytes"
"$B/smshim" sync >"$T/sync3.out" 2>&1 || { cat "$T/sync3.out"; fail "smshim sync, once more"; }
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly one document per file"; }
echo "ok - a lost create answer and an adoption leave one document; $(tail -1 "$T/check")"
