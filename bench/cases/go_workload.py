"""Part of case 9 (raw_syscall): a Go program's file operations (tests/prog/gofs.go stress:
200 goroutines x 200 writes, reads, stats and listings). Built with cgo, under the prefix through
Syscall User Dispatch; built static (CGO_ENABLED=0), under `smshim run --ns`. Each is a ratio to
the same program in a real directory on the disk without the shim."""
import os
import shutil
import subprocess
import time

from lib import proc
from lib.config import SRC
from lib.proc import in_turns, median, ratio, sh

GOROUTINES, OPS = 200, 200


def build(out_dir):
    """The two programs, built offline into the build tree; (cgo, static) or a reason."""
    if not shutil.which("go"):
        return None, "go is not installed (make deps installs golang-go)"
    os.makedirs(out_dir, exist_ok=True)
    env = dict(proc.BASE_ENV, GOCACHE=os.path.join(out_dir, "cache"), GO111MODULE="off",
               GOPATH=os.path.join(out_dir, "path"), GOFLAGS="", GOPROXY="off")
    src = os.path.join(SRC, "tests", "prog")
    cgo, st = os.path.join(out_dir, "gofs-cgo"), os.path.join(out_dir, "gofs-static")
    for cmd, e in ((["go", "build", "-o", cgo, "gofs.go", "gofs_cgo.go"], "1"),
                   (["go", "build", "-o", st, "gofs.go"], "0")):
        p = subprocess.run(cmd, cwd=src, env=dict(env, CGO_ENABLED=e), capture_output=True,
                           text=True)
        if p.returncode != 0:
            return None, "go build failed: %s" % (p.stderr.strip()[-300:])
    return (cgo, st), None


def timed(argv, env):
    t = time.perf_counter_ns()
    out = sh(argv, env=env, timeout=900).stdout
    if "0 failures" not in out:
        raise proc.BenchError("%s: %s" % (" ".join(argv), out.strip()[-200:]))
    return time.perf_counter_ns() - t


def run_sub(ctx, disk, shim):
    progs, why = build(os.path.join(os.path.dirname(proc.SMSHIM), "go"))
    if not progs:
        return {"status": "skipped", "reason": why}
    cgo, st = progs
    rounds = ctx.cfg["rounds"]
    real = disk.dir + "/go9"
    virt = shim.dir + "/go9"
    sh(["mkdir", "-p", real], env=disk.env())
    shim.run(["mkdir", "-p", virt])
    n = [str(GOROUTINES), str(OPS)]
    sides = {
        "native_cgo": lambda: timed([cgo, "stress", real] + n, disk.env()),
        "sud_cgo": lambda: timed([cgo, "stress", virt] + n, shim.env()),
        "native_static": lambda: timed([st, "stress", real] + n, disk.env()),
        "ns_static": lambda: timed([proc.SMSHIM, "run", "--ns", "--", st, "stress", virt] + n,
                                   {k: v for k, v in shim.env().items() if k != "LD_PRELOAD"}),
    }
    if not os.path.exists(proc.SMSHIM):
        del sides["ns_static"]
    walls = {}
    for _, k in in_turns(sorted(sides), rounds):
        walls.setdefault(k, []).append(sides[k]())
    w = {k: median(v) for k, v in walls.items()}
    out = {"status": "ok", "workload": "gofs stress %d goroutines x %d file operations" %
           (GOROUTINES, OPS), "rounds": rounds, "wall_ns": w,
           "ratio_sud": ratio(w["sud_cgo"], w["native_cgo"])}
    if "ns_static" in w:
        out["ratio_ns"] = ratio(w["ns_static"], w["native_static"])
    return out
