#!/usr/bin/env bash
# The sync engine never reaches outside the tree: a symbolic link under the prefix to a directory
# outside it does not let a remote document read, overwrite or delete the file it would name
# there. A remote filepath whose parent is a local symbolic link (or a file) is not applied.
. "$(dirname "$0")/../lib/common.sh"
start_server
CLI="$B/smshim"
export SMSHIM_NOWAIT=1
secret="$T/secret-dir"
mkdir -p "$secret"
echo "SECRET outside the tree" >"$secret/secret.txt"
"$CLI" run -- true || fail "bind"
shim ln -s "$secret" /sm/link || fail "ln -s"
# 1. the remote creates /link/secret.txt: the outside file is neither uploaded nor overwritten
srv seed /link/secret.txt "remote text" >/dev/null
"$CLI" sync --cache "$SMSHIM_CACHE" >"$T/sync1" 2>&1 || true
[ "$(cat "$secret/secret.txt")" = "SECRET outside the tree" ] ||
    fail "the outside file was changed: $(cat "$secret/secret.txt")"
got=$(srv content /link/secret.txt) || fail "the document is gone or duplicated"
[ "$got" = "remote text" ] || fail "the outside file's bytes reached the server: $got"
# 2. the remote deletes it: the outside file stays
id=$(srv id /link/secret.txt)
srv delete "$id"
"$CLI" sync --cache "$SMSHIM_CACHE" >"$T/sync2" 2>&1 || true
[ -f "$secret/secret.txt" ] || fail "a remote delete removed the outside file"
# 3. a document below a local file (not a directory): not applied, nothing written beside it
shim bash -c 'echo local > /sm/plain' || fail "write /sm/plain"
srv seed /plain/inner.md "below a file" >/dev/null
"$CLI" sync --cache "$SMSHIM_CACHE" >"$T/sync3" 2>&1 || true
[ "$(shim cat /sm/plain)" = local ] || fail "the local file was replaced"
# 4. files reached through the link are not the tree's: nothing of the outside directory is
#    recorded or uploaded
shim bash -c "echo through > /sm/link/through.txt" || fail "write through the link"
"$CLI" sync --cache "$SMSHIM_CACHE" >"$T/sync4" 2>&1 || true
if srv id /link/through.txt >/dev/null 2>&1; then fail "a file outside the tree was uploaded"; fi
[ "$(cat "$secret/through.txt")" = through ] || fail "the write through the link did not land"
echo "ok - nothing outside the tree read, written or removed"
