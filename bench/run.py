#!/usr/bin/env python3
"""run.py: the benchmark suite of issue 5 (see bench/README.md). Runs every case side by side on

  (a) tmpfs     a real directory on a tmpfs (/dev/shm, or one it mounts)
  (b) disk      a real directory on the cache's own disk
  (c) shim      the shim's prefix (/sm), its cache on that same disk
  (d) bindfs    FUSE: bindfs over a real directory on that disk, if it can run here
      proot     PRoot binding a real directory on that disk (proot -b DIR:/mnt/x), if it can run

and again with no disk in the way (shim_t, bindfs_t, proot_t: the cache, bindfs's source and
PRoot's bound directory on the tmpfs), so each layer's own cost shows. The same compiled programs
(bench/*.c) run on every side. Cases 4 (the crawl with the server at 0-1000 ms of latency) and 5
(upload drain) also start the test server (tests/server/smserver.py). Prints the tables, writes
the JSON results and, with --md, the Markdown report.

  run.py --build DIR [--work DIR] [--out FILE] [--md FILE] [--smoke] [--only CASE,...]
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
PREFIX = "/sm"
PROOT_MNT = "/mnt/x"
SRV_KEY = "bench-key-0123456789"
R_LIST, R_CREATE = "POST /v3/documents/list", "POST /v3/documents"  # the test server's stats keys
IN_FLIGHT = 8  # the sync engine's uploads in flight per cache (hydrate/engine.c, SMH_WORKERS)
SAME = 1.2     # "the same crawl time at 1000 ms as at 0 ms": within this ratio (run-to-run noise)
CASES = ["micro", "passthrough", "process_start", "crawl", "upload_drain", "scale", "programs",
         "instructions", "raw_syscall"]
MICRO_OPS = ["stat", "lstat", "stat_missing", "access", "open_read", "readdir", "create_write",
             "mkdir", "rmdir"]
OPS_A = MICRO_OPS[:7]  # everything that deletes nothing
OP_LABEL = {
    "stat": "stat (hot)", "lstat": "lstat (hot)", "stat_missing": "stat, missing name",
    "access": "access", "open_read": "open+read 4 KiB+close", "readdir": "readdir, 1000 entries",
    "create_write": "create+write 4 KiB+close", "mkdir": "mkdir", "rmdir": "rmdir",
}
DISK_SET = ["tmpfs", "disk", "shim", "bindfs", "proot"]
TMPFS_SET = ["tmpfs", "shim_t", "bindfs_t", "proot_t"]
LABEL = {"tmpfs": "tmpfs (a)", "disk": "disk (b)", "shim": "smshim (c)", "bindfs": "bindfs (FUSE)",
         "proot": "PRoot", "shim_t": "smshim", "bindfs_t": "bindfs (FUSE)", "proot_t": "PRoot",
         "pass_off": "disk, no shim", "pass": "disk, shim loaded",
         "pass_guard": "disk, shim loaded, LMDB open"}

# sizes: the full run takes about nine minutes on 2 cores (three of them waiting on the test
# server's latency in cases 4 and 5); the smoke run about ten seconds
FULL = dict(rounds=3, budget=0.25, pass_rounds=4, start_runs=240, start_rounds=6,
            first_runs=15, crawl_rounds=5, scale=[1000, 10000, 100000], scale_1m=1000000,
            scale_rounds=3, prog_rounds=4, prog_runs=2, repo_files=1000, pymods=40,
            cg_n=(2000, 22000), d_entries=1000, proot_start_runs=20,
            srv_files=177, srv_dirs=92, srv_latencies=[0, 200, 1000], srv_rounds=9,
            srv_drain_rounds=1, srv_exit_drain=True,
            drain_files=200, drain_latencies=[0, 50, 200], drain_rounds=2, drain_procs=4,
            drain_stock=[50, 200], raw_max=500000, raw_bun_rounds=9, raw_bun_files=177,
            raw_bun_dirs=92)
SMOKE = dict(rounds=1, budget=0.005, pass_rounds=1, start_runs=4, start_rounds=1,
             first_runs=1, crawl_rounds=1, scale=[100, 300], scale_1m=None,
             scale_rounds=1, prog_rounds=1, prog_runs=1, repo_files=20, pymods=3,
             cg_n=(10, 60), d_entries=50, proot_start_runs=1,
             srv_files=20, srv_dirs=10, srv_latencies=[0, 50], srv_rounds=1,
             srv_drain_rounds=1, srv_exit_drain=True,
             drain_files=20, drain_latencies=[0, 50], drain_rounds=1, drain_procs=2,
             drain_stock=[], raw_max=2000, raw_bun_rounds=1, raw_bun_files=20,
             raw_bun_dirs=10)

BASE_ENV, PRELOAD, PY, BIN, SMSHIM = {}, None, None, {}, None
SERVERS = []  # test servers running (stopped at the end, or on a signal)


class BenchError(Exception):
    pass


def log(*a):
    print(*a, flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns < 1e3:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.2f us" % (ns / 1e3) if ns < 1e4 else "%.0f us" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6) if ns < 1e7 else "%.0f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


def fmt_x(r):
    if r is None:
        return "-"
    return "%.2fx" % r if r < 10 else "%.0fx" % r


def sh(argv, env=None, timeout=600, check=True):
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise BenchError("%s exited %d: %s" % (" ".join(argv[:6]), p.returncode,
                                               p.stderr.strip()[-600:]))
    return p


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError("no JSON in output: %r" % text[-300:])


def mount_of(path):
    """(mount point, fs type, source) of the file system holding path."""
    path = os.path.realpath(path)
    best, blen = ("/", "?", "?"), -1
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            mp = parts[4].replace("\\040", " ")
            sep = parts.index("-")
            if path == mp or path.startswith(mp.rstrip("/") + "/") or mp == "/":
                if len(mp) >= blen:
                    best, blen = (mp, parts[sep + 1], parts[sep + 2]), len(mp)
    return best


def ext4_without_journal(path):
    """ext4 with no journal skips recently freed inodes (60-300 s) on every allocation."""
    mp, fstype, dev = mount_of(path)
    if fstype != "ext4":
        return False
    try:
        jb = os.listdir("/proc/fs/jbd2")
    except OSError:
        return False
    return not any(j.startswith(os.path.basename(dev) + "-") for j in jb)


def inodes_used(path):
    st = os.statvfs(path)
    return st.f_files - st.f_ffree


def remove_tree(paths, stamp):
    """rm -rf, then note when and about how many inodes were freed (see the warning in main)."""
    paths = [p for p in paths if os.path.lexists(p)]
    if not paths:
        return
    probe = os.path.dirname(stamp)
    before = inodes_used(probe)
    sh(["rm", "-rf"] + paths, check=False, timeout=1800)
    freed = max(0, before - inodes_used(probe))
    with open(stamp, "w") as f:
        f.write("%f %d\n" % (time.time(), freed))


def dir_bytes(path):
    """Allocated bytes (st_blocks) of everything below path, and the number of inodes."""
    total = inodes = 0
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            try:
                st = os.lstat(os.path.join(root, n))
            except OSError:
                continue
            total += st.st_blocks * 512
            inodes += 1
    return total, inodes


def rotate(xs, r):
    if not xs:
        return xs
    r %= len(xs)
    return xs[r:] + xs[:r]


# ---- the sides --------------------------------------------------------------------------------

class Side:
    """A place the same programs run against: a directory as the programs name it, the real
    directory behind it, the environment (the preload) and a command wrapper (proot)."""

    def __init__(self, name, dir, backing, env=None, wrap=None, note=""):
        self.name, self.dir, self.backing = name, dir, backing
        self.extra = env or {}
        self.wrap = wrap or []
        self.note = note
        self.status, self.reason = "ok", None

    def ok(self):
        return self.status == "ok"

    def env(self):
        e = dict(BASE_ENV)
        e.update(self.extra)
        return e

    def run(self, argv, timeout=900):
        return sh(self.wrap + argv, env=self.env(), timeout=timeout).stdout

    def json(self, argv, timeout=900):
        return last_json(self.run(argv, timeout))

    def timeit(self, argv, n, warm=1, timeout=900):
        """Wall times (ns) of n runs of argv; the preload goes to the children only."""
        sets = []
        for k, v in sorted(self.extra.items()):
            sets += ["-e", "%s=%s" % (k, v)]
        out = sh(self.wrap + [BIN["timeit"]] + sets + ["-w", str(warm), str(n)] + argv,
                 env=dict(BASE_ENV), timeout=timeout).stdout
        return last_json(out)["runs_ns"]

    def info(self):
        d = {"status": self.status}
        if self.reason:
            d["reason"] = self.reason
        if self.ok() and self.backing:
            mp, fstype, src = mount_of(self.backing)
            d.update(dir=self.dir, backing=self.backing, fs=fstype, device=src)
            if self.dir and self.dir.startswith("/") and os.path.exists(os.path.dirname(self.dir)):
                d["fs_seen"] = mount_of(os.path.dirname(self.dir))[1]
            if self.note:
                d["note"] = self.note
        return d


def shim_env(cache):
    return {"LD_PRELOAD": PRELOAD, "SMSHIM_CACHE": cache, "SMSHIM_PREFIX": PREFIX}


def find_tmpfs(W, mounts, made, may_mount):
    tag = hashlib.sha256(W.encode()).hexdigest()[:8]  # one per work directory
    for cand in ["/dev/shm", "/run/shm", "/tmp", "/run/user/%d" % os.getuid()]:
        if os.path.isdir(cand) and os.access(cand, os.W_OK) and mount_of(cand)[1] == "tmpfs":
            return (os.path.join(cand, "smshim-bench-%d-%s" % (os.getuid(), tag)),
                    "the tmpfs at " + cand)
    if may_mount and os.getuid() == 0 and shutil.which("mount"):
        mp = W + "-tmpfs"
        os.makedirs(mp, exist_ok=True)
        made.append(mp)
        if sh(["mount", "-t", "tmpfs", "-o", "size=4g", "tmpfs", mp], check=False).returncode == 0:
            mounts.append(mp)
            return mp + "/t", "a tmpfs the bench mounted at " + mp
    return None, "no writable tmpfs found and none could be mounted"


def make_sides(W, T, tnote, smoke, mounts, made):
    """Every disk-backed side works in one and the same real directory, the cache's own tree
    (<cache>/tree/w): the shim through /sm/w, the disk side directly, bindfs over it, PRoot
    binding it. Only the access layer differs, never the directory: on ext4 without a journal a
    create's cost depends on the block group its directory landed in (recently freed inodes are
    skipped one by one), and two fresh directories can differ twentyfold. Names that sides
    create carry the side's tag, so they never collide. The same holds for the tmpfs-backed set.
    Where it can (root, not the smoke run) the disk side reaches the tree through a bind mount at
    a path as deep as the tmpfs side's, so neither walks more components."""
    S = {}
    tree = W + "/cache/tree"
    os.makedirs(tree)
    disk_dir, disk_note = tree, "the cache's own tree, without the shim"
    if not smoke and T and os.getuid() == 0 and shutil.which("mount"):
        mp = T + "-disk"
        os.makedirs(mp)
        made.append(mp)
        if sh(["mount", "--bind", tree, mp], check=False).returncode == 0:
            mounts.append(mp)
            disk_dir = mp
            disk_note += ", bind-mounted at %s (as deep as the tmpfs side)" % mp
    if T:
        S["tmpfs"] = Side("tmpfs", T + "/w", T, note=tnote)
    else:
        S["tmpfs"] = Side("tmpfs", None, None)
        S["tmpfs"].status, S["tmpfs"].reason = "skipped", tnote
    S["disk"] = Side("disk", disk_dir + "/w", tree, note=disk_note)
    S["shim"] = Side("shim", PREFIX + "/w", tree, env=shim_env(W + "/cache"),
                     note="cache %s/cache" % W)
    S["bindfs"] = setup_bindfs("bindfs", tree, (T + "-fuse") if T else W + "/fuse", smoke,
                               mounts, made)
    S["proot"] = setup_proot("proot", tree, smoke)
    if T:
        ttree = T + "/cache/tree"
        os.makedirs(ttree)
        S["shim_t"] = Side("shim_t", PREFIX + "/w", ttree, env=shim_env(T + "/cache"),
                           note="cache %s/cache" % T)
        S["bindfs_t"] = setup_bindfs("bindfs_t", ttree, T + "-fuset", smoke, mounts, made)
        S["proot_t"] = setup_proot("proot_t", ttree, smoke)
    else:
        for n in ("shim_t", "bindfs_t", "proot_t"):
            S[n] = Side(n, None, None)
            S[n].status, S[n].reason = "skipped", tnote
    # pass-through: one real directory outside the prefix, run without the shim, with it, and
    # with it after a write under the prefix (so the process's LMDB environment is open)
    pas = W + "/dpas"
    S["pass_off"] = Side("pass_off", pas + "/w", pas, note="no shim")
    S["pass"] = Side("pass", pas + "/w", pas, env=shim_env(W + "/cache"),
                     note="shim loaded, paths outside the prefix")
    S["pass_guard"] = Side("pass_guard", pas + "/w", pas, env=shim_env(W + "/cache"),
                           note="shim loaded and its LMDB environment open")
    return S


