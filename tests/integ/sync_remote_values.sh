#!/bin/bash
# An API key or a base URL that cannot be sent as it is: a key holding a CR LF (it goes into the
# Authorization header, where it added a header of its own), a space or a control character, or
# longer than 511 bytes, and a base URL longer than 511 bytes. Once, the key's CR LF reached the
# server as a header, and a long key or URL was cut to what fit and sent so. Now `smshim sync`
# exits 2 with one line (never holding the key) and sends nothing; a preloaded process keeps its
# changes local and sends nothing either.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_SYNC_TIMEOUT=4 SMSHIM_EXIT_TIMEOUT=1
requests() { srv stats requests | "$PY" -c 'import json,sys; print(sum(json.load(sys.stdin).values()))'; }
long=$(printf 'x%.0s' $(seq 1 600))
n=0
check() { # check WHAT KEY URL
    local what=$1 key=$2 url=$3 rc=0
    n=$((n + 1))
    export SMSHIM_CACHE="$T/cache$n"
    SUPERMEMORY_API_KEY=$key SUPERMEMORY_BASE_URL=$url "$B/smshim" sync >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q '^smshim: refused: ' "$T/err" ||
        { cat "$T/err"; fail "$what: smshim sync exited $rc without a one-line reason"; }
    ! grep -q "$SRV_KEY" "$T/err" || fail "$what: the reason holds the key"
    SMSHIM_NOWAIT= SUPERMEMORY_API_KEY=$key SUPERMEMORY_BASE_URL=$url shim sh -c 'echo local >/sm/a.txt' 2>"$T/pre.err" ||
        { cat "$T/pre.err"; fail "$what: a preloaded write failed"; }
    [ "$(cat "$SMSHIM_CACHE/tree/a.txt")" = local ] || fail "$what: the local change was lost"
    [ "$(requests)" = 0 ] || { srv stats requests; fail "$what: requests reached the server"; }
    echo "ok - $what: $(cat "$T/err")"
}
check "a key with CR LF" "$SRV_KEY"$'\r\nX-Injected: yes' "$SRV"
check "a key with a space" "$SRV_KEY x" "$SRV"
check "a key with a control character" "$SRV_KEY"$'\x01' "$SRV"
check "a key of 600 bytes" "$SRV_KEY$long" "$SRV"
check "a base URL of 600 bytes" "$SRV_KEY" "$SRV/v3/$long"
# the same key and URL, usable: the change is pushed
export SMSHIM_CACHE="$T/cache$n"
"$B/smshim" sync >"$T/out" 2>&1 || { cat "$T/out"; fail "the usable settings did not sync"; }
[ "$(srv content /a.txt)" = local ] || fail "the local change was not pushed once the settings were usable"
