#!/usr/bin/env bash
# The shim's descriptors are invisible to the host: a program that closes, replaces or reuses
# every descriptor keeps a working prefix, every write under it is recorded, and no byte of the
# shim's own files (LMDB pages) reaches a file of the program's.
. "$(dirname "$0")/../lib/common.sh"
CLI="$B/smshim"

# every tracked file is recorded exactly once, as dirty (local-only: nothing is synced)
recorded() { # recorded FILE...: each is listed as dirty by smshim status --list
    "$CLI" status --cache "$SMSHIM_CACHE" --list >"$T/list" || fail "status --list failed"
    for f in "$@"; do
        grep -qx "dirty *$f" "$T/list" || fail "$f is not recorded: $(cat "$T/list")"
    done
}

# 1. bash takes fd 4 for its own file after the shim opened its environment
shim bash -c 'echo 1 > /sm/one.txt; exec 4>'"$T"'/out.log; echo line >&4; for i in 1 2 3 4 5; do echo $i > /sm/two$i.txt; done' ||
    fail "bash failed"
[ "$(cat "$T/out.log")" = line ] || fail "out.log holds $(wc -c <"$T/out.log") bytes, not the line written"
recorded /one.txt /two1.txt /two2.txt /two3.txt /two4.txt /two5.txt
echo "ok - exec 4> keeps its own file and every write is recorded"

# 2. programs that close, replace and reuse every descriptor (the log passes: the log's
#    descriptor is the shim's too, and no log line may land in the program's file), under this
#    machine's descriptor limit and under the common 1024
for mode in closeall closefrom range procfd raw dup2 lmdb copy log:closeall log:dup2 log:lmdb 1024:closeall 1024:dup2 1024:procfd 1024:lmdb; do
    log="" lim=$(ulimit -n)
    case "$mode" in
    log:*) log=debug mode=${mode#log:}_log ;;
    1024:*) lim=1024 mode=${mode#1024:}_1024 ;;
    esac
    shim mkdir -p "/sm/$mode"
    out=$(ulimit -n "$lim" && SMSHIM_LOG=$log shim "$B/tests/fdhostile" "${mode%_*}" "/sm/$mode" "$T/outside-$mode" 2>&1) ||
        fail "$mode: $out"
    [ "$(tail -1 <<<"$out")" = ok ] || fail "$mode: $out"
    recorded "/$mode/a.txt" "/$mode/b0.txt" "/$mode/b4.txt"
    [ "${mode%_*}" != lmdb ] || recorded "/$mode/r0.txt" "/$mode/r3.txt" "/$mode/r7.txt"
    # the cache is still sound for the next process
    shim bash -c "echo again > /sm/$mode/c.txt" || fail "$mode: the next process cannot write"
    recorded "/$mode/c.txt"
    echo "ok - $mode"
done
grep -q "descriptor .*, the shim's" "$SMSHIM_CACHE/log" ||
    fail "the log passes did not reach the shim's descriptors: $(head -c 600 "$SMSHIM_CACHE/log")"

# 3. the same with the sync thread at work (it holds the environment too, and pushes meanwhile):
#    every write reaches the server (the limit pinned: the shim's numbers below it, where the
#    program's dups reach them; part 2 sets its own)
pin_fd_limit
start_server
shim mkdir -p /sm/synced
out=$(shim "$B/tests/fdhostile" lmdb /sm/synced "$T/outside-synced" 2>&1) || fail "synced: $out"
[ "$(tail -1 <<<"$out")" = ok ] || fail "synced: $out"
"$CLI" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync failed after the dups"; }
curl -s "$SUPERMEMORY_BASE_URL/_admin/documents" >"$T/docs.json"
for f in a b0 b4 r0 r7; do
    grep -q "\"/synced/$f.txt\"" "$T/docs.json" || fail "/synced/$f.txt did not reach the server"
done
echo "ok - lmdb with the sync thread running: every write is pushed"

# 4. dup2 onto libcurl's sockets: while a push is in flight (the server holds it) and once its
#    connection is idle; every dup succeeds, no request byte (the key above all) reaches the
#    program's file, and every write still reaches the server
srv config hold=true >/dev/null
shim mkdir -p /sm/curl
rm -f "$T/go"
: >"$SMSHIM_CACHE/log"
FDH_GO="$T/go" SMSHIM_LOG=warn shim "$B/tests/fdhostile" curl /sm/curl "$T/outside-curl" >"$T/curl.out" 2>&1 &
pid=$!
while ! grep -q '^dupped' "$T/curl.out" && kill -0 $pid 2>/dev/null; do sleep 0.05; done
srv config hold=false >/dev/null
# the pushes of c*.txt are answered before the program goes on (their connections then idle)
if grep -q '^dupped' "$T/curl.out"; then
    until curl -s "$SUPERMEMORY_BASE_URL/_admin/documents" | grep -q '"/curl/c3.txt"'; do
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
fi
touch "$T/go"
wait $pid || fail "curl: $(cat "$T/curl.out")"
[ "$(tail -1 "$T/curl.out")" = ok ] || fail "curl: $(cat "$T/curl.out")"
! grep -qa "Authorization\|$SRV_KEY\|HTTP/1" "$T/outside-curl" || fail "request bytes reached the program's file"
"$CLI" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync failed after the socket dups"; }
curl -s "$SUPERMEMORY_BASE_URL/_admin/documents" >"$T/docs.json"
for f in a c0 c3 d0 d3 b0 b4; do
    grep -q "\"/curl/$f.txt\"" "$T/docs.json" || fail "/curl/$f.txt did not reach the server"
done
echo "ok - dup2 onto libcurl's sockets, in flight and idle: nothing reaches the program's file"
# each handle given up (its kept-alive socket went to the program) is freed, not left behind
grep -q "given up to the program's dup2" "$SMSHIM_CACHE/log" || fail "no connection was given up: $(tail -5 "$SMSHIM_CACHE/log")"
! grep -q "given up to the program's dup2: its handle is left" "$SMSHIM_CACHE/log" ||
    fail "a handle given up was left behind: $(grep -c "handle is left" "$SMSHIM_CACHE/log") times"
echo "ok - $(grep -c "handle is freed" "$SMSHIM_CACHE/log") handle(s) given up, all freed"
