#!/bin/bash
# "Never waits on the network", without a timing threshold: against a server that accepts
# connections and never answers, every call under the prefix still returns, and so does the
# process (bounded by SMSHIM_EXIT_TIMEOUT).
. "$(dirname "$0")/../lib/common.sh"
start_server --hang
export SMSHIM_EXIT_TIMEOUT=2
timeout -s KILL 60 env LD_PRELOAD="$PRELOAD" bash -c '
    set -e
    mkdir -p /sm/x/y
    echo hello > /sm/x/y/f.md
    echo more >> /sm/x/y/f.md
    cat /sm/x/y/f.md
    stat -c %s /sm/x/y/f.md
    ls /sm/x/y
    if stat /sm/x/missing 2>/dev/null; then exit 3; fi
    mv /sm/x/y/f.md /sm/x/y/g.md
    rm /sm/x/y/g.md
    echo done
' >"$T/out" 2>&1 || { cat "$T/out"; fail "a call or the exit waited on a server that never answers"; }
cat "$T/out"
grep -q '^done$' "$T/out" || fail "the script did not finish"

# smshim run starts the command after a bounded wait for the initial pull
unset SMSHIM_EXIT_TIMEOUT
export SMSHIM_CACHE="$T/cache-run"
SMSHIM_PULL_TIMEOUT=2 SMSHIM_EXIT_TIMEOUT=2 timeout -s KILL 60 "$B/smshim" run -- bash -c 'echo started; echo x > /sm/late.md' \
    >"$T/run.out" 2>&1 || { cat "$T/run.out"; fail "smshim run waited on a server that never answers"; }
cat "$T/run.out"
grep -q '^started$' "$T/run.out" || fail "the command did not run"
grep -q "cannot pull" "$T/run.out" || fail "smshim run did not say the server cannot be reached"
