#!/bin/bash
# Relative paths from a cwd outside the prefix go straight to the kernel only while nothing in
# them can reach the prefix or the shim's descriptors: after every kind of chdir (to /, to an
# ancestor of the prefix, into the prefix, back out, by fchdir, in another thread) a relative
# path that reaches the prefix ("sm/...", "../sm/...", "a/../../sm/...", "./../sm") is the
# virtual file, one that names one of the shim's descriptors from /proc/self or
# /proc/self/fd is missing, and names with a leading dot ("x/.hidden", ".dot") are plain files.
. "$(dirname "$0")/../lib/common.sh"

mkdir -p "$T/out/a/.hidden" "$T/out/b"
echo plain >"$T/out/a/.hidden/f"
echo dot >"$T/out/.dot"
shim mkdir -p /sm/cw
shim sh -c 'echo virtual >/sm/cw/f'
cat >"$T/rel.py" <<'EOF'
import os, subprocess, sys, threading
from relpaths import read, st1
out = sys.argv[1]
def st(p, other):  # a name that is there first: the shim learns where the cwd is
    st1(other)
    a, b, c = st1(p), st1(p), read(p)
    return a if a == b and c.startswith("E") else "%s %s %s" % (a, b, c)
res = []
def say(what, got):
    res.append("%s %s" % (what, got))
os.chdir(out)
say("plain", read("a/.hidden/f"))
say("dot", read(".dot"))
say("plain again", read("a/.hidden/f"))
os.chdir("/")
say("from /", read("sm/cw/f"))
os.chdir(out + "/a")
say("dotdot", read("../../" * 12 + "sm/cw/f"))
say("inner dotdot", read(".hidden/../" + "../" * 12 + "sm/cw/f"))
say("plain after", read(".hidden/f"))
comps = os.getcwd().strip("/").split("/")
depth = len(comps)
say("climb one short", read("../" * (depth - 1) + "/".join(comps[1:] + [".hidden/f"])))
say("climb exactly", read("../" * depth + "sm/cw/f"))
say("climb exactly again", read(".hidden/../" + "../" * depth + "sm/cw/f"))
fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
os.fchdir(fd)
say("fchdir /", read("sm/cw/f"))
os.chdir(out)
say("plain 3", read(".dot"))
os.chdir("/sm")
say("inside", read("cw/f"))
os.chdir(out)
say("plain 4", read(".dot"))
t = threading.Thread(target=lambda: os.chdir("/"))
t.start(); t.join()
say("thread chdir /", read("sm/cw/f"))
os.chdir(out)
say("plain 5", read(".dot"))
os.fchdir(fd)
os.chdir("sm")
say("relative chdir", read("cw/f"))
os.chdir(out)
# one of the shim's descriptors: what the kernel lists for this process and the process does not
mine = set(os.listdir("/proc/self/fd"))
kern = subprocess.run(["ls", "/proc/%d/fd" % os.getpid()], capture_output=True, text=True).stdout.split()
theirs = sorted(set(kern) - mine - {str(fd)}, key=int)
say("the shim holds descriptors", "yes" if theirs else "no")
if theirs:
    n = theirs[-1]
    os.chdir("/proc/self/fd")
    say("shim fd from fd dir", st(n, "0"))
    os.chdir("/proc/self")
    say("shim fd from /proc/self", st("fd/" + n, "fd/0"))
    os.chdir("/proc")
    say("shim fd from /proc", st("self/fd/" + n, "self/fd/0"))
    os.chdir("/dev")
    say("shim fd from /dev", st("fd/" + n, "fd/0"))
    os.chdir(out)
    say("plain 6", read(".dot"))
print("\n".join(res))
EOF
PYTHONPATH="$SRC/tests/lib" shim "$PY" "$T/rel.py" "$T/out" >"$T/got" 2>&1 || { cat "$T/got"; fail "the script failed"; }
cat >"$T/want" <<'EOF'
plain plain
dot dot
plain again plain
from / virtual
dotdot virtual
inner dotdot virtual
plain after plain
climb one short plain
climb exactly virtual
climb exactly again virtual
fchdir / virtual
plain 3 dot
inside virtual
plain 4 dot
thread chdir / virtual
plain 5 dot
relative chdir virtual
the shim holds descriptors yes
shim fd from fd dir E2
shim fd from /proc/self E2
shim fd from /proc E2
shim fd from /dev E2
plain 6 dot
EOF
diff "$T/want" "$T/got" || fail "relative paths answered differently (< wanted, > under the shim)"
echo "ok - $(wc -l <"$T/want") relative-path cases after every kind of chdir"
# a deeper prefix: the cwd shares directories with it, and only a climb to them reaches it
mkdir -p "$T/deep/other/x/y"
echo plain >"$T/deep/other/f"
export SMSHIM_PREFIX="$T/deep/pfx" SMSHIM_CACHE="$T/cache2"
shim sh -c "mkdir -p '$T/deep/pfx/d' && echo virtual >'$T/deep/pfx/d/f'"
cat >"$T/deep.py" <<'EOF'
import os
from relpaths import read
os.chdir(os.environ["SMSHIM_PREFIX"] + "/../other/x/y")
print(read("../../f"), read("../../f"), read("../../../pfx/d/f"), read("../../f"),
      read("../../../pfx/d/f"), read("../../../other/../pfx/d/f"))
EOF
got=$(PYTHONPATH="$SRC/tests/lib" shim "$PY" "$T/deep.py" 2>&1)
[ "$got" = "plain plain virtual plain virtual virtual" ] || fail "with the prefix $SMSHIM_PREFIX: $got"
echo "ok - a cwd beside a deeper prefix reaches it by climbing to their common directory"
