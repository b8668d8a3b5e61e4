"""Running programs and timing helpers: binaries, base environment, sh(), rounds, medians."""
import json
import os
import signal
import statistics
import subprocess
import sys

PROGRAMS = ("micro", "timeit", "replay", "callstat", "rawsys", "libempty.so")  # bench/*.c, built into $(B)/bench

# set once by init(): read them as proc.NAME (they are rebound there)
BASE_ENV, PRELOAD, PY, BIN, SMSHIM = {}, None, None, {}, None


class BenchError(Exception):
    pass


def log(*a):
    print(*a, flush=True)


def init(build):
    """Find the build's programs (exit when one is missing), what to preload, the Python to run,
    and the environment every program starts from (no preload, no SMSHIM_ or SUPERMEMORY_
    variable, LC_ALL=C)."""
    global BASE_ENV, PRELOAD, PY, BIN, SMSHIM
    BIN = {n: os.path.join(build, "bench", n) for n in PROGRAMS}
    lib = os.path.join(build, "libsmshim.so")
    SMSHIM = os.path.join(build, "smshim")  # cases 4 and 5 (skipped with the reason if missing)
    for p in list(BIN.values()) + [lib]:
        if not os.path.exists(p):
            sys.exit("bench: %s is missing (make all, then make -C bench)" % p)
    PRELOAD = os.environ.get("BENCH_PRELOAD") or lib
    PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    BASE_ENV = {k: v for k, v in os.environ.items()
                if k != "LD_PRELOAD" and not k.startswith(("SMSHIM_", "SUPERMEMORY_"))}
    BASE_ENV["LC_ALL"] = "C"


def sh(argv, env=None, timeout=600, check=True):
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise BenchError("%s exited %d: %s" % (" ".join(argv[:6]), p.returncode,
                                               p.stderr.strip()[-600:]))
    return p


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError("no JSON in output: %r" % text[-300:])


def died_of(returncode):
    """The name of the signal a process died of (a negative code, or a shell's 128 + N), else
    None."""
    if returncode >= 0 and returncode <= 128:
        return None
    sig = -returncode if returncode < 0 else returncode - 128
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "signal %d" % sig


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def rotate(xs, r):
    if not xs:
        return xs
    r %= len(xs)
    return xs[r:] + xs[:r]


def in_turns(xs, rounds):
    """(round, x) for every x in every round, each round starting one further along xs, so no
    side is always first or last."""
    for r in range(rounds):
        for x in rotate(xs, r):
            yield r, x


def per_call(runs, op):
    """One op's figures over the runs of a per-call program (micro, rawsys: each run's
    {op: {n, p50, p99}}): the medians of the runs' p50 and p99, the calls, the runs that made
    any."""
    rs = [r[op] for r in runs if op in r and r[op]["n"] > 0]
    return {"p50_ns": median([x["p50"] for x in rs]), "p99_ns": median([x["p99"] for x in rs]),
            "calls": sum(x["n"] for x in rs), "runs": len(rs)}


def p_ratios(a, b):
    """ratio_p50 and ratio_p99 of two per_call() figures: a / b."""
    return {"ratio_p50": ratio(a["p50_ns"], b["p50_ns"]),
            "ratio_p99": ratio(a["p99_ns"], b["p99_ns"])}
