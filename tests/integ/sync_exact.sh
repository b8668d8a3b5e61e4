#!/bin/bash
# Every machine reads the same bytes. Two caches through one test server (which strips a trailing
# newline, as the service does): files with and without a trailing newline, CRLF, trailing blank
# lines, whitespace, a single newline and an empty file read byte for byte the same on the second
# cache; a document another client edits reads as the service gives it. A file that becomes empty
# reads empty on the second cache; a file that turns binary loses its text document for a binary
# one (the second cache reads its bytes, not the old text); back to text, it syncs.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
A="$T/cache-a" B2="$T/cache-b"
sync_() { on "$1" "$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync of $1"; }; }
same() { # same FILE: the two caches hold the same bytes
    cmp "$A/tree/x/$1" "$B2/tree/x/$1" || {
        od -c "$A/tree/x/$1" | head -5; od -c "$B2/tree/x/$1" | head -5; fail "x/$1 differs on the second cache"; }
}
on "$A" shim bash -c 'mkdir -p /sm/x && cd /sm/x && printf "nl\n" > nl.md && printf "no newline" > nonl.md &&
    printf "crlf\r\nline\r\n" > crlf.md && printf "blank lines\n\n\n" > blank.md && printf "ws \t \n" > ws.md &&
    printf "\n" > onlynl.md && : > empty.md && printf "\n\n \n" > blanks.md && printf "x\n" > later-empty.md &&
    printf "text\n" > turns-binary.md'
sync_ "$A"
srv check "$A/tree" || fail "the server does not stand for the first cache's bytes"
sync_ "$B2"
for f in nl.md nonl.md crlf.md blank.md ws.md onlynl.md empty.md blanks.md later-empty.md turns-binary.md; do same "$f"; done
echo "ok - exact bytes on the second cache (trailing newlines, CRLF, blank lines, empty)"

# edited by another client: the service's content, without the first machine's tail
srv edit "$(srv id /x/nl.md)" "edited elsewhere"
sync_ "$B2"
[ "$(od -An -c "$B2/tree/x/nl.md" | tr -d ' \n')" = "editedelsewhere" ] || fail "a document edited by another client did not read as the service gives it"
echo "ok - a document edited elsewhere reads as the service holds it"

# becomes empty; turns binary
on "$A" shim bash -c ': > /sm/x/later-empty.md; printf "\x89PNG\r\n\x1a\n\x00\xffbin" > /sm/x/turns-binary.md'
sync_ "$A"
on "$A" "$B/smshim" status --list >"$T/list"
grep -q "^binary */x/turns-binary.md$" "$T/list" || { cat "$T/list"; fail "a file turned binary is not listed as binary"; }
"$PY" - "$SRV" <<'PY' || fail "the text of a file that turned binary stayed on the server"
import json, sys, urllib.request
docs = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
assert [d["type"] for d in docs if d["filepath"] == "/x/turns-binary.md"] == ["image"], "not one binary document"
PY
sync_ "$B2"
[ -e "$B2/tree/x/later-empty.md" ] && [ ! -s "$B2/tree/x/later-empty.md" ] || fail "a file that became empty does not read empty on the second cache"
same turns-binary.md
echo "ok - empty reads empty elsewhere; a file turned binary reads as its bytes"

# back to text: it syncs again
on "$A" shim bash -c 'printf "text again\n" > /sm/x/turns-binary.md'
sync_ "$A"
sync_ "$B2"
same turns-binary.md
srv check "$A/tree" || fail "server contents"
echo "ok - binary back to text syncs"
