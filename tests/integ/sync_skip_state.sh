#!/bin/bash
# What pulls skip as unsafe is shown as it is now, and said once: a document two files here are
# bound to (a cache an earlier version left so, entrybind) is logged by the first pull that skips
# it, not by every pull after; and `smshim status` counts the documents pulls skip now, so a
# skip whose cause went (the server lists right again) is no longer counted.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_SYNC_TIMEOUT=20 SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
shim sh -c 'echo d > /sm/d.md; echo e > /sm/e.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "the first sync failed"
d=$(srv id /d.md)
srv delete "$(srv id /e.md)" >/dev/null # (e.md's own document: as if never made)
"$B/tests/entrybind" "$SMSHIM_CACHE/meta" /e.md "$d" >/dev/null || fail "entrybind"
srv edit "$d" "d, edited remotely" >/dev/null
"$B/smshim" sync >"$T/p1.out" 2>&1 || true
cat "$T/p1.out"
[ "$(grep -c "bound to it" "$T/p1.out")" = 1 ] || fail "the first pull did not say once that two files are bound to $d"
srv edit "$d" "d, edited again" >/dev/null
"$B/smshim" sync >"$T/p2.out" 2>&1 || true
cat "$T/p2.out"
[ "$(grep -c "bound to it" "$T/p2.out")" = 0 ] || fail "the next pull said it again"
[ "$(cat "$SMSHIM_CACHE/tree/d.md")" = d ] && [ "$(cat "$SMSHIM_CACHE/tree/e.md")" = e ] ||
    fail "a pull wrote a file bound to the shared document"
echo "ok - a document two files are bound to is logged once"

# one id at two filepaths: counted while the server lists it so, not after
export SMSHIM_CACHE="$T/cache2" SMSHIM_TAG=second
srv seed /x.md "content of x" second >/dev/null
srv seed /y.md "content of y" second >/dev/null
srv config list_dup_id=/x.md >/dev/null
"$B/smshim" sync --full >"$T/dup.out" 2>&1 || true
cat "$T/dup.out"
"$B/smshim" status --json >"$T/st1.json"
grep -q '"unsafe_skipped":1' "$T/st1.json" || { cat "$T/st1.json"; fail "the duplicate was not counted"; }
srv config list_dup_id=null >/dev/null
"$B/smshim" sync --full >"$T/right.out" 2>&1 || { cat "$T/right.out"; fail "the sync after the listing was right failed"; }
"$B/smshim" status --json >"$T/st2.json"
grep -q '"unsafe_skipped":0' "$T/st2.json" || { cat "$T/st2.json"; fail "status still counts a skip whose cause is gone"; }
[ "$(cat "$SMSHIM_CACHE/tree/x.md")" = "content of x" ] && [ "$(cat "$SMSHIM_CACHE/tree/y.md")" = "content of y" ] ||
    fail "x.md or y.md does not hold its own content"
echo "ok - a skip whose cause is gone is no longer counted"
