#!/bin/bash
# After a privilege drop the virtual directory's own modes decide, as on a real directory: the
# process resolves through the tree descriptor it opened before the drop, and an exec'd child
# adopts that descriptor; the cache's meta/ stays private. Needs root (setpriv, setuid).
. "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root (drops privileges to uid 65534)"
need setpriv
# the drop, then an exec: setpriv; under ASan the same in Python (setpriv's libcap-ng opens a file
# in its constructor, before a preloaded ASan runtime starts: see special_nodes.sh)
DROP=(setpriv --reuid=65534 --regid=65534 --clear-groups)
[ "${SMSHIM_SAN:-}" = address ] && DROP=("$PY" -c 'import os, sys
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
os.execvp(sys.argv[1], sys.argv[1:])')
shim mkdir -p /sm/d/sub /sm/bin
shim bash -c 'echo pub > /sm/d/pub.txt; echo secret > /sm/d/priv.txt; chmod 600 /sm/d/priv.txt'
shim bash -c 'printf "#!/bin/sh\necho tool \$(id -u)\n" > /sm/bin/tool; chmod 755 /sm/bin/tool'
shim chmod 777 /sm/d/sub
chmod 700 "$SMSHIM_CACHE"
# an exec'd child after the drop (setpriv execs cat)
out=$(shim "${DROP[@]}" cat /sm/d/pub.txt 2>&1) ||
    fail "setpriv cat /sm/d/pub.txt: $out"
[ "$out" = pub ] || fail "setpriv cat: $out"
out=$(shim "${DROP[@]}" cat /sm/d/./sub/../pub.txt 2>&1) ||
    fail "setpriv cat with . and ..: $out"
if shim "${DROP[@]}" cat /sm/d/priv.txt 2>/dev/null; then
    fail "a 0600 file of root's was readable after the drop"
fi
out=$(shim "${DROP[@]}" /sm/bin/tool 2>&1) ||
    fail "setpriv /sm/bin/tool: $out"
[ "$out" = "tool 65534" ] || fail "setpriv /sm/bin/tool: $out"
out=$(shim "${DROP[@]}" bash -c \
    'cd /sm/d && cat pub.txt && cat ./pub.txt && echo new > sub/new.txt && cat /sm/d/sub/new.txt && ls /sm/d' 2>&1) ||
    fail "setpriv bash: $out"
[ "$out" = "pub
pub
new
priv.txt
pub.txt
sub" ] || fail "setpriv bash: $out"
# meta/ stays private: the child cannot reach it
if shim "${DROP[@]}" ls "$SMSHIM_CACHE/meta" >/dev/null 2>&1; then
    fail "meta/ readable after the drop"
fi
# the same process, before and after setuid
shim "$PY" - <<'PY' || fail "in-process drop"
import os
os.stat("/sm/d")                     # the tree is open before the drop
os.setgroups([]); os.setgid(65534); os.setuid(65534)
assert open("/sm/d/pub.txt").read() == "pub\n"
assert open("/sm/d/./sub/../pub.txt").read() == "pub\n"
os.chdir("/sm/d/sub"); assert os.getcwd() == "/sm/d/sub", os.getcwd()
assert open("../pub.txt").read() == "pub\n"
assert os.path.realpath("/sm/d/sub/..") == "/sm/d", os.path.realpath("/sm/d/sub/..")
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.realpath.restype = ctypes.c_char_p
buf = ctypes.create_string_buffer(4096)
assert libc.realpath(b"/sm/d/sub/../pub.txt", buf) == b"/sm/d/pub.txt", buf.value
try:
    open("/sm/d/priv.txt"); raise SystemExit("priv.txt readable")
except PermissionError:
    pass
PY
# without a drop no child is handed the tree descriptor
if shim bash -c 'cat /sm/d/pub.txt >/dev/null; env' | grep -q SMSHIM_TREE_FD; then
    fail "a child was handed the tree descriptor without a privilege drop"
fi
echo "ok - privilege drops: the tree's modes decide, the child adopts the tree, meta/ stays private"
