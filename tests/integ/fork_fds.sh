#!/usr/bin/env bash
# A fork child inherits the shim's descriptors (LMDB's files, libcurl's sockets) but not their
# use: for it they do not exist. Its dup2 onto any of their numbers succeeds at once and leaves
# its own file there, and the child and its parent both go on recording (and pushing).
. "$(dirname "$0")/../lib/common.sh"
CLI="$B/smshim"
pin_fd_limit
recorded() { # recorded FILE...: each is listed by smshim status --list
    "$CLI" status --cache "$SMSHIM_CACHE" --list >"$T/list" || fail "status --list failed"
    for f in "$@"; do grep -q " $f\$" "$T/list" || fail "$f is not recorded: $(cat "$T/list")"; done
}
# 1. local only: LMDB's files
shim mkdir -p /sm/local
out=$(shim "$B/tests/forkdup" /sm/local "$T/own-local" 2>&1) || fail "local: $out"
[ "$(tail -1 <<<"$out")" = ok ] || fail "local: $out"
recorded /local/p0.txt /local/c0.txt /local/c2.txt /local/p1.txt
echo "ok - a fork child dup2s onto LMDB's inherited numbers; child and parent record"

# the same through syscall(SYS_fork), which runs no pthread_atfork handler
shim mkdir -p /sm/raw
out=$(FORKDUP_RAW=1 shim "$B/tests/forkdup" /sm/raw "$T/own-raw" 2>&1) || fail "raw: $out"
[ "$(tail -1 <<<"$out")" = ok ] || fail "raw: $out"
recorded /raw/p0.txt /raw/c0.txt /raw/c2.txt /raw/p1.txt
echo "ok - a child of syscall(SYS_fork) too"

# a vfork child's dup2 onto LMDB's numbers replaces its own copies and nothing of its parent's:
# it opens none of LMDB's files (the environment opened again by the child would live in the
# parent's memory, at numbers only the child's table held, with the child's pid as its owner)
need strace
shim mkdir -p /sm/vfork
strace -f -qq -e trace=openat -o "$T/vf.st" env LD_PRELOAD="$PRELOAD" SMSHIM_CACHE="$SMSHIM_CACHE" \
    "$B/tests/vforkdup" /sm/vfork "$T/own-vfork" >"$T/vf.out" 2>&1 || fail "vfork: $(cat "$T/vf.out")"
[ "$(tail -1 "$T/vf.out")" = ok ] || fail "vfork: $(cat "$T/vf.out")"
main=$(head -1 "$T/vf.st" | awk '{print $1}') # (env execs the program: one pid)
opened=$(grep -E '/meta/(data|lock)\.mdb"' "$T/vf.st" | awk '{print $1}' | sort -u | tr '\n' ' ')
[ "$opened" = "$main " ] || fail "vfork: LMDB's files were opened by $opened(the program is $main)"
recorded /vfork/p0.txt /vfork/p1.txt /vfork/p3.txt
echo "ok - a vfork child's dup2 onto LMDB's numbers leaves its parent's environment alone"

# 2. with the sync thread's sockets too; every file reaches the server
start_server
shim mkdir -p /sm/synced
out=$(FORKDUP_SOCKETS=1 shim "$B/tests/forkdup" /sm/synced "$T/own-synced" 2>&1) || fail "synced: $out"
[ "$(tail -1 <<<"$out")" = ok ] || fail "synced: $out"
grep -q "sockets) taken" <<<"$out" && ! grep -q "(0 sockets)" <<<"$out" || fail "synced: the child had no socket to take: $out"
recorded /synced/p0.txt /synced/c0.txt /synced/c2.txt /synced/p1.txt
"$CLI" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync failed"; }
curl -s "$SUPERMEMORY_BASE_URL/_admin/documents" >"$T/docs.json"
for f in p0 c0 c1 c2 p1; do grep -q "\"/synced/$f.txt\"" "$T/docs.json" || fail "/synced/$f.txt did not reach the server"; done
echo "ok - a fork child dup2s onto the inherited sockets too; every file is pushed"

# the same through syscall(SYS_fork), with the sync thread running in the parent
shim mkdir -p /sm/rawsync
out=$(FORKDUP_RAW=1 FORKDUP_SOCKETS=1 shim "$B/tests/forkdup" /sm/rawsync "$T/own-rawsync" 2>&1) || fail "raw, synced: $out"
[ "$(tail -1 <<<"$out")" = ok ] || fail "raw, synced: $out"
recorded /rawsync/p0.txt /rawsync/c0.txt /rawsync/c2.txt /rawsync/p1.txt
"$CLI" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync failed"; }
curl -s "$SUPERMEMORY_BASE_URL/_admin/documents" >"$T/docs.json"
for f in p0 c0 c1 c2 p1; do grep -q "\"/rawsync/$f.txt\"" "$T/docs.json" || fail "/rawsync/$f.txt did not reach the server"; done
echo "ok - a child of syscall(SYS_fork) with the parent's sync thread running: every file is pushed"

# the same while the parent's sync thread is inside a request (a server that takes 60 s to
# answer): the raw fork child's dup2 onto that connection's socket does not wait for a thread
# its process does not have (it waited 5 s for it, then failed with EBUSY)
kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
start_server --latency-ms 60000
export SMSHIM_CACHE="$T/cache-slow" # (a cache syncs with one server)
shim mkdir -p /sm/rawslow
out=$(SMSHIM_NOWAIT=1 FORKDUP_RAW=1 FORKDUP_SOCKETS=1 shim "$B/tests/forkdup" /sm/rawslow "$T/own-rawslow" 2>&1) ||
    fail "raw, a request in flight: $out"
[ "$(tail -1 <<<"$out")" = ok ] || fail "raw, a request in flight: $out"
grep -q "sockets) taken" <<<"$out" && ! grep -q "(0 sockets)" <<<"$out" ||
    fail "raw, a request in flight: the child had no socket to take: $out"
recorded /rawslow/p0.txt /rawslow/c0.txt /rawslow/c2.txt /rawslow/p1.txt
echo "ok - a child of syscall(SYS_fork) while the parent's sync thread waits on the server"
