"""Case 4, server part: the crawl with a key and the test server at 0-1000 ms latency."""
import os
import time
import traceback

from lib import proc
from lib.config import IN_FLIGHT, PREFIX, WORKERS
from lib.crawls import check_tree, crawl_py_argv, plan, replay_text, write_plan
from lib.proc import BenchError, died_of, in_turns, last_json, log, median, ratio, sh
from lib.server import server, sync_env, sync_ready, uploaded
from lib.sides import shim_proc_env

PROGS = ("python", "c")
LU_KEYS = ("last_upload_ns", "first_upload_ns", "drained_ns", "process_ns", "crawl_ns",
           "list_requests", "create_requests")


def run(ctx):
    """Merges its results into the crawl case; its failure must not erase the local part."""
    c = ctx.R["cases"].get("crawl", {})
    try:
        c.update(measure(ctx))
    except Exception as e:
        traceback.print_exc()
        why = "%s: %s" % (type(e).__name__, e)
        for k in ("server_latency", "last_upload"):
            c[k] = {"status": "error", "reason": why}
        ctx.errors.append("crawl (server): " + why)


def measure(ctx):
    """The crawl into the prefix with an API key and the test server at each latency, in the
    same rounds as the same crawl into real directories (a tmpfs, and the disk beside the
    caches) and into a fresh cache without a key; then when the last upload reached the
    server."""
    cfg, S, W = ctx.cfg, ctx.S, ctx.W
    why = sync_ready(ctx)
    if why:
        sk = {"status": "skipped", "reason": why}
        return {"server_latency": sk, "last_upload": dict(sk)}
    lats = cfg["srv_latencies"]
    items = plan(cfg["srv_files"], cfg["srv_dirs"])
    plan_file = W + "/srv-plan.txt"
    write_plan(plan_file, items)
    base = W + "/srv"
    os.makedirs(base)
    tm = None
    if S["tmpfs"].ok():
        tm = S["tmpfs"].backing + "/srv"
        os.makedirs(tm)
    server(ctx)
    srv_sides = ["server_%dms" % L for L in lats]
    sides = (["tmpfs"] if tm else []) + ["disk", "shim_local"] + srv_sides
    cr = ServerCrawls(ctx, items, plan_file, base, tm)
    times, drained = cr.rounds(sides, srv_sides)
    exits = {}
    if cfg["srv_exit_drain"]:
        for side in srv_sides:
            exits[side] = cr.once(side, "python", drain=True, exit_wait=True)
    return {"server_latency": latency_result(cr, sides, srv_sides, times),
            "last_upload": last_upload_result(cr, srv_sides, drained, exits)}


