"""Case pull_cost: what a pull costs. N documents seeded on the test server (cfg pull_docs, at
cfg pull_latency ms): the first `smshim sync` of a fresh cache and a `smshim sync` with nothing
changed, each as wall time and the requests the server counted. The first sync is set beside its
floor: its round trips at the latency, with PULL_INFLIGHT list requests in flight; also the most
requests the server saw in flight at once, and the sync's peak RSS (the pull holds a few pages,
never the container)."""
import json
import math
import os
import shutil
import time
import urllib.request

from lib import proc
from lib.config import R_LIST
from lib.proc import BenchError, sh
from lib.server import server, sync_env, sync_ready

PAGE = 100         # documents a page of the first pull (hydrate/pull.c)
PULL_INFLIGHT = 4  # list requests a pull has in flight (hydrate/pull_pages.h)


def floor_secs(n, lat_ms):
    """The first pull's round trips: pages 1 and 2 one after the other, the rest PULL_INFLIGHT at
    a time, then the head of the delta that ends it (nothing changed meanwhile)."""
    pages = max(1, math.ceil(n / PAGE))
    trips = min(pages, 2) + math.ceil(max(0, pages - 2) / PULL_INFLIGHT) + 1
    return trips * lat_ms / 1000.0


def seed(srv, tag, n):
    """n small documents in 100 directories, made as if by another client (admin seed)."""
    for i in range(n):
        body = {"filepath": "/p/d%02d/f%05d.md" % (i % 100, i), "content": "document %d\n" % i,
                "containerTag": tag}
        req = urllib.request.Request(srv.url + "/_admin/documents", method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=30).read()


def one_sync(ctx, srv, env, what):
    before = srv.stats()["requests"]
    timer = shutil.which("time", path="/usr/bin:/bin")  # GNU time: the peak RSS
    argv = ([timer, "-f", "maxrss_kb=%M"] if timer else []) + [proc.SMSHIM, "sync"]
    t0 = time.time_ns()
    p = sh(argv, env=env, check=False, timeout=1800)
    secs = (time.time_ns() - t0) / 1e9
    if p.returncode != 0:
        raise BenchError("pull_cost: %s: smshim sync exited %d: %s" % (what, p.returncode,
                                                                      p.stderr[-300:]))
    after = srv.stats()
    d = {k: after["requests"][k] - before.get(k, 0) for k in after["requests"]}
    rss = [line for line in p.stderr.splitlines() if line.startswith("maxrss_kb=")]
    return {"secs": round(secs, 3), "requests": sum(d.values()), "list_requests": d[R_LIST],
            "max_inflight": after["max_inflight"],
            "maxrss_mb": round(int(rss[-1].split("=")[1]) / 1024, 1) if rss else None}


def run(ctx):
    cfg = ctx.cfg
    why = sync_ready(ctx)
    if why:
        return {"status": "skipped", "reason": why}
    n, lat, tag = cfg["pull_docs"], cfg["pull_latency"], "bench-pull"
    srv = server(ctx)
    srv.reset(0)
    seed(srv, tag, n)
    srv.admin("/_admin/config", {"latency_ms": lat})
    cache = "%s/pull/c" % ctx.W
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    env = sync_env(cache, srv, tag)
    first = one_sync(ctx, srv, env, "first sync")
    first["floor_secs"] = round(floor_secs(n, lat), 3)
    first["of_floor"] = round(first["floor_secs"] / first["secs"], 2) if first["secs"] else None
    nochange = [one_sync(ctx, srv, env, "no-change sync") for _ in range(3)]
    nochange.sort(key=lambda r: r["secs"])
    # a remote delete: the next sync's count check sees it, lists the ids and removes the file
    gone = next(d for d in srv.docs(tag) if d["filepath"] == "/p/d07/f00007.md")
    srv.admin("/_admin/delete", {"id": gone["id"]})
    rd = one_sync(ctx, srv, env, "sync after a remote delete")
    rd["applied"] = not os.path.exists(cache + "/tree/p/d07/f00007.md")
    proc.log("  first sync %.1f s (floor %.1f s, %d list requests, at most %d in flight, "
             "%s MB peak); no change %.2f s, %d request(s)"
             % (first["secs"], first["floor_secs"], first["list_requests"],
                first["max_inflight"], first["maxrss_mb"], nochange[1]["secs"],
                nochange[1]["requests"]))
    proc.log("  a remote delete: %s by the next sync, %.2f s, %d request(s)"
             % ("applied" if rd["applied"] else "NOT applied", rd["secs"], rd["requests"]))
    return {"documents": n, "latency_ms": lat,
            "first_sync": first, "no_change_sync": nochange[1], "remote_delete": rd,
            "note": "first: every document pulled into a fresh cache, beside its floor (its "
                    "round trips at the latency, %d list requests in flight); no change: the "
                    "median of 3 syncs with nothing changed remotely (targets: first <= 8 s, no "
                    "change <= 1 s and <= 3 requests)" % PULL_INFLIGHT}