def setup_bindfs(name, src, mnt, smoke, mounts, made):
    s = Side(name, mnt + "/w", src, note="bindfs %s %s (default FUSE options)" % (src, mnt))
    reason = None
    if smoke:
        reason = "smoke run"
    elif not shutil.which("bindfs"):
        reason = "bindfs is not installed (apt-get install bindfs fuse3 failed or was not run)"
    elif not os.path.exists("/dev/fuse"):
        reason = "no /dev/fuse on this machine"
    else:
        os.makedirs(src, exist_ok=True)
        os.makedirs(mnt, exist_ok=True)
        made.append(mnt)
        p = sh(["bindfs", src, mnt], check=False, timeout=30)
        if p.returncode != 0:
            reason = "bindfs could not mount: " + (p.stderr.strip() or "exit %d" % p.returncode)
        elif not mount_of(mnt)[1].startswith("fuse"):
            reason = "bindfs exited 0 but %s is not a FUSE mount" % mnt
        else:
            mounts.append(mnt)
    if reason:
        s.status, s.reason = "skipped", reason
    return s


def setup_proot(name, src, smoke):
    s = Side(name, PROOT_MNT + "/w", src, wrap=["proot", "-b", "%s:%s" % (src, PROOT_MNT)],
             note="proot -b %s:%s" % (src, PROOT_MNT))
    reason = None
    if smoke:
        reason = "smoke run"
    elif not shutil.which("proot"):
        reason = "proot is not installed (apt-get install proot failed or was not run)"
    else:
        os.makedirs(src, exist_ok=True)
        p = sh(["proot", "-b", "%s:%s" % (src, PROOT_MNT), "/bin/true"], check=False, timeout=60)
        if p.returncode != 0:
            reason = "proot cannot run here: " + (p.stderr.strip()[-300:] or
                                                  "exit %d" % p.returncode)
    if reason:
        s.status, s.reason = "skipped", reason
    return s


# ---- the test server (cases 4 and 5) ----------------------------------------------------------

# tests/server/smserver.py as shipped answers with two writes (headers, then body) on a socket
# with Nagle's algorithm on (socketserver's default): the body waits for the ACK of the headers,
# which the client delays, so every request costs about 40 ms more than the latency asked for
# (sequential requests at 0 ms: 44 ms each; with TCP_NODELAY: 0.4 ms). An API server does not
# stall like that, so the bench runs the unmodified server with TCP_NODELAY on its sockets, and
# reports the drain against the server as shipped ("stock") beside it.
SRV_NODELAY = r"""
import runpy, socketserver, sys
socketserver.StreamRequestHandler.disable_nagle_algorithm = True
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

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

_NOPROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def crawl_lib():
    """tests/lib/crawl.py: the deterministic crawl plan."""
    d = os.path.join(SRC, "tests", "lib")
    if d not in sys.path:
        sys.path.insert(0, d)
    import crawl
    return crawl


def iso_ms(s):
    """The test server's '2026-11-25T21:28:27.592Z' -> epoch milliseconds."""
    dt = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return int(round(dt.timestamp() * 1000))


def tail(path, n=400):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:].strip()
    except OSError:
        return ""


