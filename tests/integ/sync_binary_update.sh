#!/bin/bash
# A remote binary document changed in place (the same id, new bytes and url, a newer updatedAt)
# is fetched again: a clean file takes the new bytes, a file with a pending local change keeps
# its own. A document the cache uploaded itself is not fetched back when the service's
# processing moves its updatedAt (its metadata names the bytes it holds), and a document too
# large to fetch is not asked for again at every pull; a smaller new version of it is fetched.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
sync_() { "$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync"; }; }
gets() { srv stats file_gets | "$PY" -c 'import json,sys; print(sum(g["id"] == sys.argv[1] for g in json.load(sys.stdin)))' "$1"; }
tree="$SMSHIM_CACHE/tree"
{ printf '%%PDF-1.7\n'; head -c 20000 /dev/urandom; } >"$T/v1.pdf"
{ printf '%%PDF-1.7\n'; head -c 21000 /dev/urandom; } >"$T/v2.pdf"
{ printf '%%PDF-1.7\n'; head -c 22000 /dev/urandom; } >"$T/v3.pdf"
id=$(srv seedbin /d/r.pdf pdf "$T/v1.pdf")
sync_
cmp "$T/v1.pdf" "$tree/d/r.pdf" || fail "the first version's bytes"
[ "$(gets "$id")" = 1 ] || fail "the first version was fetched $(gets "$id") times"

srv seedbin /d/r.pdf pdf "$T/v2.pdf" done "$id" >/dev/null
sync_
cmp "$T/v2.pdf" "$tree/d/r.pdf" || fail "a document changed in place was not fetched again"
[ "$(cat "$tree/d/r.pdf.pdf-transcription.md")" = "$(srv content /d/r.pdf)" ] || fail "the transcription of the new version"
sync_
[ "$(gets "$id")" = 2 ] || fail "the bytes were fetched $(gets "$id") times for two versions"
echo "ok - a binary document changed in place is fetched again, once"

# a newer updatedAt with the same bytes (a metadata edit, a rename): not fetched again
edit() { "$PY" -c 'import json, sys, urllib.request as u
u.urlopen(u.Request(sys.argv[1] + "/_admin/edit", data=sys.argv[2].encode(), method="POST", headers={"Content-Type": "application/json"})).read()' "$SRV" "$1"; }
edit "{\"id\": \"$id\", \"metadata\": {\"k\": \"v\"}}"
sync_
edit "{\"id\": \"$id\", \"filepath\": \"/d/s.pdf\"}"
sync_
cmp "$T/v2.pdf" "$tree/d/s.pdf" && [ ! -e "$tree/d/r.pdf" ] || fail "the remote rename"
[ "$(gets "$id")" = 2 ] || fail "a metadata edit or a rename fetched the bytes again ($(gets "$id") fetches)"
edit "{\"id\": \"$id\", \"filepath\": \"/d/r.pdf\"}"
sync_
echo "ok - a metadata edit or a rename does not fetch the bytes again"

# a pending local change wins over a new remote version
shim bash -c "printf '\\x89PNG local' > /sm/d/r.pdf" # recorded, pushed by the sync below
srv seedbin /d/r.pdf pdf "$T/v3.pdf" done "$id" >/dev/null
"$B/smshim" sync >"$T/sync.out" 2>&1 || true
[ "$(head -c 10 "$tree/d/r.pdf")" = "$(printf '\x89PNG local')" ] || fail "a new remote version overwrote a pending local change"
echo "ok - a pending local change keeps its bytes"

# the cache's own upload: not fetched back when processing moves its updatedAt
{ printf '\x89PNG\r\n\x1a\n'; head -c 4000 /dev/urandom; } >"$T/own.png"
shim bash -c "cat '$T/own.png' > /sm/d/own.png"
sync_
own=$(srv id /d/own.png)
"$PY" - "$SRV" "$own" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/_admin/edit", data=json.dumps({"id": sys.argv[2]}).encode(),
                             method="POST", headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
sync_
sync_
[ "$(gets "$own")" = 0 ] || fail "the cache fetched back its own upload ($(gets "$own") times)"
cmp "$T/own.png" "$tree/d/own.png" || fail "the uploaded file changed"
echo "ok - the cache's own upload is not fetched back"

# too large to fetch: asked once, not at every pull; a smaller new version is fetched
big=$(srv seedbin /d/big.mp4 video 22020096)
sync_
sync_
[ "$(gets "$big")" = 1 ] || fail "a document too large to fetch was asked for $(gets "$big") times in two pulls"
grep -q "not-fetched */d/big.mp4" <("$B/smshim" status --list) || fail "the large document is not listed as not-fetched"
srv seedbin /d/big.mp4 video 3000 done "$big" >/dev/null
sync_
[ "$(stat -c %s "$tree/d/big.mp4" 2>/dev/null)" = 3000 ] || fail "a smaller new version of a large document was not fetched"
echo "ok - a document too large is asked for once; a smaller new version is fetched"
