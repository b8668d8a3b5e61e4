#!/bin/bash
# Pulls cost what changed. After the first pull, a `smshim sync` with nothing changed remotely
# costs one list request (the head of the listing, without content: nothing newer than the
# watermark, and the container's count matches the entries); a remote edit costs one more (the
# changed document with its content); a remote delete is found by the count check and then by a
# listing without content; `smshim sync --full` lists everything on demand. Asserted on the
# requests the server counted.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
req() { srv stats requests | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r[sys.argv[1]] if sys.argv[1] != "all" else sum(r.values()))' "$1"; }
L="POST /v3/documents/list"
G="GET /v3/documents/{id}"
srv seedmany /d/%d.md 250
"$B/smshim" sync >/dev/null 2>&1 || fail "first sync"
[ "$(ls "$SMSHIM_CACHE/tree/d" | wc -l)" -eq 250 ] || fail "the first pull did not bring 250 files"
echo "ok - first sync: $(req "$L") list requests, $(req all) requests"

a0=$(req all) l0=$(req "$L")
"$B/smshim" sync >/dev/null 2>&1 || fail "no-change sync"
a1=$(req all) l1=$(req "$L")
echo "ok - a no-change sync: $((l1 - l0)) list request(s), $((a1 - a0)) request(s) in all"
[ $((l1 - l0)) -eq 1 ] && [ $((a1 - a0)) -le 3 ] || fail "a no-change sync cost $((a1 - a0)) requests ($((l1 - l0)) listings)"

srv edit "$(srv id /d/7.md)" "doc 7, edited remotely"
"$B/smshim" sync >/dev/null 2>&1 || fail "sync after a remote edit"
a2=$(req all) l2=$(req "$L")
[ "$(cat "$SMSHIM_CACHE/tree/d/7.md")" = "doc 7, edited remotely" ] || fail "the remote edit did not arrive"
echo "ok - one remote edit: $((l2 - l1)) list requests, $((a2 - a1)) requests in all"
[ $((a2 - a1)) -le 2 ] || fail "one remote edit cost $((a2 - a1)) requests"

srv delete "$(srv id /d/9.md)"
"$B/smshim" sync >/dev/null 2>&1 || fail "sync after a remote delete"
[ ! -e "$SMSHIM_CACHE/tree/d/9.md" ] || fail "the count check did not find the remote delete"
a3=$(req all)
echo "ok - a remote delete found by the count check ($((a3 - a2)) requests)"
"$B/smshim" sync >/dev/null 2>&1 || fail "sync after the delete was applied"
a4=$(req all)
[ $((a4 - a3)) -eq 1 ] || fail "after a delete, a no-change sync cost $((a4 - a3)) requests"

# a delete the count cannot show (one document gone, another one made elsewhere at a filepath
# a newer document holds, so the count stays): --full finds it
id=$(srv id /d/11.md)
srv delete "$id"
srv seed /d/12.md "doc 12, duplicated elsewhere" >/dev/null
"$B/smshim" sync --full >/dev/null 2>&1 || fail "sync --full"
[ ! -e "$SMSHIM_CACHE/tree/d/11.md" ] || fail "smshim sync --full did not find the remote delete"
a5=$(req all) l5=$(req "$L")
"$B/smshim" sync >/dev/null 2>&1 || fail "sync after --full"
[ $(($(req all) - a5)) -eq 1 ] || fail "a no-change sync after --full cost $(($(req all) - a5)) requests"
echo "ok - smshim sync --full finds what the count cannot"
