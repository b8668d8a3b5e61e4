#!/bin/bash
# A refused key (401) pauses the whole queue: nothing is poisoned, `smshim sync` fails and
# `smshim status` says why; with the right key the same queue drains. The key itself never
# reaches the cache, the log or an error message.
. "$(dirname "$0")/../lib/common.sh"
start_server
good=$SUPERMEMORY_API_KEY
wrong="refused-key-$RANDOM$RANDOM"
export SUPERMEMORY_API_KEY="$wrong"
export SMSHIM_LOG=debug
SMSHIM_NOWAIT=1 shim bash -c 'mkdir -p /sm/a && for i in 1 2 3; do echo "doc $i" > /sm/a/f$i.md; done'
if "$B/smshim" sync >"$T/sync.out" 2>&1; then fail "smshim sync succeeded with a refused key"; fi
cat "$T/sync.out"
grep -q "refuses the key" "$T/sync.out" || fail "smshim sync does not say the key is refused"
"$B/smshim" status --json | tee "$T/st.json"
grep -q '"poisoned":0' "$T/st.json" || fail "a refused key poisoned items"
grep -q '"queued":3' "$T/st.json" || fail "the queue did not keep its 3 records"
grep -q '"paused"' "$T/st.json" || fail "status does not say the queue is paused"
export SUPERMEMORY_API_KEY=$good
"$B/smshim" sync >/dev/null 2>&1 || fail "smshim sync with the right key failed"
srv check "$SMSHIM_CACHE/tree" || fail "server contents"
for k in "$wrong" "$good"; do
    if grep -rqa -- "$k" "$SMSHIM_CACHE" "$T/sync.out"; then fail "the key appears in the cache or a message"; fi
done
echo "ok - the key appears nowhere in $SMSHIM_CACHE"
