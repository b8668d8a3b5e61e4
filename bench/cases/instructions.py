"""Case 8 (instructions): user-space instructions per stat() call under callgrind."""
import os
import re
import shutil

from cases.micro import ensure_f4k
from lib import proc
from lib.proc import BenchError, sh


def run(ctx):
    if not shutil.which("valgrind"):
        return {"status": "skipped", "reason": "valgrind is not installed"}
    if os.environ.get("SMSHIM_SAN"):
        return {"status": "skipped", "reason": "sanitizer build (valgrind cannot run it)"}
    disk, shim = ctx.S["disk"], ctx.S["shim"]
    for s in (disk, shim):
        ensure_f4k(s)
    n1, n2 = ctx.cfg["cg_n"]
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
        irs = [instructions(env, path, n) for n in (n1, n2)]
        out["per_call"][name] = round((irs[1] - irs[0]) / (n2 - n1), 1)
    pc = out["per_call"]
    out["passthrough_overhead"] = round(pc["passthrough_stat_shim"] -
                                        pc["passthrough_stat_no_shim"], 1)
    out["virtual_overhead"] = round(pc["virtual_stat"] - pc["passthrough_stat_no_shim"], 1)
    return out


def instructions(env, path, n):
    """callgrind's total Ir of bench/callstat doing n stat() of path."""
    e = dict(proc.BASE_ENV)
    e.update(env)
    p = sh(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            proc.BIN["callstat"], path, str(n)], env=e, timeout=300)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if not m:
        raise BenchError("callgrind printed no total: " + p.stderr[-300:])
    return int(m.group(1))
