#!/bin/bash
# A server that confuses documents never makes one document's content land at another's path.
# A GET of a document answered with another one (another id, or the asked one at another
# filepath) is refused: logged, counted with the unsafe documents, nothing written, the files as
# they were; once the answers are right the document comes. A listing that gives one id at two
# filepaths: the first (newest) place wins, the duplicate is skipped as unsafe, and neither file
# is moved over the other, in a first pull and in a delta.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_SYNC_TIMEOUT=20
srv seed /a.md "content of a" >/dev/null
"$B/smshim" sync >/dev/null 2>&1 || fail "the first sync failed"
[ "$(cat "$SMSHIM_CACHE/tree/a.md")" = "content of a" ] || fail "a.md was not pulled"
sane() { # sane MOMENT: a.md holds its own content, and b.md none of a's
    [ "$(cat "$SMSHIM_CACHE/tree/a.md" 2>/dev/null)" = "content of a" ] ||
        fail "$1: a.md does not hold its document's content ($(ls "$SMSHIM_CACHE/tree"))"
    [ "$(cat "$SMSHIM_CACHE/tree/b.md" 2>/dev/null || true)" != "content of a" ] ||
        fail "$1: b.md holds another document's content"
}

# documents older than the watermark: only a listing of the ids finds them, and they are fetched
# alone (GET /v3/documents/ID)
srv seedjson <<'J'
{"filepath": "/b.md", "content": "content of b", "updatedAt": "2026-01-01T00:00:00.000Z"}
{"filepath": "/c.md", "content": "content of c", "updatedAt": "2026-01-01T00:00:01.000Z"}
J
# the GET of b (and c) answers a's document at b's filepath: another id
srv config get_other=true >/dev/null
"$B/smshim" sync --full >"$T/other.out" 2>&1 || true
cat "$T/other.out"
sane "another id"
[ ! -e "$SMSHIM_CACHE/tree/b.md" ] || fail "another id: b.md was written from another document's answer"
grep -q "another document" "$T/other.out" || fail "another id: the refused answer was not logged"
"$B/smshim" status --json >"$T/st.json"
grep -q '"unsafe_skipped":2' "$T/st.json" || { cat "$T/st.json"; fail "another id: the refused answers were not counted"; }
echo "ok - GETs answered with another document are refused"

# the GET of c answers c itself at a's filepath: the right id at another filepath
srv config get_other=false get_filepath=/a.md >/dev/null
"$B/smshim" sync --full >"$T/fp.out" 2>&1 || true
cat "$T/fp.out"
sane "another filepath"
[ ! -e "$SMSHIM_CACHE/tree/c.md" ] || fail "another filepath: c.md was written from an answer at /a.md"
grep -q "another filepath" "$T/fp.out" || fail "another filepath: the refused answer was not logged"
echo "ok - GETs answered at another filepath are refused"

srv config get_filepath=null >/dev/null
"$B/smshim" sync --full >"$T/right.out" 2>&1 || { cat "$T/right.out"; fail "the sync after the answers were right failed"; }
cat "$T/right.out"
[ "$(cat "$SMSHIM_CACHE/tree/b.md")" = "content of b" ] || fail "b.md did not come once its GET was right"
[ "$(cat "$SMSHIM_CACHE/tree/c.md")" = "content of c" ] || fail "c.md did not come once its GET was right"
sane "right answers"
echo "ok - once the answers are right, b.md and c.md come"

# one id at two filepaths: every listing lists its newest document (a) again at /b.md
srv config list_dup_id=/b.md >/dev/null
SMSHIM_CACHE="$T/cache2" "$B/smshim" sync >"$T/dup1.out" 2>&1 || true
cat "$T/dup1.out"
for f in a b c; do
    [ "$(cat "$T/cache2/tree/$f.md" 2>/dev/null)" = "content of $f" ] ||
        fail "one id at two filepaths, first pull: $f.md does not hold its own content ($(ls "$T/cache2/tree"))"
done
grep -q "gave it at /a.md too" "$T/dup1.out" || fail "one id at two filepaths: the duplicate was not logged"
SMSHIM_CACHE="$T/cache2" "$B/smshim" status --json >"$T/st2.json"
grep -q '"unsafe_skipped":1' "$T/st2.json" || { cat "$T/st2.json"; fail "one id at two filepaths: the duplicate was not counted"; }
echo "ok - a first pull of one id at two filepaths keeps each file its own"
# a delta that lists a's new version, and it again at /b.md
srv edit "$(srv id /a.md)" "content of a" >/dev/null
"$B/smshim" sync >"$T/dup2.out" 2>&1 || true
cat "$T/dup2.out"
sane "one id at two filepaths, delta"
[ "$(cat "$SMSHIM_CACHE/tree/b.md")" = "content of b" ] || fail "one id at two filepaths, delta: b.md lost its content"
grep -q "gave it at /a.md too" "$T/dup2.out" || fail "one id at two filepaths, delta: the duplicate was not logged"
srv config list_dup_id=null >/dev/null
"$B/smshim" sync --full >/dev/null 2>&1 || fail "the last sync failed"
sane "the end"
[ "$(cat "$SMSHIM_CACHE/tree/b.md")" = "content of b" ] || fail "the end: b.md lost its content"
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly one document per file"; }
echo "ok - a delta of one id at two filepaths moves nothing; $(tail -1 "$T/check")"
