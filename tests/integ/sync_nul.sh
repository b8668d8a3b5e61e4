#!/bin/bash
# A remote filepath holding a NUL (the JSON escape \u0000) names no file: the document is refused
# and counted as unsafe (smshim status), never applied, so it cannot shadow the file its first
# part names ("/a.md\u0000x" is not "/a.md"). A NUL in a text document's content is kept.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$PY" - "$SRV" <<'PY'
import json, sys, urllib.request
def seed(fp, content, ts):
    req = urllib.request.Request(sys.argv[1] + "/_admin/documents", method="POST",
        data=json.dumps({"filepath": fp, "content": content, "containerTag": "smshim", "updatedAt": ts}).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
seed("/a.md", "real a", "2026-01-01T00:00:00.000Z")
seed("/a.md\u0000evil", "evil a", "2026-03-01T00:00:00.000Z")
seed("/z.md\u0000", "evil z", "2026-03-01T00:00:00.000Z")
seed("\u0000/n.md", "evil n", "2026-03-01T00:00:00.000Z")
seed("/fine.md", "fine", "2026-02-01T00:00:00.000Z")
seed("/nul.md", "one\u0000two", "2026-02-01T00:00:00.000Z")
PY
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
