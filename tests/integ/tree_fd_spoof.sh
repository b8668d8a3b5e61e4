#!/usr/bin/env bash
# SMSHIM_TREE_FD hands the tree's descriptor to a child after a privilege drop. A value naming
# any other directory the process holds open (its device and inode given right) must not make
# the prefix write there, outside the cache: the descriptor is taken only when it is this cache's
# tree, and the prefix stays the cache's.
. "$(dirname "$0")/../lib/common.sh"
mkdir -p "$T/outside"
shim true
di=$(stat -c '%d:%i' "$T/outside")
exec 7<"$T/outside"
SMSHIM_TREE_FD="7:$di" shim bash -c 'echo planted > /sm/evil.txt' || fail "the write failed"
exec 7<&-
[ ! -e "$T/outside/evil.txt" ] || fail "a write under the prefix landed in $T/outside, outside the cache"
[ "$(cat "$SMSHIM_CACHE/tree/evil.txt")" = planted ] || fail "the write did not reach the cache's tree"
echo "ok - SMSHIM_TREE_FD naming another directory: the prefix stays the cache's"
# the cache's own tree, handed over as after a privilege drop, is taken
exec 7<"$SMSHIM_CACHE/tree"
di=$(stat -c '%d:%i' "$SMSHIM_CACHE/tree")
SMSHIM_TREE_FD="7:$di" shim bash -c 'echo handed > /sm/handed.txt' || fail "the write failed"
exec 7<&-
[ "$(cat "$SMSHIM_CACHE/tree/handed.txt")" = handed ] || fail "the handed tree was not used"
echo "ok - the cache's own tree, handed over, is written through"
