#!/bin/bash
# Extended attributes under the prefix are the real attributes of the file in the cache's tree,
# whatever form names it: an absolute prefix path, a path relative to a cwd in the prefix, the
# l* forms, the f* forms on a descriptor, the raw calls (syscall() and syscall user dispatch),
# setfattr/getfattr and tar --xattrs. Each form sees what the others set, as on a real directory;
# the attribute is on the tree's own file; nothing is recorded for sync.
. "$(dirname "$0")/../lib/common.sh"

# The cache's filesystem decides what is supported: this test needs one that keeps user.*
# attributes (the real directory beside the cache is on the same filesystem).
probe="$T/xattr-probe"
: >"$probe"
"$PY" -c 'import os, sys; os.setxattr(sys.argv[1], "user.p", b"1")' "$probe" 2>/dev/null ||
    skip "the filesystem of $T keeps no user.* extended attributes"

FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }

# Python's os.*xattr: path (absolute and relative), follow_symlinks=False, descriptors; each form
# reads what another wrote.
export XPY='
import os, sys
W = sys.argv[1]
def show(what, f):
    try:
        r = f()
        if isinstance(r, list):
            r = sorted(x for x in r if x.startswith("user."))
        print(what, "->", r)
    except OSError as e:
        print(what, "->", type(e).__name__, os.strerror(e.errno))
open(W + "/f", "w").write("text\n")
os.mkdir(W + "/d")
os.symlink("f", W + "/l")
show("set abs", lambda: os.setxattr(W + "/f", "user.abs", b"1"))
os.chdir(W)
show("set rel", lambda: os.setxattr("f", "user.rel", b"2"))
show("get rel of abs", lambda: os.getxattr("f", "user.abs"))
show("get abs of rel", lambda: os.getxattr(W + "/f", "user.rel"))
fd = os.open(W + "/f", os.O_RDONLY)
show("set fd", lambda: os.setxattr(fd, "user.fd", b"3"))
show("get abs of fd", lambda: os.getxattr(W + "/f", "user.fd"))
show("list fd", lambda: os.listxattr(fd))
show("list abs", lambda: os.listxattr(W + "/f"))
show("list via symlink", lambda: os.listxattr(W + "/l"))
show("list symlink itself", lambda: os.listxattr(W + "/l", follow_symlinks=False))
show("set symlink itself", lambda: os.setxattr(W + "/l", "user.x", b"1", follow_symlinks=False))
show("get via symlink", lambda: os.getxattr(W + "/l", "user.abs"))
show("get nofollow", lambda: os.getxattr(W + "/l", "user.abs", follow_symlinks=False))
show("set dir", lambda: os.setxattr(W + "/d", "user.dir", b"dv"))
show("get dir rel", lambda: os.getxattr("d", "user.dir"))
show("get dir fd", lambda: os.getxattr(os.open("d", os.O_RDONLY), "user.dir"))
show("create existing", lambda: os.setxattr(W + "/f", "user.abs", b"9", os.XATTR_CREATE))
show("replace missing", lambda: os.setxattr(W + "/f", "user.none", b"9", os.XATTR_REPLACE))
show("get missing", lambda: os.getxattr(W + "/f", "user.none"))
show("unknown namespace", lambda: os.setxattr(W + "/f", "nope.x", b"1"))
show("missing file", lambda: os.getxattr(W + "/nope", "user.abs"))
show("remove abs", lambda: os.removexattr(W + "/f", "user.rel"))
show("remove rel again", lambda: os.removexattr("f", "user.rel"))
show("list after", lambda: os.listxattr("f"))
show("via dotdot", lambda: os.getxattr(W + "/d/../f", "user.fd"))
os.rename(W + "/f", W + "/g")
show("after rename", lambda: os.listxattr(W + "/g"))
'
check python 'python3 -c "$XPY" "$W"'

# setfattr / getfattr by absolute and relative paths, and -h on a symlink.
if command -v setfattr >/dev/null && command -v getfattr >/dev/null; then
    check attr_tools '
printf "x\n" > f && ln -s f l
setfattr -n user.one -v first "$W/f"; echo "rc=$?"
setfattr -n user.two -v second f; echo "rc=$?"
getfattr --absolute-names -d "$W/f" | sed "s#$W#\$W#"
(cd / && getfattr --absolute-names -n user.two --only-values "$W/f"); echo
getfattr -d f
getfattr -d l
setfattr -h -n user.three -v 3 l 2>&1 | sed "s/^setfattr: //"
setfattr -x user.one "$W/f"; getfattr -d f
getfattr -n user.one f 2>&1 | sed "s/^getfattr: //"
'
else
    echo "# setfattr/getfattr not installed (Debian package attr): that part is not run"
fi

# tar --xattrs: an archive made from the prefix keeps the attributes, and extracting one into
# the prefix sets them.
check tar_xattrs '
mkdir src && printf "a\n" > src/a && printf "b\n" > src/b
python3 -c "import os; os.setxattr(\"src/a\", \"user.k\", b\"v1\"); os.setxattr(\"$W/src/b\", \"user.k\", b\"v2\")"
tar --xattrs --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf a.tar src; echo "c rc=$?"
mkdir out && tar --xattrs --xattrs-include="user.*" -xf a.tar -C "$W/out"; echo "x rc=$?"
python3 -c "import os; print(os.getxattr(\"$W/out/src/a\", \"user.k\"), os.getxattr(\"out/src/b\", \"user.k\"))"
tar --xattrs -tvf a.tar >/dev/null; echo "t rc=$?"
rm a.tar
'

[ ${#FAILED[@]} = 0 ] || fail "parity failed: ${FAILED[*]}"

# The attribute is the tree file's own: seen from outside the shim on the cache's file.
shim bash -c 'mkdir -p /sm/own && echo t > /sm/own/f && python3 -c "import os; os.setxattr(\"/sm/own/f\", \"user.mark\", b\"here\")"' ||
    fail "own: setup"
got=$("$PY" -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.mark").decode())' "$SMSHIM_CACHE/tree/own/f")
[ "$got" = here ] || fail "the attribute is not on the tree's file (got '$got')"
echo "ok - the attribute set by absolute prefix path is on the file in the cache's tree"

# Raw calls: through syscall() and as raw instructions under syscall user dispatch.
raw_parity xattr

# Local only: setting, replacing and removing attributes records nothing for sync.
before=$("$B/smshim" status --cache "$SMSHIM_CACHE" --json)
shim "$PY" -c '
import os
for i in range(5):
    os.setxattr("/sm/own/f", "user.n%d" % i, b"v")
os.removexattr("/sm/own/f", "user.n0")
' || fail "local: setxattr"
after=$("$B/smshim" status --cache "$SMSHIM_CACHE" --json)
[ "$before" = "$after" ] || { echo "$before"; echo "$after"; fail "xattr changes were recorded"; }
echo "ok - attribute changes are local (nothing recorded for sync)"
