#!/bin/bash
# A remote filepath whose parent is a local symbolic link or a file is skipped, logged and counted
# in `smshim status` as unsafe (as filepaths with ".." are), and nothing is written for it.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
mkdir -p "$T/elsewhere"
"$B/smshim" run -- bash -c "ln -s '$T/elsewhere' /sm/link && echo local > /sm/plain" || fail "setup"
srv seed /link/inner.md "through a link" >/dev/null
srv seed /plain/inner.md "below a file" >/dev/null
srv seed /fine.md "fine" >/dev/null
"$B/smshim" sync >/dev/null 2>"$T/sync.err" || { cat "$T/sync.err"; fail "sync"; }
[ "$(grep -c "crosses a symbolic link or a file" "$T/sync.err")" -eq 2 ] ||
    { cat "$T/sync.err"; fail "the two skipped documents were not logged"; }
[ -z "$(ls -A "$T/elsewhere")" ] || fail "a file was written through the link"
[ "$(cat "$SMSHIM_CACHE/tree/plain")" = local ] && [ "$(cat "$SMSHIM_CACHE/tree/fine.md")" = fine ] ||
    fail "the tree after the sync"
"$B/smshim" status --json >"$T/st.json"
grep -q '"unsafe_skipped":2' "$T/st.json" || { cat "$T/st.json"; fail "status does not count the two as unsafe"; }
"$B/smshim" status | grep -q "^unsafe: *2 " || fail "status does not show them"
echo "ok - remote filepaths through a local link or file are skipped, logged and counted as unsafe"
