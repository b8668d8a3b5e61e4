#!/bin/bash
# python3 in the prefix behaves as in a real directory: os.walk/scandir/fwalk, pathlib, shutil,
# tempfile, cwd and subprocess(cwd=...), imports from the prefix (sys.path, -m, zipimport,
# scripts and their __file__), realpath, stat/fstat identity, open modes and errors, and a venv.
#
# Each scenario is a Python program kept outside the prefix ($T/*.py) and run by the parity
# harness once in a real directory and once in the prefix ($W in the environment). Everything a
# program prints is compared; anything that legitimately differs between two runs (random
# temporary names, inode numbers, times) is printed as a comparison (True/False), never raw.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$PY" ] || skip "$PY is not installed"
need ls pwd cat sh
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONDONTWRITEBYTECODE VIRTUAL_ENV
export PY T

# Both runs failing the same way would still be "parity": every scenario ends by printing
# SCENARIO-END, and the real run's output must hold it (so the whole program ran).
completed() {
    grep -qx "SCENARIO-END" "$T/$1.real.out" || fail "$1: the scenario did not run to its end"
}

# A real directory outside the prefix, for moves and renames in and out.
export OUTSIDE="$T/outside"

# ---- os, pathlib, shutil, stat identity, open modes and errors -----------------------------------
cat >"$T/py_fs.py" <<'PYEOF'
import errno, mmap, os, pathlib, shutil, stat, sys
W = os.environ["W"]
P = pathlib.Path(W)

def err(label, fn, *a, **k):
    """Run fn and print the exception it raises (class, errno name, message)."""
    try:
        r = fn(*a, **k)
        print(label, "-> no error", r)
    except OSError as e:
        print(label, "->", type(e).__name__, errno.errorcode.get(e.errno), e)

# a tree to walk
(P / "t/a/b").mkdir(parents=True)
(P / "t/c").mkdir(parents=True, exist_ok=True)
(P / "t/a/b/one.txt").write_text("one\n")
(P / "t/a/two.md").write_text("two\n" * 100)
(P / "t/c/three.txt").write_bytes(b"\x00\x01three")
(P / "t/top.txt").write_text("top")
os.symlink("a/b", P / "t/link-rel")
os.symlink(f"{W}/t/top.txt", P / "t/link-abs")
print("mkdir again:", end=" "); err("mkdir", (P / "t/a").mkdir)
err("mkdir parents missing", (P / "t/x/y").mkdir)

print("== os.walk")
for root, dirs, files in os.walk(W + "/t"):
    dirs.sort()
    print(os.path.relpath(root, W), sorted(dirs), sorted(files))
print("== os.walk bottom-up, followlinks")
for root, dirs, files in os.walk(P / "t", topdown=False, followlinks=True):
    print(os.path.relpath(root, W), sorted(dirs), sorted(files))
print("== os.fwalk")
for root, dirs, files, dfd in os.fwalk(W + "/t"):
    dirs.sort()
    st = os.stat(root)
    fst = os.fstat(dfd)
    print(os.path.relpath(root, W), sorted(dirs), sorted(files), (st.st_ino, st.st_dev) == (fst.st_ino, fst.st_dev))
print("== os.scandir")
with os.scandir(W + "/t") as it:
    for e in sorted(it, key=lambda e: e.name):
        lst = os.lstat(e.path)
        print(e.name, os.path.relpath(e.path, W), e.is_dir(), e.is_file(), e.is_symlink(),
              e.is_dir(follow_symlinks=False), e.inode() == lst.st_ino,
              e.stat(follow_symlinks=False).st_size == lst.st_size)
fd = os.open(W + "/t", os.O_RDONLY | os.O_DIRECTORY)
print("scandir(fd):", sorted(e.name for e in os.scandir(fd)), "listdir(fd):", sorted(os.listdir(fd)))
os.close(fd)

print("== pathlib")
print(sorted(str(p.relative_to(P)) for p in P.glob("t/*")))
print(sorted(str(p.relative_to(P)) for p in P.glob("t/*/*.md")))
print(sorted(str(p.relative_to(P)) for p in P.rglob("*.txt")))
print(sorted(str(p.relative_to(P)) for p in (P / "t").iterdir()))
import glob
print(sorted(os.path.relpath(p, W) for p in glob.glob(W + "/t/**/*.txt", recursive=True)))
print(sorted(glob.glob("t/*/", root_dir=W)))
print((P / "t/a/two.md").read_text().count("two"), (P / "t/c/three.txt").read_bytes())
print(P.joinpath("t/link-rel").resolve(), P.joinpath("t/link-abs").resolve(),
      P.joinpath("t/a/../c/./three.txt").resolve(), P.joinpath("t/nope/../a").resolve())
