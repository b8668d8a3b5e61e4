#!/bin/bash
# getcwd in a directory deeper than PATH_MAX answers as on a real directory (libc walks "..").
. "$(dirname "$0")/../lib/common.sh"
mkdir -p "$T/real"
"$B/tests/deepcwd" "$T/real" >"$T/real.out" || fail "deepcwd on a real directory: exit $?"
shim mkdir -p /sm/deep
shim "$B/tests/deepcwd" /sm/deep >"$T/virt.out" || fail "deepcwd under the prefix: exit $?"
diff "$T/real.out" "$T/virt.out" || fail "getcwd differs (< real, > shim)"
echo "ok - $(tail -1 "$T/virt.out") bytes below the directory"
