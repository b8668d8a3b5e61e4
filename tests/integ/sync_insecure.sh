#!/bin/bash
# The key goes only where it is safe: over https, or in cleartext to a loopback host
# (127.0.0.0/8, ::1, localhost), or anywhere with SMSHIM_ALLOW_INSECURE=1. A cleartext URL to any
# other host is refused before anything is sent: `smshim sync` and `smshim run` say so in one line
# and exit 2 (the command does not run), a preloaded process logs it and stays local-only, and
# the server sees no request at all. The test server listens on every address and is reached by
# this machine's own non-loopback address, as a remote host would be.
. "$(dirname "$0")/../lib/common.sh"
start_server --host 0.0.0.0
port=${SRV##*:}
ip=$( (hostname -I 2>/dev/null || true) | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | grep -v '^127\.' | head -1)
[ -n "$ip" ] || skip "this machine has no non-loopback IPv4 address to reach the test server by"
remote="http://$ip:$port"
export SMSHIM_NOWAIT=1 SMSHIM_SYNC_TIMEOUT=4 SMSHIM_PULL_TIMEOUT=2
unset SMSHIM_ALLOW_INSECURE
requests() { srv stats requests | "$PY" -c 'import json,sys; print(sum(json.load(sys.stdin).values()))'; }
n=0
cache() { n=$((n + 1)); export SMSHIM_CACHE="$T/cache-$n"; }

# 1. refused: the CLI says so in one line and exits 2, before binding the cache or sending
for url in "$remote" "HTTP://$ip:$port/" "http://127.0.0.1@$ip:$port" "http://$ip:$port#@127.0.0.1" \
    "http://$ip:$port?@127.0.0.1" "http://127.0.0.1.$ip.nip.io:$port" "http://localhost.$ip.nip.io:$port" \
    "http://[::ffff:$ip]:$port" "http://[fd00::2]:$port" "http://example.com" "ftp://127.0.0.1:$port" "127.0.0.1:$port"; do
    cache
    rc=0; SUPERMEMORY_BASE_URL=$url "$B/smshim" sync >"$T/out" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || { cat "$T/out"; fail "smshim sync with $url exited $rc (2 expected)"; }
    [ "$(wc -l <"$T/out")" -eq 1 ] && grep -q "SMSHIM_ALLOW_INSECURE" "$T/out" || {
        cat "$T/out"; fail "smshim sync with $url did not say why in one line"; }
    [ ! -e "$SMSHIM_CACHE/meta" ] || fail "smshim sync with $url opened the cache"
done
echo "ok - refused: $(cat "$T/out")"
cache
rc=0; SUPERMEMORY_BASE_URL=$remote "$B/smshim" run -- touch "$T/ran" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ "$rc" -eq 2 ] && [ ! -e "$T/ran" ] || fail "smshim run with $remote exited $rc (2 expected, the command not run)"
[ "$(wc -l <"$T/out")" -eq 1 ] && grep -q "SMSHIM_ALLOW_INSECURE" "$T/out" || fail "smshim run did not say why in one line"
[ "$(requests)" -eq 0 ] || fail "the server saw $(requests) requests from a refused URL"

# 2. a preloaded process with the refused URL: it logs why, the file stays local and queued, and
# nothing reaches the server (the process lives until its sync thread has logged)
cache
hostcache=$SMSHIM_CACHE
SUPERMEMORY_BASE_URL=$remote SMSHIM_LOG="info:$T/host.log" timeout -s KILL 120 env LD_PRELOAD="$PRELOAD" bash -c "
    echo local > /sm/a.md
    until grep -q SMSHIM_ALLOW_INSECURE '$T/host.log' 2>/dev/null; do sleep 0.05; done" \
    || { cat "$T/host.log"; fail "the preloaded process never logged the refusal"; }
grep SMSHIM_ALLOW_INSECURE "$T/host.log" | head -2
[ "$(requests)" -eq 0 ] || fail "the server saw $(requests) requests from a preloaded process with a refused URL"
! grep -q -- "$SUPERMEMORY_API_KEY" "$T/host.log" || fail "the key reached the log"
[ "$(cat "$hostcache/tree/a.md")" = local ] || fail "the local file is gone"

# 3. SMSHIM_ALLOW_INSECURE=1 opts in: the same cache pushes what it kept
rc=0; SMSHIM_ALLOW_INSECURE=1 SUPERMEMORY_BASE_URL=$remote "$B/smshim" sync >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ "$rc" -eq 0 ] || fail "smshim sync with SMSHIM_ALLOW_INSECURE=1 exited $rc"
srv check "$hostcache/tree" || fail "the kept file did not reach the server once allowed"

# 4. loopback hosts are allowed without opting in
for url in "http://127.0.0.1:$port" "http://127.3.2.1:$port/" "http://localhost:$port" "http://LocalHost:$port"; do
    cache
    rc=0; SUPERMEMORY_BASE_URL=$url "$B/smshim" sync >"$T/out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { cat "$T/out"; fail "smshim sync with $url exited $rc"; }
done
# (nothing listens on ::1: the pull fails, but not because the URL is refused)
cache
rc=0; SUPERMEMORY_BASE_URL="http://[::1]:$port" "$B/smshim" sync >"$T/out" 2>&1 || rc=$?
[ "$rc" -ne 2 ] && ! grep -q SMSHIM_ALLOW_INSECURE "$T/out" || { cat "$T/out"; fail "http://[::1] was refused"; }
echo "ok - loopback URLs are allowed"
