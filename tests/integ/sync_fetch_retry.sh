#!/bin/bash
# A remote binary document whose bytes cannot be fetched (its url answers 404, and so does the
# url a fresh GET gives) backs off: the next pull does not ask for it again before its time (the
# record is in the cache, so another process keeps it), `smshim status --list` shows it as
# fetch-retry, and a new version of the document (a newer updatedAt) is fetched at once. The same
# at a filepath of any length (one far longer than an LMDB key).
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$B/smshim" run -- true # binds the cache and pulls the (empty) container
long=$("$PY" -c 'print("/long" + "".join("/" + chr(97 + i) * 250 for i in range(15)) + "/bad.png")')
seedbad() { # seedbad [FILEPATH]: an image (/f/bad.png) whose url answers 404 (prints its id)
    "$PY" - "$SRV" "${1:-/f/bad.png}" <<'PY'
import json, sys, urllib.request
body = {"filepath": sys.argv[2], "type": "image", "size": 3000, "containerTag": "smshim",
        "url": sys.argv[1] + "/_files/nothing-here"}
req = urllib.request.Request(sys.argv[1] + "/_admin/documents", data=json.dumps(body).encode(),
                             method="POST", headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req))["id"])
PY
}
tries() { srv stats file_gets | "$PY" -c 'import json,sys; print(sum(g["id"] == "nothing-here" for g in json.load(sys.stdin)))'; }
id=$(seedbad)
id_long=$(seedbad "$long")
"$B/smshim" sync >"$T/s1.out" 2>&1 || true
n1=$(tries)
[ "$n1" -ge 1 ] || { cat "$T/s1.out"; fail "the url of the document was never asked"; }
[ ! -e "$SMSHIM_CACHE/tree/f/bad.png" ] || fail "a file was written from a failed fetch"
"$B/smshim" status --list >"$T/list1"
grep -q '^fetch-retry *//*f/bad.png$' "$T/list1" || { cat "$T/list1"; fail "status --list does not show the failed fetch backing off"; }
grep -qx "fetch-retry *$long" "$T/list1" || { cat "$T/list1"; fail "the failed fetch at a ${#long}-byte filepath is not listed as fetch-retry"; }
echo "ok - a failed fetch is listed as fetch-retry ($n1 tries), also at a ${#long}-byte filepath"

"$B/smshim" sync >"$T/s2.out" 2>&1 || true
n2=$(tries)
[ "$n2" -eq "$n1" ] || fail "the next pull fetched the failing document again at once ($n1 then $n2 tries)"
echo "ok - the next pull does not ask for it before its time"

# a new version with a url that works: fetched at once
fix() { # fix ID FILEPATH
    "$PY" - "$SRV" "$1" "$2" <<'PY'
import json, sys, urllib.request
body = {"id": sys.argv[2], "filepath": sys.argv[3], "type": "image", "size": 3000, "containerTag": "smshim"}
req = urllib.request.Request(sys.argv[1] + "/_admin/documents", data=json.dumps(body).encode(),
                             method="POST", headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
}
fix "$id" /f/bad.png
fix "$id_long" "$long"
"$B/smshim" sync >"$T/s3.out" 2>&1 || { cat "$T/s3.out"; fail "sync after the document was fixed"; }
[ "$(stat -c %s "$SMSHIM_CACHE/tree/f/bad.png" 2>/dev/null)" = 3000 ] || { cat "$T/s3.out"; fail "the new version was not fetched"; }
"$B/smshim" status --list >"$T/list3"
grep -q '^binary *//*f/bad.png$' "$T/list3" || { cat "$T/list3"; fail "the fetched file is not listed as binary"; }
[ "$(stat -c %s "$SMSHIM_CACHE/tree$long" 2>/dev/null)" = 3000 ] || { cat "$T/s3.out"; fail "the new version at the long filepath was not fetched"; }
echo "ok - a new version of the document is fetched at once"
