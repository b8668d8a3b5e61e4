"""The targets of issue 5: each goal, the measured value, and whether it was met."""
from lib.config import IN_FLIGHT, SAME
from lib.proc import ratio
from lib.report import fmt_ns, fmt_x, get


class Targets(list):
    """The list of targets, in the order of results.json."""

    def add(self, name, goal, value, ok, note="", shown=None):
        self.append({"target": name, "goal": goal, "measured": value,
                     "met": None if ok is None or value is None else bool(ok), "note": note})
        if shown is not None and value is not None:
            self[-1]["shown"] = shown

    def at_most(self, name, limit, value, note=""):
        """A target met when value <= limit, the limit written as the goal shows it ("1.5x")."""
        self.add(name, "<= %s" % limit, value, value is not None and value <= float(limit[:-1]),
                 note)


def not_ok(d):
    """The note of a target whose case (or part) did not run: "status: reason", else ""."""
    return "" if d.get("status") == "ok" else "%s: %s" % (d.get("status", "not run"),
                                                          d.get("reason"))


def targets(C):
    T = Targets()
    m, c = C.get("micro", {}), C.get("crawl", {})
    local(T, C, m, c)
    server(T, c)
    uploads(T, C.get("upload_drain", {}), c.get("last_upload", {}))
    sync(T, C.get("pull_cost", {}), C.get("dead_server", {}), C.get("upload_drain", {}))
    raw(T, C.get("raw_syscall", {}))
    scale(T, C.get("scale", {}).get("stages", {}))
    peers(T, m, c)
    return list(T)


def local(T, C, m, c):
    """Cases 1-4 without the server: the shim vs tmpfs and the disk, pass-through, start-up."""
    T.at_most("virtual hot stat vs tmpfs", "1.1x", get(m, "ops", "stat", "shim", "ratio_p50"))
    T.at_most("virtual missing name vs tmpfs", "0.6x",
              get(m, "ops", "stat_missing", "shim", "ratio_p50"))
    T.at_most("open+read+close vs the cache's disk", "1.3x",
              get(m, "ops", "open_read", "shim_vs_disk_p50"))
    T.at_most("create+write+close vs the cache's disk", "1.2x",
              get(m, "ops", "create_write", "shim_vs_disk_p50"))
    T.at_most("create+write+close, 16 threads, vs the cache's disk", "1.2x",
              get(c, "sides", "shim", "create16_vs_disk"),
              "wall time of 16 threads each creating %s files in one directory"
              % c.get("c16_files", "?"))
    T.at_most("mkdir vs the cache's disk", "1.1x", get(m, "ops", "mkdir", "shim_vs_disk_p50"))
    p = C.get("passthrough", {}).get("ops", {})
    cheap = ["stat", "lstat", "stat_missing", "access", "open_read", "readdir"]
    rs = {op: get(p, op, "ratio_p50") for op in cheap if get(p, op, "ratio_p50")}
    if rs:
        worst = max(rs, key=rs.get)
        T.at_most("pass-through calls vs no shim (p50)", "1.03x", rs[worst],
                  "worst of the metadata calls: %s" % worst)
    T.at_most("/bin/true with the shim vs without", "1.10x", get(C, "process_start", "ratio"),
              "an empty preloaded library alone: %s" % fmt_x(get(C, "process_start",
                                                                 "ratio_empty_preload")))
    T.at_most("/bin/true started by a shimmed process vs by a plain one", "1.10x",
              get(C, "process_start", "ratio_spawned"),
              "what the shim adds to a start: the parent's reading of the program, the preload")
    T.at_most("crawl (crawl.py) vs a real directory on the disk", "1.1x",
              get(c, "sides", "shim", "python_vs_disk"))
    T.at_most("crawl (C replayer) vs a real directory on the disk", "1.3x",
              get(c, "sides", "shim", "c_vs_disk"))