print((P / "t/link-rel/one.txt").read_text().strip(), os.readlink(P / "t/link-abs"))
print("exists", (P / "t/a").exists(), (P / "t/zz").exists(), (P / "t/link-rel").is_dir(),
      (P / "t/top.txt").is_file(), (P / "t/link-abs").is_symlink())
print("samefile", (P / "t/link-abs").samefile(P / "t/top.txt"),
      (P / "t/link-rel").samefile(P / "t/a/b"), (P / "t/a").samefile(P / "t/c"))
(P / "t/top.txt").rename(P / "t/c/moved.txt")
print("rename:", (P / "t/top.txt").exists(), (P / "t/c/moved.txt").read_text())
print("dangling:", (P / "t/link-abs").exists(), (P / "t/link-abs").is_symlink())
(P / "t/link-abs").unlink()
(P / "t/c/moved.txt").replace(P / "t/c/three.txt")
print("replace:", sorted(os.listdir(P / "t/c")), (P / "t/c/three.txt").read_text())
err("unlink missing", (P / "t/c/moved.txt").unlink)
(P / "t/c/moved.txt").unlink(missing_ok=True)
(P / "t/c/touched").touch(mode=0o640)
print("touch mode", oct(stat.S_IMODE((P / "t/c/touched").stat().st_mode) & ~0o022))
(P / "t/c/touched").chmod(0o600)
print("chmod", oct(stat.S_IMODE(os.stat(P / "t/c/touched").st_mode)))
print("rel", os.path.relpath(W + "/t/a/b", W + "/t/c"), P.joinpath("t").is_absolute())

print("== realpath")
for p in [W, W + "/t", W + "/t/link-rel", W + "/t/link-rel/one.txt", W + "/t/a/b/../../c",
          W + "/t/link-rel/..", W + "/t/missing/x", W + "/./t//a/"]:
    print(p, "->", os.path.realpath(p))
err("realpath strict", os.path.realpath, W + "/t/missing", strict=True)
print("abspath", os.path.abspath(W + "/t/../t/a"), os.path.exists(W + "/t/link-rel/.."))

print("== stat vs fstat")
FIELDS = ("st_ino", "st_dev", "st_size", "st_mtime_ns", "st_ctime_ns", "st_mode", "st_nlink", "st_uid")
def same(a, b):
    return all(getattr(a, f) == getattr(b, f) for f in FIELDS)
f = P / "t/a/two.md"
with open(f, "rb") as fh:
    print("file: stat == fstat", same(os.stat(f), os.fstat(fh.fileno())),
          "lstat", same(os.lstat(f), os.fstat(fh.fileno())))
dfd = os.open(P / "t/a", os.O_RDONLY | os.O_DIRECTORY)
print("dir: stat == fstat", same(os.stat(P / "t/a"), os.fstat(dfd)),
      "nlink", os.fstat(dfd).st_nlink, os.stat(P / "t").st_nlink)
print("dir_fd stat", same(os.stat("b", dir_fd=dfd), os.stat(P / "t/a/b")),
      "dir_fd open", open(os.open("b/one.txt", os.O_RDONLY, dir_fd=dfd)).read().strip())
os.close(dfd)
opfd = os.open(P / "t/a", os.O_PATH)
print("O_PATH fstat", same(os.fstat(opfd), os.stat(P / "t/a")), os.readlink(f"/proc/self/fd/{opfd}"))
os.close(opfd)
with open(f, "r+b") as fh:
    st0 = os.stat(f)
    fh.seek(0, 2); fh.write(b"tail\n"); fh.flush()
    print("after write: sizes", os.stat(f).st_size - st0.st_size, os.fstat(fh.fileno()).st_size - st0.st_size,
          same(os.stat(f), os.fstat(fh.fileno())))
    m = mmap.mmap(fh.fileno(), 0)
    print("mmap", m[:4], m[-5:], len(m) == os.stat(f).st_size)
    m.close()
os.utime(f, ns=(1_000_000_000_123_456_789, 1_500_000_000_987_654_321))
print("utime", os.stat(f).st_mtime_ns, os.stat(f).st_atime_ns)

