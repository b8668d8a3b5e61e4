#!/bin/bash
# What the pre-filter lets through from a plain cwd (outside the tree, above no part of the
# prefix, outside /proc and /dev) reaches the kernel only when nothing in it can reach the
# prefix: a call that takes a directory fd (fchmodat, fchownat, utimensat) resolves a relative
# path against that fd, not the cwd; a climb by ".." counts from where the cwd is now (it may
# have been renamed to a shallower place since the shim looked at it); a ".." after a symbolic
# link climbs from the link's target, as the kernel does; what a vfork child (subprocess with
# cwd=, whose exec of ./x looks at its new cwd) learns of its cwd is not taken for its parent's.
. "$(dirname "$0")/../lib/common.sh"

mkdir -p "$T/out/a" "$T/r/1/2/3/4/5/6/7/8" "$T/w"
printf '#!/bin/sh\nexit 0\n' >"$T/w/x"
chmod +x "$T/w/x"
ln -s / "$T/out/a/root"
echo plain >"$T/out/a/f"
shim mkdir -p /sm/cw
shim sh -c 'echo virtual >/sm/cw/f'
cat >"$T/climb.py" <<'EOF'
import os, stat, subprocess, sys
from relpaths import do, read
T = sys.argv[1]
res = []
def say(what, got):
    res.append("%s %s" % (what, got))
os.chdir(T + "/out/a")
say("plain", read("f"))  # the shim now knows the cwd is plain
root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
say("fchmodat from /", do(lambda: os.chmod("sm/cw/f", 0o600, dir_fd=root)))
say("mode", oct(stat.S_IMODE(os.stat("/sm/cw/f").st_mode)))
say("fchownat from /", do(lambda: os.chown("sm/cw/f", os.getuid(), os.getgid(), dir_fd=root)))
say("utimensat from /", do(lambda: os.utime("sm/cw/f", (1000000000, 1000000000), dir_fd=root)))
say("mtime", int(os.stat("/sm/cw/f").st_mtime))
say("link then climb", read("root/../sm/cw/f"))
say("plain again", read("f"))
os.chdir(T + "/r/1/2/3/4/5/6/7/8")
say("deep", read("nothing"))  # the shim learns the cwd, deep below /
os.rename(T + "/r/1/2/3/4/5/6/7/8", T + "/s")
up = "../" * (len(os.getcwd().strip("/").split("/")))
say("climb after the cwd moved up", read(up + "sm/cw/f"))
os.chdir("/")
say("from /", read("sm/cw/f"))
say("child in another cwd", subprocess.run(["./x"], cwd=T + "/w").returncode)
say("from / after the child", read("sm/cw/f"))
print("\n".join(res))
EOF
PYTHONPATH="$SRC/tests/lib" shim "$PY" "$T/climb.py" "$T" >"$T/got" 2>&1 || { cat "$T/got"; fail "the script failed"; }
cat >"$T/want" <<'EOF'
plain plain
fchmodat from / ok
mode 0o600
fchownat from / ok
utimensat from / ok
mtime 1000000000
link then climb virtual
plain again plain
deep E2
climb after the cwd moved up virtual
from / virtual
child in another cwd 0
from / after the child virtual
EOF
diff "$T/want" "$T/got" || fail "paths that reach the prefix went to the kernel (< wanted, > under the shim)"
echo "ok - $(wc -l <"$T/want") dirfd, link and moved-cwd cases from a plain cwd"