def server(T, c):
    """Case 4 with the server: the crawl at the highest latency, and the crashes at exit."""
    sl = c.get("server_latency", {})
    lats = sl.get("latencies_ms") or [0, 1000]
    hi = "server_%dms" % lats[-1]
    for k, name in (("python", "crawl.py"), ("c", "C replayer")):
        why = not_ok(sl)
        T.at_most("crawl (%s) with the server at %d ms vs a real directory on the disk"
                  % (name, lats[-1]), "1.5x", get(sl, "sides", hi, k + "_vs_disk"), why)
        v = get(sl, "sides", hi, "%s_vs_%dms" % (k, lats[0]))
        T.add("crawl (%s) at %d ms server latency vs at %d ms" % (name, lats[-1], lats[0]),
              "same (<= %.2fx)" % SAME, v, v is not None and v <= SAME, why)
    if sl.get("status") == "ok":
        keyed = sum(v for k, v in sl["processes"].items() if k.startswith("server_"))
        v = len([x for x in sl["crashes"] if x["side"].startswith("server_")])
        T.add("crawl processes with an API key that crashed (at exit)", "0", v, v == 0,
              ", ".join(sorted(set("%s %s: %s" % (x["side"], x["prog"], x["signal"])
                                   for x in sl["crashes"]))) or "",
              shown="%d of %d" % (v, keyed))


def uploads(T, ud, lu):
    """Case 5's drain rate, and the most uploads in flight seen in cases 4 and 5."""
    for L in (50, 200):
        cf = get(ud, "configs", "%dms" % L)
        v = cf and cf.get("of_ideal")
        T.add("upload drain at %d ms (docs/s, 1 process)" % L,
              ">= 0.8x of %d/latency" % IN_FLIGHT, v, v is not None and v >= 0.8,
              ("%.0f docs/s, %d/latency = %.0f" % (cf["docs_per_s"], IN_FLIGHT,
                                                   cf["ideal_docs_per_s"])) if cf else not_ok(ud))
    peaks = [x for x in [ud.get("max_inflight_uploads")] + [
        get(lu, "by_latency", L, k, "max_inflight_uploads")
        for L in (lu.get("by_latency") or {}) for k in ("python", "c", "exit_drain")]
        if x is not None]
    v = max(peaks) if peaks else None
    T.add("uploads in flight at once (the test server's max_inflight_uploads)",
          "<= %d" % IN_FLIGHT, v, v is not None and v <= IN_FLIGHT,
          "the most seen in cases 4 and 5", shown=None if v is None else str(v))


def secs(v):
    return None if v is None else "%.2f s" % v


def sync(T, pc, ds, ud):
    """What a pull costs, how long short processes wait on a server that never answers, and
    the other drains (a plain-preload process's exit, 16 short processes then `smshim sync`)."""
    why = not_ok(pc)
    f, nc = pc.get("first_sync") or {}, pc.get("no_change_sync") or {}
    T.add("first `smshim sync` of %s documents at %s ms" % (pc.get("documents", "?"),
                                                            pc.get("latency_ms", "?")),
          "<= 8 s", f.get("secs"), f.get("secs") is not None and f["secs"] <= 8,
          why or "floor %.1f s" % f.get("floor_secs", 0), shown=secs(f.get("secs")))
    v = nc.get("secs")
    T.add("no-change `smshim sync`", "<= 1 s and <= 3 requests", v,
          v is not None and v <= 1 and nc.get("requests", 99) <= 3,
          why or "%d request(s)" % nc.get("requests", 0), shown=secs(v))
    rd = pc.get("remote_delete") or {}
    if rd:
        T.add("a remote delete (the count shows it)", "applied by the next `smshim sync`",
              1 if rd.get("applied") else 0, rd.get("applied"),
              "%.2f s, %d requests" % (rd.get("secs", 0), rd.get("requests", 0)),
              shown="applied" if rd.get("applied") else "not applied")
    for name, d in (ds.get("cmds") or {}).items():
        T.add("server never answering: %s" % d["label"], "<= %.0f s" % d["target_secs"],
              d["silent_secs"], d["silent_secs"] <= d["target_secs"],
              "%.2f s with the server answering" % d["answering_secs"],
              shown=secs(d["silent_secs"]))
    if not ds.get("cmds"):
        T.add("server never answering: short processes", "<= 3 s, `smshim run` <= 4 s / 1 s",
              None, None, not_ok(ds))
    for name, d in (ud.get("others") or {}).items():
        v = d.get("of_ideal")
        what = ("a plain-preload process's exit drain" if d["how"] == "exit" else
                "`smshim sync` after 16 short processes")
        T.add("%s at %d ms (docs/s)" % (what, d["latency_ms"]),
              ">= 0.8x of %d/latency" % IN_FLIGHT, v, v is not None and v >= 0.8,
              "%.0f docs/s" % d["docs_per_s"] if d.get("docs_per_s") else "")


