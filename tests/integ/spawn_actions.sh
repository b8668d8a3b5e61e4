#!/bin/bash
# posix_spawn's file actions run in order in the child, as on a real directory: a relative path
# after an addchdir_np or addfchdir_np (a descriptor of the parent's, or one an earlier action
# opened) is relative to where the child went, into the prefix, within it, out of it or to a
# real directory, from a parent whose cwd is above the prefix, outside it or in it; files an
# action opens for writing under the prefix are recorded; the shim's own descriptors are as if
# they did not exist for adddup2, addfchdir_np, addclose and addclosefrom_np (also after a drop
# of privileges, where the child reaches the tree through the one its parent hands on).
# tests/prog/spawnacts.c.
. "$(dirname "$0")/../lib/common.sh"
pin_fd_limit
stray=()
for f in /sa-out.txt /sa-o.txt; do [ -e "$f" ] || stray+=("$f"); done
mkdir -p "$T/real" "$T/out-real" "$T/out-shim"
"$B/tests/spawnacts" walk "$T/real" "$T/out-real" >"$T/real.out" || fail "spawnacts on a real directory"
shim "$B/tests/spawnacts" walk /sm "$T/out-shim" >"$T/shim.out" || fail "spawnacts under the prefix"
for f in "${stray[@]}"; do
    if [ -e "$f" ]; then rm -f "$f"; fail "an action's relative path reached $f"; fi
done
sed -i "s#$T/real#\$B#g; s#$T/out-real#\$O#g" "$T/real.out"
sed -i "s#$T/out-shim#\$O#g; s#/sm\([/|]\)#\$B\1#g" "$T/shim.out"
if ! cmp -s "$T/real.out" "$T/shim.out"; then
    diff "$T/real.out" "$T/shim.out" || true
    fail "the children's file actions differ (< real directory, > under the prefix)"
fi
echo "ok - $(wc -l <"$T/real.out") spawns with chdir and open actions as on a real directory"
"$B/smshim" status --list >"$T/list"
for k in /sa/d/sa-out.txt /sa/d/sub/s.txt; do
    grep -q " $k\$" "$T/list" || { cat "$T/list"; fail "$k, opened for writing by an action, is not recorded"; }
done
same_as_tree "after the spawns"
out=$(shim "$B/tests/spawnacts" own 2>&1) || fail "$out"
echo "$out"
if [ "$(id -u)" = 0 ]; then
    chmod 700 "$SMSHIM_CACHE"
    out=$(shim "$B/tests/spawnacts" drop 2>&1) || fail "$out"
    echo "$out"
else
    echo "# not root: the privilege drop is not tried"
fi
