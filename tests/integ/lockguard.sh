#!/bin/bash
# A shimmed program that opens and closes the cache's own lock file keeps the shim's LMDB locks.
. "$(dirname "$0")/../lib/common.sh"
make_out=$(shim "$B/tests/lockguard" "$SMSHIM_CACHE" /sm/lg.txt)
echo "$make_out"
want=$'before: locked\nafter close: locked\nafter fclose: locked'
[ "$make_out" = "$want" ] || fail "the shim lost its LMDB locks"

# the program opened lock.mdb itself before the shim opened its environment (a lower number than
# LMDB's): the shim does not take that descriptor for LMDB's, and its close keeps the locks
rm -rf "$SMSHIM_CACHE"
shim bash -c 'echo e >/sm/e.txt'
"$B/smshim" status >/dev/null # the lock file exists; the environment of that process is gone
make_out=$(shim "$B/tests/lockguard" "$SMSHIM_CACHE" /sm/lg2.txt early)
echo "$make_out"
want=$'before: locked\nafter early close: locked\nafter close: locked\nafter fclose: locked'
[ "$make_out" = "$want" ] || fail "the shim lost its LMDB locks after the program's early descriptor"
