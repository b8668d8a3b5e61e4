#!/usr/bin/env bash
# LMDB trouble is never "absent": with all but one of the reader slots held by another process,
# `smshim sync` may fail, but no queued change is dropped: once the slots are free again, every
# file reaches the server, exactly once.
. "$(dirname "$0")/../lib/common.sh"
start_server
CLI="$B/smshim"
"$CLI" run -- true || fail "bind"
key=$SUPERMEMORY_API_KEY
unset SUPERMEMORY_API_KEY # record only: the changes stay queued for smshim sync
shim bash -c 'mkdir -p /sm/r && for i in $(seq 1 300); do echo "file $i" > /sm/r/f$i.txt; done' ||
    fail "write"
export SUPERMEMORY_API_KEY=$key
mkfifo "$T/hold.in"
"$B/tests/lmdbhold" "$SMSHIM_CACHE/meta" 1 <"$T/hold.in" >"$T/hold.out" 2>&1 &
holder=$!
exec 4>"$T/hold.in"
for _ in $(seq 1 200); do grep -q held "$T/hold.out" && break; sleep 0.05; done
grep -q "held [1-9][0-9]*" "$T/hold.out" || fail "the holder did not fill the reader table: $(cat "$T/hold.out")"
rc=0
"$CLI" sync --cache "$SMSHIM_CACHE" >"$T/sync1" 2>&1 || rc=$?
echo "sync with a full reader table: exit $rc"
exec 4>&-
wait "$holder"
"$CLI" sync --cache "$SMSHIM_CACHE" >"$T/sync2" 2>&1 || fail "sync after the slots were freed: $(cat "$T/sync2")"
srv check "$SMSHIM_CACHE/tree" || fail "the server does not hold every file exactly once"
echo "ok - 300 files, none dropped while the reader table was full"
