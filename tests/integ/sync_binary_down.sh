#!/bin/bash
# Remote binary documents come down as smfs shows them: a PDF seeded on the server appears as its
# bytes (fetched from its url by the sync engine) beside a read-only <file>.pdf-transcription.md
# holding the extracted text; a failed one as a read-only <file>.smfs-error.txt; one over 20 MiB
# is listed as not-fetched and never written. The url gets the key only on the API's own origin.
# Renaming or deleting the file moves or removes its sibling; siblings are never uploaded.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
sync_() { "$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync"; }; }
{ printf '%%PDF-1.7\n'; head -c 30000 /dev/urandom; } >"$T/r.pdf"
id_r=$(srv seedbin /docs/r.pdf pdf "$T/r.pdf")
srv seedbin /docs/bad.pdf pdf 100 failed >/dev/null
srv config files_host=localhost >/dev/null # from here on, urls are on another origin
id_big=$(srv seedbin /docs/big.mp4 video 22020096)
{ printf '\xff\xd8\xff\xe0'; head -c 2000 /dev/urandom; } >"$T/p.jpg"
id_p=$(srv seedbin /docs/p.jpg image "$T/p.jpg")
sync_
tree="$SMSHIM_CACHE/tree/docs"
cmp "$T/r.pdf" "$tree/r.pdf" || fail "the PDF's bytes"
cmp "$T/p.jpg" "$tree/p.jpg" || fail "the JPEG's bytes"
[ "$(cat "$tree/r.pdf.pdf-transcription.md")" = "$(srv content /docs/r.pdf)" ] || fail "the PDF's transcription"
[ "$(stat -c %a "$tree/r.pdf.pdf-transcription.md")" = 444 ] || fail "the transcription is not read-only"
[ -e "$tree/p.jpg.image-transcription.md" ] || fail "the JPEG's transcription"
echo "ok - a seeded PDF appears as its bytes and its transcription"

[ ! -e "$tree/bad.pdf" ] || fail "a failed document has a file"
grep -q "status: failed" "$tree/bad.pdf.smfs-error.txt" || fail "no error file for the failed document"
[ "$(stat -c %a "$tree/bad.pdf.smfs-error.txt")" = 444 ] || fail "the error file is not read-only"
echo "ok - a failed document appears as <file>.smfs-error.txt"

[ ! -e "$tree/big.mp4" ] || fail "a document over 20 MiB was written"
"$B/smshim" status --list >"$T/list"
cat "$T/list"
grep -qx "not-fetched  */docs/big.mp4" "$T/list" || fail "the large document is not listed as not-fetched"
grep -qx "binary  */docs/r.pdf" "$T/list" || fail "the PDF is not listed as binary"
grep -qx "sibling  */docs/r.pdf.pdf-transcription.md" "$T/list" || fail "the transcription is not listed as a sibling"
sync_
[ ! -e "$tree/big.mp4" ] && grep -q "not-fetched */docs/big.mp4" <("$B/smshim" status --list) || fail "the large document after a second sync"
echo "ok - a document over 20 MiB is listed, not fetched"

"$PY" - "$(srv stats file_gets)" "$id_r" "$id_p" "$id_big" <<'PY' || fail "the key went where it should not (or not where it may)"
import json, sys
gets, own, other, big = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
auth = {g["id"]: g["auth"] for g in gets}
assert auth.get(own) is True, ("the API's own origin", gets)
assert auth.get(other) is False and auth.get(big) is False, ("another origin", gets)
assert len([g for g in gets if g["id"] == own]) == 1, ("fetched once", gets)
PY
echo "ok - the url gets the key on the API's own origin only"

# a local file never pushed meets a remote binary document at its filepath: the local bytes win,
# and replace that document (one document stays, holding them)
{ printf '\x89PNG\r\n\x1a\n'; head -c 1500 /dev/urandom; } >"$T/clash.png"
env -u SUPERMEMORY_API_KEY LD_PRELOAD="$PRELOAD" bash -c "cat '$T/clash.png' > /sm/docs/clash.png" # recorded, not pushed
srv seedbin /docs/clash.png image 800 >/dev/null
sync_
cmp "$T/clash.png" "$tree/clash.png" || fail "a remote document overwrote a local file never pushed"
"$PY" - "$SRV" "$(sha256sum <"$T/clash.png" | cut -d' ' -f1)" <<'PY' || fail "the local file did not replace the remote document"
import json, sys, urllib.request
d = [x for x in json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
     if x["filepath"] == "/docs/clash.png"]
assert [x["fileSha256"] for x in d] == [sys.argv[2]], d
PY
echo "ok - a local file never pushed replaces the remote binary document at its filepath"

# siblings are never uploaded, whatever is done to them; they follow their file
chmod u+w "$tree/r.pdf.pdf-transcription.md"
shim bash -c 'echo "edited" >> /sm/docs/r.pdf.pdf-transcription.md'
sync_
srv check "$SMSHIM_CACHE/tree" || fail "a sibling was uploaded"
shim mv /sm/docs/p.jpg /sm/docs/q.jpg
sync_
[ "$(srv id /docs/q.jpg)" = "$id_p" ] || fail "the rename did not reach the document"
[ -e "$tree/q.jpg.image-transcription.md" ] && [ ! -e "$tree/p.jpg.image-transcription.md" ] || fail "the sibling did not follow its file"
shim rm /sm/docs/q.jpg
sync_
[ ! -e "$tree/q.jpg.image-transcription.md" ] || fail "the sibling stayed after its file was deleted"
srv id /docs/q.jpg 2>/dev/null && fail "the document of a deleted file stayed"
# a remote delete removes the file and its sibling
srv delete "$id_r"
"$B/smshim" sync --full >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync --full"; }
[ ! -e "$tree/r.pdf" ] && [ ! -e "$tree/r.pdf.pdf-transcription.md" ] || fail "a remote delete left the file or its sibling"
srv check "$SMSHIM_CACHE/tree" || fail "server contents at the end"
echo "ok - siblings follow their file, go with it, and are never uploaded"