class TestServer:
    """tests/server/smserver.py on a free loopback port; its latency is set per measurement
    (POST /_admin/reset, then /_admin/config), so one process serves a whole case."""

    def __init__(self, W, name, nodelay=True):
        self.name, self.nodelay = name, nodelay
        pf, self.log = "%s/%s.port" % (W, name), "%s/%s.log" % (W, name)
        argv = [PY] + (["-c", SRV_NODELAY] if nodelay else []) + [
            os.path.join(SRC, "tests", "server", "smserver.py"), "--port-file", pf,
            "--key", SRV_KEY]
        with open(self.log, "w") as lf:
            self.p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT,
                                      env=dict(BASE_ENV), start_new_session=True)
        SERVERS.append(self)
        deadline = time.time() + 20
        while not os.path.exists(pf):  # written atomically once listening
            if self.p.poll() is not None or time.time() > deadline:
                self.stop()
                raise BenchError("the test server did not start: %s" % tail(self.log))
            time.sleep(0.02)
        with open(pf) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def admin(self, path, body=None):
        req = urllib.request.Request(self.url + path, method="GET" if body is None else "POST",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with _NOPROXY.open(req, timeout=60) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def reset(self, latency_ms):
        """No documents, counters at zero, the given latency on every /v3 request."""
        self.admin("/_admin/reset", {})
        self.admin("/_admin/config", {"latency_ms": latency_ms})

    def stats(self):
        return self.admin("/_admin/stats")

    def docs(self, tag):
        return [d for d in self.admin("/_admin/documents")["documents"]
                if tag in (d.get("containerTags") or [])]

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self in SERVERS:
            SERVERS.remove(self)


def stop_servers():
    for s in list(SERVERS):
        s.stop()


def sync_env(cache, srv, tag, preload=False):
    """A process of the cache with the API key: the shim (preload) or `smshim sync`."""
    e = dict(BASE_ENV)
    e.update(SMSHIM_CACHE=cache, SMSHIM_PREFIX=PREFIX, SUPERMEMORY_API_KEY=SRV_KEY,
             SUPERMEMORY_BASE_URL=srv.url, SMSHIM_TAG=tag, SMSHIM_SYNC_TIMEOUT="900")
    if preload:
        e["LD_PRELOAD"] = PRELOAD
    if any(k.lower().endswith("_proxy") for k in e):
        e["no_proxy"] = e["NO_PROXY"] = "127.0.0.1"
    return e


def strip1(s):
    return s[:-1] if s.endswith("\n") else s


def check_docs(docs, want, what):
    """The server holds exactly one document per planned file ({filepath: text}), with its
    content (modulo the one trailing newline the service strips)."""
    have = {}
    for d in docs:
        have.setdefault(d.get("filepath"), []).append(d)
    bad = [fp for fp, ds in have.items() if len(ds) > 1 or fp not in want]
    bad += [fp for fp in want if fp not in have]
    bad += [fp for fp, text in want.items() if fp in have and text is not None and
            strip1(have[fp][0].get("content") or "") != strip1(text)]
    if bad:
        raise BenchError("%s: the server holds %d documents for %d files (%d wrong, e.g. %s)" % (
            what, len(docs), len(want), len(bad), sorted(bad)[:3]))


def replay_text(size):
    """What bench/replay writes into a file of this size."""
    return "".join("\n" if i % 64 == 63 else chr(97 + i % 26) for i in range(size))


def raw_skip_reason():
    """Why case 9 cannot run here (None if it can): SUD is x86_64 only, needs a kernel that lets
    a process arm it, and is not measured under a sanitizer's runtime (TSan defers signals, and a
    sanitizer's interceptors would be timed, not the shim)."""
    if platform.machine() != "x86_64":
        return "Syscall User Dispatch is implemented for x86_64 only"
    san = os.environ.get("SMSHIM_SAN") or next(
        (p for p in PRELOAD.split(":") if re.search(r"lib[a-z]*san\.so", os.path.basename(p))), None)
    if san:
        return "sanitizer build (%s): not measured" % os.path.basename(san)
    p = sh([BIN["rawsys"], "probe"], env=dict(BASE_ENV), check=False)
    if p.returncode != 0:
        return "Syscall User Dispatch unavailable here: %s" % (p.stdout + p.stderr).strip()
    return None


# ---- the runner -----------------------------------------------------------------------------

class Bench:
    def __init__(self, cfg, W, S, smoke):
        self.cfg, self.W, self.S, self.smoke = cfg, W, S, smoke
        self.store = {}  # micro: side -> [ops of one run]
        self.R = {}      # case -> result
        self.srv = None  # the test server of cases 4 and 5
        self._sync_why = None

    def act(self, names):
        return [self.S[n] for n in names if n in self.S and self.S[n].ok()]

    def micro_rounds(self, sides, rounds, ops, extra=()):
        for r in range(rounds):
            for s in rotate(sides, r):
                out = s.json([BIN["micro"], "run", s.dir, "-t", str(self.cfg["budget"]),
                              "-x", s.name, "-o", ",".join(ops)] + list(extra))
                self.store.setdefault(s.name, []).append(out["ops"])

    # ---- case 1 and 2 -------------------------------------------------------------------------

    MICRO_SIDES = DISK_SET + ["shim_t", "bindfs_t", "proot_t", "pass_off", "pass", "pass_guard"]

    def micro_setup(self):
        """One fixture per real directory, made through the shim where the shim is a side."""
        done = set()
        for s in self.act(["shim", "shim_t"] + self.MICRO_SIDES):
            if s.backing not in done:
                s.run([BIN["micro"], "setup", s.dir, "-n", str(self.cfg["d_entries"])])
                done.add(s.backing)

    def micro_a(self):
        """Every call that deletes nothing, all sides, rounds in rotating order."""
        prime = ["-p", PREFIX + "/prime-%d.md" % os.getpid()]
        sides = self.act(DISK_SET + ["shim_t", "bindfs_t", "proot_t", "pass_off", "pass"])
        self.micro_rounds(sides, self.cfg["rounds"], OPS_A)
        # more rounds of the pass-through pair alone: its target is a 3% difference
        pair = self.act(["pass_off", "pass"])
        self.micro_rounds(pair, self.cfg["pass_rounds"], OPS_A)
        self.micro_rounds(self.act(["pass_guard"]), self.cfg["pass_rounds"], OPS_A, prime)

    def micro_mkdir(self):
        prime = ["-p", PREFIX + "/prime-%d.md" % os.getpid()]
        self.micro_rounds(self.act(self.MICRO_SIDES[:-1]), self.cfg["rounds"], ["mkdir"])
        self.micro_rounds(self.act(["pass_guard"]), self.cfg["rounds"], ["mkdir"], prime)

    def micro_rmdir(self):
        """Last: rmdir frees inodes, and every create after it would pay for them."""
        self.micro_rounds(self.act(self.MICRO_SIDES), self.cfg["rounds"], ["rmdir"])

    def aggregate(self, name):
        """{op: {p50_ns, p99_ns, ...}}: medians over the runs of each run's p50 and p99."""
        res = {}
        for op in MICRO_OPS:
            rs = [r[op] for r in self.store.get(name, []) if op in r and r[op]["n"] > 0]
            if rs:
                res[op] = {"p50_ns": median([x["p50"] for x in rs]),
                           "p99_ns": median([x["p99"] for x in rs]),
                           "calls": sum(x["n"] for x in rs), "runs": len(rs)}
        return res

    def micro_result(self):
        S = self.S
        base = "tmpfs" if S["tmpfs"].ok() else "disk"
        names = DISK_SET + ["shim_t", "bindfs_t", "proot_t"]
        agg = {n: self.aggregate(n) for n in names}
        out = {"base": base, "unit": "ns per call: median over runs of each run's p50 and p99; "
                                     "ratio_* = this side / the base side",
               "sides": {n: S[n].info() for n in names}, "ops": {}}
        for op in MICRO_OPS:
            row = {}
            for n in names:
                if op not in agg[n]:
                    row[n] = None if S[n].ok() else {"status": S[n].status, "reason": S[n].reason}
                    continue
                a = dict(agg[n][op])
                if op in agg[base]:
                    a["ratio_p50"] = ratio(a["p50_ns"], agg[base][op]["p50_ns"])
                    a["ratio_p99"] = ratio(a["p99_ns"], agg[base][op]["p99_ns"])
                row[n] = a
            for n, ref in (("shim", "disk"), ("bindfs", "disk"), ("proot", "disk")):
                if op in agg[n] and op in agg[ref]:
                    row["%s_vs_%s_p50" % (n, ref)] = ratio(agg[n][op]["p50_ns"],
                                                           agg[ref][op]["p50_ns"])
            out["ops"][op] = row
        return out

    def passthrough_result(self):
        a, b, g = (self.aggregate(n) for n in ("pass_off", "pass", "pass_guard"))
        out = {"unit": "ns per call in one real directory on the disk, outside the prefix: "
                       "no_shim, shim (loaded), shim_lmdb_open (the process first wrote under the "
                       "prefix, so its LMDB environment is open)",
               "dir": self.S["pass"].dir, "ops": {}}
        for op in MICRO_OPS:
            if op in a and op in b:
                out["ops"][op] = {
                    "no_shim": a[op], "shim": b[op], "shim_lmdb_open": g.get(op),
                    "ratio_p50": ratio(b[op]["p50_ns"], a[op]["p50_ns"]),
                    "ratio_p99": ratio(b[op]["p99_ns"], a[op]["p99_ns"]),
                    "ratio_p50_lmdb_open": ratio(g[op]["p50_ns"], a[op]["p50_ns"]) if op in g
                    else None}
        return out

    # ---- case 3 -----------------------------------------------------------------------------

    def process_start(self):
        cfg, S = self.cfg, self.S
        plain = Side("none", None, None)
        shim = S["shim"]
        per = max(1, cfg["start_runs"] // cfg["start_rounds"])
        runs = {"none": [], "shim": []}
        for r in range(cfg["start_rounds"]):
            for s in rotate([plain, shim], r):
                runs["none" if s is plain else "shim"] += s.timeit(["/bin/true"], per, warm=3)
        out = {"unit": "ns wall time of posix_spawn + waitpid of /bin/true (median)",
               "true_no_shim_ns": median(runs["none"]), "true_shim_ns": median(runs["shim"]),
               "runs": len(runs["none"])}
        out["ratio"] = ratio(out["true_shim_ns"], out["true_no_shim_ns"])
        pr = S["proot"]
        if pr.ok():
            t = plain.timeit(pr.wrap + ["/bin/true"], cfg["proot_start_runs"], warm=1)
            out["true_proot_ns"] = median(t)
            out["ratio_proot"] = ratio(out["true_proot_ns"], out["true_no_shim_ns"])
        else:
            out["true_proot"] = {"status": pr.status, "reason": pr.reason}
        # a fresh process's first calls: under the shim the first call under the prefix opens the
        # tree, the first create also opens the LMDB environment
        first = {}
        for s in self.act(["tmpfs", "disk", "shim", "shim_t"]):
            if not os.path.exists(s.backing + "/w/f4k"):
                s.run([BIN["micro"], "setup", s.dir, "-n", "0"])
            rs = [s.json([BIN["micro"], "first", s.dir]) for _ in range(cfg["first_runs"])]
            first[s.name] = {k: median([x[k] for x in rs]) for k in rs[0]}
        out["first_call_ns"] = first
        return out

    # ---- case 9 -------------------------------------------------------------------------------

    def raw_syscall(self):
        """Calls made as raw `syscall` instructions (as Bun makes its opens and stats), which the
        shim sees only through Syscall User Dispatch: the cost of one trapped call (bench/rawsys:
        a raw getppid without the shim, with it loaded and SUD off, with SUD armed; a raw
        newfstatat of a real file without the shim and of one under the prefix with SUD), then
        Bun's crawl replay (tests/lib/crawl.js) into the prefix vs into a real directory."""
        cfg, S = self.cfg, self.S
        why = raw_skip_reason()
        if why:
            return {"status": "skipped", "reason": why}
        disk, shim = S["disk"], S["shim"]
        base = Side("raw_none", disk.dir + "/raw9-none", disk.backing)
        off = Side("raw_sud_off", shim.dir + "/raw9-shim", shim.backing,
                   env=dict(shim.extra, SMSHIM_SUD="0"))
        on = Side("raw_sud_on", shim.dir + "/raw9-shim", shim.backing,
                  env=dict(shim.extra, SMSHIM_SUD="1"))
        base.run(["mkdir", "-p", base.dir])
        on.run(["mkdir", "-p", on.dir])  # through the shim: the prefix's tree knows it
        base.run([BIN["rawsys"], "setup", base.dir])
        on.run([BIN["rawsys"], "setup", on.dir])
        # no shim: both calls on a real directory; SUD off: getppid only (an untrapped raw call
        # never reaches the shim, so a path under the prefix would not exist); SUD on: both
        ops = {base.name: "getppid,fstatat", off.name: "getppid", on.name: "getppid,fstatat"}
        runs = {}
        for r in range(cfg["rounds"]):
            for s in rotate([base, off, on], r):
                out = s.json([BIN["rawsys"], "run", s.dir, "-t", str(cfg["budget"]),
                              "-m", str(cfg["raw_max"]), "-o", ops[s.name]])
                runs.setdefault(s.name, []).append(out["ops"])

        def agg(name, op):
            rs = [x[op] for x in runs[name] if op in x and x[op]["n"] > 0]
            return {"p50_ns": median([x["p50"] for x in rs]),
                    "p99_ns": median([x["p99"] for x in rs]),
                    "calls": sum(x["n"] for x in rs), "runs": len(rs)}

        gp = {"no_shim": agg(base.name, "getppid"), "shim_sud_off": agg(off.name, "getppid"),
              "shim_sud_on": agg(on.name, "getppid")}
        for k in ("shim_sud_off", "shim_sud_on"):
            gp[k]["ratio_p50"] = ratio(gp[k]["p50_ns"], gp["no_shim"]["p50_ns"])
            gp[k]["ratio_p99"] = ratio(gp[k]["p99_ns"], gp["no_shim"]["p99_ns"])
        gp["trap_cost_ns"] = gp["shim_sud_on"]["p50_ns"] - gp["no_shim"]["p50_ns"]
        fs = {"real_no_shim": agg(base.name, "fstatat"), "prefix_sud": agg(on.name, "fstatat")}
        fs["ratio_p50"] = ratio(fs["prefix_sud"]["p50_ns"], fs["real_no_shim"]["p50_ns"])
        fs["ratio_p99"] = ratio(fs["prefix_sud"]["p99_ns"], fs["real_no_shim"]["p99_ns"])
        out = {"unit": "ns per call: median over runs of each run's p50 and p99; ratio_* = this / "
                       "no_shim (the same raw call without the shim)",
               "program": "bench/rawsys (inline-asm `syscall`, x86_64)",
               "getppid": gp,
               "newfstatat": dict(fs, paths={"real_no_shim": base.dir + "/f4k",
                                             "prefix_sud": on.dir + "/f4k"}),
               "rounds": cfg["rounds"]}
        out["bun_crawl"] = self.raw_bun_crawl(disk, shim)
        return out

    def raw_bun_crawl(self, disk, shim):
        """Bun's crawl replay (as tests/integ/sud_bun_crawl.sh runs it) into the prefix, the shim
        preloaded and SUD armed automatically for Bun, vs into a real directory on the same disk
        without the shim; rounds in rotating order, every crawl into a fresh directory."""
        cfg = self.cfg
        bun = os.path.join(SRC, "build", "bun", "bin", "bun")
        if not os.access(bun, os.X_OK):
            return {"status": "skipped", "reason": "Bun is not installed (make deps fetches it "
                                                   "with npm): %s" % bun}
        p = sh([bun, "--version"], env=dict(BASE_ENV), check=False)
        if p.returncode != 0:
            return {"status": "skipped", "reason": "build/bun/bin/bun does not run here: %s"
                    % (p.stderr or p.stdout).strip()[-200:]}
        js = os.path.join(SRC, "tests", "lib", "crawl.js")
        nf, nd = cfg["raw_bun_files"], cfg["raw_bun_dirs"]
        args = ["--files", str(nf), "--dirs", str(nd)]
        wall, own = {"disk": [], "shim": []}, {"disk": [], "shim": []}
        for r in range(cfg["raw_bun_rounds"]):
            for s in rotate([disk, shim], r):
                dest = "%s/bun-%s-%d" % (s.dir, s.name, r)
                t0 = time.monotonic_ns()
                p = sh([bun, js, "--dest", dest] + args, env=s.env(), check=False)
                dt = time.monotonic_ns() - t0
                m = re.search(r"crawl: (\d+) files in (\d+) directories, (\d+) errors, ([\d.]+) s",
                              p.stdout)
                if p.returncode != 0 or not m or m.group(3) != "0" or int(m.group(1)) != nf:
                    raise BenchError("%s: bun crawl.js exited %d: %s" % (
                        s.name, p.returncode, (p.stdout + p.stderr).strip()[-400:]))
                wall[s.name].append(dt)
                own[s.name].append(float(m.group(4)) * 1e9)
        a = tree_manifest("%s/w/bun-disk-0" % disk.backing)
        b = tree_manifest("%s/w/bun-shim-0" % shim.backing)
        if a != b or len(a) != nf:
            raise BenchError("bun crawl: the tree under the prefix differs from the real one")
        out = {"status": "ok",
               "unit": "ns, median over rounds: wall_ns = the bun process from spawn to exit "
                       "(start-up, and under the shim arming SUD, included); crawl_ns = "
                       "crawl.js's own timer (the 16 workers only)",
               "command": "bun tests/lib/crawl.js --dest DIR " + " ".join(args),
               "files": nf, "rounds": cfg["raw_bun_rounds"], "trees_checked": True,
               "disk_dir": disk.dir, "shim_dir": shim.dir}
        for n in ("disk", "shim"):
            out[n] = {"wall_ns": median(wall[n]), "crawl_ns": median(own[n])}
        out["ratio_wall"] = ratio(out["shim"]["wall_ns"], out["disk"]["wall_ns"])
        out["ratio_crawl"] = ratio(out["shim"]["crawl_ns"], out["disk"]["crawl_ns"])
        return out

    # ---- case 4 -------------------------------------------------------------------------------

    def crawl(self):
        cfg, S, W = self.cfg, self.S, self.W
        names = DISK_SET + ["shim_t", "bindfs_t", "proot_t"]
        act = self.act(names)
        plan = W + "/crawl-plan.txt"
        items = crawl_lib().plan(177, 92, 1)  # tests/lib/crawl.py: the deterministic plan
        with open(plan, "w") as f:
            for p, data in items:
                f.write("%d %s\n" % (len(data), p))
        crawl_py = os.path.join(SRC, "tests", "lib", "crawl.py")
        py, pyw, cc = ({s.name: [] for s in act} for _ in range(3))
        for r in range(cfg["crawl_rounds"]):
            for s in rotate(act, r):
                t0 = time.perf_counter()
                text = s.run([PY, crawl_py, "--dest", "%s/crawl-%s-py-%d" % (s.dir, s.name, r),
                              "--workers", "16", "--files", "177", "--dirs", "92"])
                pyw[s.name].append((time.perf_counter() - t0) * 1e9)
                m = re.search(r"crawl: (\d+) files, (\d+) errors, ([\d.]+) s", text)
                if not m or m.group(2) != "0":
                    raise BenchError("%s: crawl.py: %s" % (s.name, text.strip()[-300:]))
                py[s.name].append(float(m.group(3)) * 1e9)
                o = s.json([BIN["replay"], plan, "%s/crawl-%s-c-%d" % (s.dir, s.name, r), "16"])
                cc[s.name].append(o["secs"] * 1e9)
        # every side must have written the planned tree (read back from the real directory):
        # crawl.py's content exactly, the replayer's paths and sizes
        ref = sorted((p, len(d), hashlib.sha256(d).hexdigest()) for p, d in items)
        for s in act:
            got = tree_manifest("%s/w/crawl-%s-py-0" % (s.backing, s.name))
            gotc = [x[:2] for x in tree_manifest("%s/w/crawl-%s-c-0" % (s.backing, s.name))]
            if got != ref or gotc != [x[:2] for x in ref]:
                raise BenchError("%s: the crawled tree differs from the plan" % s.name)
        base = "tmpfs" if "tmpfs" in py else "disk"
        out = {"unit": "ns wall time of the 16 workers, median over rounds; python: crawl.py's own "
                       "timer (threads), python_process: the whole interpreter run, c: "
                       "bench/replay (pthreads)",
               "files": len(items), "dirs": 92, "workers": 16, "rounds": cfg["crawl_rounds"],
               "trees_checked": True, "base": base, "sides": {},
               "server_latency": {"status": "skipped", "reason": "not run"},
               "last_upload": {"status": "skipped", "reason": "not run"}}
        for n in names:
            if n not in py:
                out["sides"][n] = {"status": S[n].status, "reason": S[n].reason}
                continue
            d = {"python_ns": median(py[n]), "python_process_ns": median(pyw[n]),
                 "c_ns": median(cc[n])}
            d["ratio_python"] = ratio(d["python_ns"], median(py[base]))
            d["ratio_c"] = ratio(d["c_ns"], median(cc[base]))
            if "disk" in py:
                d["python_vs_disk"] = ratio(d["python_ns"], median(py["disk"]))
                d["c_vs_disk"] = ratio(d["c_ns"], median(cc["disk"]))
            out["sides"][n] = d
        return out

    # ---- case 4 with the test server, and case 5 -------------------------------------------------

    def sync_ready(self):
        """None when the shim can push to the test server here, else the reason (both cases are
        then skipped with it): one file queued in local-only mode, then `smshim sync`."""
        if self._sync_why is None:
            why = ""
            try:
                if not os.path.exists(SMSHIM):
                    why = "%s is missing (make all)" % SMSHIM
                elif os.environ.get("SMSHIM_SAN") == "thread":
                    # the sync thread loads libcurl, whose own libraries (p11-kit) are not
                    # instrumented: TSan reports races there and exits 66; the sync tests
                    # cover the engine under TSan
                    why = "ThreadSanitizer build (races reported in libcurl's libraries)"
                else:
                    srv = self.server()
                    cache = self.W + "/srv-probe"
                    env = dict(BASE_ENV)
                    env.update(shim_env(cache))
                    sh(["sh", "-c", "mkdir -p %s/probe && echo probe > %s/probe/p.md"
                        % (PREFIX, PREFIX)], env=env)
                    srv.reset(0)
                    p = sh([SMSHIM, "sync"], env=sync_env(cache, srv, "bench-probe"),
                           check=False, timeout=120)
                    if p.returncode != 0 or len(srv.docs("bench-probe")) != 1:
                        why = "smshim sync cannot push to the test server here: %s" % (
                            p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
            except (BenchError, OSError, ValueError) as e:
                why = "the test server cannot run here: %s" % e
            self._sync_why = why
        return self._sync_why or None

    def server(self):
        """The test server of cases 4 and 5 (TCP_NODELAY; see SRV_NODELAY), started once."""
        if self.srv is None or self.srv.p.poll() is not None:
            self.srv = TestServer(self.W, "server")
        return self.srv

    def srv_crawl(self, side, prog, n, items, plan, dirs, drain=False, exit_wait=False):
        """One crawl (prog: python or c) into a fresh directory of one side of the server part
        of case 4: tmpfs or disk (real directories), shim_local (a fresh cache, no key), or
        server_<L>ms (a fresh cache bound to the test server at L ms). With drain, the time
        until the server holds every document: after the crawl, `smshim sync` (the crawl runs
        with SMSHIM_NOWAIT=1, as `smshim run` runs a command), or with exit_wait the crawling
        process itself draining at exit (a plain LD_PRELOAD run)."""
        base, tm = dirs
        env, lat, real = dict(BASE_ENV), None, None
        if side in ("tmpfs", "disk"):
            dest = real = "%s/real-%d" % (tm if side == "tmpfs" else base, n)
        else:
            cache = "%s/c-%d" % (base, n)
            env.update(shim_env(cache))
            # make the cache and its LMDB environment, as every other shim side has them: an
            # empty file is local-only (the service holds no empty document)
            sh(["touch", PREFIX + "/.bench-warm"], env=env)
            dest, real = PREFIX + "/crawl", cache + "/tree/crawl"
            if side != "shim_local":
                lat = int(side[len("server_"):-2])
                tag = "bench-c%d" % n
                self.srv.reset(lat)
                env = sync_env(cache, self.srv, tag, preload=True)
                if exit_wait:
                    env["SMSHIM_EXIT_TIMEOUT"] = "900"
                else:
                    env["SMSHIM_NOWAIT"] = "1"
        files = str(len(items))
        if prog == "python":
            argv = [PY, "-c", CRAWL_PY, os.path.join(SRC, "tests", "lib"), dest, files,
                    str(self.cfg["srv_dirs"]), "16"]
        else:
            argv = [BIN["replay"], plan, dest, "16"]
        p = sh(argv, env=env, timeout=1200, check=False)
        t_exit = time.time_ns()
        crash = None
        if p.returncode < 0 or p.returncode > 128:
            # killed by a signal: with a key, a process that exits while its sync thread is
            # still loading libcurl can crash in exit() (see bench/README.md); counted
            sig = -p.returncode if p.returncode < 0 else p.returncode - 128
            try:
                sig = signal.Signals(sig).name
            except ValueError:
                sig = "signal %d" % sig
            crash = {"side": side, "prog": prog, "signal": sig,
                     "stderr": p.stderr.strip()[-160:]}
        elif p.returncode != 0:
            raise BenchError("%s %s crawl exited %d: %s" % (side, prog, p.returncode,
                                                          p.stderr.strip()[-300:]))
        try:
            out = last_json(p.stdout)
        except (BenchError, ValueError):
            if crash:  # it died before telling its figures: the caller runs it again
                return {"crash": crash, "lost": True}
            raise
        if out.get("errors") or out["files"] != len(items):
            raise BenchError("%s %s crawl: %s" % (side, prog, out))
        res = {"crawl_ns": out["ns"] if prog == "python" else out["secs"] * 1e9, "real": real,
               "crash": crash}
        if crash and exit_wait:  # it never drained: run it again
            return {"crash": crash, "lost": True}
        if lat is None or not drain:
            return res
        if not exit_wait:
            p = sh([SMSHIM, "sync"], env=sync_env(cache, self.srv, tag), timeout=1200,
                   check=False)
            t_done = time.time_ns()
            if p.returncode != 0:
                raise BenchError("%s: smshim sync exited %d: %s" % (
                    side, p.returncode, p.stderr.strip()[-300:]))
        else:
            t_done = t_exit
        docs = self.srv.docs(tag)
        want = {"/crawl/" + pth: (data.decode() if prog == "python" else replay_text(len(data)))
                for pth, data in items}
        check_docs(docs, want, "%s %s crawl" % (side, prog))
        st = self.srv.stats()
        created = [iso_ms(d["createdAt"]) for d in docs]
        t0 = out["t0_real_ns"]
        res.update(docs=len(docs), last_upload_ns=max(created) * 1e6 - t0,
                   first_upload_ns=min(created) * 1e6 - t0, drained_ns=t_done - t0,
                   process_ns=t_exit - t0, max_inflight_uploads=st["max_inflight_uploads"],
                   list_requests=st["requests"][R_LIST], create_requests=st["requests"][R_CREATE])
        return res

    def crawl_server(self):
        """Case 4, with the server: the crawl into the prefix with an API key and the test server
        at each latency, in the same rounds as the same crawl into real directories (a tmpfs,
        and the disk beside the caches) and into a fresh cache without a key; then when the last
        upload reached the server."""
        cfg, S, W = self.cfg, self.S, self.W
        why = self.sync_ready()
        if why:
            sk = {"status": "skipped", "reason": why}
            return {"server_latency": sk, "last_upload": dict(sk)}
        lats, nfiles = cfg["srv_latencies"], cfg["srv_files"]
        items = crawl_lib().plan(nfiles, cfg["srv_dirs"], 1)
        plan = W + "/srv-plan.txt"
        with open(plan, "w") as f:
            for pth, data in items:
                f.write("%d %s\n" % (len(data), pth))
        base = W + "/srv"
        os.makedirs(base)
        tm = None
        if S["tmpfs"].ok():
            tm = S["tmpfs"].backing + "/srv"
            os.makedirs(tm)
        self.server()
        srv_sides = ["server_%dms" % L for L in lats]
        sides = (["tmpfs"] if tm else []) + ["disk", "shim_local"] + srv_sides
        times = {s: {"python": [], "c": []} for s in sides}
        drained = {s: {"python": [], "c": []} for s in srv_sides}
        ref = {"python": sorted((p, len(d), hashlib.sha256(d).hexdigest()) for p, d in items),
               "c": sorted((p, len(d)) for p, d in items)}
        n, runs, crashes = 0, {}, []

        def crawl_once(side, prog, **kw):
            # a run whose process crashed before telling its figures is made again, in a
            # fresh cache; every crash is counted
            nonlocal n
            for _ in range(4):
                n += 1
                res = self.srv_crawl(side, prog, n, items, plan, (base, tm), **kw)
                runs[side] = runs.get(side, 0) + 1
                if res.get("crash"):
                    crashes.append(res["crash"])
                    log("   %s %s crawl: the process died of %s%s" % (
                        side, prog, res["crash"]["signal"],
                        " (run again)" if res.get("lost") else ""))
                if not res.get("lost"):
                    return res
            raise BenchError("%s %s crawl: the process crashed 4 times" % (side, prog))

        for r in range(cfg["srv_rounds"]):
            for side in rotate(sides, r):
                for prog in ("python", "c"):
                    drain = side in drained and r < cfg["srv_drain_rounds"]
                    res = crawl_once(side, prog, drain=drain)
                    times[side][prog].append(res["crawl_ns"])
                    if drain:
                        drained[side][prog].append(res)
                    if r == 0:  # every side wrote the planned tree
                        got = tree_manifest(res["real"])
                        if prog == "c":
                            got = [x[:2] for x in got]
                        if got != ref[prog]:
                            raise BenchError("%s: the crawled tree differs from the plan" % side)
        exits = {}
        if cfg["srv_exit_drain"]:
            for side in srv_sides:
                exits[side] = crawl_once(side, "python", drain=True, exit_wait=True)
        first = srv_sides[0]
        sl = {"status": "ok",
              "unit": "ns wall time of the 16 workers, median over rounds (python: the threads "
                      "of tests/lib/crawl.py, timed as crawl.py times them; c: bench/replay); "
                      "*_vs_disk, *_vs_tmpfs: ratio to the same crawl into a real directory in "
                      "the same rounds; *_vs_%s: ratio to the crawl with the server at %d ms"
                      % (first[len("server_"):], lats[0]),
              "server": "tests/server/smserver.py with TCP_NODELAY, latency_ms set per crawl",
              "files": len(items), "dirs": cfg["srv_dirs"], "workers": 16,
              "rounds": cfg["srv_rounds"], "latencies_ms": lats, "trees_checked": True,
              "sides_note": "tmpfs, disk: real directories (the disk one beside the caches, "
                            "%s); shim_local: a fresh cache without a key; server_<L>ms: a "
                            "fresh cache with the key, the test server at L ms; every cache "
                            "made just before its crawl" % base,
              "sides": {},
              "processes": {s: runs.get(s, 0) for s in sides},
              "crashes": crashes}
        for s in sides:
            d = {"python_ns": median(times[s]["python"]), "c_ns": median(times[s]["c"]),
                 "runs": len(times[s]["python"])}
            for k in ("python", "c"):
                for refside in ("disk", "tmpfs"):
                    if refside in times and s != refside:
                        d["%s_vs_%s" % (k, refside)] = ratio(d[k + "_ns"],
                                                             median(times[refside][k]))
                if s in srv_sides:
                    d["%s_vs_%s" % (k, first[len("server_"):])] = ratio(
                        d[k + "_ns"], median(times[first][k]))
            sl["sides"][s] = d
        lu = {"status": "ok",
              "unit": "ns from the crawl's start (its first worker) until: last_upload_ns, the "
                      "server held every document (the latest createdAt); drained_ns, the queue "
                      "was empty (the drain returned); bound_ns = ceil(files / %d) x latency, "
                      "the least %d uploads in flight allow" % (IN_FLIGHT, IN_FLIGHT),
              "after_crawl": "the crawl runs with SMSHIM_NOWAIT=1 (it exits at once, as the "
                             "command of `smshim run` does) and `smshim sync` starts as soon "
                             "as it exits (it pulls once, then pushes)",
              "exit_drain": "python only: a plain LD_PRELOAD crawl without SMSHIM_NOWAIT, the "
                            "crawling process draining its queue at exit",
              "files": len(items), "by_latency": {}}
        keys = ("last_upload_ns", "first_upload_ns", "drained_ns", "process_ns", "crawl_ns",
                "list_requests", "create_requests")
        for L, side in zip(lats, srv_sides):
            row = {"bound_ns": -(-len(items) // IN_FLIGHT) * L * 1e6}
            for prog, rs in drained[side].items():
                if rs:
                    row[prog] = {k: median([x[k] for x in rs]) for k in keys}
                    row[prog].update(runs=len(rs), docs=rs[0]["docs"],
                                     max_inflight_uploads=max(x["max_inflight_uploads"]
                                                              for x in rs))
            if side in exits:
                x = exits[side]
                row["exit_drain"] = {k: x[k] for k in keys}
                row["exit_drain"].update(runs=1, docs=x["docs"],
                                         max_inflight_uploads=x["max_inflight_uploads"])
            lu["by_latency"][str(L)] = row
        return {"server_latency": sl, "last_upload": lu}

    def drain_once(self, srv, lat, procs, n, items):
        """Case 5, one measurement: the files queued in local-only mode in a fresh cache, then
        `smshim sync` (procs of them at once, sharing the cache) until the queue is empty."""
        cache, tag = "%s/drain/c-%d" % (self.W, n), "bench-d%d" % n
        env = dict(BASE_ENV)
        env.update(shim_env(cache))
        out = last_json(sh([PY, "-c", CRAWL_PY, os.path.join(SRC, "tests", "lib"), PREFIX + "/q",
                            str(len(items)), str(max(1, len(items) // 2)), "16"], env=env).stdout)
        if out.get("errors"):
            raise BenchError("upload_drain: writing the files: %s" % out)
        e = dict(BASE_ENV, SMSHIM_CACHE=cache)
        queued = json.loads(sh([SMSHIM, "status", "--json"], env=e).stdout)["queued"]
        srv.reset(lat)
        senv = sync_env(cache, srv, tag)
        t0 = time.time_ns()
        ps = [subprocess.Popen([SMSHIM, "sync"], env=senv, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True) for _ in range(procs)]
        errs = [p.communicate(timeout=1200)[1] for p in ps]
        t1 = time.time_ns()
        for p, err in zip(ps, errs):
            if p.returncode != 0:
                raise BenchError("upload_drain: smshim sync exited %d: %s" % (
                    p.returncode, err.strip()[-300:]))
        docs = srv.docs(tag)
        check_docs(docs, {"/q/" + pth: data.decode() for pth, data in items},
                   "upload_drain at %d ms" % lat)
        st = srv.stats()
        created = sorted(iso_ms(d["createdAt"]) for d in docs)
        span = (created[-1] - created[0]) / 1e3
        return {"sync_ns": t1 - t0, "queued": queued,
                "push_docs_per_s": (len(docs) - 1) / span if span > 0 else None,
                "first_upload_ns": created[0] * 1e6 - t0,
                "max_inflight_uploads": st["max_inflight_uploads"],
                "create_requests": st["requests"][R_CREATE],
                "list_requests": st["requests"][R_LIST]}

    def upload_drain(self):
        """Case 5: documents per second pushed vs the server's latency, and with several
        `smshim sync` processes draining one cache at once (the lease keeps it to 8 uploads in
        flight), and against the test server as shipped (Nagle's algorithm on)."""
        cfg = self.cfg
        why = self.sync_ready()
        if why:
            return {"status": "skipped", "reason": why}
        nfiles, lats = cfg["drain_files"], cfg["drain_latencies"]
        items = crawl_lib().plan(nfiles, max(1, nfiles // 2), 1)
        srv = self.server()
        mid = 50 if 50 in lats else lats[-1]
        runs = [("%dms" % L, srv, L, 1) for L in lats]
        if cfg["drain_procs"] > 1:
            runs.append(("%dms_%dprocs" % (mid, cfg["drain_procs"]), srv, mid, cfg["drain_procs"]))
        stock = TestServer(self.W, "server-stock", nodelay=False) if cfg["drain_stock"] else None
        try:
            runs += [("%dms_stock" % L, stock, L, 1) for L in cfg["drain_stock"]]
            got = {name: [] for name, _, _, _ in runs}
            n = 0
            for r in range(cfg["drain_rounds"]):
                for name, s, L, procs in rotate(runs, r):
                    n += 1
                    got[name].append(self.drain_once(s, L, procs, n, items))
        finally:
            if stock:
                stock.stop()
        out = {"unit": "files queued in local-only mode in a fresh cache, then `smshim sync` "
                       "until the queue is empty: docs_per_s = files / sync wall time (median "
                       "over runs; it includes the process's start and its one listing); "
                       "push_docs_per_s: (docs - 1) / (last - first createdAt) on the server; "
                       "ideal_docs_per_s = %d in flight / latency; of_ideal = docs_per_s / "
                       "ideal_docs_per_s" % IN_FLIGHT,
               "files": nfiles, "in_flight_cap": IN_FLIGHT, "rounds": cfg["drain_rounds"],
               "server": "tests/server/smserver.py with TCP_NODELAY; *_stock: as shipped "
                         "(about 40 ms more per request: Nagle's algorithm and delayed ACKs)",
               "configs": {}}
        for name, s, L, procs in runs:
            rs = got[name]
            sync = median([x["sync_ns"] for x in rs])
            d = {"latency_ms": L, "processes": procs, "server": "stock" if s is stock else
                 "nodelay", "runs": len(rs), "queued": rs[0]["queued"], "sync_ns": sync,
                 "docs_per_s": round(nfiles / (sync / 1e9), 1),
                 "push_docs_per_s": median([x["push_docs_per_s"] for x in rs]),
                 "first_upload_ns": median([x["first_upload_ns"] for x in rs]),
                 "max_inflight_uploads": max(x["max_inflight_uploads"] for x in rs),
                 "list_requests": max(x["list_requests"] for x in rs)}
            if d["push_docs_per_s"] is not None:
                d["push_docs_per_s"] = round(d["push_docs_per_s"], 1)
            if L:
                d["ideal_docs_per_s"] = IN_FLIGHT * 1000.0 / L
                d["of_ideal"] = round(d["docs_per_s"] / d["ideal_docs_per_s"], 3)
            out["configs"][name] = d
        out["max_inflight_uploads"] = max(c["max_inflight_uploads"]
                                          for c in out["configs"].values())
        return out

    # ---- case 6 -------------------------------------------------------------------------------

    def scale(self):
        cfg, W = self.cfg, self.W
        # the real-directory side lives beside the shim's files, in the same tree (see make_sides)
        cache = W + "/scale-cache"
        shim = Side("shim", PREFIX + "/s", cache + "/tree", env=shim_env(cache))
        disk = Side("disk", cache + "/tree/r", cache + "/tree")
        for s in (shim, disk):
            s.run([BIN["micro"], "setup", s.dir, "-n", "0"])
        stages = list(cfg["scale"])
        big = cfg["scale_1m"]
        forced = os.environ.get("BENCH_1M", "auto")
        if big:
            stages.append(big)
        out = {"unit": "ns per call (median over runs of p50/p99); entries = files in the cache",
               "layout": "N empty files, 1000 per directory (s0000/f0000.md ...) created through "
                         "the shim under /sm/s (one LMDB entry each) and, for the real side, "
                         "directly in <cache>/tree/r; stat and the missing name are in s0000, "
                         "readdir lists s0000",
               "stages": {}}
        have, rate = 0, {}
        for n in stages:
            if n == big:
                proj = sum((n - have) / rate[k] for k in rate) * 1.3
                budget = float(os.environ.get("BENCH_1M_BUDGET", "150"))
                if forced == "0" or (forced != "1" and proj > budget):
                    why = "BENCH_1M=0" if forced == "0" else (
                        "populating %d more files on both sides would take about %.0f s (more "
                        "than BENCH_1M_BUDGET=%g s; BENCH_1M=1 forces it)" % (n - have, proj,
                                                                               budget))
                    out["stages"][str(n)] = {"status": "skipped", "reason": why}
                    continue
            st = {"entries": n}
            for s in (shim, disk):
                o = s.json([BIN["micro"], "populate", s.dir, str(have), str(n)], timeout=3600)
                rate[s.name] = o["created"] / max(o["secs"], 1e-9)
                st["%s_creates_per_s" % s.name] = round(rate[s.name])
            self.store = {k: v for k, v in self.store.items() if not k.startswith("scale_")}
            args = ["-f", "s0000/f%04d.md" % min(500, n // 2), "-d", "s0000"]
            for r in range(cfg["scale_rounds"]):
                for s in rotate([shim, disk], r):
                    o = s.json([BIN["micro"], "run", s.dir, "-t", str(cfg["budget"]),
                                "-o", "stat,stat_missing,readdir"] + args)
                    self.store.setdefault("scale_" + s.name, []).append(o["ops"])
            for s in (shim, disk):
                st[s.name] = self.aggregate("scale_" + s.name)
            meta, _ = dir_bytes(cache + "/meta")
            tree, _ = dir_bytes(cache + "/tree/s")
            real, _ = dir_bytes(cache + "/tree/r")
            st["meta_bytes"] = meta
            st["meta_bytes_per_entry"] = round(meta / n, 1)
            st["tree_bytes_per_entry"] = round(tree / n, 1)
            st["real_dir_bytes_per_entry"] = round(real / n, 1)
            st["rss_kb"] = {s.name: s.json([BIN["micro"], "rss", s.dir]) for s in (shim, disk)}
            st["shim_stat_vs_disk"] = ratio(st["shim"]["stat"]["p50_ns"],
                                            st["disk"]["stat"]["p50_ns"])
            out["stages"][str(n)] = st
            have = n
        first = out["stages"][str(stages[0])]
        for st in out["stages"].values():
            if "shim" in st:
                st["shim_stat_vs_first_stage"] = ratio(st["shim"]["stat"]["p50_ns"],
                                                       first["shim"]["stat"]["p50_ns"])
                st["shim_missing_vs_first_stage"] = ratio(
                    st["shim"]["stat_missing"]["p50_ns"], first["shim"]["stat_missing"]["p50_ns"])
        return out

    # ---- case 7 -------------------------------------------------------------------------------

    def programs(self):
        cfg, S = self.cfg, self.S
        names = DISK_SET + ["shim_t", "bindfs_t", "proot_t"]
        act = self.act(names)
        progs = {}
        for s in act:
            d = "%s/p-%s" % (s.dir, s.name)
            s.run(["mkdir", "-p", d])
            s.run([PY, "-c", GEN_REPO, d + "/repo", str(cfg["repo_files"])])
            s.run(["sh", "-c", "cd %s/repo && git init -q && git add -A && git -c user.name=b "
                               "-c user.email=b@b commit -qm init" % d])
            s.run([PY, "-c", GEN_PY, d + "/py", str(cfg["pymods"])])
            tree = "%s/crawl-%s-py-0" % (s.dir, s.name)
            if not os.path.isdir("%s/w/crawl-%s-py-0" % (s.backing, s.name)):  # no crawl case
                tree = d + "/crawl"
                s.run([PY, os.path.join(SRC, "tests", "lib", "crawl.py"), "--dest", tree])
            progs[s.name] = {
                "git_status": ["git", "-C", d + "/repo", "status", "--porcelain"],
                "find_wc": ["sh", "-c", "find %s | wc -l" % tree],
                "tar_c": ["sh", "-c", "tar -cf - %s | wc -c" % tree],
                "py_import": [PY, "-c", "import sys; sys.path.insert(0, %r); import smbench_pkg"
                              % (d + "/py")],
            }
            for argv in progs[s.name].values():  # warm: caches, __pycache__, the git index
                s.run(argv)
        runs = {}
        for r in range(cfg["prog_rounds"]):
            for s in rotate(act, r):
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
            for n in names:
                if n not in by:
                    row[n] = {"status": S[n].status, "reason": S[n].reason}
                    continue
                m = median(by[n])
                row[n] = {"median_ns": m, "ratio": ratio(m, median(by[base])), "runs": len(by[n])}
                if "disk" in by:
                    row[n]["vs_disk"] = ratio(m, median(by["disk"]))
            out["programs"][p] = row
        return out

    # ---- case 8 -------------------------------------------------------------------------------

    def instructions(self):
        if not shutil.which("valgrind"):
            return {"status": "skipped", "reason": "valgrind is not installed"}
        if os.environ.get("SMSHIM_SAN"):
            return {"status": "skipped", "reason": "sanitizer build (valgrind cannot run it)"}
        disk, shim = self.S["disk"], self.S["shim"]
        for s in (disk, shim):
            if not os.path.exists(s.backing + "/w/f4k"):
                s.run([BIN["micro"], "setup", s.dir, "-n", "0"])
        n1, n2 = self.cfg["cg_n"]
        configs = {
            "virtual_stat": (shim.extra, shim.dir + "/f4k"),
            "virtual_stat_missing": (shim.extra, shim.dir + "/no-such-name.md"),
            "passthrough_stat_shim": (shim.extra, disk.dir + "/f4k"),
            "passthrough_stat_no_shim": ({}, disk.dir + "/f4k"),
            "passthrough_stat_missing_shim": (shim.extra, disk.dir + "/no-such-name.md"),
            "passthrough_stat_missing_no_shim": ({}, disk.dir + "/no-such-name.md"),
        }
        out = {"unit": "user-space instructions per stat() call (callgrind Ir; the kernel is not "
                       "counted): (Ir(N2) - Ir(N1)) / (N2 - N1)", "n": [n1, n2], "per_call": {}}
        for name, (env, path) in configs.items():
            irs = []
            for n in (n1, n2):
                e = dict(BASE_ENV)
                e.update(env)
                p = sh(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                        BIN["callstat"], path, str(n)], env=e, timeout=300)
                m = re.search(r"Collected : (\d+)", p.stderr)
                if not m:
                    raise BenchError("callgrind printed no total: " + p.stderr[-300:])
                irs.append(int(m.group(1)))
            out["per_call"][name] = round((irs[1] - irs[0]) / (n2 - n1), 1)
        pc = out["per_call"]
        out["passthrough_overhead"] = round(pc["passthrough_stat_shim"] -
                                            pc["passthrough_stat_no_shim"], 1)
        out["virtual_overhead"] = round(pc["virtual_stat"] - pc["passthrough_stat_no_shim"], 1)
        return out


GEN_REPO = r"""
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "src", "pkg%02d" % (i % 25))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "file%04d.txt" % i), "w") as f:
        f.write(("line of file %d\n" % i) * 20)
"""

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


def tree_manifest(root):
    out = []
    for d, dirs, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                data = f.read()
            out.append((os.path.relpath(p, root), len(data), hashlib.sha256(data).hexdigest()))
    return sorted(out)


# ---- targets ----------------------------------------------------------------------------------

def get(d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


def targets(C):
    T = []

    def add(name, goal, value, ok, note="", shown=None):
        T.append({"target": name, "goal": goal, "measured": value,
                  "met": None if ok is None or value is None else bool(ok), "note": note})
        if shown is not None and value is not None:
            T[-1]["shown"] = shown


    m, c = C.get("micro", {}), C.get("crawl", {})
    v = get(m, "ops", "stat", "shim", "ratio_p50")
    add("virtual hot stat vs tmpfs", "<= 1.1x", v, v is not None and v <= 1.1)
    v = get(m, "ops", "stat_missing", "shim", "ratio_p50")
    add("virtual missing name vs tmpfs", "<= 0.6x", v, v is not None and v <= 0.6)
    v = get(m, "ops", "open_read", "shim_vs_disk_p50")
    add("open+read+close vs the cache's disk", "<= 1.3x", v, v is not None and v <= 1.3)
    v = get(m, "ops", "create_write", "shim_vs_disk_p50")
    add("create+write+close vs the cache's disk", "<= 1.5x", v, v is not None and v <= 1.5)
    p = C.get("passthrough", {}).get("ops", {})
    cheap = ["stat", "lstat", "stat_missing", "access", "open_read", "readdir"]
    rs = {op: get(p, op, "ratio_p50") for op in cheap if get(p, op, "ratio_p50")}
    if rs:
        worst = max(rs, key=rs.get)
        add("pass-through calls vs no shim (p50)", "<= 1.03x", rs[worst], rs[worst] <= 1.03,
            "worst of the metadata calls: %s" % worst)
    v = get(C, "process_start", "ratio")
    add("/bin/true with the shim vs without", "<= 1.10x", v, v is not None and v <= 1.10)
    v = get(c, "sides", "shim", "python_vs_disk")
    add("crawl (crawl.py) vs a real directory on the disk", "<= 1.5x", v,
        v is not None and v <= 1.5)
    v = get(c, "sides", "shim", "c_vs_disk")
    add("crawl (C replayer) vs a real directory on the disk", "<= 1.5x", v,
        v is not None and v <= 1.5)
    sl, lu = c.get("server_latency", {}), c.get("last_upload", {})
    lats = sl.get("latencies_ms") or [0, 1000]
    hi, lo = "server_%dms" % lats[-1], "server_%dms" % lats[0]
    for k, name in (("python", "crawl.py"), ("c", "C replayer")):
        why = "" if sl.get("status") == "ok" else "%s: %s" % (sl.get("status", "not run"),
                                                               sl.get("reason"))
        v = get(sl, "sides", hi, k + "_vs_disk")
        add("crawl (%s) with the server at %d ms vs a real directory on the disk"
            % (name, lats[-1]), "<= 1.5x", v, v is not None and v <= 1.5, why)
        v = get(sl, "sides", hi, "%s_vs_%dms" % (k, lats[0]))
        add("crawl (%s) at %d ms server latency vs at %d ms" % (name, lats[-1], lats[0]),
            "same (<= %.2fx)" % SAME, v, v is not None and v <= SAME, why)
    if sl.get("status") == "ok":
        keyed = sum(v for k, v in sl["processes"].items() if k.startswith("server_"))
        v = len([x for x in sl["crashes"] if x["side"].startswith("server_")])
        add("crawl processes with an API key that crashed (at exit)", "0", v, v == 0,
            ", ".join(sorted(set("%s %s: %s" % (x["side"], x["prog"], x["signal"])
                                 for x in sl["crashes"]))) or "",
            shown="%d of %d" % (v, keyed))
    ud = C.get("upload_drain", {})
    for L in (50, 200):
        cf = get(ud, "configs", "%dms" % L)
        why = "" if ud.get("status") == "ok" else "%s: %s" % (ud.get("status", "not run"),
                                                               ud.get("reason"))
        v = cf and cf.get("of_ideal")
        add("upload drain at %d ms (docs/s, 1 process)" % L, ">= 0.8x of %d/latency" % IN_FLIGHT,
            v, v is not None and v >= 0.8,
            ("%.0f docs/s, %d/latency = %.0f" % (cf["docs_per_s"], IN_FLIGHT,
                                                 cf["ideal_docs_per_s"])) if cf else why)
    peaks = [x for x in [ud.get("max_inflight_uploads")] + [
        get(lu, "by_latency", L, k, "max_inflight_uploads")
        for L in (lu.get("by_latency") or {}) for k in ("python", "c", "exit_drain")]
        if x is not None]
    v = max(peaks) if peaks else None
    add("uploads in flight at once (the test server's max_inflight_uploads)", "<= %d" % IN_FLIGHT,
        v, v is not None and v <= IN_FLIGHT, "the most seen in cases 4 and 5",
        shown=None if v is None else str(v))
    rw = C.get("raw_syscall", {})
    why = "" if rw.get("status") == "ok" else "%s: %s" % (rw.get("status", "not run"),
                                                           rw.get("reason"))
    v = get(rw, "getppid", "shim_sud_off", "ratio_p50")
    add("raw syscall (getppid), shim loaded with SUD off vs no shim (p50)", "<= 1.03x", v,
        v is not None and v <= 1.03, why)
    v = get(rw, "getppid", "shim_sud_on", "p50_ns")
    add("raw syscall (getppid) trapped by SUD, per call (p50)", "~3 us (README)", v, None,
        why or "%s of trap over the untrapped call; %s the cost without the shim" % (
            fmt_ns(get(rw, "getppid", "trap_cost_ns")),
            fmt_x(get(rw, "getppid", "shim_sud_on", "ratio_p50"))),
        shown=None if v is None else fmt_ns(v))
    bc = rw.get("bun_crawl", {})
    bwhy = why or ("" if bc.get("status") == "ok" else "%s: %s" % (bc.get("status", "not run"),
                                                                   bc.get("reason")))
    v = bc.get("ratio_wall")
    add("Bun crawl (crawl.js) into the prefix under SUD vs a real directory on the disk",
        "<= 1.5x", v, v is not None and v <= 1.5,
        bwhy or "process wall time; crawl.js's own timer: %s" % fmt_x(bc.get("ratio_crawl")))
    sc = C.get("scale", {}).get("stages", {})
    ran = [k for k in sc if "shim" in sc[k]]
    if ran:
        k = max(ran, key=int)
        v = sc[k].get("shim_stat_vs_first_stage")
        add("hot stat at 1M entries vs 1k", "<= 1.5x", v,
            None if k != "1000000" else v is not None and v <= 1.5,
            "" if k == "1000000" else "largest stage run: %s entries; 1M: %s" % (
                k, get(sc, "1000000", "reason") or "not run"))
    for peer, shim, where in (("bindfs_t", "shim_t", "over tmpfs"),
                              ("proot_t", "shim_t", "over tmpfs"),
                              ("bindfs", "shim", "over the disk"),
                              ("proot", "shim", "over the disk")):
        pname = peer.split("_")[0]
        if get(m, "ops", "stat", peer, "p50_ns") is None:
            add("%s %s" % (pname, where), "-", None, None,
                "skipped: " + str(get(m, "sides", peer, "reason") or "not run"))
            continue
        if pname == "bindfs":
            v = ratio(get(m, "ops", "stat", shim, "p50_ns"), get(m, "ops", "stat", peer, "p50_ns"))
            add("hot stat: smshim / %s, %s" % (pname, where), "<= 1.0x", v,
                v is not None and v <= 1.0)
        for op in ("stat_missing", "open_read", "create_write", "mkdir"):
            v = ratio(get(m, "ops", op, peer, "p50_ns"), get(m, "ops", op, shim, "p50_ns"))
            add("%s: %s / smshim, %s" % (op, pname, where), ">= 10x", v, v is not None and v >= 10)
        for k in ("python", "c"):
            v = ratio(get(c, "sides", peer, k + "_ns"), get(c, "sides", shim, k + "_ns"))
            add("crawl (%s): %s / smshim, %s" % (k, pname, where), ">= 5x", v,
                v is not None and v >= 5)
    return T


# ---- output -----------------------------------------------------------------------------------

def table(rows, cols, base, cell_ns, cell_x, skipped):
    """rows: [(label, key)]; a column shows the base's time and the others' ratios."""
    L = ["| | " + " | ".join(LABEL[c] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for label, key in rows:
        cells = []
        for c in cols:
            if skipped(c):
                cells.append("skipped")
            elif c == base:
                cells.append(cell_ns(key, c))
            else:
                cells.append(cell_x(key, c))
        L.append("| %s | %s |" % (label, " | ".join(cells)))
    return L


def fmt_s(ns):
    return "-" if ns is None else "0" if ns == 0 else fmt_ns(ns)


def server_tables(C):
    """The tables of case 4's server part and of case 5 (empty when they did not run)."""
    L = []
    c = C.get("crawl", {})
    sl, lu = c.get("server_latency", {}), c.get("last_upload", {})
    if sl.get("status") == "ok":
        lats = sl["latencies_ms"]
        cols = [n for n in ("disk", "tmpfs", "shim_local") if n in sl["sides"]] + [
            "server_%dms" % x for x in lats]
        lab = {"disk": "disk (b)", "tmpfs": "tmpfs (a)", "shim_local": "smshim, no key"}
        lab.update({"server_%dms" % x: "smshim, server at %d ms" % x for x in lats})
        L.append("**The crawl with the test server** (%d files, 16 workers, %d round(s); every "
                 "cache fresh): the crawl's wall time, the disk (b) column as time and the "
                 "others as ratios to it, all measured in the same rounds; then when the last "
                 "upload reached the server, counted from the crawl's start (the least %d "
                 "uploads in flight allow: ceil(%d/%d) x latency)."
                 % (sl["files"], sl["rounds"], IN_FLIGHT, sl["files"], IN_FLIGHT))
        L.append("")
        L.append("| | " + " | ".join(lab[x] for x in cols) + " |")
        L.append("|---|" + "---|" * len(cols))
        for k, name in (("python", "crawl.py (threads)"), ("c", "C replayer")):
            cells = []
            for x in cols:
                d = sl["sides"][x]
                cells.append(fmt_ns(d[k + "_ns"]) if x == "disk" else fmt_x(d.get(k + "_vs_disk")))
            L.append("| crawl, %s | %s |" % (name, " | ".join(cells)))
        if lu.get("status") == "ok":
            rows = [("python", "last upload at the server, crawl.py; `smshim sync` after it"),
                    ("c", "last upload at the server, C replayer; `smshim sync` after it"),
                    ("exit_drain", "last upload at the server, crawl.py; the crawling process "
                                   "drains at exit (plain LD_PRELOAD)")]
            for k, name in rows:
                cells = []
                for x in cols:
                    b = lu["by_latency"].get(x[len("server_"):-2]) if x.startswith("server_") \
                        else None
                    cells.append(fmt_s(get(b, k, "last_upload_ns")) if b else "-")
                if any(x != "-" for x in cells):
                    L.append("| %s | %s |" % (name, " | ".join(cells)))
            cells = [fmt_s(lu["by_latency"][x[len("server_"):-2]]["bound_ns"])
                     if x.startswith("server_") else "-" for x in cols]
            L.append("| the least possible (ceil(%d/%d) x latency) | %s |"
                     % (sl["files"], IN_FLIGHT, " | ".join(cells)))
        L.append("")
        keyed = sum(v for k, v in sl["processes"].items() if k.startswith("server_"))
        cr = [x for x in sl["crashes"] if x["side"].startswith("server_")]
        if cr:
            by = {}
            for x in cr:
                k = "%s (%s)" % ("C replayer" if x["prog"] == "c" else "crawl.py", x["signal"])
                by[k] = by.get(k, 0) + 1
            L.append("**%d of the %d crawl processes run with an API key crashed at exit** "
                     "(%s): see bench/README.md, case 4." % (
                         len(cr), keyed, ", ".join("%s x%d" % kv for kv in sorted(by.items()))))
            L.append("")
    ud = C.get("upload_drain", {})
    if ud.get("status") == "ok":
        L.append("**Upload drain**: %d files queued in local-only mode in a fresh cache, then "
                 "`smshim sync` until the queue is empty (median of %d run(s)); docs/s = files / "
                 "the wall time of `smshim sync` (its start and one listing included); push "
                 "rate from the server's createdAt (first to last); the target is 0.8 x %d in "
                 "flight / latency." % (ud["files"], ud["rounds"], IN_FLIGHT))
        L.append("")
        L.append("| server latency | `smshim sync` | docs/s | push rate | %d/latency | of it "
                 "| max in flight |" % IN_FLIGHT)
        L.append("|---|---|---|---|---|---|---|")
        for name, d in ud["configs"].items():
            what = "%d ms" % d["latency_ms"]
            if d["processes"] > 1:
                what += ", %d `smshim sync` at once" % d["processes"]
            if d["server"] == "stock":
                what += ", test server as shipped (Nagle)"
            L.append("| %s | %s | %.0f | %s | %s | %s | %d |" % (
                what, fmt_ns(d["sync_ns"]), d["docs_per_s"],
                "-" if d["push_docs_per_s"] is None else "%.0f" % d["push_docs_per_s"],
                "%.0f" % d["ideal_docs_per_s"] if d.get("ideal_docs_per_s") else "-",
                "%.2f" % d["of_ideal"] if d.get("of_ideal") is not None else "-",
                d["max_inflight_uploads"]))
        L.append("")
    return L


def md_tables(C, sides):
    L = []
    skipped = lambda n: sides.get(n, {}).get("status") not in (None, "ok")  # noqa: E731
    m = C.get("micro")
    rows = [(OP_LABEL[op], op) for op in MICRO_OPS]

    def mcell_ns(op, c):
        a = get(m, "ops", op, c)
        return "%s / %s" % (fmt_ns(a["p50_ns"]), fmt_ns(a["p99_ns"])) if a else "-"

    def mcell_x(op, c):
        a = get(m, "ops", op, c)
        return "%s / %s" % (fmt_x(a.get("ratio_p50")), fmt_x(a.get("ratio_p99"))) if a else "-"

    if m and "ops" in m:
        base = m["base"]
        L.append("**Calls, p50 / p99**: the %s column is the time per call, the others are "
                 "ratios to it (lower is faster; 1.00x is as fast as %s)." % (LABEL[base], base))
        L.append("")
        L += table(rows, DISK_SET, base, mcell_ns, mcell_x, skipped)
        L.append("")
        if any(not skipped(n) for n in TMPFS_SET[1:]):
            L.append("**The same calls with no disk in the way**: the shim's cache, bindfs's "
                     "source and PRoot's bound directory all on the tmpfs, so each column is that "
                     "layer's own cost.")
            L.append("")
            L += table(rows, TMPFS_SET, base, mcell_ns, mcell_x, skipped)
            L.append("")
    c, pg = C.get("crawl"), C.get("programs")
    wrows = []
    if c and "sides" in c:
        wrows += [("crawl, 177 files, 16 threads (crawl.py)", ("crawl", "python")),
                  ("crawl, 177 files, 16 threads (C replayer)", ("crawl", "c"))]
    if pg and "programs" in pg:
        labels = {"git_status": "`git status`, %d files" % pg["repo_files"],
                  "find_wc": "`find | wc -l`, 177-file tree", "tar_c": "`tar c`, 177-file tree",
                  "py_import": "`python3 -c 'import pkg'`, %d modules" % pg["py_modules"]}
        wrows += [(labels[p], ("prog", p)) for p in labels if p in pg["programs"]]

    def wget(key, col):
        if key[0] == "crawl":
            return get(c, "sides", col, key[1] + "_ns"), get(c, "sides", col, "ratio_" + key[1])
        return (get(pg, "programs", key[1], col, "median_ns"),
                get(pg, "programs", key[1], col, "ratio"))

    if wrows:
        base = (c or pg).get("base", "tmpfs")
        L.append("**Whole workloads, wall time (median)**: the %s column is the time, the others "
                 "are ratios to it. The second group has the shim's cache and the peers' "
                 "directories on the tmpfs." % LABEL[base])
        L.append("")
        cols = DISK_SET + [n for n in TMPFS_SET[1:] if not skipped(n)]
        hdr = ["| | " + " | ".join(LABEL[x] + (" (tmpfs)" if x in TMPFS_SET[1:] else "")
                                    for x in cols) + " |", "|---|" + "---|" * len(cols)]
        L += hdr + table(wrows, cols, base, lambda k, col: fmt_ns(wget(k, col)[0]),
                         lambda k, col: fmt_x(wget(k, col)[1]), skipped)[2:]
        L.append("")
    L += server_tables(C)
    extra = []
    ps = C.get("process_start")
    if ps and ps.get("ratio"):
        extra.append("| `/bin/true`, shim loaded vs not | %s vs %s: %s |" % (
            fmt_ns(ps["true_shim_ns"]), fmt_ns(ps["true_no_shim_ns"]), fmt_x(ps["ratio"])))
        f, fd = get(ps, "first_call_ns", "shim"), get(ps, "first_call_ns", "disk")
        if f and fd:
            extra.append("| a fresh process's first stat, first create under the prefix (cache "
                         "on disk) | %s, %s (next ones: %s, %s; real disk dir: %s, %s) |" % (
                             fmt_ns(f["first_stat"]), fmt_ns(f["first_create"]),
                             fmt_ns(f["second_stat"]), fmt_ns(f["second_create"]),
                             fmt_ns(fd["first_stat"]), fmt_ns(fd["first_create"])))
    p = C.get("passthrough")
    if p and p.get("ops"):
        rs = ["%s %s" % (op, fmt_x(get(p, "ops", op, "ratio_p50"))) for op in
              ("stat", "stat_missing", "access", "open_read", "readdir", "create_write", "mkdir")
              if get(p, "ops", op, "ratio_p50")]
        extra.append("| pass-through (paths outside the prefix), shim loaded vs not, p50 | %s |"
                     % ", ".join(rs))
    ins = C.get("instructions")
    if ins and "per_call" in ins:
        pc = ins["per_call"]
        extra.append("| user-space instructions per stat (callgrind) | virtual %.0f, virtual "
                     "missing %.0f; pass-through %.0f vs %.0f with no shim |" % (
                         pc["virtual_stat"], pc["virtual_stat_missing"],
                         pc["passthrough_stat_shim"], pc["passthrough_stat_no_shim"]))
    sc = C.get("scale")
    if sc and sc.get("stages"):
        parts = []
        for k, st in sc["stages"].items():
            if "shim" in st:
                parts.append("%s: stat %s (%s of disk), missing %s, %.0f B/entry" % (
                    "{:,}".format(int(k)), fmt_ns(st["shim"]["stat"]["p50_ns"]),
                    fmt_x(st["shim_stat_vs_disk"]), fmt_ns(st["shim"]["stat_missing"]["p50_ns"]),
                    st["meta_bytes_per_entry"]))
            else:
                parts.append("%s: skipped" % "{:,}".format(int(k)))
        extra.append("| scale: entries in the cache, shim p50, LMDB size per entry | %s |"
                     % "; ".join(parts))
        last = [st for st in sc["stages"].values() if "rss_kb" in st]
        if last:
            r = last[-1]["rss_kb"]
            extra.append("| peak RSS of the bench process (largest stage) | %d KiB with the "
                         "shim, %d KiB without |" % (r["shim"]["hwm_kb"], r["disk"]["hwm_kb"]))
    rw = C.get("raw_syscall")
    if rw and rw.get("status") == "ok":
        g, f = rw["getppid"], rw["newfstatat"]
        extra.append("| raw `syscall` getppid, p50 / p99: no shim; shim loaded, SUD off; SUD "
                     "armed (trapped) | %s / %s; %s / %s (%s); %s / %s (%s) |" % (
                         fmt_ns(g["no_shim"]["p50_ns"]), fmt_ns(g["no_shim"]["p99_ns"]),
                         fmt_ns(g["shim_sud_off"]["p50_ns"]), fmt_ns(g["shim_sud_off"]["p99_ns"]),
                         fmt_x(g["shim_sud_off"]["ratio_p50"]),
                         fmt_ns(g["shim_sud_on"]["p50_ns"]), fmt_ns(g["shim_sud_on"]["p99_ns"]),
                         fmt_x(g["shim_sud_on"]["ratio_p50"])))
        extra.append("| raw `syscall` newfstatat, p50 / p99: real directory, no shim; under the "
                     "prefix, SUD armed (served by the shim) | %s / %s; %s / %s (%s) |" % (
                         fmt_ns(f["real_no_shim"]["p50_ns"]), fmt_ns(f["real_no_shim"]["p99_ns"]),
                         fmt_ns(f["prefix_sud"]["p50_ns"]), fmt_ns(f["prefix_sud"]["p99_ns"]),
                         fmt_x(f["ratio_p50"])))
        b = rw.get("bun_crawl", {})
        if b.get("status") == "ok":
            extra.append("| Bun crawl (`tests/lib/crawl.js`, %d files, 16 workers), median of %d: "
                         "real directory on the disk, no shim vs the prefix (SUD) | wall %s vs "
                         "%s (%s); crawl.js's timer %s vs %s (%s) |" % (
                             b["files"], b["rounds"], fmt_ns(b["disk"]["wall_ns"]),
                             fmt_ns(b["shim"]["wall_ns"]), fmt_x(b["ratio_wall"]),
                             fmt_ns(b["disk"]["crawl_ns"]), fmt_ns(b["shim"]["crawl_ns"]),
                             fmt_x(b["ratio_crawl"])))
        else:
            extra.append("| Bun crawl under SUD | %s: %s |" % (b.get("status"), b.get("reason")))
    if extra:
        L += ["| other | result |", "|---|---|"] + extra + [""]
    return "\n".join(L)


def targets_md(T):
    L = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for t in T:
        v = t["measured"]
        vs = "-" if v is None else t.get("shown") or fmt_x(v)
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        L.append("| %s | %s | %s | %s%s |" % (t["target"], t["goal"], vs, met,
                                              (" (%s)" % t["note"]) if t["note"] else ""))
    return "\n".join(L)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def ver(argv):
        if not shutil.which(argv[0]):
            return None
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=20)
        return p.stdout.strip().splitlines()[0] if p.stdout.strip() else None

    pv = None
    if shutil.which("proot"):
        out = sh(["proot", "--version"], check=False).stdout
        mv, acc = re.search(r"(\d+\.\d+\.\d+)", out), re.search(r"seccomp_filter = (\w+)", out)
        pv = "proot %s%s" % (mv.group(1) if mv else "?",
                             " (seccomp_filter %s)" % acc.group(1) if acc else "")
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "glibc": platform.libc_ver()[1], "python": platform.python_version(),
            "git": ver(["git", "--version"]), "bindfs": ver(["bindfs", "--version"]),
            "valgrind": ver(["valgrind", "--version"]), "proot": pv}


def write_md(path, R, tables, tmd):
    mc, sides = R["machine"], R.get("sides", {})
    L = ["# Benchmark results", "",
         "The latest full `make bench` (written by bench/run.py; bench/README.md says what each "
         "case measures and how to read it). Ratios are to the first column, measured in the "
         "same run; lower is faster.", "",
         "Machine: %d cores, %s, Linux %s, glibc %s, Python %s, %s, %s, %s." % (
             mc["nproc"], mc["cpu"], mc["kernel"], mc["glibc"], mc["python"], mc["git"],
             mc["bindfs"] or "no bindfs", mc["proot"] or "no proot"),
         "Run: %s, %.0f s in all." % (mc["date"], R["elapsed_s"]), "", "Sides:", ""]
    for n in DISK_SET + TMPFS_SET[1:] + ["pass", "pass_guard"]:
        s = sides.get(n, {})
        lab = LABEL[n] + (" (tmpfs)" if n in TMPFS_SET[1:] else "")
        if s.get("status") == "ok":
            L.append("- %s: `%s`, backed by %s on %s%s" % (
                lab, s["dir"], s["backing"], s["fs"], "; " + s["note"] if s.get("note") else ""))
        else:
            L.append("- %s: %s (%s)" % (lab, s.get("status"), s.get("reason")))
    cd = R.get("cache_disk", {})
    if cd.get("ext4_without_journal"):
        L += ["", "The disk is ext4 without a journal: for 60-300 s after an inode is freed, "
                  "every create and mkdir in its block group skips it (fs/ext4/ialloc.c, "
                  "recently_deleted), so the bench deletes nothing until the end (rmdir is timed "
                  "last)." + (" **Warning**: %s" % cd["warning"] if cd.get("warning") else "")]
    L += ["", tables, "**Targets of issue 5**", "", tmd, ""]
    notrun = [(n, c) for n, c in R["cases"].items() if c.get("status") != "ok"]
    if notrun:
        L.append("Not run: " + "; ".join("%s (%s: %s)" % (n, c.get("status"), c.get("reason"))
                                         for n, c in notrun) + ".")
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


# ---- main -----------------------------------------------------------------------------------

def main():
    global BASE_ENV, PRELOAD, PY, BIN, SMSHIM
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--work")
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--md")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", help="comma list of cases to run")
    a = ap.parse_args()
    cfg = SMOKE if a.smoke else FULL
    build = os.path.abspath(a.build)
    BIN = {n: os.path.join(build, "bench", n)
           for n in ("micro", "timeit", "replay", "callstat", "rawsys")}
    lib = os.path.join(build, "libsmshim.so")
    SMSHIM = os.path.join(build, "smshim")  # cases 4 and 5 (skipped with the reason if missing)
    for p in list(BIN.values()) + [lib]:
        if not os.path.exists(p):
            sys.exit("bench: %s is missing (make all, then make -C bench)" % p)
    PRELOAD = os.environ.get("BENCH_PRELOAD") or lib
    PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    BASE_ENV = {k: v for k, v in os.environ.items()
                if k != "LD_PRELOAD" and not k.startswith(("SMSHIM_", "SUPERMEMORY_"))}
    BASE_ENV["LC_ALL"] = "C"
    W = os.path.abspath(a.work or os.path.join(build, "bench", "work"))
    only = set(a.only.split(",")) if a.only else None
    stamp = os.path.join(os.path.dirname(W), ".smshim-bench-cleanup")

    mounts, made = [], []  # mount points to unmount, then their directories to remove

    def unmount_all():
        for mp in reversed(mounts):
            if shutil.which("fusermount3") and mount_of(mp)[1].startswith("fuse"):
                sh(["fusermount3", "-u", "-z", mp], check=False)
            else:
                sh(["umount", "-l", mp], check=False)
        mounts.clear()

    def on_signal(sig, frame):
        stop_servers()
        unmount_all()
        sys.exit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # a fresh work directory (unmounting what an interrupted run may have left there)
    if os.path.exists(W) and os.listdir(W) and not os.path.exists(W + "/.smshim-bench"):
        sys.exit("bench: %s exists and was not made by the bench; remove it or pass --work" % W)
    T, tnote = find_tmpfs(W, mounts, made, not a.smoke)
    olds = [W] + ([T, T + "-disk", T + "-fuse", T + "-fuset"] if T else [])
    olds = [o for o in olds if o not in mounts]
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if any(mp == o or mp.startswith(o + "/") for o in olds) and mp not in mounts:
                sh(["umount", "-l", mp], check=False)
    os.makedirs(os.path.dirname(W), exist_ok=True)
    remove_tree(olds, stamp)
    os.makedirs(W)
    open(W + "/.smshim-bench", "w").close()
    if T:
        os.makedirs(T)

    R = {"machine": machine(), "smoke": a.smoke, "config": cfg, "sides": {}, "cases": {}}
    nojournal = ext4_without_journal(W)
    R["cache_disk"] = {"path": W + "/cache", "fs": mount_of(W)[1], "device": mount_of(W)[2],
                       "ext4_without_journal": nojournal}
    try:
        with open(stamp) as f:
            when, freed = f.read().split()
        ago = time.time() - float(when)
    except (OSError, ValueError):
        ago, freed = None, 0
    if nojournal and ago is not None and ago < 300 and int(freed) > 20000:
        R["cache_disk"]["warning"] = (
            "about %s inodes of an earlier bench run were freed %.0f s before this run started: "
            "creates and mkdirs on the disk may be slower than usual" % (freed, ago))
        log("bench: note: " + R["cache_disk"]["warning"])
    errors = []
    t_all = time.time()
    try:
        S = make_sides(W, T, tnote, a.smoke, mounts, made)
        R["sides"] = {n: s.info() for n, s in S.items()}
        log("bench: work %s, preload %s" % (W, PRELOAD))
        for n, s in S.items():
            i = s.info()
            log("  %-10s %s" % (n, ("%s -> %s (%s)" % (i["dir"], i["backing"], i["fs"]))
                                if s.ok() else "%s: %s" % (s.status, s.reason)))
        B = Bench(cfg, W, S, a.smoke)
        want = lambda n: only is None or n in only  # noqa: E731

        def crawl_server():
            # its results go into the crawl case; its failure must not erase the local part
            c = R["cases"].get("crawl", {})
            try:
                c.update(B.crawl_server())
            except Exception as e:
                traceback.print_exc()
                why = "%s: %s" % (type(e).__name__, e)
                for k in ("server_latency", "last_upload"):
                    c[k] = {"status": "error", "reason": why}
                errors.append("crawl (server): " + why)
        micro_on = want("micro") or want("passthrough")
        # The order keeps deletions (rmdir) last; see micro.c.
        steps = [
            ("micro", "setup", micro_on, B.micro_setup),
            ("micro", "calls", micro_on, B.micro_a),
            ("micro", "mkdir", micro_on, B.micro_mkdir),
            ("crawl", None, want("crawl"), B.crawl),
            ("crawl", "server", want("crawl"), crawl_server),
            ("upload_drain", None, want("upload_drain"), B.upload_drain),
            ("programs", None, want("programs"), B.programs),
            ("process_start", None, want("process_start"), B.process_start),
            ("scale", None, want("scale"), B.scale),
            ("instructions", None, want("instructions"), B.instructions),
            ("raw_syscall", None, want("raw_syscall"), B.raw_syscall),
            ("micro", "rmdir", micro_on, B.micro_rmdir),
        ]
        for case, part, on, fn in steps:
            if not on or get(R["cases"], case, "status") == "error":
                continue
            t0 = time.time()
            log("== %s%s" % (case, " (%s)" % part if part else ""))
            try:
                res = fn()
                if part is None:
                    res.setdefault("status", "ok")
                    R["cases"][case] = res
            except Exception as e:  # one broken case must not hide the others
                traceback.print_exc()
                R["cases"][case] = {"status": "error", "reason": "%s: %s" % (type(e).__name__, e)}
                errors.append("%s: %s" % (case, R["cases"][case]["reason"]))
            dt = round(time.time() - t0, 1)
            if case in R["cases"]:
                R["cases"][case]["elapsed_s"] = round(R["cases"][case].get("elapsed_s", 0) + dt, 1)
            else:
                R.setdefault("_elapsed", {})[case] = R.get("_elapsed", {}).get(case, 0) + dt
            c = R["cases"].get(case, {})
            log("   %s(%.1f s)" % ("%s: %s " % (c["status"], c.get("reason")) if c.get("status")
                                   not in (None, "ok") else "", dt))
        el = R.pop("_elapsed", {})
        for case, fn in (("micro", B.micro_result), ("passthrough", B.passthrough_result)):
            if not micro_on:
                continue
            if get(R["cases"], "micro", "status") == "error":
                R["cases"][case] = dict(R["cases"]["micro"])
                continue
            if want(case):
                R["cases"][case] = dict(fn(), status="ok")
                R["cases"][case]["elapsed_s"] = round(el.get("micro", 0), 1)
        for n in CASES:
            R["cases"].setdefault(n, {"status": "skipped", "reason": "not selected (--only)"})
        R["cases"] = {n: R["cases"][n] for n in CASES}
    finally:
        stop_servers()
        unmount_all()
        remove_tree([W] + made + ([T] if T else []), stamp)
    R["elapsed_s"] = round(time.time() - t_all, 1)
    R["targets"] = targets(R["cases"])
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(R, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.out)
    tables = md_tables(R["cases"], R["sides"])
    tmd = targets_md(R["targets"])
    mc = R["machine"]
    log("")
    log("---- results: %s (%.0f s) ----" % (a.out, R["elapsed_s"]))
    log("")
    log(tables)
    log(tmd)
    log("")
    log("Machine: %d cores, %s, Linux %s, glibc %s, %s." % (mc["nproc"], mc["cpu"], mc["kernel"],
                                                             mc["glibc"], mc["date"]))
    for n, c in R["cases"].items():
        if c.get("status") != "ok":
            log("  %s: %s (%s)" % (n, c.get("status"), c.get("reason")))
    if a.md:
        write_md(a.md, R, tables, tmd)
        log("wrote %s" % a.md)
    for e in errors:
        log("bench: ERROR %s" % e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
