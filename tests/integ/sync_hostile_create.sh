#!/bin/bash
# A server that answers a create with another file's document (the id of a.md's document for the
# create of b.md) never makes a push or a pull act on one file's document for the other: b.md's
# push neither moves a.md's document to /b.md nor writes b.md's bytes into it (b.md is kept
# local, poisoned, and says why), and a pull that lists the document moves, writes or removes
# neither file.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_SYNC_TIMEOUT=20 SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
shim sh -c 'echo a > /sm/a.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "the first sync failed"
a=$(srv id /a.md)
srv config create_id="$a" >/dev/null
shim sh -c 'echo b > /sm/b.md'
"$B/smshim" sync >"$T/create.out" 2>&1 || true
srv config create_id=null >/dev/null
echo "# b.md created; the server answered with a.md's document $a"
# a remote edit of a.md's document: the next pull lists it
srv edit "$a" "a, edited remotely" >/dev/null
"$B/smshim" sync >"$T/pull.out" 2>&1 || true
cat "$T/pull.out"
[ "$(cat "$SMSHIM_CACHE/tree/b.md" 2>/dev/null)" = b ] || fail "the pull changed b.md ($(ls "$SMSHIM_CACHE/tree"))"
[ -e "$SMSHIM_CACHE/tree/a.md" ] || fail "the pull removed or moved a.md"
# a local change of b.md: its push must not touch a.md's document
shim sh -c 'echo b2 > /sm/b.md'
"$B/smshim" sync >"$T/push.out" 2>&1 || true
cat "$T/push.out"
[ "$(srv content /a.md 2>/dev/null)" = "a, edited remotely" ] ||
    fail "a.md's document was changed by b.md's push: $(srv docs /a.md) at /a.md, $(srv docs /b.md) at /b.md"
[ "$(cat "$SMSHIM_CACHE/tree/b.md")" = b2 ] || fail "b.md lost its local bytes"
"$B/smshim" status >"$T/status" 2>&1 || true
grep -q "another file" "$T/status" || { cat "$T/status"; fail "status does not say why b.md is not synced"; }
echo "ok - a create answered with another file's document changes neither file's document"
