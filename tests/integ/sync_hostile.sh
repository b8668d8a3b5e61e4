#!/bin/bash
# An untrusted server: filepaths that climb out, have empty or "." components or over-long names
# are skipped (never written, and nothing outside the tree appears); a control character is a
# name like any other (the kernel takes it, and our own pushes send it); several documents with one
# filepath resolve to the newest, malformed JSON and wrong types give an error and a retry, never
# a crash. One cache, one container: another URL or tag is refused.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_SYNC_TIMEOUT=4 # bounded retries of the malformed answers below
long=$(printf 'x%.0s' $(seq 1 300))
for fp in "/../escape.md" "/a/../../escape2.md" "/ok/../x.md" $'/ctl/a\x01b.md' "/$long.md" "//double.md" "/./dot.md" "/fine/ok.md"; do
    srv seed "$fp" "hostile $fp" >/dev/null
done
srv seedjson <<'EOF'
{"filepath": "/dup.md", "content": "old", "updatedAt": "2026-01-01T00:00:00.000Z"}
{"filepath": "/dup.md", "content": "newest", "updatedAt": "2026-03-01T00:00:00.000Z"}
{"filepath": "/dup.md", "content": "middle", "updatedAt": "2026-02-01T00:00:00.000Z"}
{"filepath": null, "content": "no filepath", "updatedAt": "2026-01-01T00:00:00.000Z"}
EOF
"$B/smshim" sync >"$T/sync.out" 2>&1 || true
cat "$T/sync.out"
"$PY" "$SRC/tests/lib/manifest.py" "$SMSHIM_CACHE/tree" | tee "$T/tree"
grep -q "^f fine/ok.md " "$T/tree" || fail "the safe document was not pulled"
[ "$(cat "$SMSHIM_CACHE/tree/ctl/a"$'\x01'"b.md")" = "hostile /ctl/a"$'\x01'"b.md" ] || fail "a control-character filepath was not pulled"
[ "$(cat "$SMSHIM_CACHE/tree/dup.md")" = "newest" ] || fail "duplicates did not resolve to the newest"
[ "$(grep -c '^f ' "$T/tree")" -eq 4 ] || fail "unsafe filepaths were written (expected fine/ok.md, ctl/a^Ab.md, dup.md, <id>.md)"
for f in "$SMSHIM_CACHE/escape.md" "$SMSHIM_CACHE/escape2.md" "$T/escape.md" /escape.md; do
    [ ! -e "$f" ] || fail "a filepath escaped the tree: $f"
done
grep -q "share a filepath" "$T/sync.out" || fail "duplicates were not reported"
"$B/smshim" status --json >"$T/st.json"
grep -q '"duplicates":2' "$T/st.json" || { cat "$T/st.json"; fail "status does not report the duplicates"; }
grep -q '"unsafe_skipped":6' "$T/st.json" || { cat "$T/st.json"; fail "status does not report the unsafe documents"; }

# malformed answers: an error and a retry, never a crash
srv config bad_json=1.0 >/dev/null
if "$B/smshim" sync >"$T/bad.out" 2>&1; then fail "sync reported success on malformed answers"; fi
grep -q "malformed" "$T/bad.out" || { cat "$T/bad.out"; fail "no error about the malformed answer"; }
# wrong types: a malformed answer fails the pull (retried), a malformed document is skipped;
# never a crash, and nothing is written from it
srv config bad_json=0 wrong_types=1.0 >/dev/null
for i in 1 2 3 4 5 6; do
    rc=0; "$B/smshim" sync >"$T/types.out" 2>&1 || rc=$?
    [ "$rc" -le 1 ] || { cat "$T/types.out"; fail "smshim sync crashed on wrong types (status $rc)"; }
done
"$PY" "$SRC/tests/lib/manifest.py" "$SMSHIM_CACHE/tree" >"$T/tree2"
cmp -s "$T/tree" "$T/tree2" || { diff "$T/tree" "$T/tree2"; fail "wrong-typed answers changed the tree"; }
srv config wrong_types=0 >/dev/null
"$B/smshim" sync >/dev/null 2>&1 || fail "sync did not recover once the answers were sane"

# one cache, one container
if SMSHIM_TAG=another "$B/smshim" sync >"$T/bind.out" 2>&1; then fail "a second container was accepted"; fi
grep -q "use another SMSHIM_CACHE" "$T/bind.out" || { cat "$T/bind.out"; fail "no clear message"; }
if SMSHIM_TAG=another "$B/smshim" run -- true 2>"$T/bind2.out"; then fail "smshim run accepted another container"; fi
echo "ok - $(cat "$T/bind.out")"
