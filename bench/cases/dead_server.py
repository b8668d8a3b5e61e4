"""Case dead_server: how long short processes take against a server that accepts connections and
never answers (the test server's hang), beside the same commands against the server answering.
Each round, on a cache bound while the server answered: a plain-preload process that writes one
file (the first one after the server went silent, then the next one, once the cache records it
as not answering), and `smshim run` of a command that writes one file (the first after the
record was cleared by a sync, then the next). Then the server answers again and `smshim sync`
must push every one of those writes (none lost). Targets: the preloaded process <= 3 s, `smshim
run` <= 4 s the first time and <= 1 s the next."""
import os
import time

from lib import proc
from lib.config import PREFIX
from lib.proc import BenchError, median, sh
from lib.server import server, strip1, sync_env, sync_ready

TARGETS = {"preload_first": 3.0, "preload_next": 3.0, "run_first": 4.0, "run_next": 1.0}
LABELS = {"preload_first": "plain preload, writes one file (first process)",
          "preload_next": "plain preload, writes one file (next process)",
          "run_first": "smshim run of a short command (first)",
          "run_next": "smshim run of a short command (next)"}


def timed(argv, env, what):
    t0 = time.time_ns()
    p = sh(argv, env=env, check=False, timeout=600)
    secs = (time.time_ns() - t0) / 1e9
    if p.returncode != 0:
        raise BenchError("dead_server: %s exited %d: %s" % (what, p.returncode,
                                                          p.stderr.strip()[-300:]))
    return secs


def sync(cache, srv, tag, what):
    p = sh([proc.SMSHIM, "sync"], env=sync_env(cache, srv, tag), check=False, timeout=600)
    if p.returncode != 0:
        raise BenchError("dead_server: %s: smshim sync exited %d: %s" % (
            what, p.returncode, p.stderr.strip()[-300:]))


def one_round(ctx, srv, n, hang):
    """One round: the four commands, against the server silent (hang) or answering; then the
    writes must all reach the server. Seconds of each command."""
    tag = "bench-dead-%d-%d" % (n, hang)
    cache = "%s/dead/c%d-%d" % (ctx.W, n, hang)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    srv.admin("/_admin/config", {"hang": False})
    sync(cache, srv, tag, "binding the cache")  # bound, the (empty) container pulled
    pre = sync_env(cache, srv, tag, preload=True)
    run = sync_env(cache, srv, tag)
    write = "mkdir -p %s/dead && echo %%s > %s/dead/%%s.md" % (PREFIX, PREFIX)
    out, want = {}, {}

    def cmd(name, argv, env):
        out[name] = timed(argv, env, LABELS[name])

    def set_hang():
        srv.admin("/_admin/config", {"hang": bool(hang)})

    set_hang()
    for name in ("preload_first", "preload_next"):
        want["/dead/%s.md" % name] = name
        cmd(name, ["sh", "-c", write % (name, name)], pre)
    if hang:  # the record of the silent server goes with the first request answered
        srv.admin("/_admin/config", {"hang": False})
        sync(cache, srv, tag, "clearing the record")
        set_hang()
    for name in ("run_first", "run_next"):
        want["/dead/%s.md" % name] = name
        cmd(name, [proc.SMSHIM, "run", "--", "sh", "-c", write % (name, name)], run)
    srv.admin("/_admin/config", {"hang": False})
    sync(cache, srv, tag, "the server answering again")
    have = {d.get("filepath"): strip1(d.get("content") or "") for d in srv.docs(tag)}
    lost = sorted(fp for fp, text in want.items() if have.get(fp) != text)
    if lost or len(have) != len(want):
        raise BenchError("dead_server: after the server answered again, %d documents for %d "
                         "writes (missing or wrong: %s)" % (len(have), len(want), lost[:3]))
    return out


def run(ctx):
    cfg = ctx.cfg
    why = sync_ready(ctx)
    if why:
        return {"status": "skipped", "reason": why}
    srv = server(ctx)
    srv.reset(0)
    rounds = cfg["dead_rounds"]
    got = {1: [], 0: []}
    for n in range(rounds):
        for hang in ((1, 0) if n % 2 == 0 else (0, 1)):  # in turns
            got[hang].append(one_round(ctx, srv, n, hang))
    srv.reset(0)
    res = {"rounds": rounds, "cmds": {}}
    for name in TARGETS:
        silent = median([r[name] for r in got[1]])
        answering = median([r[name] for r in got[0]])
        res["cmds"][name] = {"label": LABELS[name], "silent_secs": round(silent, 2),
                             "answering_secs": round(answering, 2),
                             "target_secs": TARGETS[name],
                             "met": silent <= TARGETS[name]}
        proc.log("  %s: %.2f s with the server silent (target %.0f s), %.2f s answering"
                 % (LABELS[name], silent, TARGETS[name], answering))
    res["note"] = ("median of %d rounds; every write of every round reached the server once it "
                   "answered again" % rounds)
    return res