class ServerCrawls:
    """The crawls of one run of this case: the plan, where they go, and every process counted
    (runs and crashes per side)."""

    def __init__(self, ctx, items, plan_file, base, tm):
        self.ctx, self.cfg, self.items, self.plan = ctx, ctx.cfg, items, plan_file
        self.base, self.tm = base, tm
        self.n, self.runs, self.crashes = 0, {}, []

    def rounds(self, sides, srv_sides):
        """Every side, both crawlers, rounds in rotating order; the first round's trees are
        checked, and its crawls with a key are drained. ({side: {prog: [crawl_ns]}},
        {server side: {prog: [drained crawl]}})"""
        times = {s: {p: [] for p in PROGS} for s in sides}
        drained = {s: {p: [] for p in PROGS} for s in srv_sides}
        for r, side in in_turns(sides, self.cfg["srv_rounds"]):
            for prog in PROGS:
                drain = side in drained and r < self.cfg["srv_drain_rounds"]
                res = self.once(side, prog, drain=drain)
                times[side][prog].append(res["crawl_ns"])
                if drain:
                    drained[side][prog].append(res)
                if r == 0:  # every side wrote the planned tree
                    check_tree(res["real"], self.items, prog, side)
        return times, drained

    def once(self, side, prog, **kw):
        """One crawl; a run whose process crashed before telling its figures is made again, in
        a fresh cache; every crash is counted."""
        for _ in range(4):
            self.n += 1
            res = self.crawl(side, prog, self.n, **kw)
            self.runs[side] = self.runs.get(side, 0) + 1
            if res.get("crash"):
                self.crashes.append(res["crash"])
                log("   %s %s crawl: the process died of %s%s" % (
                    side, prog, res["crash"]["signal"], " (run again)" if res.get("lost") else ""))
            if not res.get("lost"):
                return res
        raise BenchError("%s %s crawl: the process crashed 4 times" % (side, prog))

    def place(self, side, n, exit_wait):
        """Where crawl n of a side goes: (environment, destination as named, the real directory
        behind it, (cache, tag, latency) for a side with a key, else None). A cache is made just
        before, by an empty directory (local-only: directories are not documents); with a key
        the test server is reset to the side's latency."""
        env = dict(proc.BASE_ENV)
        if side in ("tmpfs", "disk"):
            dest = "%s/real-%d" % (self.tm if side == "tmpfs" else self.base, n)
            return env, dest, dest, None
        cache = "%s/c-%d" % (self.base, n)
        env = shim_proc_env(cache)
        sh(["mkdir", "-p", "%s/.bench-warm" % PREFIX], env=env)
        dest, real = PREFIX + "/crawl", cache + "/tree/crawl"
        if side == "shim_local":
            return env, dest, real, None
        lat, tag = int(side[len("server_"):-2]), "bench-c%d" % n
        self.ctx.srv.reset(lat)
        env = sync_env(cache, self.ctx.srv, tag, preload=True)
        if exit_wait:
            env["SMSHIM_EXIT_TIMEOUT"] = "900"
        else:
            env["SMSHIM_NOWAIT"] = "1"
        return env, dest, real, (cache, tag, lat)

    def crawl(self, side, prog, n, drain=False, exit_wait=False):
        """One crawl (prog: python or c) into a fresh directory of one side: tmpfs or disk (real
        directories), shim_local (a fresh cache, no key), or server_<L>ms (a fresh cache bound
        to the test server at L ms). With drain, the time until the server holds every
        document: after the crawl, `smshim sync` (the crawl runs with SMSHIM_NOWAIT=1, as
        `smshim run` runs a command), or with exit_wait the crawling process itself draining at
        exit (a plain LD_PRELOAD run)."""
        env, dest, real, keyed = self.place(side, n, exit_wait)
        if prog == "python":
            argv = crawl_py_argv(dest, len(self.items), self.cfg["srv_dirs"])
        else:
            argv = [proc.BIN["replay"], self.plan, dest, str(WORKERS)]
        p = sh(argv, env=env, timeout=1200, check=False)
        t_exit = time.time_ns()
        crash = None
        sig = died_of(p.returncode)
        if sig:
            # killed by a signal: with a key, a process that exits while its sync thread is
            # still loading libcurl can crash in exit() (see bench/README.md); counted
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
        if out.get("errors") or out["files"] != len(self.items):
            raise BenchError("%s %s crawl: %s" % (side, prog, out))
        res = {"crawl_ns": out["ns"] if prog == "python" else out["secs"] * 1e9, "real": real,
               "crash": crash}
        if crash and exit_wait:  # it never drained: run it again
            return {"crash": crash, "lost": True}
        if keyed is None or not drain:
            return res
        res.update(self.drained(side, prog, keyed, out["t0_real_ns"], t_exit, exit_wait))
        return res

    def drained(self, side, prog, keyed, t0, t_exit, exit_wait):
        """After a crawl with a key: `smshim sync` until the queue is empty (unless the process
        drained at exit), the server's documents checked, and the times from the crawl's start
        (t0, wall clock)."""
        cache, tag, _ = keyed
        srv = self.ctx.srv
        if not exit_wait:
            p = sh([proc.SMSHIM, "sync"], env=sync_env(cache, srv, tag), timeout=1200,
                   check=False)
            t_done = time.time_ns()
            if p.returncode != 0:
                raise BenchError("%s: smshim sync exited %d: %s" % (
                    side, p.returncode, p.stderr.strip()[-300:]))
        else:
            t_done = t_exit
        want = {"/crawl/" + pth: (data.decode() if prog == "python" else replay_text(len(data)))
                for pth, data in self.items}
        docs, created, counts = uploaded(srv, tag, want, "%s %s crawl" % (side, prog))
        return dict(docs=len(docs), last_upload_ns=max(created) * 1e6 - t0,
                    first_upload_ns=min(created) * 1e6 - t0, drained_ns=t_done - t0,
                    process_ns=t_exit - t0, **counts)


