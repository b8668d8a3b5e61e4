#!/bin/bash
# A remote filepath holding a NUL (the JSON escape \u0000) names no file: the document is refused
# and counted as unsafe (smshim status), never applied, so it cannot shadow the file its first
# part names ("/a.md\u0000x" is not "/a.md"). A NUL in a text document's content is kept, and so
# is one in a value of the document's metadata when a push merges its own keys into it.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
srv seedjson <<'EOF'
{"filepath": "/a.md", "content": "real a", "updatedAt": "2026-01-01T00:00:00.000Z"}
{"filepath": "/a.md\u0000evil", "content": "evil a", "updatedAt": "2026-03-01T00:00:00.000Z"}
{"filepath": "/z.md\u0000", "content": "evil z", "updatedAt": "2026-03-01T00:00:00.000Z"}
{"filepath": "\u0000/n.md", "content": "evil n", "updatedAt": "2026-03-01T00:00:00.000Z"}
{"filepath": "/fine.md", "content": "fine", "updatedAt": "2026-02-01T00:00:00.000Z"}
{"filepath": "/nul.md", "content": "one\u0000two", "updatedAt": "2026-02-01T00:00:00.000Z"}
EOF
"$B/smshim" sync >"$T/sync.out" 2>&1 || true
cat "$T/sync.out"
"$PY" "$SRC/tests/lib/manifest.py" "$SMSHIM_CACHE/tree" | tee "$T/tree"
[ "$(cat "$SMSHIM_CACHE/tree/a.md")" = "real a" ] || fail "a filepath holding a NUL shadowed /a.md"
[ ! -e "$SMSHIM_CACHE/tree/z.md" ] || fail "a filepath ending in a NUL was applied"
[ "$(grep -c '^f ' "$T/tree")" -eq 3 ] || fail "documents whose filepath holds a NUL were written (expected a.md, fine.md, nul.md)"
! grep -q "share a filepath" "$T/sync.out" || fail "a filepath holding a NUL was taken for a duplicate"
"$B/smshim" status --json >"$T/st.json"
grep -q '"unsafe_skipped":3' "$T/st.json" || { cat "$T/st.json"; fail "status does not count the 3 documents refused"; }
printf 'one\0two' | cmp -s - "$SMSHIM_CACHE/tree/nul.md" || { od -c "$SMSHIM_CACHE/tree/nul.md" | head -3; fail "a NUL in the content was not kept"; }
echo "ok - filepaths holding a NUL are refused and counted, never applied"

# a metadata value holding a NUL (another client's): a push that merges the exact bytes' keys
# into the document's metadata sends it back as it was, not as the character that stood for it
"$PY" - "$SRV" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/_admin/documents", method="POST",
    data=json.dumps({"filepath": "/meta.md", "content": "remote", "containerTag": "smshim",
                     "metadata": {"note": "a\u0000b", "n\u0000k": "\u0000", "plain": "x"}}).encode(),
    headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
"$B/smshim" sync >"$T/sync2.out" 2>&1 || true
[ "$(cat "$SMSHIM_CACHE/tree/meta.md")" = remote ] || fail "the document with a NUL in its metadata was not pulled"
shim bash -c 'echo "local edit" > /sm/meta.md'
"$B/smshim" sync >"$T/sync3.out" 2>&1 || true
"$PY" - "$SRV" <<'PY' || fail "a NUL in a metadata value did not come back as a NUL"
import json, sys, urllib.request
d = [x for x in json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
     if x["filepath"] == "/meta.md"]
assert len(d) == 1 and d[0]["content"] == "local edit", d
m = d[0]["metadata"]
assert m.get("note") == "a\u0000b" and m.get("n\u0000k") == "\u0000" and m.get("plain") == "x", m
assert m.get("smshim_hash"), m
PY
echo "ok - a NUL in a metadata value goes back as a NUL"
