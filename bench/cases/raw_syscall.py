"""Case 9 (raw_syscall): raw syscalls trapped by Syscall User Dispatch; Bun's crawl."""
import os
import platform
import re
import time

from cases import go_workload
from lib import proc
from lib.config import SRC
from lib.fs import tree_manifest
from lib.proc import BenchError, in_turns, median, p_ratios, per_call, ratio, sh
from lib.sides import Side

BUN = os.path.join(SRC, "build", "bun", "bin", "bun")
CRAWL_JS = os.path.join(SRC, "tests", "lib", "crawl.js")


def skip_reason():
    """Why case 9 cannot run here (None if it can): SUD is x86_64 only, needs a kernel that lets
    a process arm it, and is not measured under a sanitizer's runtime (TSan defers signals, and a
    sanitizer's interceptors would be timed, not the shim)."""
    if platform.machine() != "x86_64":
        return "Syscall User Dispatch is implemented for x86_64 only"
    san = os.environ.get("SMSHIM_SAN") or next(
        (p for p in proc.PRELOAD.split(":")
         if re.search(r"lib[a-z]*san\.so", os.path.basename(p))), None)
    if san:
        return "sanitizer build (%s): not measured" % os.path.basename(san)
    p = sh([proc.BIN["rawsys"], "probe"], env=dict(proc.BASE_ENV), check=False)
    if p.returncode != 0:
        return "Syscall User Dispatch unavailable here: %s" % (p.stdout + p.stderr).strip()
    return None


def run(ctx):
    """A raw getppid without the shim, with it loaded and SUD off, with SUD armed; a raw
    newfstatat of a real file without the shim and of one under the prefix with SUD; then
    bun_crawl."""
    cfg, S = ctx.cfg, ctx.S
    why = skip_reason()
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
    base.run([proc.BIN["rawsys"], "setup", base.dir])
    on.run([proc.BIN["rawsys"], "setup", on.dir])
    # no shim: both calls on a real directory; SUD off: getppid only (an untrapped raw call
    # never reaches the shim, so a path under the prefix would not exist); SUD on: both
    ops = {base.name: "getppid,fstatat", off.name: "getppid", on.name: "getppid,fstatat"}
    runs = {}
    for _, s in in_turns([base, off, on], cfg["rounds"]):
        out = s.json([proc.BIN["rawsys"], "run", s.dir, "-t", str(cfg["budget"]),
                      "-m", str(cfg["raw_max"]), "-o", ops[s.name]])
        runs.setdefault(s.name, []).append(out["ops"])
    gp = {"no_shim": per_call(runs[base.name], "getppid"),
          "shim_sud_off": per_call(runs[off.name], "getppid"),
          "shim_sud_on": per_call(runs[on.name], "getppid")}
    for k in ("shim_sud_off", "shim_sud_on"):
        gp[k].update(p_ratios(gp[k], gp["no_shim"]))
    gp["trap_cost_ns"] = gp["shim_sud_on"]["p50_ns"] - gp["no_shim"]["p50_ns"]
    fs = {"real_no_shim": per_call(runs[base.name], "fstatat"),
          "prefix_sud": per_call(runs[on.name], "fstatat")}
    fs.update(p_ratios(fs["prefix_sud"], fs["real_no_shim"]))
    out = {"unit": "ns per call: median over runs of each run's p50 and p99; ratio_* = this / "
                   "no_shim (the same raw call without the shim)",
           "program": "bench/rawsys (inline-asm `syscall`, x86_64)",
           "getppid": gp,
           "newfstatat": dict(fs, paths={"real_no_shim": base.dir + "/f4k",
                                         "prefix_sud": on.dir + "/f4k"}),
           "rounds": cfg["rounds"]}
    out["bun_crawl"] = bun_crawl(ctx, disk, shim)
    out["go_workload"] = go_workload.run_sub(ctx, disk, shim)
    return out


def bun_crawl(ctx, disk, shim):
    """Bun's crawl replay (as tests/integ/sud_bun_crawl.sh runs it) into the prefix, the shim
    preloaded and SUD armed automatically for Bun, vs into a real directory on the same disk
    without the shim; rounds in rotating order, every crawl into a fresh directory."""
    cfg = ctx.cfg
    if not os.access(BUN, os.X_OK):
        return {"status": "skipped", "reason": "Bun is not installed (make deps fetches it "
                                               "with npm): %s" % BUN}
    p = sh([BUN, "--version"], env=dict(proc.BASE_ENV), check=False)
    if p.returncode != 0:
        return {"status": "skipped", "reason": "build/bun/bin/bun does not run here: %s"
                % (p.stderr or p.stdout).strip()[-200:]}
    nf, nd = cfg["raw_bun_files"], cfg["raw_bun_dirs"]
    args = ["--files", str(nf), "--dirs", str(nd)]
    wall, own = {"disk": [], "shim": []}, {"disk": [], "shim": []}
    for r, s in in_turns([disk, shim], cfg["raw_bun_rounds"]):
        dest = "%s/bun-%s-%d" % (s.dir, s.name, r)
        t0 = time.monotonic_ns()
        p = sh([BUN, CRAWL_JS, "--dest", dest] + args, env=s.env(), check=False)
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
