#!/bin/bash
# The service's contract, from the client's side: a content update waits until the document is
# "done" (one sent while it is processing would be dropped); an update of a document deleted
# remotely while the file was being changed creates it again (one document); a file that is not
# UTF-8 goes up as a binary document, unchanged, listed as binary; an empty file and a single
# newline are held (as the service's placeholder and the exact bytes in the metadata).
. "$(dirname "$0")/../lib/common.sh"
start_server --processing-ms 1500
export SMSHIM_NOWAIT=1
shim bash -c 'mkdir -p /sm/c && printf "version 1\n" > /sm/c/doc.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "first sync"
shim bash -c 'printf "version 2\n" > /sm/c/doc.md'     # the document is still processing
"$B/smshim" sync >/dev/null 2>&1 || fail "second sync"
"$PY" - "$SRV" <<'PY' || fail "the update was lost"
import json, sys, urllib.request
docs = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
stats = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/stats"))
d = [x for x in docs if x["filepath"] == "/c/doc.md"]
assert len(d) == 1 and d[0]["content"] == "version 2", d
assert stats["dropped_patches"] == 0, stats["dropped_patches"]
print("ok - update waited for done; patches dropped:", stats["dropped_patches"])
PY

# deleted remotely while changed locally: the change recreates it
id=$(srv id /c/doc.md)
srv delete "$id"
shim bash -c 'printf "version 3\n" > /sm/c/doc.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "sync after the remote delete"
[ "$(cat "$SMSHIM_CACHE/tree/c/doc.md")" = "version 3" ] || fail "the local change was lost"
srv check "$SMSHIM_CACHE/tree" || fail "the vanished document was not created again (exactly once)"

# the text contract
shim bash -c 'printf "\x00\xff\xfebinary" > /sm/c/bin.dat; : > /sm/c/empty.md; printf "\n" > /sm/c/nl.md; printf "caf\xc3\xa9\n" > /sm/c/utf8.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "sync with files the service cannot hold"
"$B/smshim" status --list | tee "$T/list"
grep -q "^binary */c/bin.dat$" "$T/list" || fail "bin.dat is not listed as binary"
for f in utf8.md empty.md nl.md; do
    grep -q "^clean */c/$f$" "$T/list" || fail "$f did not sync"
done
[ "$(od -An -tx1 "$SMSHIM_CACHE/tree/c/bin.dat" | tr -d ' \n')" = "00fffe62696e617279" ] || fail "a binary file changed"
srv check "$SMSHIM_CACHE/tree" || fail "server contents"