print("== open modes")
g = P / "modes.txt"
with open(g, "x") as fh:
    fh.write("first\n")
err("open x existing", open, g, "x")
with open(g, "a") as fh:
    print("append tell", fh.tell()); fh.write("second\n")
with open(g, "r+") as fh:
    fh.write("FIRST"); fh.seek(0); print(repr(fh.read()))
with open(g, "a+") as fh:
    fh.seek(0); print("a+ read", repr(fh.read(5))); fh.write("third\n")
with open(g, "w+") as fh:
    print("w+ truncated", repr(fh.read())); fh.write("new\n")
print(repr(g.read_text()), os.path.getsize(g))
fd = os.open(g, os.O_WRONLY | os.O_APPEND)
os.write(fd, b"x\n"); os.ftruncate(fd, 2); os.close(fd)
print("ftruncate", repr(g.read_bytes()))
os.truncate(g, 6)
print("truncate", repr(g.read_bytes()))

print("== errors")
err("open missing", open, W + "/nope.txt")
err("open missing dir", open, W + "/nodir/f", "w")
err("open dir", open, W + "/t")
err("open dir w", open, W + "/t", "w")
err("open file/x", open, W + "/modes.txt/x")
err("listdir file", os.listdir, W + "/modes.txt")
err("scandir missing", os.scandir, W + "/missing")
err("mkdir existing", os.mkdir, W + "/t")
err("mkdir under file", os.mkdir, W + "/modes.txt/d")
err("rmdir non-empty", os.rmdir, W + "/t")
err("rmdir file", os.rmdir, W + "/modes.txt")
err("unlink dir", os.unlink, W + "/t/a")
err("rename dir onto non-empty", os.rename, W + "/t/c", W + "/t/a")
err("rename dir onto file", os.rename, W + "/t/c", W + "/modes.txt")
err("rename file onto dir", os.rename, W + "/modes.txt", W + "/t/c")
err("rename into itself", os.rename, W + "/t", W + "/t/a/t")
err("chdir file", os.chdir, W + "/modes.txt")
err("link", os.symlink, "x", W + "/t/link-rel")
err("stat missing", os.stat, W + "/t/a/none")
err("readlink not link", os.readlink, W + "/modes.txt")
err("os.open O_EXCL", os.open, W + "/modes.txt", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
err("O_DIRECTORY on file", os.open, W + "/modes.txt", os.O_RDONLY | os.O_DIRECTORY)
err("O_NOFOLLOW on link", os.open, W + "/t/link-rel", os.O_RDONLY | os.O_NOFOLLOW)

print("== shutil")
os.makedirs(P / "src/deep/er")
(P / "src/deep/er/f.txt").write_text("deep")
(P / "src/g.bin").write_bytes(os.urandom(0) + bytes(range(256)) * 40)
os.symlink("deep/er/f.txt", P / "src/lnk")
os.utime(P / "src/g.bin", ns=(1_600_000_000_000_000_000, 1_600_000_000_111_111_111))
os.chmod(P / "src/g.bin", 0o751)
shutil.copytree(P / "src", P / "copy1")
shutil.copytree(P / "src", P / "copy2", symlinks=True, ignore=shutil.ignore_patterns("*.bin"))
shutil.copytree(W + "/src/deep", W + "/copy2/deep", dirs_exist_ok=True)
for d in ("copy1", "copy2"):
    print(d, sorted(str(p.relative_to(P / d)) + ("@" if p.is_symlink() else "") for p in (P / d).rglob("*")))
print("copytree keeps mtime", os.stat(P / "copy1/g.bin").st_mtime_ns == os.stat(P / "src/g.bin").st_mtime_ns)
shutil.copy2(P / "src/g.bin", P / "c2.bin")
s1, s2 = os.stat(P / "src/g.bin"), os.stat(P / "c2.bin")
print("copy2", s2.st_size, oct(stat.S_IMODE(s2.st_mode)), s2.st_mtime_ns == s1.st_mtime_ns, s2.st_mtime_ns,
      s2.st_ino != s1.st_ino)
shutil.copy(P / "src/g.bin", P / "t")
shutil.copyfile(P / "src/deep/er/f.txt", P / "cf.txt")
print("copy into dir", (P / "t/g.bin").stat().st_size, (P / "cf.txt").read_text())
err("copyfile same", shutil.copyfile, P / "cf.txt", P / "cf.txt")
shutil.move(P / "copy2", P / "t/moved-dir")
shutil.move(str(P / "cf.txt"), str(P / "t/c"))
os.makedirs(os.environ["OUTSIDE"], exist_ok=True)
out = pathlib.Path(os.environ["OUTSIDE"])
(out / "from-outside.txt").write_text("outside\n")
shutil.copytree(P / "src/deep", out / "deep-out", dirs_exist_ok=True)
shutil.move(out / "from-outside.txt", P / "t/in.txt")
shutil.move(out / "deep-out", P / "t/deep-in")
os.rename(P / "c2.bin", out / "c2.bin")
print("moved out", (out / "c2.bin").stat().st_size, (P / "c2.bin").exists())
os.rename(out / "c2.bin", P / "c3.bin")
shutil.move(P / "copy1", out / "copy1")
print("moved dir out", sorted(os.listdir(out / "copy1")), (P / "copy1").exists())
shutil.rmtree(out)
print(sorted(str(p.relative_to(P)) for p in (P / "t").rglob("*")))
shutil.rmtree(P / "t/moved-dir")
err("rmtree missing", shutil.rmtree, P / "t/moved-dir")
err("rmtree symlink", shutil.rmtree, P / "t/link-rel")
shutil.rmtree(P / "src", onerror=None)
print("after rmtree", sorted(os.listdir(W)))
print("disk_usage", shutil.disk_usage(W).total > 0)
print("SCENARIO-END")
PYEOF

parity py_fs '"$PY" "$T/py_fs.py"'
completed py_fs

# ---- tempfile ----------------------------------------------------------------------------------
cat >"$T/py_tempfile.py" <<'PYEOF'
import os, stat, tempfile
W = os.environ["W"]

def show(label, path, prefix="", suffix=""):
    """A random name: print where it is and the shape of its name, not the random part."""
    d, b = os.path.split(path)
    print(label, d, b.startswith(prefix), b.endswith(suffix), len(b) > len(prefix) + len(suffix))

with tempfile.TemporaryDirectory(dir=W, prefix="td-", suffix=".d") as td:
    show("TemporaryDirectory", td, "td-", ".d")
    print("mode", oct(stat.S_IMODE(os.stat(td).st_mode)), "isdir", os.path.isdir(td),
          "listed", os.listdir(W) == [os.path.basename(td)])
    os.makedirs(os.path.join(td, "x/y"))
    with open(os.path.join(td, "x/y/f"), "w") as f:
        f.write("data")
    os.symlink("x/y/f", os.path.join(td, "ln"))
print("removed", os.path.exists(td), os.listdir(W))

with tempfile.NamedTemporaryFile(dir=W, prefix="nt-", suffix=".txt", mode="w+") as nt:
    show("NamedTemporaryFile", nt.name, "nt-", ".txt")
    nt.write("hello"); nt.flush()
    print("size", os.path.getsize(nt.name), "mode", oct(stat.S_IMODE(os.stat(nt.name).st_mode)),
          "same inode", os.stat(nt.name).st_ino == os.fstat(nt.fileno()).st_ino)
    nt.seek(0); print("read", nt.read())
    with open(nt.name) as again:
        print("reopen", again.read())
print("removed", os.path.exists(nt.name))

nt = tempfile.NamedTemporaryFile(dir=W, delete=False)
nt.write(b"kept"); nt.close()
show("NamedTemporaryFile(delete=False)", nt.name, "tmp")
os.rename(nt.name, os.path.join(W, "kept.bin"))

fd, path = tempfile.mkstemp(dir=W, prefix="ms-", suffix=".dat")
show("mkstemp", path, "ms-", ".dat")
os.write(fd, b"mkstemp data")
print("fstat==stat", os.fstat(fd).st_ino == os.stat(path).st_ino, os.fstat(fd).st_size,
      "mode", oct(stat.S_IMODE(os.fstat(fd).st_mode)), "fd path", os.readlink(f"/proc/self/fd/{fd}") == path)
os.close(fd)
os.replace(path, os.path.join(W, "mkstemp.dat"))
rel_fd, rel_path = tempfile.mkstemp(dir=".", prefix="rel-")
print("mkstemp relative", os.path.dirname(rel_path), os.path.exists(os.path.basename(rel_path)))
os.close(rel_fd); os.unlink(rel_path)

d = tempfile.mkdtemp(dir=W, prefix="md-")
show("mkdtemp", d, "md-")
print("mode", oct(stat.S_IMODE(os.stat(d).st_mode)))
os.rename(d, os.path.join(W, "mkdtemp.d"))

with tempfile.TemporaryFile(dir=W) as tf:
    tf.write(b"anon"); tf.seek(0)
    print("TemporaryFile", tf.read(), "nlink", os.fstat(tf.fileno()).st_nlink)
with tempfile.SpooledTemporaryFile(max_size=4, dir=W) as sf:
    sf.write(b"spooled beyond max"); sf.seek(0)
    print("Spooled", sf.read(), sf._rolled)

old = tempfile.tempdir
tempfile.tempdir = W
print("gettempdir", tempfile.gettempdir())
with tempfile.TemporaryDirectory() as td2:
    print("default dir", os.path.dirname(td2))
tempfile.tempdir = old
os.environ["TMPDIR"] = W
tempfile.tempdir = None
print("TMPDIR", tempfile.gettempdir())
print("final", sorted(os.listdir(W)))
print("SCENARIO-END")
PYEOF

parity py_tempfile '"$PY" "$T/py_tempfile.py"'
completed py_tempfile

# ---- cwd and subprocess ----------------------------------------------------------------------------
cat >"$T/py_cwd.py" <<'PYEOF'
import os, pathlib, subprocess, sys
W = os.environ["W"]
os.makedirs(W + "/sub/inner", exist_ok=True)
for n in ("b.txt", "a.txt"):
    open(f"{W}/sub/{n}", "w").write(n)

def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    print(args, "->", r.returncode, repr(r.stdout), repr(r.stderr))

os.chdir(W + "/sub")
print("getcwd", os.getcwd(), pathlib.Path.cwd(), os.path.abspath("x"), pathlib.Path("a.txt").resolve())
print("relative", sorted(os.listdir(".")), open("a.txt").read(), os.path.exists("../sub/b.txt"))
with open("rel-new.txt", "w") as f:
    f.write("written relative")
print("written", os.path.exists(W + "/sub/rel-new.txt"))
os.chdir("inner")
print("chdir relative", os.getcwd())
os.chdir("..")
print("chdir ..", os.getcwd())
fd = os.open(W + "/sub/inner", os.O_RDONLY)
os.chdir(fd)
print("fchdir", os.getcwd(), os.readlink("/proc/self/cwd"))
os.close(fd)
os.chdir(W)

run(["pwd"], cwd=W + "/sub")
run(["pwd", "-P"], cwd=W + "/sub/inner")
run(["/bin/pwd"], cwd=pathlib.Path(W) / "sub")
run(["ls"], cwd=W + "/sub")
run(["ls", "-a", "inner"], cwd=W + "/sub")
run(["cat", "a.txt"], cwd=W + "/sub")
run(["sh", "-c", "pwd; ls; cd inner && pwd; echo made > made.txt"], cwd=W + "/sub")
run(["bash", "-c", "cd ..; pwd; ls; cd inner/../..; pwd; ls"], cwd=W + "/sub/inner")
run([sys.executable, "-c", "import os; print(os.getcwd()); print(sorted(os.listdir()))"], cwd=W + "/sub")
run(["pwd"], cwd="sub")
os.chdir(W + "/sub")
run(["pwd"])
run(["ls", "../sub"])
os.chdir(W)
p = subprocess.Popen(["pwd"], cwd=W + "/sub/inner", stdout=subprocess.PIPE, text=True)
print("Popen", p.communicate()[0].strip())
print("check_output", subprocess.check_output("pwd; ls", shell=True, cwd=W + "/sub", text=True).split())
r = subprocess.run(["ls", "missing"], cwd=W + "/sub", capture_output=True, text=True)
print("ls missing", r.returncode, r.stderr.strip())
try:
    subprocess.run(["pwd"], cwd=W + "/nope")
except OSError as e:
    print("cwd missing", type(e).__name__, e)
try:
    subprocess.run(["pwd"], cwd=W + "/sub/a.txt")
except OSError as e:
    print("cwd file", type(e).__name__, e)
print("os.system", os.system(f"cd {W}/sub/inner && pwd"))
# posix_spawn: file actions open prefix paths in the child; the child inherits a prefix cwd
# (subprocess itself takes the posix_spawn path for close_fds=False and no cwd=)
pid = os.posix_spawn("/bin/cat", ["cat"], os.environ, file_actions=[
    (os.POSIX_SPAWN_OPEN, 0, W + "/sub/a.txt", os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, W + "/sub/spawned.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
print("posix_spawn", os.waitpid(pid, 0)[1], open(W + "/sub/spawned.txt").read())
os.chdir(W + "/sub/inner")
r, w = os.pipe()
pid = os.posix_spawnp("pwd", ["pwd"], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)])
os.close(w)
print("posix_spawnp", os.waitpid(pid, 0)[1], os.read(r, 4096).decode().strip())
os.close(r)
print("subprocess posix_spawn", subprocess.run(["/bin/pwd"], close_fds=False, capture_output=True, text=True).stdout.strip())
os.chdir(W)
print("SCENARIO-END")
PYEOF

parity py_cwd '"$PY" "$T/py_cwd.py"'
completed py_cwd

# ---- imports and scripts stored in the prefix --------------------------------------------------
cat >"$T/py_import.py" <<'PYEOF'
import importlib, marshal, os, subprocess, sys, zipfile
W = os.environ["W"]
L = W + "/lib"
os.makedirs(L + "/pkg/sub")
def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
write(L + "/mymod.py", "VALUE = 42\ndef where():\n    return __file__\n")
write(L + "/pkg/__init__.py", "from . import helper\nNAME = 'pkg'\n")
write(L + "/pkg/helper.py", "def hello():\n    return 'hello from ' + __name__\n")
write(L + "/pkg/sub/__init__.py", "")
write(L + "/pkg/sub/deep.py", "from ..helper import hello\nimport os\nDIR = os.path.dirname(__file__)\n")
write(L + "/pkg/__main__.py",
      "import os, sys\nimport pkg\nprint('main', __name__, __file__)\nprint('pkg', pkg.__file__)\n"
      "print('argv0', sys.argv[0])\nprint('path0', sys.path[0])\nprint('cwd', os.getcwd())\n")
write(L + "/data.txt", "resource data\n")
write(L + "/script.py",
      "#!/usr/bin/python3\nimport os, sys\nprint('script', __file__)\nprint('argv', sys.argv)\n"
      "print('path0', sys.path[0])\nprint('dir', os.path.dirname(os.path.abspath(__file__)))\n"
      "print(open(os.path.join(os.path.dirname(__file__), 'data.txt')).read().strip())\n", 0o755)

# import from a prefix directory on sys.path
sys.path.insert(0, L)
import mymod, pkg, pkg.sub.deep
print("mymod", mymod.VALUE, mymod.__file__, mymod.where())
print("pkg", pkg.__file__, list(pkg.__path__), pkg.helper.hello(), pkg.NAME)
print("deep", pkg.sub.deep.__file__, pkg.sub.deep.DIR, pkg.sub.deep.hello())
print("spec", mymod.__spec__.origin, mymod.__cached__)
write(L + "/mymod.py", "VALUE = 43\n")
os.utime(L + "/mymod.py", ns=(2_000_000_000_000_000_000,) * 2)
importlib.reload(mymod)
print("reloaded", mymod.VALUE)
import importlib.resources
print("resource", importlib.resources.files("pkg").joinpath("helper.py").read_text().count("hello"))
importlib.invalidate_caches()
write(L + "/late.py", "X = 'late'\n")
import late
print("late", late.X, late.__file__)

# zipimport from an archive in the prefix
# (fixed member times: writestr with a bare name stamps the current time into the archive)
with zipfile.ZipFile(W + "/zipped.zip", "w") as z:
    for name, text in (("zmod.py", "Z = 'zipped'\n"), ("zpkg/__init__.py", "P = 'zpkg'\n"),
                       ("__main__.py", "import sys, zmod\nprint('zip main', __file__, sys.argv[0], zmod.__file__)\n")):
        z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6)), text)
