#!/bin/bash
# Every answer has a size limit, counted on the decoded bytes as they arrive: a 1 MB gzip body that
# decodes to 1 GB is cut off (the pull fails, and `smshim sync` stays far below the gigabyte); a
# listing whose content exceeds the limit is fetched again in smaller pages, down to one document
# per page, and a document too large for a listing is fetched on its own; a document larger than
# any document can be (50 MB) is skipped and said so, never written.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_SYNC_TIMEOUT=60
# maxrss CMD...: run CMD, print "<exit status> <peak RSS in MB>" (its output goes to $T/out)
maxrss() {
    "$PY" -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:], stdout=open(sys.argv[1], "w"), stderr=subprocess.STDOUT)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' "$T/out" "$@"
}

# 1. a gzip bomb: every list answer is ~1 MB on the wire and 1 GB decoded
export SMSHIM_CACHE="$T/cache-bomb"
srv config gzip_bomb_mb=1024 >/dev/null
read -r rc mb < <(maxrss "$B/smshim" sync)
cat "$T/out"
echo "smshim sync against a gzip bomb: exit $rc, peak RSS $mb MB, $(srv stats faults.gzip_bomb) bombs served"
[ "$rc" -eq 1 ] || fail "smshim sync exited $rc (1 expected: the pull failed)"
grep -q "larger than" "$T/out" || fail "smshim sync did not say the answer was too large"
[ "$mb" -lt 400 ] || fail "smshim sync took $mb MB of memory for a 1 MB gzip body"
"$PY" -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1] + "/_admin/reset", data=b"{}", method="POST")).read()' "$SRV"

# 2. documents of every size: 3 of 12 MB (a listing of them is larger than one answer may be),
# one of 30 MB (larger than a listing may be, as large as a document may be), one of 60 MB
# (larger than any document may be: seeded behind the API's back), and small ones
export SMSHIM_CACHE="$T/cache-big"
"$PY" - "$SRV" <<'PY'
import json, sys, urllib.request
def seed(fp, content):
    req = urllib.request.Request(sys.argv[1] + "/_admin/documents", method="POST",
        data=json.dumps({"filepath": fp, "content": content, "containerTag": "smshim"}).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
MB = 1024 * 1024
for i in range(4):
    seed(f"/small/{i}.md", f"small {i}")
for name in "abc":
    seed(f"/big/{name}.md", name * (12 * MB))
seed("/big/d.md", "d" * (30 * MB))
seed("/big/huge.md", "h" * (60 * MB))
PY
rc=0; "$B/smshim" sync >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ "$rc" -eq 0 ] || fail "smshim sync exited $rc"
for f in a b c; do
    [ "$(stat -c %s "$SMSHIM_CACHE/tree/big/$f.md")" -eq $((12 * 1024 * 1024)) ] || fail "big/$f.md did not arrive whole"
done
[ "$(stat -c %s "$SMSHIM_CACHE/tree/big/d.md")" -eq $((30 * 1024 * 1024)) ] || fail "big/d.md did not arrive whole"
[ "$(head -c 3 "$SMSHIM_CACHE/tree/big/d.md")" = "ddd" ] || fail "big/d.md holds the wrong bytes"
[ "$(cat "$SMSHIM_CACHE/tree/small/3.md")" = "small 3" ] || fail "the small documents did not arrive"
[ ! -e "$SMSHIM_CACHE/tree/big/huge.md" ] || fail "a document larger than 50 MB was written"
grep -q "huge.md.*larger than" "$T/out" || fail "smshim sync did not say it skipped the 60 MB document"
pages=$(srv stats list_pages)
echo "list requests (page, limit, includeContent): $pages"
"$PY" -c 'import json, sys
p = json.loads(sys.argv[1])
assert any(l < 100 and c for _, l, c in p), "no listing in smaller pages"
assert any(not c for _, l, c in p), "no listing without content"' "$pages" || fail "the large listing was not fetched in smaller pages"
echo "ok - $(srv stats requests.'GET /v3/documents/{id}') documents fetched one by one"
