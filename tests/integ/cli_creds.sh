#!/bin/bash
# Credentials like smfs: `smshim login` checks a key with GET /v3/session and writes
# $XDG_CONFIG_HOME/supermemoryfs/credentials.json atomically, created 0600 from the start, keeping
# the fields it does not know; with that file alone (no key in the environment) smshim run,
# smshim sync and a plain LD_PRELOAD process sync with the server. A malformed file is an error
# exit in the CLI and a log line plus a status flag in a preloaded process. A process that does
# not sync never opens the file. The key appears in no output, log or cache file.
. "$(dirname "$0")/../lib/common.sh"
need strace
start_server
key=$SRV_KEY
unset SUPERMEMORY_API_KEY SUPERMEMORY_BASE_URL
export XDG_CONFIG_HOME="$T/cfg"
cf="$XDG_CONFIG_HOME/supermemoryfs/credentials.json"
mkdir -p "$(dirname "$cf")"
printf '{"theme": "dark", "nested": {"a": [1, 2]}}\n' >"$cf"
chmod 0644 "$cf"

# a refused key: exit 1, the file untouched
rc=0; echo "wrong-$RANDOM" | "$B/smshim" login --url "$SRV" >"$T/l0.out" 2>&1 || rc=$?
cat "$T/l0.out"
[ "$rc" = 1 ] || fail "login with a refused key exited $rc, not 1"
grep -q refuses "$T/l0.out" || fail "login does not say the key is refused"
grep -q theme "$cf" && ! grep -q api_key "$cf" || fail "a refused login changed the file"

# the right key, from stdin; the new file is created 0600 (never chmod'ed after the fact)
echo "$key" | strace -f -qq -e trace=openat,open,creat,chmod,fchmod,fchmodat -o "$T/login.st" \
    "$B/smshim" login --url "$SRV" >"$T/l1.out" 2>&1 || { cat "$T/l1.out"; fail "login failed"; }
cat "$T/l1.out"
grep -q "Test User" "$T/l1.out" || fail "login does not say who logged in"
grep 'credentials.json.tmp' "$T/login.st" | grep O_CREAT >"$T/create.st" || fail "no create of a new file seen"
cat "$T/create.st"
grep -q 'O_EXCL' "$T/create.st" && grep -q ', 0600)' "$T/create.st" || fail "the file is not created exclusively with mode 0600"
[ "$(stat -c %a "$cf")" = 600 ] || fail "the credentials file is $(stat -c %a "$cf"), not 600"
"$PY" - "$cf" "$key" "$SRV" <<'PY' || fail "the file does not hold the key, the URL and the old fields"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["api_key"] == sys.argv[2] and d["api_url"] == sys.argv[3], d.keys()
assert d["theme"] == "dark" and d["nested"] == {"a": [1, 2]}, d
PY
echo "ok - login checks the key, writes the file 0600 from creation and keeps unknown fields"

"$B/smshim" whoami >"$T/who.out" || fail "whoami failed"
cat "$T/who.out"
grep -q "Test Org" "$T/who.out" && grep -q "test@example.com" "$T/who.out" || fail "whoami does not show the org and user"
"$B/smshim" whoami --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["org"]["name"]=="Test Org"' ||
    fail "whoami --json"
echo "ok - whoami shows the org and the user"

# a process that only reads never opens the file
strace -f -qq -e trace=openat,open -o "$T/read.st" env LD_PRELOAD="$PRELOAD" ls /sm >/dev/null 2>&1 || true
if grep -q credentials.json "$T/read.st"; then fail "a process that does not sync opened the credentials file"; fi
echo "ok - a process that does not sync opens nothing"

# with the file alone: a plain preloaded process, smshim run and smshim sync all sync
shim bash -c 'mkdir -p /sm/c && echo "from a preloaded process" > /sm/c/plain.md'
[ "$(srv content /c/plain.md)" = "from a preloaded process" ] || fail "a plain LD_PRELOAD process did not sync with the file's key"
"$B/smshim" run -- bash -c 'echo "from smshim run" > /sm/c/run.md' || fail "smshim run failed"
[ "$(srv content /c/run.md)" = "from smshim run" ] || fail "smshim run did not sync with the file's key"
SMSHIM_NOWAIT=1 SUPERMEMORY_API_KEY= shim bash -c 'echo "queued only" > /sm/c/sync.md'
srv seed /remote/r.md "made remotely" >/dev/null
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync failed with the file's key"; }
[ "$(cat "$SMSHIM_CACHE/tree/remote/r.md")" = "made remotely" ] || fail "smshim sync did not pull"
srv check "$SMSHIM_CACHE/tree" || fail "server contents after smshim sync"
"$B/smshim" status | grep -q '(remote)' || fail "status does not show the mode as remote"
echo "ok - with only the credentials file, a preloaded process, smshim run and smshim sync sync"

# a malformed file: an error exit with the reason in the CLI; a log line and a flag in a process
cp "$cf" "$T/good.json"
printf '{"api_key": 12' >"$cf"
rc=0; "$B/smshim" sync >"$T/bad.out" 2>&1 || rc=$?
cat "$T/bad.out"
[ "$rc" = 2 ] && grep -q "credentials.json is malformed" "$T/bad.out" || fail "sync with a malformed file: exit $rc"
rc=0; "$B/smshim" status >"$T/bad-st.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "malformed" "$T/bad-st.out" || fail "status with a malformed file: exit $rc"
SMSHIM_LOG=warn shim bash -c 'echo x > /sm/c/bad.md'
grep -q "credentials: .*malformed.*local-only" "$SMSHIM_CACHE/log" || fail "no log line for a malformed file"
"$B/smshim" status --json >"$T/bad-st.json" 2>/dev/null || true
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "malformed" in d["credentials_error"]' "$T/bad-st.json" ||
    fail "status --json has no flag for the process that could not read the file"
chmod 000 "$cf"
if [ "$(id -u)" != 0 ]; then
    rc=0; "$B/smshim" whoami >"$T/unr.out" 2>&1 || rc=$?
    [ "$rc" = 2 ] && grep -q "cannot read" "$T/unr.out" || fail "whoami with an unreadable file: exit $rc"
fi
cp "$T/good.json" "$cf"
echo "ok - a malformed file is an error in the CLI, a log line and a status flag in a process"

# logout removes the key and keeps the rest
"$B/smshim" logout 2>&1 | grep -q removed || fail "logout does not say it removed the key"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "api_key" not in d and d["theme"]=="dark"' "$cf" ||
    fail "logout did not remove only the key"
rc=0; "$B/smshim" whoami >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "whoami after logout exited $rc, not 1"
echo "ok - logout removes the key, keeps the other fields"

for f in "$T"/*.out "$T/srv.log"; do
    if grep -qa -- "$key" "$f"; then fail "the key appears in $f"; fi
done
if grep -rqa -- "$key" "$SMSHIM_CACHE"; then fail "the key appears in the cache"; fi
echo "ok - the key appears in no output, log or cache file"