def latency_result(cr, sides, srv_sides, times):
    """crawl.server_latency: each side's median crawl times and their ratios to the real
    directories and to the lowest latency."""
    cfg, lats = cr.cfg, cr.cfg["srv_latencies"]
    first = srv_sides[0]
    sl = {"status": "ok",
          "unit": "ns wall time of the 16 workers, median over rounds (python: the threads "
                  "of tests/lib/crawl.py, timed as crawl.py times them; c: bench/replay); "
                  "*_vs_disk, *_vs_tmpfs: ratio to the same crawl into a real directory in "
                  "the same rounds; *_vs_%s: ratio to the crawl with the server at %d ms"
                  % (first[len("server_"):], lats[0]),
          "server": "tests/server/smserver.py with TCP_NODELAY, latency_ms set per crawl",
          "files": len(cr.items), "dirs": cfg["srv_dirs"], "workers": WORKERS,
          "rounds": cfg["srv_rounds"], "latencies_ms": lats, "trees_checked": True,
          "sides_note": "tmpfs, disk: real directories (the disk one beside the caches, "
                        "%s); shim_local: a fresh cache without a key; server_<L>ms: a "
                        "fresh cache with the key, the test server at L ms; every cache "
                        "made just before its crawl" % cr.base,
          "sides": {},
          "processes": {s: cr.runs.get(s, 0) for s in sides},
          "crashes": cr.crashes}
    for s in sides:
        d = {"python_ns": median(times[s]["python"]), "c_ns": median(times[s]["c"]),
             "runs": len(times[s]["python"])}
        for k in PROGS:
            for refside in ("disk", "tmpfs"):
                if refside in times and s != refside:
                    d["%s_vs_%s" % (k, refside)] = ratio(d[k + "_ns"],
                                                         median(times[refside][k]))
            if s in srv_sides:
                d["%s_vs_%s" % (k, first[len("server_"):])] = ratio(
                    d[k + "_ns"], median(times[first][k]))
        sl["sides"][s] = d
    return sl


def last_upload_result(cr, srv_sides, drained, exits):
    """crawl.last_upload: per latency, when the last document reached the server after each
    kind of drain, beside the least IN_FLIGHT uploads in flight allow."""
    nfiles = len(cr.items)
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
          "files": nfiles, "by_latency": {}}
    for L, side in zip(cr.cfg["srv_latencies"], srv_sides):
        row = {"bound_ns": -(-nfiles // IN_FLIGHT) * L * 1e6}
        for prog, rs in drained[side].items():
            if rs:
                row[prog] = {k: median([x[k] for x in rs]) for k in LU_KEYS}
                row[prog].update(runs=len(rs), docs=rs[0]["docs"],
                                 max_inflight_uploads=max(x["max_inflight_uploads"]
                                                          for x in rs))
        if side in exits:
            x = exits[side]
            row["exit_drain"] = {k: x[k] for k in LU_KEYS}
            row["exit_drain"].update(runs=1, docs=x["docs"],
                                     max_inflight_uploads=x["max_inflight_uploads"])
        lu["by_latency"][str(L)] = row
    return lu
