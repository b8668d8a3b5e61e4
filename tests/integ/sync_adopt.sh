#!/bin/bash
# A local text file never pushed, and a remote document at the same filepath: the push adopts
# that document (one document stays, its id unchanged) and the local bytes win (a pending local
# write is never clobbered).
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
"$B/smshim" run -- true # binds the cache and pulls the (empty) container
SUPERMEMORY_API_KEY= shim bash -c 'mkdir -p /sm/d && echo "local bytes" > /sm/d/c.md'
id=$(srv seed /d/c.md "the remote version")
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync"; }
[ "$(cat "$SMSHIM_CACHE/tree/d/c.md")" = "local bytes" ] || fail "the pull clobbered the local write"
got=$(srv id /d/c.md 2>&1) || fail "not one document at the filepath: $got"
[ "$got" = "$id" ] || fail "the push made another document ($got) instead of adopting $id"
[ "$(srv content /d/c.md)" = "local bytes" ] || fail "the adopted document does not hold the local bytes"
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly one document per file"; }
echo "ok - a local file never pushed adopts the remote document at its filepath; $(tail -1 "$T/check")"
