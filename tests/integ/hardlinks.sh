#!/bin/bash
# Hard links under the prefix are real hard links in the tree, as on a real directory: st_nlink,
# one inode for both names, a write through one seen through the other, an unlink that keeps the
# other name; cp -a, tar -x, cpio -idm and rsync -aH of a tree holding hard links; an O_TMPFILE
# file named by linkat (AT_EMPTY_PATH, /proc/self/fd/N); a link across the prefix's edge fails
# with EXDEV only after the kernel's own path errors. With a key, each name is its own document.
. "$(dirname "$0")/../lib/common.sh"
need cp tar cpio rsync

FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }

# A source tree with hard links, made in a real directory outside the prefix.
S="$T/src"
mkdir -p "$S/top/sub"
printf 'one\n' >"$S/top/a.txt"
ln "$S/top/a.txt" "$S/top/sub/a-link.txt"
ln "$S/top/a.txt" "$S/top/a-third.txt"
printf 'two\n' >"$S/top/b.txt"
ln "$S/top/b.txt" "$S/top/sub/b-link.txt"
find "$S" -exec touch -h -d @1600000000 {} +
(cd "$S" && tar cf "$T/src.tar" --sort=name --owner=0 --group=0 --numeric-owner top)
(cd "$S" && find top | sort | cpio -o -H newc >"$T/src.cpio" 2>/dev/null)
export S SRC_TAR="$T/src.tar" SRC_CPIO="$T/src.cpio"

# What the scenario shows of the links: for each file, its link count and the first name (in
# sorted order) sharing its inode.
export SHOW='show() { find "$1" -type f | sort | while read -r f; do
    i=$(stat -c %i "$f"); first=$(find "$1" -type f -inum "$i" | sort | head -1)
    echo "${f#$1/} nlink=$(stat -c %h "$f") same-as=${first#$1/}"; done; }
'

check basics "$SHOW"'
printf "hello\n" >f; ln f g; stat -c %h f g
[ "$(stat -c %i f)" = "$(stat -c %i g)" ] && echo same-inode
printf "more\n" >>g; cat f
ln f f 2>&1 | sed "s/^.*: //"; ln nosuch h 2>&1 | sed "s/^.*: //"
mkdir d; ln f d/x; rm f; cat g d/x; stat -c %h g; show .'
check cp_a "$SHOW"'cp -a "$S/top" t && echo cp=$?; show t'
check tar_x "$SHOW"'tar xf "$SRC_TAR" && echo tar=$?; show top'
check cpio_idm "$SHOW"'cpio -idm <"$SRC_CPIO" 2>/dev/null && echo cpio=$?; show top'
check rsync_aH "$SHOW"'rsync -aH "$S/top/" r/ && echo rsync=$?; show r
rsync -aH r/ r2/ && echo rsync2=$?; show r2'
check tmpfile "$SHOW"'python3 - <<PY
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = -100, 0x400, 0x1000
def linkat(fd, path, new, flags):
    rc = libc.linkat(fd, path, AT_FDCWD, new, flags)
    print("linkat", new.decode(), rc, os.strerror(ctypes.get_errno()) if rc else "")
fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o644)
os.write(fd, b"unnamed\\n")
linkat(AT_FDCWD, f"/proc/self/fd/{fd}".encode(), b"named-proc", AT_SYMLINK_FOLLOW)
fd2 = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o600)
os.write(fd2, b"second\\n")
linkat(fd2, b"", b"named-empty", AT_EMPTY_PATH)
linkat(fd2, b"", b"named-again", AT_EMPTY_PATH)
fd3 = os.open("named-proc", os.O_RDONLY)
linkat(fd3, b"", b"named-third", AT_EMPTY_PATH)
os.close(fd); os.close(fd2); os.close(fd3)
PY
cat named-proc named-empty; show .'
# Across the prefix's edge: the kernel's path errors first, then EXDEV (as between filesystems).
mkdir -p "$T/out" && printf 'x\n' >"$T/out/f"
out=$(shim "$PY" - "$T/out" <<'PY'
import errno, os, sys
o = sys.argv[1]
os.makedirs("/sm/edge", exist_ok=True)
open("/sm/edge/f", "w").write("in\n")
def e(a, b):
    try:
        os.link(a, b); return "ok"
    except OSError as x:
        return errno.errorcode[x.errno]
print(e(o + "/f", "/sm/edge/new"), e("/sm/edge/f", o + "/new"),
      e(o + "/nosuch", "/sm/edge/new"), e("/sm/edge/nosuch", o + "/new"),
      e(o + "/f/x", "/sm/edge/new"), e("/sm/edge/f", o + "/nodir/new"),
      e(o + "/f", "/sm/edge/f"), e("/sm/edge/f", o + "/f"))
PY
)
[ "$out" = "EXDEV EXDEV ENOENT ENOENT ENOTDIR ENOENT EEXIST EEXIST" ] || FAILED+=("edge: $out")

[ ${#FAILED[@]} -eq 0 ] || fail "scenarios that differ: ${FAILED[*]}"
echo "ok - hard links"
