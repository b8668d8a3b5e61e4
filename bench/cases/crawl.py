"""Case 4, local part (crawl): crawl.py and bench/replay into every side, trees checked; and
bench/replay -c: 16 threads each creating new 4 KiB files in one shared directory (the
create+write+close of case 1 with 16 threads)."""
import re
import time

from lib import proc
from lib.config import TABLE_SIDES, WORKERS
from lib.crawls import CRAWL_SCRIPT, check_tree, plan, write_plan
from lib.proc import BenchError, in_turns, median, ratio

FILES, DIRS = 177, 92


def crawl_name(s, tag, r):
    """The directory of round r's crawl by tag ("py" or "c") in a side's directory."""
    return "crawl-%s-%s-%d" % (s.name, tag, r)


def run(ctx):
    cfg, S = ctx.cfg, ctx.S
    act = ctx.act(TABLE_SIDES)
    plan_file = ctx.W + "/crawl-plan.txt"
    items = plan(FILES, DIRS)
    write_plan(plan_file, items)
    py, pyw, cc, cw = ({s.name: [] for s in act} for _ in range(4))
    for r, s in in_turns(act, cfg["crawl_rounds"]):
        t0 = time.perf_counter()
        text = s.run([proc.PY, CRAWL_SCRIPT, "--dest", "%s/%s" % (s.dir, crawl_name(s, "py", r)),
                      "--workers", str(WORKERS), "--files", str(FILES), "--dirs", str(DIRS)])
        pyw[s.name].append((time.perf_counter() - t0) * 1e9)
        m = re.search(r"crawl: (\d+) files, (\d+) errors, ([\d.]+) s", text)
        if not m or m.group(2) != "0":
            raise BenchError("%s: crawl.py: %s" % (s.name, text.strip()[-300:]))
        py[s.name].append(float(m.group(3)) * 1e9)
        o = s.json([proc.BIN["replay"], plan_file, "%s/%s" % (s.dir, crawl_name(s, "c", r)),
                    str(WORKERS)])
        cc[s.name].append(o["secs"] * 1e9)
        o = s.json([proc.BIN["replay"], "-c", str(cfg["c16_files"]),
                    "%s/%s" % (s.dir, crawl_name(s, "cw", r)), str(WORKERS)])
        if o["files"] != cfg["c16_files"] * WORKERS:
            raise BenchError("%s: replay -c: %r" % (s.name, o))
        cw[s.name].append(o["secs"] * 1e9)
    # every side must have written the planned tree (read back from the real directory)
    for s in act:
        for prog in ("python", "c"):
            tag = "py" if prog == "python" else "c"
            check_tree("%s/w/%s" % (s.backing, crawl_name(s, tag, 0)), items, prog, s.name)
    base = "tmpfs" if "tmpfs" in py else "disk"
    out = {"unit": "ns wall time of the 16 workers, median over rounds; python: crawl.py's own "
                   "timer (threads), python_process: the whole interpreter run, c: "
                   "bench/replay (pthreads); create16: bench/replay -c, 16 threads each "
                   "creating c16_files new 4 KiB files in one directory",
           "files": len(items), "dirs": DIRS, "workers": WORKERS, "rounds": cfg["crawl_rounds"],
           "c16_files": cfg["c16_files"],
           "trees_checked": True, "base": base, "sides": {},
           "server_latency": {"status": "skipped", "reason": "not run"},
           "last_upload": {"status": "skipped", "reason": "not run"}}
    for n in TABLE_SIDES:
        if n not in py:
            out["sides"][n] = S[n].why()
            continue
        d = {"python_ns": median(py[n]), "python_process_ns": median(pyw[n]),
             "c_ns": median(cc[n]), "create16_ns": median(cw[n])}
        d["ratio_python"] = ratio(d["python_ns"], median(py[base]))
        d["ratio_c"] = ratio(d["c_ns"], median(cc[base]))
        d["ratio_create16"] = ratio(d["create16_ns"], median(cw[base]))
        if "disk" in py:
            d["python_vs_disk"] = ratio(d["python_ns"], median(py["disk"]))
            d["c_vs_disk"] = ratio(d["c_ns"], median(cc["disk"]))
            d["create16_vs_disk"] = ratio(d["create16_ns"], median(cw["disk"]))
        out["sides"][n] = d
    return out
