#!/usr/bin/env python3
"""crawl.py: replay a crawler's writes: N workers, each `mkdir -p` a directory then write one whole
file, overlapping and unawaited, like webpull does. The tree is generated deterministically (same
shape as a real 177-page documentation crawl: ~92 directories up to 6 levels, median ~7 KB).

  crawl.py --dest DIR [--workers 16] [--files 177] [--dirs 92] [--procs] [--seed 1] [--manifest]
--procs runs the workers as processes instead of threads. --manifest prints "sha256  path" of
the generated files (without writing anything), for comparisons.
"""
import argparse
import hashlib
import os
import random
import sys
import threading
import time

WORDS = ("memory context agent vector search index document container filepath sync shim cache "
         "latency crawler markdown guide api reference quickstart embedding chunk token retrieval "
         "graph user profile connector webhook sdk python typescript deploy").split()


def plan(files, dirs, seed):
    """[(relative path, bytes)] for `files` files spread over about `dirs` directories."""
    rnd = random.Random(seed)
    tops = ["docs", "blog", "api-reference", "cookbook", "integrations", "changelog"]
    dset = []
    while len(dset) < dirs:
        depth = rnd.choice([1, 2, 2, 3, 3, 3, 4, 4, 5, 6])
        parts = [rnd.choice(tops)] + ["-".join(rnd.sample(WORDS, 2)) for _ in range(depth - 1)]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dset and len(dset) < dirs:
                dset.append(d)
    out = []
    for i in range(files):
        d = dset[i % len(dset)] if i < len(dset) else rnd.choice(dset)
        name = "index.md" if i < len(dset) else "-".join(rnd.sample(WORDS, 3)) + ".md"
        path = d + "/" + name
        if any(p == path for p, _ in out):
            path = d + "/page-%d.md" % i
        size = int(min(max(rnd.lognormvariate(8.8, 0.8), 300), 80000))
        lines = ["# " + " ".join(rnd.sample(WORDS, 4)).title(), ""]
        n = len(lines[0]) + 1
        while n < size:
            line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 16))) + "."
            if rnd.random() < 0.1:
                line = "## " + line
            lines.append(line)
            n += len(line) + 1
        out.append((path, ("\n".join(lines) + "\n").encode()))
    return out


def write_one(dest, path, data, errors):
    try:
        full = os.path.join(dest, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    except OSError as e:
        errors.append("%s: %s" % (path, e))


def run_threads(dest, items, workers):
    errors, lock, it = [], threading.Lock(), iter(items)

    def worker():
        while True:
            with lock:
                nxt = next(it, None)
            if nxt is None:
                return
            write_one(dest, nxt[0], nxt[1], errors)

    ts = [threading.Thread(target=worker) for _ in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def run_procs(dest, items, workers):
    pids = []
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            errors = []
            for i in range(w, len(items), workers):
                write_one(dest, items[i][0], items[i][1], errors)
            for e in errors:
                print(e, file=sys.stderr)
            os._exit(1 if errors else 0)
        pids.append(pid)
    bad = 0
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        bad += st != 0
    return ["%d worker processes failed" % bad] if bad else []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", required=True)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--files", type=int, default=177)
    ap.add_argument("--dirs", type=int, default=92)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--procs", action="store_true")
    ap.add_argument("--manifest", action="store_true")
    a = ap.parse_args()
    items = plan(a.files, a.dirs, a.seed)
    if a.manifest:
        for p, d in sorted(items):
            print("%s  %s" % (hashlib.sha256(d).hexdigest(), p))
        return 0
    t0 = time.monotonic()
    errors = (run_procs if a.procs else run_threads)(a.dest, items, a.workers)
    dt = time.monotonic() - t0
    for e in errors:
        print("error:", e, file=sys.stderr)
    print("crawl: %d files, %d errors, %.3f s" % (len(items), len(errors), dt))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
