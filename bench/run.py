#!/usr/bin/env python3
"""run.py: the benchmark suite of issue 5 (see bench/README.md): its arguments, its cases' order.

Runs every case side by side on

  (a) tmpfs     a real directory on a tmpfs (/dev/shm, or one it mounts)
  (b) disk      a real directory on the cache's own disk
  (c) shim      the shim's prefix (/sm), its cache on that same disk
  (d) bindfs    FUSE: bindfs over a real directory on that disk, if it can run here
      proot     PRoot binding a real directory on that disk (proot -b DIR:/mnt/x), if it can run

and again with no disk in the way (shim_t, bindfs_t, proot_t: the cache, bindfs's source and
PRoot's bound directory on the tmpfs), so each layer's own cost shows. The same compiled programs
(bench/*.c) run on every side. Cases 4 (the crawl with the server at 0-1000 ms of latency) and 5
(upload drain) also start the test server (tests/server/smserver.py). Prints the tables, writes
the JSON results and, with --md, the Markdown report.

  run.py --build DIR [--work DIR] [--out FILE] [--md FILE] [--smoke] [--only CASE,...]

This file holds the arguments and the order of the cases; cases/ holds one module per case,
lib/ the sides, the test server, running programs and the output.
"""
import argparse
import os
import sys

from cases import (crawl, crawl_server, dead_server, instructions, micro, process_start,
                   programs, pull_cost, raw_syscall, scale, upload_drain)
from lib import harness
from lib.config import BENCH

MICRO = ("micro", "passthrough")  # cases 1 and 2 come from the same runs of bench/micro

# (case, part, the --only names that select it, function of the run's context), in the order
# they run. The order keeps deletions (rmdir) last; see micro.c. A step with a part adds to its
# case; the others return the case's result.
STEPS = [
    ("micro", "setup", MICRO, micro.fixtures),
    ("micro", "calls", MICRO, micro.calls),
    ("micro", "mkdir", MICRO, micro.mkdir),
    ("crawl", None, ("crawl",), crawl.run),
    ("crawl", "server", ("crawl",), crawl_server.run),
    ("upload_drain", None, ("upload_drain",), upload_drain.run),
    ("pull_cost", None, ("pull_cost",), pull_cost.run),
    ("dead_server", None, ("dead_server",), dead_server.run),
    ("programs", None, ("programs",), programs.run),
    ("process_start", None, ("process_start",), process_start.run),
    ("scale", None, ("scale",), scale.run),
    ("instructions", None, ("instructions",), instructions.run),
    ("raw_syscall", None, ("raw_syscall",), raw_syscall.run),
    ("micro", "rmdir", MICRO, micro.rmdir),
]

# (case, the case whose steps stored its runs, the --only names that select it, function): the
# results made after every step, from what those steps stored
ASSEMBLED = [
    ("micro", "micro", MICRO, micro.result),
    ("passthrough", "micro", MICRO, micro.passthrough_result),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--work")
    ap.add_argument("--out", default=os.path.join(BENCH, "results.json"))
    ap.add_argument("--md")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", help="comma list of cases to run")
    return harness.run(ap.parse_args(), STEPS, ASSEMBLED)


if __name__ == "__main__":
    sys.exit(main())
