"""Cases 1 (micro) and 2 (passthrough): per-call times; micro helpers shared with case 6."""
import os

from lib import proc
from lib.config import MICRO_OPS, OPS_A, PASS_SET, PREFIX, TABLE_SIDES
from lib.proc import in_turns, p_ratios, per_call, ratio

MICRO_SIDES = TABLE_SIDES + PASS_SET


def setup(s, entries):
    """micro setup: the fixture (f4k, a directory of entries files, cw/, md/) in s.dir."""
    s.run([proc.BIN["micro"], "setup", s.dir, "-n", str(entries)])


def ensure_f4k(s):
    """The 4 KiB file of the fixture, for a case that may run without case 1."""
    if not os.path.exists(s.backing + "/w/f4k"):
        setup(s, 0)


def micro_rounds(ctx, sides, rounds, ops, extra=(), key="", tag=True):
    """Rounds of `micro run` in rotating order; each run's figures go to ctx.store[key + side]
    (tag: the side's name in the names it creates and removes)."""
    for _, s in in_turns(sides, rounds):
        out = s.json([proc.BIN["micro"], "run", s.dir, "-t", str(ctx.cfg["budget"])] +
                     (["-x", s.name] if tag else []) + ["-o", ",".join(ops)] + list(extra))
        ctx.store.setdefault(key + s.name, []).append(out["ops"])


def aggregate(ctx, name):
    """{op: {p50_ns, p99_ns, ...}}: medians over the runs of each run's p50 and p99."""
    res = {}
    for op in MICRO_OPS:
        a = per_call(ctx.store.get(name, []), op)
        if a["runs"]:
            res[op] = a
    return res


def prime():
    """micro's -p: a write under the prefix first, so the process's LMDB environment is open."""
    return ["-p", PREFIX + "/prime-%d.md" % os.getpid()]


def fixtures(ctx):
    """One fixture per real directory, made through the shim where the shim is a side."""
    done = set()
    for s in ctx.act(["shim", "shim_t"] + MICRO_SIDES):
        if s.backing not in done:
            setup(s, ctx.cfg["d_entries"])
            done.add(s.backing)


def calls(ctx):
    """Every call that deletes nothing, all sides, rounds in rotating order."""
    sides = ctx.act(TABLE_SIDES + ["pass_off", "pass"])
    micro_rounds(ctx, sides, ctx.cfg["rounds"], OPS_A)
    # more rounds of the pass-through pair alone: its target is a 3% difference
    pair = ctx.act(["pass_off", "pass"])
    micro_rounds(ctx, pair, ctx.cfg["pass_rounds"], OPS_A)
    micro_rounds(ctx, ctx.act(["pass_guard"]), ctx.cfg["pass_rounds"], OPS_A, prime())


def mkdir(ctx):
    micro_rounds(ctx, ctx.act(MICRO_SIDES[:-1]), ctx.cfg["rounds"], ["mkdir"])
    micro_rounds(ctx, ctx.act(["pass_guard"]), ctx.cfg["rounds"], ["mkdir"], prime())


def rmdir(ctx):
    """Last: rmdir frees inodes, and every create after it would pay for them."""
    micro_rounds(ctx, ctx.act(MICRO_SIDES), ctx.cfg["rounds"], ["rmdir"])


def result(ctx):
    """Case 1, from what the parts above stored."""
    S = ctx.S
    base = "tmpfs" if S["tmpfs"].ok() else "disk"
    agg = {n: aggregate(ctx, n) for n in TABLE_SIDES}
    out = {"base": base, "unit": "ns per call: median over runs of each run's p50 and p99; "
                                 "ratio_* = this side / the base side",
           "sides": {n: S[n].info() for n in TABLE_SIDES}, "ops": {}}
    for op in MICRO_OPS:
        row = {}
        for n in TABLE_SIDES:
            if op not in agg[n]:
                row[n] = None if S[n].ok() else S[n].why()
                continue
            a = dict(agg[n][op])
            if op in agg[base]:
                a.update(p_ratios(a, agg[base][op]))
            row[n] = a
        for n, ref in (("shim", "disk"), ("bindfs", "disk"), ("proot", "disk")):
            if op in agg[n] and op in agg[ref]:
                row["%s_vs_%s_p50" % (n, ref)] = ratio(agg[n][op]["p50_ns"],
                                                       agg[ref][op]["p50_ns"])
        out["ops"][op] = row
    return out


def passthrough_result(ctx):
    """Case 2, from what the parts above stored."""
    a, b, g = (aggregate(ctx, n) for n in PASS_SET)
    out = {"unit": "ns per call in one real directory on the disk, outside the prefix: "
                   "no_shim, shim (loaded), shim_lmdb_open (the process first wrote under the "
                   "prefix, so its LMDB environment is open)",
           "dir": ctx.S["pass"].dir, "ops": {}}
    for op in MICRO_OPS:
        if op in a and op in b:
            d = {"no_shim": a[op], "shim": b[op], "shim_lmdb_open": g.get(op)}
            d.update(p_ratios(b[op], a[op]))
            d["ratio_p50_lmdb_open"] = ratio(g[op]["p50_ns"], a[op]["p50_ns"]) if op in g \
                else None
            out["ops"][op] = d
    return out
