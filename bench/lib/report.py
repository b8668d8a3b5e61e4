"""Output: formats, the printed Markdown tables, the targets, results.json, RESULTS.md."""
import json
import os

from lib.config import DISK_SET, IN_FLIGHT, LABEL, MICRO_OPS, OP_LABEL, TMPFS_SET
from lib.proc import log

PEERS_T = TMPFS_SET[1:]  # the tmpfs-backed shim and peers


def get(d, *path):
    """d[path[0]][path[1]]..., None where a key is missing or a value is None."""
    for k in path:
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns < 1e3:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.2f us" % (ns / 1e3) if ns < 1e4 else "%.0f us" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6) if ns < 1e7 else "%.0f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


def fmt_x(r):
    if r is None:
        return "-"
    return "%.2fx" % r if r < 10 else "%.0fx" % r


def fmt_s(ns):
    return "-" if ns is None else "0" if ns == 0 else fmt_ns(ns)


def table(rows, cols, base, cell_ns, cell_x, skipped):
    """rows: [(label, key)]; a column shows the base's time and the others' ratios."""
    L = ["| | " + " | ".join(LABEL[c] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for label, key in rows:
        cells = []
        for c in cols:
            if skipped(c):
                cells.append("skipped")
            elif c == base:
                cells.append(cell_ns(key, c))
            else:
                cells.append(cell_x(key, c))
        L.append("| %s | %s |" % (label, " | ".join(cells)))
    return L


# ---- the tables -------------------------------------------------------------------------------

def md_tables(C, sides):
    """Every table printed at the end and written into RESULTS.md, as one Markdown text."""
    def skipped(n):
        return sides.get(n, {}).get("status") not in (None, "ok")

    L = call_tables(C.get("micro"), skipped) + workload_table(C, skipped)
    L += server_crawl_table(C.get("crawl", {})) + drain_table(C.get("upload_drain", {}))
    L += dead_table(C.get("dead_server", {}))
    extra = []
    for rows in (start_rows, passthrough_rows, instructions_rows, scale_rows, raw_rows):
        extra += rows(C)
    if extra:
        L += ["| other | result |", "|---|---|"] + extra + [""]
    return "\n".join(L)


def call_tables(m, skipped):
    """Case 1: the calls, over the disk and with no disk in the way."""
    if not (m and "ops" in m):
        return []
    rows = [(OP_LABEL[op], op) for op in MICRO_OPS]

    def cell_ns(op, c):
        a = get(m, "ops", op, c)
        return "%s / %s" % (fmt_ns(a["p50_ns"]), fmt_ns(a["p99_ns"])) if a else "-"

    def cell_x(op, c):
        a = get(m, "ops", op, c)
        return "%s / %s" % (fmt_x(a.get("ratio_p50")), fmt_x(a.get("ratio_p99"))) if a else "-"

    base = m["base"]
    L = ["**Calls, p50 / p99**: the %s column is the time per call, the others are "
         "ratios to it (lower is faster; 1.00x is as fast as %s)." % (LABEL[base], base), ""]
    L += table(rows, DISK_SET, base, cell_ns, cell_x, skipped)
    L.append("")
    if any(not skipped(n) for n in PEERS_T):
        L.append("**The same calls with no disk in the way**: the shim's cache, bindfs's "
                 "source and PRoot's bound directory all on the tmpfs, so each column is that "
                 "layer's own cost.")
        L.append("")
        L += table(rows, TMPFS_SET, base, cell_ns, cell_x, skipped)
        L.append("")
    return L


def workload_table(C, skipped):
    """Cases 4 (local) and 7: whole workloads on every side."""
    c, pg = C.get("crawl"), C.get("programs")
    wrows = []
    if c and "sides" in c:
        wrows += [("crawl, 177 files, 16 threads (crawl.py)", ("crawl", "python")),
                  ("crawl, 177 files, 16 threads (C replayer)", ("crawl", "c")),
                  ("create+write 4 KiB+close, 16 threads x %s new files, one directory"
                   % c.get("c16_files", "?"), ("crawl", "create16"))]
    if pg and "programs" in pg:
        labels = {"git_status": "`git status`, %d files" % pg["repo_files"],
                  "find_wc": "`find | wc -l`, 177-file tree", "tar_c": "`tar c`, 177-file tree",
                  "py_import": "`python3 -c 'import pkg'`, %d modules" % pg["py_modules"]}
        wrows += [(labels[p], ("prog", p)) for p in labels if p in pg["programs"]]
    if not wrows:
        return []

    def wget(key, col):
        if key[0] == "crawl":
            return get(c, "sides", col, key[1] + "_ns"), get(c, "sides", col, "ratio_" + key[1])
        return (get(pg, "programs", key[1], col, "median_ns"),
                get(pg, "programs", key[1], col, "ratio"))

    base = (c or pg).get("base", "tmpfs")
    L = ["**Whole workloads, wall time (median)**: the %s column is the time, the others "
         "are ratios to it. The second group has the shim's cache and the peers' "
         "directories on the tmpfs." % LABEL[base], ""]
    cols = DISK_SET + [n for n in PEERS_T if not skipped(n)]
    hdr = ["| | " + " | ".join(LABEL[x] + (" (tmpfs)" if x in PEERS_T else "")
                                for x in cols) + " |", "|---|" + "---|" * len(cols)]
    L += hdr + table(wrows, cols, base, lambda k, col: fmt_ns(wget(k, col)[0]),
                     lambda k, col: fmt_x(wget(k, col)[1]), skipped)[2:]
    L.append("")
    return L


def server_crawl_table(c):
    """Case 4 with the server: the crawl's wall time, and when the last upload arrived (empty
    when it did not run)."""
    sl, lu = c.get("server_latency", {}), c.get("last_upload", {})
    if sl.get("status") != "ok":
        return []
    lats = sl["latencies_ms"]
    cols = [n for n in ("disk", "tmpfs", "shim_local") if n in sl["sides"]] + [
        "server_%dms" % x for x in lats]
    lab = {"disk": "disk (b)", "tmpfs": "tmpfs (a)", "shim_local": "smshim, no key"}
    lab.update({"server_%dms" % x: "smshim, server at %d ms" % x for x in lats})
    L = ["**The crawl with the test server** (%d files, 16 workers, %d round(s); every "
         "cache fresh): the crawl's wall time, the disk (b) column as time and the "
         "others as ratios to it, all measured in the same rounds; then when the last "
         "upload reached the server, counted from the crawl's start (the least %d "
         "uploads in flight allow: ceil(%d/%d) x latency)."
         % (sl["files"], sl["rounds"], IN_FLIGHT, sl["files"], IN_FLIGHT), ""]
    L.append("| | " + " | ".join(lab[x] for x in cols) + " |")
    L.append("|---|" + "---|" * len(cols))
    for k, name in (("python", "crawl.py (threads)"), ("c", "C replayer")):
        cells = []
        for x in cols:
            d = sl["sides"][x]
            cells.append(fmt_ns(d[k + "_ns"]) if x == "disk" else fmt_x(d.get(k + "_vs_disk")))
        L.append("| crawl, %s | %s |" % (name, " | ".join(cells)))
    if lu.get("status") == "ok":
        L += last_upload_rows(sl, lu, cols)
    L.append("")
    return L + crash_note(sl)


def last_upload_rows(sl, lu, cols):
    rows = [("python", "last upload at the server, crawl.py; `smshim sync` after it"),
            ("c", "last upload at the server, C replayer; `smshim sync` after it"),
            ("exit_drain", "last upload at the server, crawl.py; the crawling process "
                           "drains at exit (plain LD_PRELOAD)")]
    L = []
    for k, name in rows:
        cells = []
        for x in cols:
            b = lu["by_latency"].get(x[len("server_"):-2]) if x.startswith("server_") else None
            cells.append(fmt_s(get(b, k, "last_upload_ns")) if b else "-")
        if any(x != "-" for x in cells):
            L.append("| %s | %s |" % (name, " | ".join(cells)))
    cells = [fmt_s(lu["by_latency"][x[len("server_"):-2]]["bound_ns"])
             if x.startswith("server_") else "-" for x in cols]
    L.append("| the least possible (ceil(%d/%d) x latency) | %s |"
             % (sl["files"], IN_FLIGHT, " | ".join(cells)))
    return L


def crash_note(sl):
    keyed = sum(v for k, v in sl["processes"].items() if k.startswith("server_"))
    cr = [x for x in sl["crashes"] if x["side"].startswith("server_")]
    if not cr:
        return []
    by = {}
    for x in cr:
        k = "%s (%s)" % ("C replayer" if x["prog"] == "c" else "crawl.py", x["signal"])
        by[k] = by.get(k, 0) + 1
    return ["**%d of the %d crawl processes run with an API key crashed at exit** "
            "(%s): see bench/README.md, case 4." % (
                len(cr), keyed, ", ".join("%s x%d" % kv for kv in sorted(by.items()))), ""]


def drain_table(ud):
    """Case 5 (empty when it did not run)."""
    if ud.get("status") != "ok":
        return []
    L = ["**Upload drain**: %d files queued in local-only mode in a fresh cache, then "
         "`smshim sync` until the queue is empty (median of %d run(s)); docs/s = files / "
         "the wall time of `smshim sync` (its start and one listing included); push "
         "rate from the server's createdAt (first to last); the target is 0.8 x %d in "
         "flight / latency." % (ud["files"], ud["rounds"], IN_FLIGHT), ""]
    L.append("| server latency | `smshim sync` | docs/s | push rate | %d/latency | of it "
             "| max in flight |" % IN_FLIGHT)
    L.append("|---|---|---|---|---|---|---|")
    for name, d in ud["configs"].items():
        what = "%d ms" % d["latency_ms"]
        if d["processes"] > 1:
            what += ", %d `smshim sync` at once" % d["processes"]
        if d["server"] == "stock":
            what += ", test server as shipped (Nagle)"
        L.append("| %s | %s | %.0f | %s | %s | %s | %d |" % (
            what, fmt_ns(d["sync_ns"]), d["docs_per_s"],
            "-" if d["push_docs_per_s"] is None else "%.0f" % d["push_docs_per_s"],
            "%.0f" % d["ideal_docs_per_s"] if d.get("ideal_docs_per_s") else "-",
            "%.2f" % d["of_ideal"] if d.get("of_ideal") is not None else "-",
            d["max_inflight_uploads"]))
    L.append("")
    return L


def dead_table(ds):
    """Case dead_server (empty when it did not run)."""
    if ds.get("status") != "ok":
        return []
    L = ["**A server that never answers** (it accepts connections, answers nothing): wall time "
         "of each command, median of %d rounds, beside the same command with the server "
         "answering; every write reached the server once it answered again." % ds["rounds"], "",
         "| command | server never answering | target | server answering |", "|---|---|---|---|"]
    for d in ds["cmds"].values():
        L.append("| %s | %.2f s | <= %.0f s | %.2f s |" % (d["label"], d["silent_secs"],
                                                       d["target_secs"], d["answering_secs"]))
    L.append("")
    return L


# ---- the rows of the "other" table ------------------------------------------------------------

def start_rows(C):
    ps = C.get("process_start")
    if not (ps and ps.get("ratio")):
        return []
    L = ["| `/bin/true`, shim loaded vs not | %s vs %s: %s |" % (
        fmt_ns(ps["true_shim_ns"]), fmt_ns(ps["true_no_shim_ns"]), fmt_x(ps["ratio"]))]
    if ps.get("ratio_empty_preload"):
        L.append("| `/bin/true` with an empty library preloaded instead (the floor of any "
                 "preload) | %s: %s; the shim vs it: %s |" % (
                     fmt_ns(ps["true_empty_preload_ns"]), fmt_x(ps["ratio_empty_preload"]),
                     fmt_x(ps["ratio_vs_empty_preload"])))
    if ps.get("ratio_spawned"):
        L.append("| `/bin/true` started by a shimmed process (as under `smshim run`) vs by a "
                 "plain one | %s: %s |" % (fmt_ns(ps["true_shim_spawned_ns"]),
                                             fmt_x(ps["ratio_spawned"])))
    if ps.get("ratio_audit"):
        L.append("| `/bin/true` with the loader's audit module too (a program whose loader "
                 "looks under the prefix) | %s: %s |" % (fmt_ns(ps["true_shim_audit_ns"]),
                                                         fmt_x(ps["ratio_audit"])))
    f, fd = get(ps, "first_call_ns", "shim"), get(ps, "first_call_ns", "disk")
    if f and fd:
        L.append("| a fresh process's first stat, first create under the prefix (cache "
                 "on disk) | %s, %s (next ones: %s, %s; real disk dir: %s, %s) |" % (
                     fmt_ns(f["first_stat"]), fmt_ns(f["first_create"]),
                     fmt_ns(f["second_stat"]), fmt_ns(f["second_create"]),
                     fmt_ns(fd["first_stat"]), fmt_ns(fd["first_create"])))
    return L


def passthrough_rows(C):
    p = C.get("passthrough")
    if not (p and p.get("ops")):
        return []
    rs = ["%s %s" % (op, fmt_x(get(p, "ops", op, "ratio_p50"))) for op in
          ("stat", "stat_missing", "access", "open_read", "readdir", "create_write", "mkdir")
          if get(p, "ops", op, "ratio_p50")]
    return ["| pass-through (paths outside the prefix), shim loaded vs not, p50 | %s |"
            % ", ".join(rs)]


def instructions_rows(C):
    ins = C.get("instructions")
    if not (ins and "per_call" in ins):
        return []
    pc = ins["per_call"]
    return ["| user-space instructions per stat (callgrind) | virtual %.0f, virtual "
            "missing %.0f; pass-through %.0f vs %.0f with no shim |" % (
                pc["virtual_stat"], pc["virtual_stat_missing"],
                pc["passthrough_stat_shim"], pc["passthrough_stat_no_shim"])]


def scale_rows(C):
    sc = C.get("scale")
    if not (sc and sc.get("stages")):
        return []
    parts = []
    for k, st in sc["stages"].items():
        if "shim" in st:
            parts.append("%s: stat %s (%s of disk), missing %s, %.0f B/entry" % (
                "{:,}".format(int(k)), fmt_ns(st["shim"]["stat"]["p50_ns"]),
                fmt_x(st["shim_stat_vs_disk"]), fmt_ns(st["shim"]["stat_missing"]["p50_ns"]),
                st["meta_bytes_per_entry"]))
        else:
            parts.append("%s: skipped" % "{:,}".format(int(k)))
    L = ["| scale: entries in the cache, shim p50, LMDB size per entry | %s |"
         % "; ".join(parts)]
    last = [st for st in sc["stages"].values() if "rss_kb" in st]
    if last:
        r = last[-1]["rss_kb"]
        L.append("| peak RSS of the bench process (largest stage) | %d KiB with the "
                 "shim, %d KiB without |" % (r["shim"]["hwm_kb"], r["disk"]["hwm_kb"]))
    return L


def p50_p99(d):
    return "%s / %s" % (fmt_ns(d["p50_ns"]), fmt_ns(d["p99_ns"]))


def raw_rows(C):
    rw = C.get("raw_syscall")
    if not (rw and rw.get("status") == "ok"):
        return []
    g, f = rw["getppid"], rw["newfstatat"]
    L = ["| raw `syscall` getppid, p50 / p99: no shim; shim loaded, SUD off; SUD "
         "armed (trapped) | %s; %s (%s); %s (%s) |" % (
             p50_p99(g["no_shim"]), p50_p99(g["shim_sud_off"]),
             fmt_x(g["shim_sud_off"]["ratio_p50"]),
             p50_p99(g["shim_sud_on"]), fmt_x(g["shim_sud_on"]["ratio_p50"])),
         "| raw `syscall` newfstatat, p50 / p99: real directory, no shim; under the "
         "prefix, SUD armed (served by the shim) | %s; %s (%s) |" % (
             p50_p99(f["real_no_shim"]), p50_p99(f["prefix_sud"]), fmt_x(f["ratio_p50"]))]
    gw = rw.get("go_workload", {})
    if gw.get("status") == "ok":
        w = gw["wall_ns"]
        L.append("| Go (`tests/prog/gofs.go`, %s), median of %d: cgo build, real directory vs "
                 "the prefix (SUD); static build, real directory vs `smshim run --ns` | wall %s vs "
                 "%s (%s); %s vs %s (%s) |" % (
                     gw["workload"], gw["rounds"], fmt_ns(w["native_cgo"]), fmt_ns(w["sud_cgo"]),
                     fmt_x(gw["ratio_sud"]), fmt_ns(w["native_static"]),
                     fmt_ns(w.get("ns_static")), fmt_x(gw.get("ratio_ns"))))
    elif gw:
        L.append("| Go workload | skipped: %s |" % gw.get("reason"))
    b = rw.get("bun_crawl", {})
    if b.get("status") == "ok":
        L.append("| Bun crawl (`tests/lib/crawl.js`, %d files, 16 workers), median of %d: "
                 "real directory on the disk, no shim vs the prefix (SUD) | wall %s vs "
                 "%s (%s); crawl.js's timer %s vs %s (%s) |" % (
                     b["files"], b["rounds"], fmt_ns(b["disk"]["wall_ns"]),
                     fmt_ns(b["shim"]["wall_ns"]), fmt_x(b["ratio_wall"]),
                     fmt_ns(b["disk"]["crawl_ns"]), fmt_ns(b["shim"]["crawl_ns"]),
                     fmt_x(b["ratio_crawl"])))
    else:
        L.append("| Bun crawl under SUD | %s: %s |" % (b.get("status"), b.get("reason")))
    return L


# ---- targets, results.json, RESULTS.md, the printed report ------------------------------------

def targets_md(T):
    L = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for t in T:
        v = t["measured"]
        vs = "-" if v is None else t.get("shown") or fmt_x(v)
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        L.append("| %s | %s | %s | %s%s |" % (t["target"], t["goal"], vs, met,
                                              (" (%s)" % t["note"]) if t["note"] else ""))
    return "\n".join(L)


def write_json(path, R):
    """results.json, replaced at once (written beside it first)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(R, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def write_md(path, R, tables, tmd):
    """RESULTS.md: the machine, the sides, the tables and the targets."""
    mc, sides = R["machine"], R.get("sides", {})
    L = ["# Benchmark results", "",
         "The latest full `make bench` (written by bench/run.py; bench/README.md says what each "
         "case measures and how to read it). Ratios are to the first column, measured in the "
         "same run; lower is faster.", "",
         "Machine: %d cores, %s, Linux %s, glibc %s, Python %s, %s, %s, %s." % (
             mc["nproc"], mc["cpu"], mc["kernel"], mc["glibc"], mc["python"], mc["git"],
             mc["bindfs"] or "no bindfs", mc["proot"] or "no proot"),
         "Run: %s, %.0f s in all." % (mc["date"], R["elapsed_s"]), "", "Sides:", ""]
    for n in DISK_SET + PEERS_T + ["pass", "pass_guard"]:
        s = sides.get(n, {})
        lab = LABEL[n] + (" (tmpfs)" if n in PEERS_T else "")
        if s.get("status") == "ok":
            L.append("- %s: `%s`, backed by %s on %s%s" % (
                lab, s["dir"], s["backing"], s["fs"], "; " + s["note"] if s.get("note") else ""))
        else:
            L.append("- %s: %s (%s)" % (lab, s.get("status"), s.get("reason")))
    cd = R.get("cache_disk", {})
    if cd.get("ext4_without_journal"):
        L += ["", "The disk is ext4 without a journal: for 60-300 s after an inode is freed, "
                  "every create and mkdir in its block group skips it (fs/ext4/ialloc.c, "
                  "recently_deleted), so the bench deletes nothing until the end (rmdir is timed "
                  "last)." + (" **Warning**: %s" % cd["warning"] if cd.get("warning") else "")]
    L += ["", tables, "**Targets of issue 5**", "", tmd, ""]
    notrun = [(n, c) for n, c in R["cases"].items() if c.get("status") != "ok"]
    if notrun:
        L.append("Not run: " + "; ".join("%s (%s: %s)" % (n, c.get("status"), c.get("reason"))
                                         for n, c in notrun) + ".")
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def publish(R, out, md):
    """Write results.json (out) and, with md, RESULTS.md; print the tables and the targets."""
    write_json(out, R)
    tables = md_tables(R["cases"], R["sides"])
    tmd = targets_md(R["targets"])
    mc = R["machine"]
    log("")
    log("---- results: %s (%.0f s) ----" % (out, R["elapsed_s"]))
    log("")
    log(tables)
    log(tmd)
    log("")
    log("Machine: %d cores, %s, Linux %s, glibc %s, %s." % (mc["nproc"], mc["cpu"], mc["kernel"],
                                                             mc["glibc"], mc["date"]))
    for n, c in R["cases"].items():
        if c.get("status") != "ok":
            log("  %s: %s (%s)" % (n, c.get("status"), c.get("reason")))
    if md:
        write_md(md, R, tables, tmd)
        log("wrote %s" % md)
