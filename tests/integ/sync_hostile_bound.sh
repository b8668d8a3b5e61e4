#!/bin/bash
# A file bound to a document another file here is bound to never makes its rename or removal act
# on that document. Two ways to such a state: a create answered with another file's document
# (refused: the file is not bound to it, is kept local and says why, and once the server answers
# right its retry makes its own document), and a cache an earlier version left with two files
# bound to one document (entrybind: the index is built from the entries at the next opening):
# the rename of one of them is refused (poisoned), its removal waits (queued, counted in status)
# and goes once no file is bound to the document any more.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_SYNC_TIMEOUT=20 SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
shim sh -c 'echo a > /sm/a.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "the first sync failed"
a=$(srv id /a.md)
srv config create_id="$a" >/dev/null
shim sh -c 'echo b > /sm/b.md'
"$B/smshim" sync >"$T/create.out" 2>&1 || true
cat "$T/create.out"
srv config create_id=null >/dev/null
echo "# b.md created; the server answered with a.md's document $a, then answers right"
"$B/smshim" sync --retry-poisoned >"$T/retry.out" 2>&1 || true
cat "$T/retry.out"
shim mv /sm/b.md /sm/c.md
"$B/smshim" sync >"$T/mv.out" 2>&1 || true
cat "$T/mv.out"
[ "$(srv content /a.md 2>/dev/null)" = a ] ||
    fail "the rename of b.md moved a.md's document: $(srv docs /a.md) at /a.md, $(srv docs /c.md) at /c.md"
[ "$(srv content /c.md 2>/dev/null)" = b ] || fail "c.md (b.md renamed) has no document of its own"
shim rm /sm/c.md
"$B/smshim" sync >"$T/rm.out" 2>&1 || fail "the sync of the removal failed: $(cat "$T/rm.out")"
[ "$(srv content /a.md 2>/dev/null)" = a ] || fail "the removal of c.md deleted a.md's document"
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly one document per file"; }
echo "ok - a create answered with another file's document: its rename and removal leave that document alone"

# a cache left with two files bound to one document
export SMSHIM_CACHE="$T/legacy" SMSHIM_TAG=legacy
shim sh -c 'echo d > /sm/d.md; echo e > /sm/e.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "the sync of d.md and e.md failed"
d=$(srv id /d.md)
srv delete "$(srv id /e.md)" >/dev/null # (e.md's own document: as if never made)
"$B/tests/entrybind" "$SMSHIM_CACHE/meta" /e.md "$d" >/dev/null || fail "entrybind"
"$B/smshim" status --json >"$T/st0.json" 2>&1 || true
grep -q '"shared_documents":1' "$T/st0.json" || { cat "$T/st0.json"; fail "status does not count the document two files are bound to"; }
shim mv /sm/e.md /sm/f.md
"$B/smshim" sync >"$T/mv2.out" 2>&1 || true
cat "$T/mv2.out"
[ "$(srv content /d.md 2>/dev/null)" = d ] ||
    fail "the rename of e.md moved d.md's document: $(srv docs /d.md) at /d.md, $(srv docs /f.md) at /f.md"
"$B/smshim" status >"$T/st1" 2>&1 || true
grep -q "another file" "$T/st1" || { cat "$T/st1"; fail "status does not say why f.md is not synced"; }
shim rm /sm/f.md
"$B/smshim" sync >"$T/rm2.out" 2>&1 && fail "a sync with a removal held back exited 0"
cat "$T/rm2.out"
[ "$(srv content /d.md 2>/dev/null)" = d ] || fail "the removal of f.md (e.md renamed) deleted d.md's document"
"$B/smshim" status --json >"$T/st2.json" 2>&1 || true
grep -q '"held_removals":1' "$T/st2.json" || { cat "$T/st2.json"; fail "status does not count the removal held back"; }
grep -q '"queued":1' "$T/st2.json" || { cat "$T/st2.json"; fail "the removal held back is not queued"; }
echo "ok - two files bound to one document: a rename is refused, a removal waits"
# d.md goes: no file is bound to the document any more, and the removal held back goes too
shim rm /sm/d.md
"$B/smshim" sync >"$T/rm3.out" 2>&1 || true
"$B/smshim" sync >"$T/rm4.out" 2>&1 || { cat "$T/rm3.out" "$T/rm4.out"; fail "the sync after d.md's removal failed"; }
[ "$(srv docs /d.md)" = "0 -" ] || fail "d.md's document is still there: $(srv docs /d.md)"
"$B/smshim" status --json >"$T/st3.json" 2>&1 || true
grep -q '"queued":0' "$T/st3.json" && grep -q '"held_removals":0' "$T/st3.json" &&
    grep -q '"shared_documents":0' "$T/st3.json" || { cat "$T/st3.json"; fail "status still shows what is gone"; }
echo "ok - once no file is bound to the document, the held removal goes"
