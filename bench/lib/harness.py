"""One run: work directory and sides, steps in order, results assembled, teardown, output."""
import os
import signal
import sys
import time
import traceback

from lib import proc
from lib.config import CASES, FULL, SMOKE
from lib.fs import cache_disk, remove_tree
from lib.machine import machine
from lib.proc import log
from lib.report import get, publish
from lib.server import stop_servers
from lib.sides import Mounts, fresh_work, log_sides, make_sides
from lib.targets import targets


class Context:
    """What every case works with: the sizes (cfg), the work directory (W), the sides (S), the
    results so far (R) and the errors, and what parts of cases keep between steps (store: micro's
    runs by side; srv: the test server; sync_why: its probe's answer)."""

    def __init__(self, cfg, W, S, smoke, R, errors):
        self.cfg, self.W, self.S, self.smoke = cfg, W, S, smoke
        self.R, self.errors = R, errors
        self.store = {}
        self.srv = None
        self.sync_why = None

    def act(self, names):
        """The sides of names that can run here."""
        return [self.S[n] for n in names if n in self.S and self.S[n].ok()]


def run(a, steps, assembled):
    """The whole run for run.py's arguments a: steps are (case, part, cases that select it,
    function of the context), run in order; a step without a part returns its case's result.
    assembled are (case, the case whose parts stored its figures, cases that select it,
    function), called after every step. Returns the exit status."""
    cfg = SMOKE if a.smoke else FULL
    build = os.path.abspath(a.build)
    proc.init(build)
    W = os.path.abspath(a.work or os.path.join(build, "bench", "work"))
    only = set(a.only.split(",")) if a.only else None
    stamp = os.path.join(os.path.dirname(W), ".smshim-bench-cleanup")
    mounts = Mounts()

    def on_signal(sig, frame):
        stop_servers()
        mounts.unmount_all()
        sys.exit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    T, tnote = fresh_work(W, a.smoke, mounts, stamp)
    R = {"machine": machine(), "smoke": a.smoke, "config": cfg, "sides": {}, "cases": {}}
    R["cache_disk"] = cache_disk(W, stamp)
    errors = []
    t_all = time.time()
    try:
        S = make_sides(W, T, tnote, a.smoke, mounts)
        R["sides"] = {n: s.info() for n, s in S.items()}
        log_sides(W, S)
        ctx = Context(cfg, W, S, a.smoke, R, errors)
        selected = lambda names: any(only is None or n in only for n in names)  # noqa: E731
        elapsed = run_steps(ctx, steps, selected)
        assemble(ctx, assembled, selected, only, elapsed)
        for n in CASES:
            R["cases"].setdefault(n, {"status": "skipped", "reason": "not selected (--only)"})
        R["cases"] = {n: R["cases"][n] for n in CASES}
    finally:
        stop_servers()
        mounts.unmount_all()
        remove_tree([W] + mounts.made + ([T] if T else []), stamp)
    R["elapsed_s"] = round(time.time() - t_all, 1)
    R["targets"] = targets(R["cases"])
    publish(R, a.out, a.md)
    for e in errors:
        log("bench: ERROR %s" % e)
    return 1 if errors else 0


def run_steps(ctx, steps, selected):
    """Every selected step in order, timed; a step whose case already failed is left out.
    Returns the seconds spent in steps whose case has no result yet, by case."""
    R, elapsed = ctx.R, {}
    for case, part, names, fn in steps:
        if not selected(names) or get(R["cases"], case, "status") == "error":
            continue
        t0 = time.time()
        log("== %s%s" % (case, " (%s)" % part if part else ""))
        try:
            res = fn(ctx)
            if part is None:
                res.setdefault("status", "ok")
                R["cases"][case] = res
        except Exception as e:  # one broken case must not hide the others
            traceback.print_exc()
            R["cases"][case] = {"status": "error", "reason": "%s: %s" % (type(e).__name__, e)}
            ctx.errors.append("%s: %s" % (case, R["cases"][case]["reason"]))
        dt = round(time.time() - t0, 1)
        if case in R["cases"]:
            R["cases"][case]["elapsed_s"] = round(R["cases"][case].get("elapsed_s", 0) + dt, 1)
        else:
            elapsed[case] = elapsed.get(case, 0) + dt
        c = R["cases"].get(case, {})
        log("   %s(%.1f s)" % ("%s: %s " % (c["status"], c.get("reason")) if c.get("status")
                               not in (None, "ok") else "", dt))
    return elapsed


def assemble(ctx, assembled, selected, only, elapsed):
    """The results made from what earlier steps stored; when those steps failed, their error."""
    R = ctx.R
    for case, source, names, fn in assembled:
        if not selected(names):
            continue
        if get(R["cases"], source, "status") == "error":
            R["cases"][case] = dict(R["cases"][source])
            continue
        if only is None or case in only:
            R["cases"][case] = dict(fn(ctx), status="ok")
            R["cases"][case]["elapsed_s"] = round(elapsed.get(source, 0), 1)
