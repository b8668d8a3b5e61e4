#!/bin/bash
# kill -9 between a binary upload and its answer: the server has made the document, the process
# that sent it dies before it hears so. The next sync finds that upload (its marker, in a
# filepath listing) instead of sending the bytes again: one upload, one document, and a file that
# was text before loses its text document.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
uploads() { srv stats requests | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["POST /v3/documents/file"])'; }

shim bash -c 'mkdir -p /sm/k && printf "text first\n" > /sm/k/b.md'
"$B/smshim" sync >/dev/null 2>&1 || fail "first sync"
[ "$(srv docs /k/b.md)" = "1 text" ] || fail "the text file has no document"
png "$T/a.png" 4000
png "$T/b.png" 3000
shim bash -c "cat '$T/a.png' > /sm/k/a.png; cat '$T/b.png' > /sm/k/b.md"
srv config hold_answer_ms=600000 >/dev/null # every upload takes effect, then no answer comes
"$B/smshim" sync >"$T/sync1.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do # until both uploads have reached the server
    [ "$(uploads)" = 2 ] && [ "$(srv docs /k/a.png)" = "1 image" ] && [ "$(srv docs /k/b.md)" = "2 image text" ] && break
    sleep 0.05
done
[ "$(uploads)" = 2 ] || { cat "$T/sync1.out"; fail "the uploads never reached the server ($(uploads))"; }
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
srv config hold_answer_ms=0 >/dev/null
"$B/smshim" sync >"$T/sync2.out" 2>&1 || { cat "$T/sync2.out"; fail "sync after the kill"; }
[ "$(uploads)" = 2 ] || fail "the bytes were uploaded again after the kill ($(uploads) uploads)"
[ "$(srv docs /k/a.png)" = "1 image" ] || fail "documents at /k/a.png: $(srv docs /k/a.png)"
[ "$(srv docs /k/b.md)" = "1 image" ] || fail "documents at /k/b.md: $(srv docs /k/b.md) (the text one must go)"
srv check "$SMSHIM_CACHE/tree" || fail "server contents after the kill"
"$B/smshim" status --list | grep -qx "binary  */k/a.png" || fail "a.png is not listed as binary"
"$B/smshim" status --json | grep -q '"queued":0' || fail "records left in the queue"
echo "ok - killed between upload and answer: one upload, one document each"

# killed between upload and answer, then the file is removed before any retry: the document that
# upload made goes too
png "$T/c.png" 2000
shim bash -c "cat '$T/c.png' > /sm/k/c.png"
srv config hold_answer_ms=600000 >/dev/null
"$B/smshim" sync >"$T/sync3.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ "$(srv docs /k/c.png)" = "1 image" ] && break; sleep 0.05; done
[ "$(srv docs /k/c.png)" = "1 image" ] || { cat "$T/sync3.out"; fail "the upload of c.png never reached the server"; }
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
srv config hold_answer_ms=0 >/dev/null
env -u SUPERMEMORY_API_KEY LD_PRELOAD="$PRELOAD" rm /sm/k/c.png # recorded, not pushed
"$B/smshim" sync >"$T/sync4.out" 2>&1 || { cat "$T/sync4.out"; fail "sync after the removal"; }
[ "$(srv docs /k/c.png)" = "0 -" ] || fail "the document of an upload never answered stayed after its file was removed: $(srv docs /k/c.png)"
"$B/smshim" sync --full >"$T/sync5.out" 2>&1 || { cat "$T/sync5.out"; fail "sync --full"; }
srv check "$SMSHIM_CACHE/tree" || fail "server contents at the end"
echo "ok - a file removed after an unanswered upload leaves no document"
