#!/bin/bash
# A local rename or removal not yet pushed is not undone by a pull: the next `smshim sync` pulls
# before it pushes, and a document still listed at its old filepath must neither move the file
# back nor bring the removed one back.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
local_only() { env -u SUPERMEMORY_API_KEY LD_PRELOAD="$PRELOAD" "$@"; } # records, pushes nothing
creates() { srv stats 'requests.POST /v3/documents'; }
local_only bash -c 'mkdir -p /sm/d/sub; echo a > /sm/d/a.md; echo b > /sm/d/sub/b.md; echo f > /sm/f.md; echo r > /sm/r.md; echo s > /sm/s.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "the first sync"
[ "$(creates)" -eq 5 ] || fail "$(creates) creates for 5 files"

local_only bash -c 'mv /sm/d /sm/e && mv /sm/f.md /sm/g.md && rm /sm/r.md'
"$B/smshim" status --list >"$T/list"
"$B/smshim" sync >/dev/null 2>"$T/sync.err" || { cat "$T/sync.err"; fail "the sync after the local changes"; }
find "$SMSHIM_CACHE/tree" | sort >"$T/tree"
for p in /e/a.md /e/sub/b.md /g.md /s.md; do
    [ -f "$SMSHIM_CACHE/tree$p" ] || { cat "$T/tree"; fail "$p is not in the tree after the sync"; }
done
for p in /d/a.md /d/sub/b.md /f.md /r.md; do
    [ ! -e "$SMSHIM_CACHE/tree$p" ] || { cat "$T/tree"; fail "the pull brought $p back"; }
done
srv check "$SMSHIM_CACHE/tree" || fail "server and cache differ"
[ "$(creates)" -eq 5 ] || fail "the renames created documents ($(creates) creates)"
"$B/smshim" status --list >"$T/list"
[ "$(grep -c '^clean ' "$T/list")" -eq 4 ] && [ "$(wc -l <"$T/list")" -eq 4 ] || { cat "$T/list"; fail "status after the sync"; }
"$B/smshim" sync --full >/dev/null 2>&1 || fail "a full sync"
srv check "$SMSHIM_CACHE/tree" || fail "server and cache differ after a full sync"
echo "ok - local renames (a directory, a file) and a removal survive the pull before their push"

# the same document renamed remotely meanwhile: the local name wins, as for a local edit
id=$(srv id /s.md)
local_only mv /sm/s.md /sm/t.md
"$PY" -c 'import json, sys, urllib.request as u
u.urlopen(u.Request(sys.argv[1] + "/_admin/edit", data=json.dumps({"id": sys.argv[2], "filepath": "/remote-name.md"}).encode(), method="POST", headers={"Content-Type": "application/json"})).read()' "$SRV" "$id"
"$B/smshim" sync >/dev/null 2>&1 || fail "the sync after both renames"
[ -f "$SMSHIM_CACHE/tree/t.md" ] && [ ! -e "$SMSHIM_CACHE/tree/remote-name.md" ] && [ ! -e "$SMSHIM_CACHE/tree/s.md" ] ||
    { find "$SMSHIM_CACHE/tree"; fail "the local rename lost to the remote one"; }
srv check "$SMSHIM_CACHE/tree" || fail "server and cache differ after both renames"
echo "ok - a local rename wins over a remote one of the same document"
