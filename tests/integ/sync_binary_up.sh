#!/bin/bash
# Binary files go up through the file endpoint (POST /v3/documents/file), once each: a PNG
# written under the prefix makes one image document (its bytes exactly), also when the server
# fails 5xx, 429, drops connections before the effect and loses answers after it; a second cache
# reads the same bytes and the transcription sibling. A file that goes text -> binary -> text
# leaves exactly one current document after each step. A file over 50 MB stays local.
. "$(dirname "$0")/../lib/common.sh"
start_server --seed 7
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
A="$T/cache-a" B2="$T/cache-b"
sync_() { on "$1" "$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync of $1"; }; }
uploads() { srv stats requests | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["POST /v3/documents/file"])'; }

png "$T/a.png" 5000
on "$A" shim bash -c "mkdir -p /sm/img && cat '$T/a.png' > /sm/img/a.png"
sync_ "$A"
[ "$(uploads)" = 1 ] || fail "the PNG reached the file endpoint $(uploads) times"
[ "$(srv docs /img/a.png)" = "1 image" ] || fail "documents at /img/a.png: $(srv docs /img/a.png)"
srv check "$A/tree" || fail "the server does not hold the PNG's bytes"
on "$A" "$B/smshim" status --list | grep -qx "binary  */img/a.png" || fail "the PNG is not listed as binary"
sync_ "$A"
[ "$(uploads)" = 1 ] || fail "a second sync uploaded the PNG again"
echo "ok - a PNG reaches the file endpoint once"

sync_ "$B2"
cmp "$T/a.png" "$B2/tree/img/a.png" || fail "the second cache does not read the PNG's bytes"
sib="$B2/tree/img/a.png.image-transcription.md"
[ "$(cat "$sib")" = "$(srv content /img/a.png)" ] || fail "the transcription sibling does not hold the extracted text"
[ "$(stat -c %a "$sib")" = 444 ] || fail "the transcription sibling is not read-only"
on "$B2" "$B/smshim" status --list | grep -qx "sibling  */img/a.png.image-transcription.md" || fail "the sibling is not listed"
sync_ "$A"
[ -e "$A/tree/img/a.png.image-transcription.md" ] || fail "the first cache has no sibling for its own upload"
srv check "$A/tree" || fail "a sibling was uploaded"
[ "$(uploads)" = 1 ] || fail "a sibling went to the file endpoint"
echo "ok - a second cache reads the same bytes and the transcription; siblings never go up"

# uploads share the cache's limit of 8 in flight
srv config latency_ms=100 >/dev/null
for i in $(seq 1 24); do png "$T/m$i.png" 1000; done
on "$A" shim bash -c "mkdir -p /sm/m && for i in \$(seq 1 24); do cat '$T'/m\$i.png > /sm/m/\$i.png; done"
sync_ "$A"
srv config latency_ms=0 >/dev/null
max=$(srv stats max_inflight_uploads)
[ "$max" -le 8 ] && [ "$max" -ge 2 ] || fail "binary uploads in flight at once: $max (want 2..8)"
srv check "$A/tree" >/dev/null || fail "the 24 uploads"
echo "ok - binary uploads run in parallel, at most 8 in flight (seen: $max)"

# faults: every upload once, whatever fails (answers lost after the effect included)
srv config fault_5xx=0.08 fault_drop=0.02 fault_drop_after=0.08 retry_after=0 fault_429_uploads=3 >/dev/null
for i in $(seq 1 40); do png "$T/f$i.png" 1000; done
on "$A" shim bash -c "mkdir -p /sm/f && for i in \$(seq 1 40); do cat '$T'/f\$i.png > /sm/f/\$i.png; done"
SMSHIM_SYNC_TIMEOUT=240 on "$A" "$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync with faults"; }
srv config fault_5xx=0 fault_drop=0 fault_drop_after=0 >/dev/null
faults=$(srv stats faults)
"$PY" -c 'import json,sys; f=json.loads(sys.argv[1]); sys.exit(0 if f["drop_after"] and f["429"] and f["500"]+f["502"]+f["503"] else 1)' "$faults" ||
    fail "too few faults for the test to mean anything: $faults"
srv check "$A/tree" || fail "a binary upload was lost or duplicated under faults"
echo "ok - under faults ($faults) every PNG has exactly one document"

# text -> binary -> text: one current document after each step
one_kind() { # one_kind KIND
    sync_ "$A"
    [ "$(srv docs /x/t.md)" = "1 $1" ] || fail "after turning $1: documents at /x/t.md: $(srv docs /x/t.md)"
    srv check "$A/tree" >/dev/null || { srv check "$A/tree"; fail "after turning $1"; }
}
on "$A" shim bash -c 'mkdir -p /sm/x && printf "text\n" > /sm/x/t.md'
one_kind text
on "$A" shim bash -c "cat '$T/a.png' > /sm/x/t.md"
one_kind image
sync_ "$A" # its own transcription arrives
[ -e "$A/tree/x/t.md.image-transcription.md" ] || fail "no transcription for the file turned binary"
on "$A" shim bash -c 'printf "text again\n" > /sm/x/t.md'
one_kind text
[ ! -e "$A/tree/x/t.md.image-transcription.md" ] || fail "the transcription stayed after the file turned text"
sync_ "$B2"
[ "$(cat "$B2/tree/x/t.md")" = "text again" ] && [ ! -e "$B2/tree/x/t.md.image-transcription.md" ] ||
    fail "the second cache does not read the file as text again"
echo "ok - text -> binary -> text leaves one document after each step"

# over the service's 50 MB: stays local, listed as such
on "$A" shim bash -c 'head -c 52428801 /dev/zero | tr "\0" "\377" > /sm/x/huge.bin'
before=$(uploads)
sync_ "$A"
[ "$(uploads)" = "$before" ] || fail "a file over 50 MB was uploaded"
on "$A" "$B/smshim" status --list | grep -qx "local-only  */x/huge.bin" || fail "a file over 50 MB is not listed local-only"
[ "$(srv docs /x/huge.bin)" = "0 -" ] || fail "a file over 50 MB has a document"
srv seed /x/huge.bin "remote text" >/dev/null # a remote version never overwrites bytes never synced
sync_ "$A"
[ "$(stat -c %s "$A/tree/x/huge.bin")" = 52428801 ] && [ "$(head -c 2 "$A/tree/x/huge.bin" | od -An -tx1 | tr -d ' ')" = ffff ] ||
    fail "a remote version overwrote a local-only file"
echo "ok - a file over 50 MB stays local"
