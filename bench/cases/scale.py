"""Case 6 (scale): stat, missing name and readdir as the cache grows to 1M entries."""
import os

from cases.micro import aggregate, micro_rounds, setup
from lib import proc
from lib.config import PREFIX
from lib.fs import dir_bytes
from lib.proc import ratio
from lib.sides import Side, shim_env


def run(ctx):
    cfg, W = ctx.cfg, ctx.W
    # the real-directory side lives beside the shim's files, in the same tree (see make_sides)
    cache = W + "/scale-cache"
    shim = Side("shim", PREFIX + "/s", cache + "/tree", env=shim_env(cache))
    disk = Side("disk", cache + "/tree/r", cache + "/tree")
    for s in (shim, disk):
        setup(s, 0)
    stages = list(cfg["scale"])
    big = cfg["scale_1m"]
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
            why = skip_big(n, have, rate)
            if why:
                out["stages"][str(n)] = {"status": "skipped", "reason": why}
                continue
        out["stages"][str(n)] = stage(ctx, shim, disk, cache, have, n, rate)
        have = n
    first = out["stages"][str(stages[0])]
    for st in out["stages"].values():
        if "shim" in st:
            st["shim_stat_vs_first_stage"] = ratio(st["shim"]["stat"]["p50_ns"],
                                                   first["shim"]["stat"]["p50_ns"])
            st["shim_missing_vs_first_stage"] = ratio(
                st["shim"]["stat_missing"]["p50_ns"], first["shim"]["stat_missing"]["p50_ns"])
    return out


def skip_big(n, have, rate):
    """Why the 1M stage is not run (None to run it): BENCH_1M=0, or (BENCH_1M=auto) populating
    it at the rates seen so far would take more than BENCH_1M_BUDGET seconds."""
    forced = os.environ.get("BENCH_1M", "auto")
    proj = sum((n - have) / rate[k] for k in rate) * 1.3
    budget = float(os.environ.get("BENCH_1M_BUDGET", "150"))
    if forced == "0" or (forced != "1" and proj > budget):
        return "BENCH_1M=0" if forced == "0" else (
            "populating %d more files on both sides would take about %.0f s (more "
            "than BENCH_1M_BUDGET=%g s; BENCH_1M=1 forces it)" % (n - have, proj, budget))
    return None


def stage(ctx, shim, disk, cache, have, n, rate):
    """One stage: both sides populated from have to n entries (rate: creates per second, by
    side), then timed and measured."""
    cfg = ctx.cfg
    st = {"entries": n}
    for s in (shim, disk):
        o = s.json([proc.BIN["micro"], "populate", s.dir, str(have), str(n)], timeout=3600)
        rate[s.name] = o["created"] / max(o["secs"], 1e-9)
        st["%s_creates_per_s" % s.name] = round(rate[s.name])
    ctx.store = {k: v for k, v in ctx.store.items() if not k.startswith("scale_")}
    args = ["-f", "s0000/f%04d.md" % min(500, n // 2), "-d", "s0000"]
    micro_rounds(ctx, [shim, disk], cfg["scale_rounds"], ["stat", "stat_missing", "readdir"],
                 args, key="scale_", tag=False)
    for s in (shim, disk):
        st[s.name] = aggregate(ctx, "scale_" + s.name)
    meta, _ = dir_bytes(cache + "/meta")
    tree, _ = dir_bytes(cache + "/tree/s")
    real, _ = dir_bytes(cache + "/tree/r")
    st["meta_bytes"] = meta
    st["meta_bytes_per_entry"] = round(meta / n, 1)
    st["tree_bytes_per_entry"] = round(tree / n, 1)
    st["real_dir_bytes_per_entry"] = round(real / n, 1)
    st["rss_kb"] = {s.name: s.json([proc.BIN["micro"], "rss", s.dir]) for s in (shim, disk)}
    st["shim_stat_vs_disk"] = ratio(st["shim"]["stat"]["p50_ns"], st["disk"]["stat"]["p50_ns"])
    return st

