#!/usr/bin/env bash
# The shared objects the library loads (libcurl and its dependencies, liblmdb) are opened by the
# loader at the lowest free numbers, past every wrapper. They are loaded in a thread with a table
# of descriptors of its own (close_range CLOSE_RANGE_UNSHARE, or unshare(CLONE_FILES)): a program thread that closes every number it
# does not know about, meanwhile, cannot close one under the loader ("cannot close file
# descriptor", "file too short": the sync thread gave up, "no sync in this process").
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_LOG=warn
requests() { srv stats requests | "$PY" -c 'import json,sys; print(sum(json.load(sys.stdin).values()))'; }

# 1. the storm: every number below the reserved range closed, round after round, while the sync
# thread loads libcurl; the storm ends once the sync thread has reached the server (or said it
# cannot)
rm -f "$T/stop"
shim "$B/tests/fdstorm" /sm/storm "$T/stop" >"$T/storm.out" 2>&1 &
pid=$!
until [ "$(requests)" -gt 0 ] || grep -q "no sync in this process" "$SMSHIM_CACHE/log" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
touch "$T/stop"
wait $pid || fail "fdstorm: $(cat "$T/storm.out")"
[ "$(tail -1 "$T/storm.out")" = ok ] || fail "fdstorm: $(cat "$T/storm.out")"
! grep -q "no sync in this process\|cannot load" "$SMSHIM_CACHE/log" ||
    fail "the sync thread could not load its libraries: $(grep "no sync\|cannot load" "$SMSHIM_CACHE/log" | head -3)"
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync failed"; }
curl -s "$SUPERMEMORY_BASE_URL/_admin/documents" | grep -q '"/storm/a.txt"' || fail "/storm/a.txt did not reach the server"
echo "ok - a program closing every number while libcurl loads: the sync thread works"

# 2. where the loader's opens happen: in threads that gave themselves a table of their own. The
# program (bash, one thread) waits for the push with its own requests to the test server (bash's
# /dev/tcp: no other process in the trace, every other thread is the library's)
need strace
port=${SRV##*:}
strace -f -qq -e trace=openat,unshare,close_range -o "$T/st" env LD_PRELOAD="$PRELOAD" SMSHIM_CACHE="$T/cache2" \
    bash -c "$(one_pushed "$port")" || fail "the shimmed process failed"
own_tables "$T/st" >"$T/own"
for lib in liblmdb.so.0 libcurl.so.4 libcjson.so.1; do
    grep -E "openat\(.*/$lib\"" "$T/st" | grep -v ENOENT | awk '{print $1}' | sort -u >"$T/openers"
    [ -s "$T/openers" ] || fail "no open of $lib in the trace"
    bad=$(comm -23 "$T/openers" "$T/own" | tr '\n' ' ')
    [ -z "$bad" ] || fail "$lib was opened by thread(s) $bad, which share the program's table"
done
echo "ok - liblmdb, libcurl and libcjson are opened in threads with a table of descriptors of their own"
