"""Case 5 (upload_drain): a local-only queue drained by `smshim sync`, docs per second; and the
same files pushed by a plain-preload process draining at its exit, and by 16 short processes
followed by `smshim sync`."""
import json
import subprocess
import time

from lib import proc
from lib.config import IN_FLIGHT, PREFIX
from lib.crawls import CRAWL_SCRIPT, crawl_py_argv, plan
from lib.proc import BenchError, in_turns, last_json, median, sh
from lib.server import TestServer, server, sync_env, sync_ready, uploaded
from lib.sides import shim_proc_env


def run(ctx):
    """Documents per second pushed vs the server's latency, and with several `smshim sync`
    processes draining one cache at once (the lease keeps it to 8 uploads in flight), and
    against the test server as shipped (Nagle's algorithm on)."""
    cfg = ctx.cfg
    why = sync_ready(ctx)
    if why:
        return {"status": "skipped", "reason": why}
    nfiles, lats = cfg["drain_files"], cfg["drain_latencies"]
    items = plan(nfiles, max(1, nfiles // 2))
    srv = server(ctx)
    mid = 50 if 50 in lats else lats[-1]
    runs = [("%dms" % L, srv, L, 1) for L in lats]
    if cfg["drain_procs"] > 1:
        runs.append(("%dms_%dprocs" % (mid, cfg["drain_procs"]), srv, mid, cfg["drain_procs"]))
    stock = TestServer(ctx.W, "server-stock", nodelay=False) if cfg["drain_stock"] else None
    # the other ways to the same queue: a plain-preload process draining at its exit, and 16
    # short processes (as under `smshim run`: they never wait) then `smshim sync`
    others = [("%dms_%s" % (L, how), how, L) for L in cfg.get("drain_exit_latencies", [200])
              for how in ("exit", "short_procs")]
    try:
        runs += [("%dms_stock" % L, stock, L, 1) for L in cfg["drain_stock"]]
        got = {name: [] for name, _, _, _ in runs}
        ogot = {name: [] for name, _, _ in others}
        n = 0
        for _, (name, s, L, procs) in in_turns(runs, cfg["drain_rounds"]):
            n += 1
            got[name].append(drain_once(ctx, s, L, procs, n, items))
        for _, (name, how, L) in in_turns(others, cfg["drain_rounds"]):
            n += 1
            ogot[name].append(other_once(ctx, srv, how, L, n, items))
    finally:
        if stock:
            stock.stop()
    out = result(cfg, runs, got, stock)
    out["others"] = other_result(others, ogot)
    return out


def other_once(ctx, srv, how, lat, n, items):
    """how "exit": one preloaded process with the key writes the files (crawl.py's 16 threads)
    and drains at its exit (SMSHIM_EXIT_TIMEOUT 900); the time runs from the crawl's start to
    the process's end (its sync thread's start, first pull and drain included). how
    "short_procs": 16 preloaded processes with the key (crawl.py --procs, SMSHIM_NOWAIT=1 as
    under `smshim run`) write them and quit, then `smshim sync` drains what is left; the time is
    the sync's."""
    cache, tag = "%s/drain/c-%d" % (ctx.W, n), "bench-d%d" % n
    srv.reset(lat)
    env = sync_env(cache, srv, tag, preload=True)
    dest, ndirs = PREFIX + "/q", max(1, len(items) // 2)
    queued = None
    if how == "exit":
        env["SMSHIM_EXIT_TIMEOUT"] = "900"
        out = last_json(sh(crawl_py_argv(dest, len(items), ndirs), env=env,
                           timeout=1200).stdout)
        t1 = time.time_ns()
        if out.get("errors"):
            raise BenchError("upload_drain exit: writing the files: %s" % out)
        t0 = out["t0_real_ns"]  # the crawl's start (after the interpreter's own start)
    else:
        env["SMSHIM_NOWAIT"] = "1"
        sh([proc.PY, CRAWL_SCRIPT, "--dest", dest, "--files", str(len(items)), "--dirs",
            str(ndirs), "--procs"], env=env, timeout=1200)
        e = dict(proc.BASE_ENV, SMSHIM_CACHE=cache)
        queued = json.loads(sh([proc.SMSHIM, "status", "--json"], env=e).stdout)["queued"]
        t0 = time.time_ns()
        p = sh([proc.SMSHIM, "sync"], env=sync_env(cache, srv, tag), check=False, timeout=1200)
        t1 = time.time_ns()
        if p.returncode != 0:
            raise BenchError("upload_drain: smshim sync after short processes exited %d: %s" % (
                p.returncode, p.stderr.strip()[-300:]))
    docs, created, counts = uploaded(srv, tag, {"/q/" + pth: data.decode() for pth, data in items},
                                     "upload_drain %s at %d ms" % (how, lat))
    after = [c for c in created if c * 1e6 >= t0]  # created by the timed part
    span = (created[-1] - created[0]) / 1e3
    return dict({"ns": t1 - t0, "queued_before": queued, "docs": len(docs),
                 "docs_in_timed_part": len(after),
                 "push_docs_per_s": (len(docs) - 1) / span if span > 0 else None,
                 "last_upload_ns": created[-1] * 1e6 - t0}, **counts)


def other_result(others, ogot):
    """The exit drain and the short processes: docs/s over the timed part (the exit: every file
    over the process's whole run; short_procs: the documents `smshim sync` created over its
    wall time), against IN_FLIGHT / latency."""
    res = {}
    for name, how, L in others:
        rs = ogot[name]
        ns = median([x["ns"] for x in rs])
        docs = median([x["docs_in_timed_part"] for x in rs])
        d = {"latency_ms": L, "how": how, "runs": len(rs), "ns": ns, "docs_timed": docs,
             "queued_before": rs[0]["queued_before"],
             "docs_per_s": round(docs / (ns / 1e9), 1) if ns else None,
             "push_docs_per_s": median([x["push_docs_per_s"] for x in rs]),
             "last_upload_ns": median([x["last_upload_ns"] for x in rs]),
             "max_inflight_uploads": max(x["max_inflight_uploads"] for x in rs)}
        if d["push_docs_per_s"] is not None:
            d["push_docs_per_s"] = round(d["push_docs_per_s"], 1)
        if L and d["docs_per_s"] is not None:
            d["ideal_docs_per_s"] = IN_FLIGHT * 1000.0 / L
            d["of_ideal"] = round(d["docs_per_s"] / d["ideal_docs_per_s"], 3)
        res[name] = d
    return res


def drain_once(ctx, srv, lat, procs, n, items):
    """One measurement: the files queued in local-only mode in a fresh cache, then
    `smshim sync` (procs of them at once, sharing the cache) until the queue is empty."""
    cache, tag = "%s/drain/c-%d" % (ctx.W, n), "bench-d%d" % n
    out = last_json(sh(crawl_py_argv(PREFIX + "/q", len(items), max(1, len(items) // 2)),
                       env=shim_proc_env(cache)).stdout)
    if out.get("errors"):
        raise BenchError("upload_drain: writing the files: %s" % out)
    e = dict(proc.BASE_ENV, SMSHIM_CACHE=cache)
    queued = json.loads(sh([proc.SMSHIM, "status", "--json"], env=e).stdout)["queued"]
    srv.reset(lat)
    senv = sync_env(cache, srv, tag)
    t0 = time.time_ns()
    ps = [subprocess.Popen([proc.SMSHIM, "sync"], env=senv, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True) for _ in range(procs)]
    errs = [p.communicate(timeout=1200)[1] for p in ps]
    t1 = time.time_ns()
    for p, err in zip(ps, errs):
        if p.returncode != 0:
            raise BenchError("upload_drain: smshim sync exited %d: %s" % (
                p.returncode, err.strip()[-300:]))
    docs, created, counts = uploaded(srv, tag, {"/q/" + pth: data.decode() for pth, data in items},
                                     "upload_drain at %d ms" % lat)
    span = (created[-1] - created[0]) / 1e3
    return dict({"sync_ns": t1 - t0, "queued": queued,
                 "push_docs_per_s": (len(docs) - 1) / span if span > 0 else None,
                 "first_upload_ns": created[0] * 1e6 - t0}, **counts)


def result(cfg, runs, got, stock):
    """The case's figures per configuration (median over its runs)."""
    nfiles = cfg["drain_files"]
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
    out["max_inflight_uploads"] = max(c["max_inflight_uploads"] for c in out["configs"].values())
    return out
