#!/bin/bash
# A file created in a directory the process just made (mkdir -p below a directory that was
# there before, then the file, as a crawl does) costs the kernel's own calls: one openat2 that
# creates it (O_EXCL, no symbolic link followed), and no look at its directory or its name
# before. Counted with strace, not timed.
. "$(dirname "$0")/../lib/common.sh"
need strace
shim mkdir -p /sm/cc/pre
[ "${SMSHIM_SAN:-}" = "" ] || skip "counts the calls of an uninstrumented process"
strace -f -qq -o "$T/st" -E LD_PRELOAD="$PRELOAD" -e trace=openat,openat2,newfstatat,statx,mkdirat,mkdir \
    "$PY" -c '
import os
os.makedirs("/sm/cc/pre/a/b/c")
os.makedirs("/sm/cc/pre/a/b/d")
for d in ("c", "d"):
    with open("/sm/cc/pre/a/b/%s/f.txt" % d, "w") as f:
        f.write("x\n")
' 2>"$T/err" || { cat "$T/err"; skip "strace cannot trace here"; }
for d in c d; do
    grep -F "cc/pre/a/b/$d/f.txt\"" "$T/st" | grep -v '^[0-9]* *newfstatat(.*AT_SYMLINK_NOFOLLOW) = 0$' \
        >"$T/calls.$d" || true
    # the close looks at the name once (the last line, after the create): left out above
    cat "$T/calls.$d"
    [ "$(wc -l <"$T/calls.$d")" = 1 ] && grep -q '^[0-9]* *openat2(.*O_CREAT.*) = [0-9]*$' "$T/calls.$d" ||
        fail "the create of a/b/$d/f.txt was not one openat2 (above: every call naming it)"
    ! grep -E "(newfstatat|statx|openat2?)\([0-9A-Z_]*, \"cc/pre/a/b/$d\"" "$T/st" ||
        fail "the directory a/b/$d was looked at before the create"
done
echo "ok - a create in a directory the process made is one openat2"