def raw(T, rw):
    """Case 9: raw calls with SUD off and on, and Bun's crawl under SUD."""
    why = not_ok(rw)
    T.at_most("raw syscall (getppid), shim loaded with SUD off vs no shim (p50)", "1.03x",
              get(rw, "getppid", "shim_sud_off", "ratio_p50"), why)
    v = get(rw, "getppid", "shim_sud_on", "p50_ns")
    T.add("raw syscall (getppid) trapped by SUD, per call (p50)", "~3 us (README)", v, None,
          why or "%s of trap over the untrapped call; %s the cost without the shim" % (
              fmt_ns(get(rw, "getppid", "trap_cost_ns")),
              fmt_x(get(rw, "getppid", "shim_sud_on", "ratio_p50"))),
          shown=None if v is None else fmt_ns(v))
    bc = rw.get("bun_crawl", {})
    bwhy = why or not_ok(bc)
    T.at_most("Bun crawl (crawl.js) into the prefix under SUD vs a real directory on the disk",
              "1.5x", bc.get("ratio_wall"),
              bwhy or "process wall time; crawl.js's own timer: %s" % fmt_x(bc.get("ratio_crawl")))


def scale(T, sc):
    """Case 6: hot stat at the largest stage vs the first (met only measured at 1M)."""
    ran = [k for k in sc if "shim" in sc[k]]
    if ran:
        k = max(ran, key=int)
        v = sc[k].get("shim_stat_vs_first_stage")
        T.add("hot stat at 1M entries vs 1k", "<= 1.5x", v,
              None if k != "1000000" else v is not None and v <= 1.5,
              "" if k == "1000000" else "largest stage run: %s entries; 1M: %s" % (
                  k, get(sc, "1000000", "reason") or "not run"))


def peers(T, m, c):
    """The shim against bindfs and PRoot, over tmpfs and over the disk."""
    for peer, shim, where in (("bindfs_t", "shim_t", "over tmpfs"),
                              ("proot_t", "shim_t", "over tmpfs"),
                              ("bindfs", "shim", "over the disk"),
                              ("proot", "shim", "over the disk")):
        pname = peer.split("_")[0]
        if get(m, "ops", "stat", peer, "p50_ns") is None:
            T.add("%s %s" % (pname, where), "-", None, None,
                  "skipped: " + str(get(m, "sides", peer, "reason") or "not run"))
            continue
        if pname == "bindfs":
            v = ratio(get(m, "ops", "stat", shim, "p50_ns"), get(m, "ops", "stat", peer, "p50_ns"))
            T.at_most("hot stat: smshim / %s, %s" % (pname, where), "1.0x", v)
        for op in ("stat_missing", "open_read", "create_write", "mkdir"):
            v = ratio(get(m, "ops", op, peer, "p50_ns"), get(m, "ops", op, shim, "p50_ns"))
            T.add("%s: %s / smshim, %s" % (op, pname, where), ">= 10x", v,
                  v is not None and v >= 10)
        for k in ("python", "c"):
            v = ratio(get(c, "sides", peer, k + "_ns"), get(c, "sides", shim, k + "_ns"))
            T.add("crawl (%s): %s / smshim, %s" % (k, pname, where), ">= 5x", v,
                  v is not None and v >= 5)
