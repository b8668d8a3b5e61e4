#!/bin/bash
# Bad input gets the same return value and errno under the prefix as on a real directory.
. "$(dirname "$0")/../lib/common.sh"
mkdir -p "$T/real"
"$B/tests/errno_table" "$T/real" >"$T/real.out"
shim mkdir -p /sm/e
shim "$B/tests/errno_table" /sm/e >"$T/virt.out"
if ! diff "$T/real.out" "$T/virt.out"; then
    fail "errno table differs (< real, > shim)"
fi
echo "ok - $(wc -l <"$T/real.out") cases identical"
