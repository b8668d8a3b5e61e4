#!/usr/bin/env bash
# A virtual-memory limit smaller than the cache's 16 GiB map (ulimit -v) does not silence the
# recorder: the environment is opened with a smaller map and every change is recorded.
. "$(dirname "$0")/../lib/common.sh"
[ -z "${SMSHIM_SAN:-}" ] || skip "the sanitizer runtimes reserve more address space than the limit"
CLI="$B/smshim"
( ulimit -v 6000000 && shim bash -c 'mkdir -p /sm/v && for i in 1 2 3; do echo $i > /sm/v/f$i.txt; done' ) ||
    fail "the writes failed under ulimit -v"
"$CLI" status --cache "$SMSHIM_CACHE" --list >"$T/list" || fail "status --list failed"
for i in 1 2 3; do
    grep -qx "dirty */v/f$i.txt" "$T/list" || fail "/v/f$i.txt was not recorded: $(cat "$T/list")"
done
# the smaller map holds what the full one does: a second limited process adds to the same cache
( ulimit -v 6000000 && shim bash -c 'echo 4 > /sm/v/f4.txt' ) || fail "second limited process"
"$CLI" status --cache "$SMSHIM_CACHE" --list | grep -qx "dirty */v/f4.txt" || fail "/v/f4.txt not recorded"
echo "ok - recorded under ulimit -v 6 GB"
