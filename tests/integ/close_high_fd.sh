#!/bin/bash
# A file opened for writing under the prefix at a high descriptor number (a program with
# thousands of files open: the kernel gives numbers past the shim's reserved range) is recorded
# again at its close like any other, so that what was written after a fold read its open's record
# is pushed: the close of one at a number above 4095 recorded nothing.
. "$(dirname "$0")/../lib/common.sh"
need strace
[ "${SMSHIM_SAN:-}" = "" ] || skip "counts the calls of an uninstrumented process"
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 8192 ] || skip "the hard limit on descriptors is below 8192"
shim mkdir -p /sm/hi
strace -f -qq -o "$T/st" -E LD_PRELOAD="$PRELOAD" -e trace=openat,openat2,newfstatat,statx,fsync \
    bash -c 'ulimit -n 8192 && exec "$0" -c "$1"' "$PY" '
import os
held = [os.open("/dev/null", os.O_RDONLY) for _ in range(4200)]
fd = os.open("/sm/hi/b.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
assert fd > 4096, fd
os.write(fd, b"b\n")
os.fsync(fd)
os.write(fd, b"more\n")
os.close(fd)
print(fd)
' >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "the program failed"; }
sed -n '/hi\/b.txt"/,$p' "$T/st" >"$T/calls.b"
sed -n '/fsync(/,$p' "$T/calls.b" | grep -q 'newfstatat(.*"hi/b.txt", .*) = 0' ||
    fail "b.txt at descriptor $(cat "$T/out"): its close after a fold did not look at its name: $(tail -5 "$T/calls.b")"
echo "ok - a close at descriptor $(cat "$T/out") after a fold looks at the name and records it"
"$B/smshim" status --list | grep -q '^dirty  */hi/b.txt$' || fail "b.txt is not recorded dirty"
echo "ok - recorded dirty"
