#!/bin/bash
# `smshim grep QUERY [PATH]`: semantic search over the container (POST /v4/search, the test
# server's term-overlap stand-in), one PATH:START-END:CHUNK line per result with the line range
# found in the local file (exactly, else ignoring whitespace), paths as programs see them under
# the prefix; --json parses; exit 0 with results, 1 with none, 2 on errors, as grep.
. "$(dirname "$0")/../lib/common.sh"
start_server
srv seed /docs/alpha.md $'# Alpha\n\nThe quick brown fox\njumps over the lazy dog.\n\nNothing else here.' >/dev/null
srv seed /docs/sub/beta.md $'intro line\n\nfoxes   are quick\n  and clever' >/dev/null
srv seed /other/gamma.md $'A brown bear.' >/dev/null
"$B/smshim" sync >/dev/null 2>&1 || fail "smshim sync"

"$B/smshim" grep "quick fox" >"$T/g1.out" 2>"$T/g1.err" || fail "grep with results did not exit 0"
cat "$T/g1.err" "$T/g1.out"
grep -q "semantic" "$T/g1.err" || fail "no header on stderr"
head -1 "$T/g1.out" | grep -qx '/sm/docs/alpha.md:3-4:The quick brown fox\\njumps over the lazy dog.' ||
    fail "the best result is not alpha.md lines 3-4 with its newline escaped"
grep -qx '/sm/docs/sub/beta.md:3-4:foxes   are quick\\n  and clever' "$T/g1.out" || fail "beta.md lines 3-4"
if grep -q gamma "$T/g1.out"; then fail "a document without the query's words was found"; fi
echo "ok - results as PATH:START-END:CHUNK, ranges from the local file"

# one line: START alone
"$B/smshim" grep -q "brown bear" /sm/other >"$T/g2.out" || fail "grep in /sm/other"
grep -qx '/sm/other/gamma.md:1:A brown bear.' "$T/g2.out" || fail "a one-line chunk is not shown as START alone"
[ "$(srv stats searches | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[-1]["filepath"])')" = /other/ ] ||
    fail "a directory scope is not sent with its trailing /"
# relative paths: to the current directory under the prefix, else to the prefix
(cd "$SMSHIM_CACHE/tree/docs" && "$B/smshim" grep -q quick sub) >"$T/g3.out" || fail "relative PATH under the prefix"
[ "$(wc -l <"$T/g3.out")" = 1 ] && grep -q '^/sm/docs/sub/beta.md:' "$T/g3.out" || fail "relative scope docs/sub"
"$B/smshim" grep -q quick docs/alpha.md >"$T/g4.out" || fail "relative PATH from outside"
[ "$(srv stats searches | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[-1]["filepath"])')" = /docs/alpha.md ] ||
    fail "a file scope is not sent as its filepath"
echo "ok - PATH scopes the search: directories, files, relative paths"

# the whitespace-insensitive fallback: the server squashes whitespace in chunks
srv config search_squash=true >/dev/null
"$B/smshim" grep -q "clever foxes" /sm/docs/sub/ >"$T/g5.out" || fail "grep with squashed chunks"
grep -qx '/sm/docs/sub/beta.md:3-4:foxes are quick and clever' "$T/g5.out" || fail "whitespace-insensitive location"
srv config search_squash=false >/dev/null
# a document not in the cache: no range
srv seed /late/new.md "quick quick" >/dev/null
"$B/smshim" grep -q quick /sm/late/ >"$T/g6.out" || fail "grep /sm/late/"
grep -qx '/sm/late/new.md::quick quick' "$T/g6.out" || fail "a chunk not found locally has no range"
echo "ok - chunks are located ignoring whitespace, or shown with no range"

"$B/smshim" grep --json "quick fox" >"$T/g.json" || fail "grep --json"
"$PY" - "$T/g.json" <<'PY' || fail "--json does not parse or lacks fields"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"][0]
assert d["query"] == "quick fox" and r["path"] == "/sm/docs/alpha.md" and r["start"] == 3 and r["end"] == 4, d
assert r["chunk"] == "The quick brown fox\njumps over the lazy dog." and r["filepath"] == "/docs/alpha.md"
PY
echo "ok - --json"

# a similarity out of a double's range (1e999 parses as infinity) is no similarity: such a result
# is skipped, and --json stays JSON (it printed "similarity":inf)
for sim in 1e999 -1e999; do
    srv config search_similarity="$sim" >/dev/null
    rc=0; "$B/smshim" grep --json quick >"$T/gi.json" 2>"$T/gi.err" || rc=$?
    "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/gi.json" ||
        { cat "$T/gi.json"; fail "similarity $sim: --json is not JSON"; }
    ! grep -q inf "$T/gi.json" || fail "similarity $sim was shown"
done
srv config search_similarity= >/dev/null
echo "ok - a similarity out of range is skipped"

# exit codes: 1 without results, 2 on errors; --prefix shows the paths under another prefix
rc=0; "$B/smshim" grep -q zzzunknownword >"$T/g7.out" || rc=$?
[ "$rc" = 1 ] && [ ! -s "$T/g7.out" ] || fail "no results: exit $rc, not 1"
"$B/smshim" grep -q --prefix /mnt/mem "bear" | grep -q '^/mnt/mem/other/gamma.md:1:' || fail "--prefix"
rc=0; "$B/smshim" grep -q quick /elsewhere 2>"$T/g8.err" || rc=$?
[ "$rc" = 2 ] || fail "a PATH outside the prefix: exit $rc, not 2"
rc=0; SUPERMEMORY_API_KEY=wrong "$B/smshim" grep -q quick 2>"$T/g9.err" || rc=$?
[ "$rc" = 2 ] && grep -q "401" "$T/g9.err" || fail "a refused key: exit $rc, not 2"
kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
rc=0; "$B/smshim" grep -q quick 2>"$T/g10.err" || rc=$?
[ "$rc" = 2 ] || fail "no server: exit $rc, not 2"
echo "ok - exit codes 0, 1, 2 as grep"
