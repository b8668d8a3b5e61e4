"""Case 7 (programs): git status, find, tar and a Python import from each side."""
import os

from cases.crawl import crawl_name
from lib import proc
from lib.config import TABLE_SIDES
from lib.crawls import CRAWL_SCRIPT
from lib.proc import in_turns, median, ratio

# a repository of n files in 25 directories
GEN_REPO = r"""
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "src", "pkg%02d" % (i % 25))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "file%04d.txt" % i), "w") as f:
        f.write(("line of file %d\n" % i) * 20)
"""

# a package smbench_pkg of n modules that its __init__ imports
GEN_PY = r"""
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
pkg = os.path.join(root, "smbench_pkg")
os.makedirs(pkg, exist_ok=True)
with open(os.path.join(pkg, "__init__.py"), "w") as f:
    for i in range(n):
        f.write("from . import m%02d\n" % i)
for i in range(n):
    with open(os.path.join(pkg, "m%02d.py" % i), "w") as f:
        f.write("import os, json, re\n")
        for j in range(20):
            f.write("def f%d(x):\n    return [x * %d for _ in range(3)]\n" % (j, j))
        f.write("class C%d:\n    value = %d\n" % (i, i))
"""


def run(ctx):
    cfg, S = ctx.cfg, ctx.S
    act = ctx.act(TABLE_SIDES)
    progs = {s.name: prepare(ctx, s) for s in act}
    runs = {}
    for _, s in in_turns(act, cfg["prog_rounds"]):
        for p, argv in progs[s.name].items():
            runs.setdefault(p, {}).setdefault(s.name, []).extend(
                s.timeit(argv, cfg["prog_runs"], warm=0))
    base = "tmpfs" if "tmpfs" in progs else "disk"
    out = {"unit": "ns wall time per run (median): the whole command, and its pipeline, in "
                   "the side's environment (the preload or proot included)",
           "base": base, "repo_files": cfg["repo_files"], "py_modules": cfg["pymods"] + 1,
           "programs": {}}
    for p, by in runs.items():
        row = {}
        for n in TABLE_SIDES:
            if n not in by:
                row[n] = S[n].why()
                continue
            m = median(by[n])
            row[n] = {"median_ns": m, "ratio": ratio(m, median(by[base])), "runs": len(by[n])}
            if "disk" in by:
                row[n]["vs_disk"] = ratio(m, median(by["disk"]))
        out["programs"][p] = row
    return out


def prepare(ctx, s):
    """A side's repository, package and crawled tree (case 4's, else a crawl of its own), and
    the commands run there ({name: argv}), each run once to warm caches, __pycache__ and the
    git index."""
    cfg = ctx.cfg
    d = "%s/p-%s" % (s.dir, s.name)
    s.run(["mkdir", "-p", d])
    s.run([proc.PY, "-c", GEN_REPO, d + "/repo", str(cfg["repo_files"])])
    s.run(["sh", "-c", "cd %s/repo && git init -q && git add -A && git -c user.name=b "
                       "-c user.email=b@b commit -qm init" % d])
    s.run([proc.PY, "-c", GEN_PY, d + "/py", str(cfg["pymods"])])
    tree = "%s/%s" % (s.dir, crawl_name(s, "py", 0))
    if not os.path.isdir("%s/w/%s" % (s.backing, crawl_name(s, "py", 0))):  # no crawl case
        tree = d + "/crawl"
        s.run([proc.PY, CRAWL_SCRIPT, "--dest", tree])
    progs = {
        "git_status": ["git", "-C", d + "/repo", "status", "--porcelain"],
        "find_wc": ["sh", "-c", "find %s | wc -l" % tree],
        "tar_c": ["sh", "-c", "tar -cf - %s | wc -c" % tree],
        "py_import": [proc.PY, "-c", "import sys; sys.path.insert(0, %r); import smbench_pkg"
                      % (d + "/py")],
    }
    for argv in progs.values():
        s.run(argv)
    return progs
