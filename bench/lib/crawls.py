"""The crawl plan of tests/lib/crawl.py as cases 4 and 5 run it, and the tree check."""
import hashlib
import os
import sys

from lib import proc
from lib.config import SRC, WORKERS
from lib.fs import tree_manifest
from lib.proc import BenchError

# A crawl by tests/lib/crawl.py's threads mode (its plan, its run_threads), timed like crawl.py
# times it, and also telling the wall clock at its start, which case 4 compares with the test
# server's createdAt of the documents. Prints one JSON line.
CRAWL_PY = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import crawl
dest, files, dirs, workers = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
items = crawl.plan(files, dirs, 1)
t0_real = time.time_ns()
t0 = time.monotonic_ns()
errors = crawl.run_threads(dest, items, workers)
ns = time.monotonic_ns() - t0
for e in errors:
    print("error:", e, file=sys.stderr)
print(json.dumps({"files": len(items), "errors": len(errors), "ns": ns, "t0_real_ns": t0_real}),
      flush=True)
"""

TESTS_LIB = os.path.join(SRC, "tests", "lib")
CRAWL_SCRIPT = os.path.join(TESTS_LIB, "crawl.py")


def plan(files, dirs):
    """tests/lib/crawl.py's deterministic plan: [(path, bytes)]."""
    if TESTS_LIB not in sys.path:
        sys.path.insert(0, TESTS_LIB)
    import crawl
    return crawl.plan(files, dirs, 1)


def write_plan(path, items):
    """The plan as bench/replay reads it: one "SIZE PATH" line per file."""
    with open(path, "w") as f:
        for p, data in items:
            f.write("%d %s\n" % (len(data), p))


def crawl_py_argv(dest, files, dirs):
    """crawl.py's threads into dest, timed in-process (CRAWL_PY: one JSON line)."""
    return [proc.PY, "-c", CRAWL_PY, TESTS_LIB, dest, str(files), str(dirs), str(WORKERS)]


def check_tree(root, items, prog, who):
    """The tree crawled into root (the real directory) is the plan: crawl.py's content exactly
    (prog "python"), the replayer's paths and sizes (prog "c")."""
    ref = sorted((p, len(d), hashlib.sha256(d).hexdigest()) for p, d in items)
    got = tree_manifest(root)
    if prog == "c":
        ref, got = [x[:2] for x in ref], [x[:2] for x in got]
    if got != ref:
        raise BenchError("%s: the crawled tree differs from the plan" % who)


def replay_text(size):
    """What bench/replay writes into a file of this size."""
    return "".join("\n" if i % 64 == 63 else chr(97 + i % 26) for i in range(size))
