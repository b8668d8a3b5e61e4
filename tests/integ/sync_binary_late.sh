#!/bin/bash
# An upload the service applies after its client gave up on it leaves no second document: the
# first upload of a PNG gets no answer and takes effect only after the retry's listing found
# nothing and the retry made the file's document (a dead client's request applied late). The
# next pull sees the late document, which carries this cache's upload marker and is not the
# file's document, and deletes it: one document stays, the file's own, and a second cache reads
# the bytes once; applied after the file's removal was pushed, it is deleted and the file stays
# removed. Also the two switches of kind whose first push lost its answer: a text create
# whose answer was lost, then the file turning binary before its next push; a binary upload whose
# answer was lost, then the file turning text. Each leaves one document, of the file's new kind,
# at once (no pull between).
. "$(dirname "$0")/../lib/common.sh"
start_server --seed 11
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
A="$T/cache-a" B2="$T/cache-b"
sync_() { on "$1" "$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync of $1"; }; }

png "$T/l.png" 4000
on "$A" shim bash -c "mkdir -p /sm/img && cat '$T/l.png' > /sm/img/l.png"
srv config late_uploads=1 >/dev/null
sync_ "$A"
[ "$(srv stats faults | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["late"])')" = 1 ] ||
    fail "the first upload was not held (the test means nothing)"
own=$(srv id /img/l.png) || fail "not one document after the retried upload"
late=$(srv late_apply)
[ -n "$late" ] && [ "$late" != "$own" ] || fail "late_apply made no second document ($late)"
[ "$(srv docs /img/l.png)" = "2 image image" ] || fail "the late upload is not there: $(srv docs /img/l.png)"
sync_ "$A"
[ "$(srv docs /img/l.png)" = "1 image" ] || fail "after the pull that sees the late upload: $(srv docs /img/l.png)"
[ "$(srv id /img/l.png)" = "$own" ] || fail "the document kept is not the file's own ($own)"
srv check "$A/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly the tree"; }
sync_ "$B2"
cmp "$T/l.png" "$B2/tree/img/l.png" || fail "the second cache does not read the PNG's bytes"
echo "ok - a late-applied upload is found by the next pull and deleted; one document stays ($own)"

# the same late upload, applied only after the file's removal was pushed: the file stays removed
png "$T/r.png" 3000
on "$A" shim bash -c "cat '$T/r.png' > /sm/img/r.png"
srv config late_uploads=1 >/dev/null
sync_ "$A"
srv id /img/r.png >/dev/null || fail "not one document after the retried upload of r.png"
on "$A" shim rm /sm/img/r.png
sync_ "$A"
[ "$(srv docs /img/r.png)" = "0 -" ] || fail "the removal was not pushed: $(srv docs /img/r.png)"
late=$(srv late_apply)
[ -n "$late" ] && [ "$(srv docs /img/r.png)" = "1 image" ] || fail "late_apply made no document ($late)"
sync_ "$A"
[ ! -e "$A/tree/img/r.png" ] || fail "the removed file came back with its late upload"
[ "$(srv docs /img/r.png)" = "0 -" ] || fail "the late upload of a removed file stays: $(srv docs /img/r.png)"
sync_ "$B2"
[ ! -e "$B2/tree/img/r.png" ] || fail "a second cache has the removed file"
echo "ok - a late upload of a file whose removal was pushed is deleted; the file stays removed"

# A file's first push loses its answer, then the file turns to the other kind before the retry
# (one process, no pull between: a pull would adopt the lost push's document first). The retry
# must leave one document, of the new kind: the one the lost push made goes.
switch() { # switch NAME FIRST SECOND KIND FAULT (the server setting that loses the first answer)
    local go="$T/go.$1" done="$T/done.$1" end="$T/end.$1"
    mkfifo "$go" "$done" "$end"
    srv config "$5" >/dev/null # the first push takes effect, its answer is lost
    # one process writes both versions, and lives until its sync thread pushed them
    on "$A" shim "$PY" - "/sm/s/$1" "$2" "$3" "$go" "$done" "$end" <<'PY' &
import os, sys
f, first, second, go, done, end = sys.argv[1:]
os.makedirs(os.path.dirname(f), exist_ok=True)
open(f, "wb").write(open(first, "rb").read())
open(go).read()
open(f, "wb").write(open(second, "rb").read())
open(done, "w").write("\n")
open(end).read()
PY
    local pid=$! n=0
    until [ "$(srv docs "/s/$1" | cut -d' ' -f1)" -ge 1 ]; do # the lost push reached the server
        n=$((n + 1)); [ $n -lt 3000 ] || fail "$1: the first push never reached the server"
        sleep 0.1
    done
    srv config fault_drop_after=0 fault_drop=1 >/dev/null # retries fail before any effect
    echo >"$go"
    read -r _ <"$done" # the file holds its second kind now
    srv config fault_drop=0 >/dev/null
    n=0
    until on "$A" "$B/smshim" status | grep -q "^queued: *0$"; do # the process's thread pushed it
        n=$((n + 1)); [ $n -lt 3000 ] || { on "$A" "$B/smshim" status; fail "$1: the push never ended"; }
        sleep 0.1
    done
    echo >"$end"
    wait $pid || fail "$1: the writing process"
    [ "$(srv docs "/s/$1")" = "1 $4" ] || fail "$1: after the retry: $(srv docs "/s/$1")"
}
echo "text first" >"$T/t.txt"
echo "now text" >"$T/u.txt"
png "$T/u.png" 3000
switch t.md "$T/t.txt" "$T/l.png" image fault_drop_after=1
echo "ok - a lost text create, then the file turning binary: one document, the upload"
switch u.md "$T/u.png" "$T/u.txt" text lose_upload_answers=1
echo "ok - a lost binary upload, then the file turning text: one document, the text"
sync_ "$A"
srv check "$A/tree" >"$T/check" || { cat "$T/check"; fail "after the switches"; }
echo "ok - the server holds exactly the tree; $(tail -1 "$T/check")"
