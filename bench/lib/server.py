"""The test server of cases 4 and 5: start, stop, environments, the probe, its documents."""
import datetime
import json
import os
import subprocess
import time
import urllib.request

from lib import proc
from lib.config import PREFIX, R_CREATE, R_LIST, SRC, SRV_KEY
from lib.proc import BenchError, sh
from lib.sides import shim_proc_env

# tests/server/smserver.py as shipped answers with two writes (headers, then body) on a socket
# with Nagle's algorithm on (socketserver's default): the body waits for the ACK of the headers,
# which the client delays, so every request costs about 40 ms more than the latency asked for
# (sequential requests at 0 ms: 44 ms each; with TCP_NODELAY: 0.4 ms). An API server does not
# stall like that, so the bench runs the unmodified server with TCP_NODELAY on its sockets, and
# reports the drain against the server as shipped ("stock") beside it.
SRV_NODELAY = r"""
import runpy, socketserver, sys
socketserver.StreamRequestHandler.disable_nagle_algorithm = True
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

_NOPROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SERVERS = []  # test servers running (stopped at the end, or on a signal)


def iso_ms(s):
    """The test server's '2026-11-25T21:28:27.592Z' -> epoch milliseconds."""
    dt = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return int(round(dt.timestamp() * 1000))


def tail(path, n=400):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:].strip()
    except OSError:
        return ""


class TestServer:
    """tests/server/smserver.py on a free loopback port; its latency is set per measurement
    (POST /_admin/reset, then /_admin/config), so one process serves a whole case."""

    def __init__(self, W, name, nodelay=True):
        self.name, self.nodelay = name, nodelay
        pf, self.log = "%s/%s.port" % (W, name), "%s/%s.log" % (W, name)
        argv = [proc.PY] + (["-c", SRV_NODELAY] if nodelay else []) + [
            os.path.join(SRC, "tests", "server", "smserver.py"), "--port-file", pf,
            "--key", SRV_KEY]
        with open(self.log, "w") as lf:
            self.p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT,
                                      env=dict(proc.BASE_ENV), start_new_session=True)
        SERVERS.append(self)
        deadline = time.time() + 20
        while not os.path.exists(pf):  # written atomically once listening
            if self.p.poll() is not None or time.time() > deadline:
                self.stop()
                raise BenchError("the test server did not start: %s" % tail(self.log))
            time.sleep(0.02)
        with open(pf) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def admin(self, path, body=None):
        req = urllib.request.Request(self.url + path, method="GET" if body is None else "POST",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with _NOPROXY.open(req, timeout=60) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def reset(self, latency_ms):
        """No documents, counters at zero, the given latency on every /v3 request."""
        self.admin("/_admin/reset", {})
        self.admin("/_admin/config", {"latency_ms": latency_ms})

    def stats(self):
        return self.admin("/_admin/stats")

    def docs(self, tag):
        return [d for d in self.admin("/_admin/documents")["documents"]
                if tag in (d.get("containerTags") or [])]

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self in SERVERS:
            SERVERS.remove(self)


def stop_servers():
    for s in list(SERVERS):
        s.stop()


def server(ctx):
    """The test server of cases 4 and 5 (TCP_NODELAY; see SRV_NODELAY), started once."""
    if ctx.srv is None or ctx.srv.p.poll() is not None:
        ctx.srv = TestServer(ctx.W, "server")
    return ctx.srv


def sync_env(cache, srv, tag, preload=False):
    """A process of the cache with the API key: the shim (preload) or `smshim sync`."""
    e = dict(proc.BASE_ENV)
    e.update(SMSHIM_CACHE=cache, SMSHIM_PREFIX=PREFIX, SUPERMEMORY_API_KEY=SRV_KEY,
             SUPERMEMORY_BASE_URL=srv.url, SMSHIM_TAG=tag, SMSHIM_SYNC_TIMEOUT="900")
    if preload:
        e["LD_PRELOAD"] = proc.PRELOAD
    if any(k.lower().endswith("_proxy") for k in e):
        e["no_proxy"] = e["NO_PROXY"] = "127.0.0.1"
    return e


def sync_ready(ctx):
    """None when the shim can push to the test server here, else the reason (both cases are
    then skipped with it): one file queued in local-only mode, then `smshim sync`. Probed once
    per run."""
    if ctx.sync_why is None:
        why = ""
        try:
            if not os.path.exists(proc.SMSHIM):
                why = "%s is missing (make all)" % proc.SMSHIM
            elif os.environ.get("SMSHIM_SAN") == "thread":
                # the sync thread loads libcurl, whose own libraries (p11-kit) are not
                # instrumented: TSan reports races there and exits 66; the sync tests
                # cover the engine under TSan
                why = "ThreadSanitizer build (races reported in libcurl's libraries)"
            else:
                srv = server(ctx)
                cache = ctx.W + "/srv-probe"
                sh(["sh", "-c", "mkdir -p %s/probe && echo probe > %s/probe/p.md"
                    % (PREFIX, PREFIX)], env=shim_proc_env(cache))
                srv.reset(0)
                p = sh([proc.SMSHIM, "sync"], env=sync_env(cache, srv, "bench-probe"),
                       check=False, timeout=120)
                if p.returncode != 0 or len(srv.docs("bench-probe")) != 1:
                    why = "smshim sync cannot push to the test server here: %s" % (
                        p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        except (BenchError, OSError, ValueError) as e:
            why = "the test server cannot run here: %s" % e
        ctx.sync_why = why
    return ctx.sync_why or None


def strip1(s):
    return s[:-1] if s.endswith("\n") else s


def check_docs(docs, want, what):
    """The server holds exactly one document per planned file ({filepath: text}), with its
    content (modulo the one trailing newline the service strips)."""
    have = {}
    for d in docs:
        have.setdefault(d.get("filepath"), []).append(d)
    bad = [fp for fp, ds in have.items() if len(ds) > 1 or fp not in want]
    bad += [fp for fp in want if fp not in have]
    bad += [fp for fp, text in want.items() if fp in have and text is not None and
            strip1(have[fp][0].get("content") or "") != strip1(text)]
    if bad:
        raise BenchError("%s: the server holds %d documents for %d files (%d wrong, e.g. %s)" % (
            what, len(docs), len(want), len(bad), sorted(bad)[:3]))


def uploaded(srv, tag, want, what):
    """After a drain: the documents of the tag, checked against want (see check_docs), their
    createdAt in epoch ms (sorted), and the server's counters."""
    docs = srv.docs(tag)
    check_docs(docs, want, what)
    st = srv.stats()
    counts = {"max_inflight_uploads": st["max_inflight_uploads"],
              "list_requests": st["requests"][R_LIST],
              "create_requests": st["requests"][R_CREATE]}
    return docs, sorted(iso_ms(d["createdAt"]) for d in docs), counts
