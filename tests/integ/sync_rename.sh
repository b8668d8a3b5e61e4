#!/bin/bash
# A remote rename moves the file: a clean file follows its document to the new filepath (the old
# name is gone, and editing it updates that one document); a file with a pending local change
# keeps its name and content, and its next push moves the document back to the local name.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
move() { "$PY" -c 'import json, sys, urllib.request as u
u.urlopen(u.Request(sys.argv[1] + "/_admin/edit", data=json.dumps({"id": sys.argv[2], "filepath": sys.argv[3]}).encode(), method="POST", headers={"Content-Type": "application/json"})).read()' "$SRV" "$1" "$2"; }
id_a=$(srv seed /mv/a.md "alpha")
id_c=$(srv seed /mv/c.md "charlie")
"$B/smshim" sync >/dev/null 2>&1 || fail "first sync"
ino=$(stat -c %i "$SMSHIM_CACHE/tree/mv/a.md")

# clean: follows
move "$id_a" /mv/sub/b.md
"$B/smshim" sync >/dev/null 2>&1 || fail "sync after the remote rename"
[ ! -e "$SMSHIM_CACHE/tree/mv/a.md" ] || fail "the old name of a remotely renamed clean file is still there"
[ "$(cat "$SMSHIM_CACHE/tree/mv/sub/b.md")" = "alpha" ] || fail "the renamed file is not at its new filepath"
[ "$(stat -c %i "$SMSHIM_CACHE/tree/mv/sub/b.md")" = "$ino" ] || fail "the file was not renamed in the tree"
"$B/smshim" status --list >"$T/list"
grep -q "^clean */mv/sub/b.md$" "$T/list" && ! grep -q "/mv/a.md" "$T/list" || { cat "$T/list"; fail "status after the rename"; }
shim bash -c 'printf "alpha, edited\n" > /sm/mv/sub/b.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "sync after the edit"
[ "$(srv content /mv/sub/b.md)" = "alpha, edited" ] || fail "the edit did not reach the renamed document"
echo "ok - a clean file follows its document's remote rename"

# dirty: keeps its name; the push moves the document back
SUPERMEMORY_API_KEY=wrong "$B/smshim" run -- bash -c 'printf "charlie, edited locally\n" > /sm/mv/c.md' 2>/dev/null
move "$id_c" /mv/d.md
"$B/smshim" sync >/dev/null 2>&1 || fail "sync with a pending local change"
[ "$(cat "$SMSHIM_CACHE/tree/mv/c.md")" = "charlie, edited locally" ] || fail "the pending local change was lost"
[ ! -e "$SMSHIM_CACHE/tree/mv/d.md" ] || fail "a second file is bound to the document"
"$PY" - "$SRV" "$id_c" <<'PY' || fail "the document did not come back to the local name"
import json, sys, urllib.request
docs = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
d = [x for x in docs if x["id"] == sys.argv[2]]
assert len(d) == 1 and d[0]["filepath"] == "/mv/c.md" and d[0]["content"] == "charlie, edited locally", d
PY
srv check "$SMSHIM_CACHE/tree" || fail "server and cache differ"
echo "ok - a file with a local change keeps its name; its push moves the document back"
