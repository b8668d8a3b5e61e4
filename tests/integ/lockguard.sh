#!/bin/bash
# A shimmed program that opens and closes the cache's own lock file keeps the shim's LMDB locks.
. "$(dirname "$0")/../lib/common.sh"
make_out=$(shim "$B/tests/lockguard" "$SMSHIM_CACHE" /sm/lg.txt)
echo "$make_out"
want=$'before: locked\nafter close: locked\nafter fclose: locked'
[ "$make_out" = "$want" ] || fail "the shim lost its LMDB locks"