sys.path.insert(0, W + "/zipped.zip")
import zmod, zpkg
print("zip", zmod.Z, zmod.__file__, zpkg.P, zpkg.__file__)

# the bytecode cache written next to the sources: a valid pyc for the current source
for name in ("mymod", "pkg/__init__", "pkg/sub/deep"):
    src = f"{L}/{name}.py"
    pyc = importlib.util.cache_from_source(src)
    data = open(pyc, "rb").read()
    st = os.stat(src)
    code = marshal.loads(data[16:])
    print("pyc", os.path.relpath(pyc, W), data[:4] == importlib.util.MAGIC_NUMBER,
          int.from_bytes(data[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF,
          int.from_bytes(data[12:16], "little") == st.st_size, code.co_filename)

def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    print(args, "->", r.returncode)
    print(r.stdout + r.stderr, end="")

# python -m pkg from a cwd in the prefix; scripts by absolute, relative and #! execution
env = dict(os.environ)
run([sys.executable, "-m", "pkg"], cwd=L)
run([sys.executable, "-m", "pkg.sub.deep"], cwd=L)
run([sys.executable, "-c", "import mymod, pkg; print(mymod.__file__, pkg.helper.hello())"], cwd=L)
run([sys.executable, "-c", "import mymod; print(mymod.__file__)"], env=dict(env, PYTHONPATH=L))
run([sys.executable, L + "/script.py", "arg1"])
run([sys.executable, "script.py", "arg2"], cwd=L)
run([L + "/script.py", "arg3"])
run(["./script.py", "arg4"], cwd=L)
run(["script.py", "arg5"], env=dict(env, PATH=L + ":" + env["PATH"]))
run([sys.executable, L])  # no __main__.py there: an error
run([sys.executable, L + "/pkg"])
run([sys.executable, W + "/zipped.zip"])
run([sys.executable, "-c", "import runpy; runpy.run_path('script.py')"], cwd=L)

# the .pyc files record the source path, which is $W in both runs but a different string:
# their validity was checked above; they are removed so the trees compare byte for byte.
import shutil
for root, dirs, files in os.walk(W):
    if "__pycache__" in dirs:
        shutil.rmtree(os.path.join(root, "__pycache__"))
        dirs.remove("__pycache__")
print("SCENARIO-END")
PYEOF

parity py_import '"$PY" "$T/py_import.py"'
completed py_import

# ---- venv in the prefix ------------------------------------------------------------------------
parity py_venv '
"$PY" -m venv --without-pip "$W/venv" && echo "venv created"
ls venv venv/bin | sed "s/python3\.[0-9]*/python3.X/"
grep -v -e "^version" -e "^executable" -e "^command" venv/pyvenv.cfg
grep -c "$W/venv" venv/pyvenv.cfg venv/bin/activate
readlink venv/bin/python
Q="import sys, os, sysconfig; print(sys.prefix); print(sys.exec_prefix); print(sys.base_prefix == sys.base_exec_prefix); print(sys.prefix != sys.base_prefix); print(sys.executable); print(sysconfig.get_paths()[\"purelib\"].replace(sys.version[:4], \"3.X\")); print([p.replace(sys.version[:4], \"3.X\") for p in sys.path if p.startswith(sys.prefix)])"
"$W/venv/bin/python" -c "$Q"
venv/bin/python -c "$Q"
(cd venv/bin && ./python3 -c "import sys; print(sys.prefix)")
PATH="$W/venv/bin:$PATH" python -c "import sys; print(sys.prefix, sys.executable)"
SP=$(venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()[\"purelib\"])")
echo "VENVMOD = \"in site-packages\"" > "$SP/venvmod.py"
echo "$W/extra" > "$SP/extra.pth" && mkdir -p extra && echo "E = 1" > extra/extramod.py
venv/bin/python -B -c "import venvmod, extramod; print(venvmod.VENVMOD, venvmod.__file__.replace(\"$(basename "$SP")\", \"\"), extramod.__file__)"
. venv/bin/activate && echo "VIRTUAL_ENV=$VIRTUAL_ENV" && command -v python && python -c "import sys; print(sys.prefix)" && deactivate
rm "$SP/extra.pth" "$SP/venvmod.py"
# --copies: the interpreter itself is an ELF file stored in the prefix
"$PY" -m venv --copies --without-pip venv2 && test ! -L venv2/bin/python && echo "copied interpreter"
cmp venv2/bin/python "$PY" && venv2/bin/python -c "import sys; print(sys.prefix, sys.executable, sys.prefix != sys.base_prefix)"
(cd venv2 && bin/python3 -c "import os, sys; print(sys.prefix, os.getcwd())")
# pyvenv.cfg and the activate scripts hold the absolute venv path (printed above through the
# harness, which maps both runs to $W): store it as a placeholder so the trees compare.
grep -rl "$W" venv venv2 | sort | sed "s#^#normalised: #"
grep -rl "$W" venv venv2 | xargs sed -i "s#$W#@W@#g"
echo SCENARIO-END
'
completed py_venv
