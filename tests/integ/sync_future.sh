#!/bin/bash
# A document dated far in the future (updatedAt 9999-01-01, a broken or hostile server) is
# pulled, but its date is no time the engine orders by: once, it became the delta pull's
# watermark, and every later remote change was older than that and never pulled (not even by
# `smshim sync --full`, which lists ids for deletions).
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_SYNC_TIMEOUT=20
srv seedjson <<'J'
{"filepath": "/future.md", "content": "from the future", "updatedAt": "9999-01-01T00:00:00.000Z"}
J
id=$(srv seed /a.md "one")
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "the first sync failed"; }
[ "$(cat "$SMSHIM_CACHE/tree/future.md")" = "from the future" ] || fail "the future-dated document was not pulled"
[ "$(cat "$SMSHIM_CACHE/tree/a.md")" = one ] || fail "a.md was not pulled"
"$B/smshim" status --json >"$T/st.json"
wm=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["watermark_ms"] or 0)' "$T/st.json")
now=$("$PY" -c 'import time; print(int(time.time() * 1000))')
[ "$wm" -le $((now + 3600000)) ] || fail "the watermark is $wm, past now ($now)"
srv edit "$id" "two" >/dev/null
"$B/smshim" sync >"$T/sync2.out" 2>&1 || { cat "$T/sync2.out"; fail "the second sync failed"; }
[ "$(cat "$SMSHIM_CACHE/tree/a.md")" = two ] || { cat "$T/sync2.out"; fail "a remote change after the future-dated document was not pulled"; }
srv seed /b.md "three" >/dev/null
"$B/smshim" sync >"$T/sync3.out" 2>&1 || { cat "$T/sync3.out"; fail "the third sync failed"; }
[ "$(cat "$SMSHIM_CACHE/tree/b.md")" = three ] || fail "a new remote document was not pulled"
echo "ok - watermark $wm (now $now): $(tail -1 "$T/sync3.out")"
