"""Case 3 (process_start): /bin/true with and without the shim: preloaded into a plain parent's
child; started by a shimmed parent (the parent's posix_spawn reads the program's headers and
decides the child's environment, what every process under `smshim run` pays); and with the
loader's audit module, which only a program whose loader looks under the prefix gets; and with
an empty library preloaded instead (bench/empty.c), the floor any preloaded library pays. Then
a process's first calls."""
import os

from cases.micro import ensure_f4k
from lib import proc
from lib.proc import in_turns, median, ratio
from lib.sides import Side


def run(ctx):
    cfg, S = ctx.cfg, ctx.S
    plain = Side("none", None, None)
    shim = S["shim"]
    per = max(1, cfg["start_runs"] // cfg["start_rounds"])
    audit = os.path.join(os.path.dirname(proc.PRELOAD.split(":")[-1]), "libsmshim-audit.so")
    aud = Side("shim_audit", shim.dir, shim.backing, env=dict(shim.extra, LD_AUDIT=audit))
    spawned = Side("shim_spawned", shim.dir, shim.backing, env=shim.extra)
    empty = Side("empty", None, None, env={"LD_PRELOAD": proc.BIN["libempty.so"]})
    runs = {"none": [], "shim": [], "shim_spawned": [], "shim_audit": [], "empty": []}
    for _, s in in_turns([plain, shim, spawned, aud, empty], cfg["start_rounds"]):
        runs[s.name] += s.timeit(["/bin/true"], per, warm=3, parent_too=s is spawned)
    out = {"unit": "ns wall time of posix_spawn + waitpid of /bin/true (median)",
           "true_no_shim_ns": median(runs["none"]), "true_shim_ns": median(runs["shim"]),
           "true_shim_spawned_ns": median(runs["shim_spawned"]),
           "true_shim_audit_ns": median(runs["shim_audit"]),
           "true_empty_preload_ns": median(runs["empty"]), "runs": len(runs["none"])}
    out["ratio"] = ratio(out["true_shim_ns"], out["true_no_shim_ns"])
    out["ratio_spawned"] = ratio(out["true_shim_spawned_ns"], out["true_no_shim_ns"])
    out["ratio_audit"] = ratio(out["true_shim_audit_ns"], out["true_no_shim_ns"])
    out["ratio_empty_preload"] = ratio(out["true_empty_preload_ns"], out["true_no_shim_ns"])
    out["ratio_vs_empty_preload"] = ratio(out["true_shim_ns"], out["true_empty_preload_ns"])
    pr = S["proot"]
    if pr.ok():
        t = plain.timeit(pr.wrap + ["/bin/true"], cfg["proot_start_runs"], warm=1)
        out["true_proot_ns"] = median(t)
        out["ratio_proot"] = ratio(out["true_proot_ns"], out["true_no_shim_ns"])
    else:
        out["true_proot"] = pr.why()
    out["first_call_ns"] = first_calls(ctx)
    return out


def first_calls(ctx):
    """A fresh process's first calls: under the shim the first call under the prefix opens the
    tree, the first create also opens the LMDB environment."""
    first = {}
    for s in ctx.act(["tmpfs", "disk", "shim", "shim_t"]):
        ensure_f4k(s)
        rs = [s.json([proc.BIN["micro"], "first", s.dir]) for _ in range(ctx.cfg["first_runs"])]
        first[s.name] = {k: median([x[k] for x in rs]) for k in rs[0]}
    return first
