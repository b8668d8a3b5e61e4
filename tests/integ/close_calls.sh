#!/bin/bash
# The close of a file the process created under the prefix costs the kernel's close alone while
# the create's record is still in the journal, read by no fold: a second record then would be
# folded together with the first and change nothing, so the close neither looks at the name nor
# records it. Once a fold has read the create's record (here: an fsync, which folds the journal
# into LMDB), the close looks at the name and records the file again, as a write after a push
# must be. Either way the file is recorded dirty. Counted with strace, not timed.
. "$(dirname "$0")/../lib/common.sh"
need strace
[ "${SMSHIM_SAN:-}" = "" ] || skip "counts the calls of an uninstrumented process"
shim mkdir -p /sm/cl
strace -f -qq -o "$T/st" -E LD_PRELOAD="$PRELOAD" -e trace=openat,openat2,newfstatat,statx,fsync \
    "$PY" -c '
import os
os.makedirs("/sm/cl/d")
fd = os.open("/sm/cl/d/a.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"a\n")
os.close(fd)
fd = os.open("/sm/cl/d/b.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"b\n")
os.fsync(fd)
os.write(fd, b"more\n")
os.close(fd)
' 2>"$T/err" || { cat "$T/err"; skip "strace cannot trace here"; }
grep -F 'cl/d/a.txt"' "$T/st" >"$T/calls.a" || true
cat "$T/calls.a"
[ "$(wc -l <"$T/calls.a")" = 1 ] && grep -q '^[0-9]* *openat2(.*O_CREAT.*) = [0-9]*$' "$T/calls.a" ||
    fail "a.txt: the create and its close made calls on its name beyond the one openat2 (above)"
echo "ok - a create, a write and a close: one openat2 on the name, nothing at the close"
sed -n '/cl\/d\/b.txt"/,$p' "$T/st" >"$T/calls.b"
cat "$T/calls.b"
sed -n '/fsync(/,$p' "$T/calls.b" | grep -q 'newfstatat(.*"cl/d/b.txt", .*) = 0' ||
    fail "b.txt: its close after a fold did not look at its name"
echo "ok - a close after a fold read the create's record looks at the name and records it"
"$B/smshim" status --list >"$T/list"
cat "$T/list"
grep -q '^dirty  *cl/d/a.txt$\|^dirty  */cl/d/a.txt$' "$T/list" || fail "a.txt is not recorded dirty"
grep -q '^dirty  *cl/d/b.txt$\|^dirty  */cl/d/b.txt$' "$T/list" || fail "b.txt is not recorded dirty"
echo "ok - both files are recorded dirty"
