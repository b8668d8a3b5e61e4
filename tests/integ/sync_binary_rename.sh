#!/bin/bash
# A remote rename of a binary document whose bytes are not here follows it like that of a fetched
# one: a document listed not-fetched (over 20 MiB) and one whose fetch keeps failing move to their
# new filepath with their siblings, and nothing stays at the old one; the large one is not
# downloaded again.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$B/smshim" run -- true # binds the cache and pulls the (empty) container
move() { "$PY" -c 'import json, sys, urllib.request as u
u.urlopen(u.Request(sys.argv[1] + "/_admin/edit", data=json.dumps({"id": sys.argv[2], "filepath": sys.argv[3]}).encode(), method="POST", headers={"Content-Type": "application/json"})).read()' "$SRV" "$1" "$2"; }
gets() { srv stats file_gets | "$PY" -c 'import json,sys; print(sum(g["id"] == sys.argv[1] for g in json.load(sys.stdin)))' "$1"; }
id_big=$(srv seedbin /a/big.png image $((21 << 20)))
id_ok=$(srv seedbin /a/ok.png image 3000)
id_bad=$("$PY" - "$SRV" <<'PY'
import json, sys, urllib.request
body = {"filepath": "/a/bad.png", "type": "image", "size": 3000, "containerTag": "smshim",
        "url": sys.argv[1] + "/_files/nothing-here"}
req = urllib.request.Request(sys.argv[1] + "/_admin/documents", data=json.dumps(body).encode(),
                             method="POST", headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req))["id"])
PY
)
"$B/smshim" sync >"$T/s1.out" 2>&1 || true
"$B/smshim" status --list >"$T/list1"
grep -q '^not-fetched */a/big.png$' "$T/list1" && grep -q '^binary */a/ok.png$' "$T/list1" &&
    grep -Eq '^(fetching|fetch-retry) */a/bad.png$' "$T/list1" || { cat "$T/list1"; fail "status after the first sync"; }
big_gets=$(gets "$id_big")
echo "ok - listed: not-fetched, binary, and a fetch that failed"

move "$id_big" /b/big.png
move "$id_ok" /b/ok.png
move "$id_bad" /b/bad.png
"$B/smshim" sync >"$T/s2.out" 2>&1 || true
"$B/smshim" status --list >"$T/list2"
cat "$T/list2"
! grep -q ' /a/' "$T/list2" || fail "an entry stayed at the old filepath of a renamed document"
grep -q '^not-fetched */b/big.png$' "$T/list2" || fail "the not-fetched document did not follow its rename"
grep -q '^sibling */b/big.png.image-transcription.md$' "$T/list2" || fail "the transcription of the not-fetched document did not follow it"
grep -q '^binary */b/ok.png$' "$T/list2" || fail "the fetched document did not follow its rename"
grep -Eq '^(fetching|fetch-retry) */b/bad.png$' "$T/list2" || fail "the document whose fetch failed did not follow its rename"
[ ! -e "$SMSHIM_CACHE/tree/a/big.png.image-transcription.md" ] || fail "a sibling stayed at the old name"
[ "$(gets "$id_big")" -eq "$big_gets" ] || fail "the not-fetched document was downloaded again after its rename"
echo "ok - documents whose bytes are not here follow their remote rename"
