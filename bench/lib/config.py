"""Fixed names and sizes: the prefix, the cases, the sides, their labels, full and smoke sizes."""
import os

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
SRC = os.path.dirname(BENCH)
PREFIX = "/sm"
PROOT_MNT = "/mnt/x"
SRV_KEY = "bench-key-0123456789"
R_LIST, R_CREATE = "POST /v3/documents/list", "POST /v3/documents"  # the test server's stats keys
IN_FLIGHT = 8  # the sync engine's uploads in flight per cache (hydrate/engine.c, SMH_WORKERS)
SAME = 1.2     # "the same crawl time at 1000 ms as at 0 ms": within this ratio (run-to-run noise)
CASES = ["micro", "passthrough", "process_start", "crawl", "upload_drain", "scale", "programs",
         "instructions", "raw_syscall", "pull_cost", "dead_server"]
MICRO_OPS = ["stat", "lstat", "stat_missing", "access", "open_read", "readdir", "create_write",
             "mkdir", "rmdir"]
OPS_A = MICRO_OPS[:7]  # everything that deletes nothing
OP_LABEL = {
    "stat": "stat (hot)", "lstat": "lstat (hot)", "stat_missing": "stat, missing name",
    "access": "access", "open_read": "open+read 4 KiB+close", "readdir": "readdir, 1000 entries",
    "create_write": "create+write 4 KiB+close", "mkdir": "mkdir", "rmdir": "rmdir",
}
DISK_SET = ["tmpfs", "disk", "shim", "bindfs", "proot"]
TMPFS_SET = ["tmpfs", "shim_t", "bindfs_t", "proot_t"]
TABLE_SIDES = DISK_SET + TMPFS_SET[1:]  # every side of the tables: both sets
PASS_SET = ["pass_off", "pass", "pass_guard"]
LABEL = {"tmpfs": "tmpfs (a)", "disk": "disk (b)", "shim": "smshim (c)", "bindfs": "bindfs (FUSE)",
         "proot": "PRoot", "shim_t": "smshim", "bindfs_t": "bindfs (FUSE)", "proot_t": "PRoot",
         "pass_off": "disk, no shim", "pass": "disk, shim loaded",
         "pass_guard": "disk, shim loaded, LMDB open"}
WORKERS = 16  # the crawls' threads (crawl.py, bench/replay, crawl.js)

# sizes: the full run takes about nine minutes on 2 cores (three of them waiting on the test
# server's latency in cases 4 and 5); the smoke run about ten seconds
FULL = dict(rounds=3, budget=0.25, pass_rounds=4, start_runs=240, start_rounds=6,
            first_runs=15, crawl_rounds=5, c16_files=64, scale=[1000, 10000, 100000], scale_1m=1000000,
            scale_rounds=3, prog_rounds=4, prog_runs=2, repo_files=1000, pymods=40,
            cg_n=(2000, 22000), d_entries=1000, proot_start_runs=20,
            srv_files=177, srv_dirs=92, srv_latencies=[0, 200, 1000], srv_rounds=9,
            srv_drain_rounds=1, srv_exit_drain=True,
            drain_files=200, drain_latencies=[0, 50, 200], drain_rounds=2, drain_procs=4,
            drain_stock=[50, 200], raw_max=500000, raw_bun_rounds=9, raw_bun_files=177,
            raw_bun_dirs=92, pull_docs=20000, pull_latency=100, dead_rounds=3)
SMOKE = dict(rounds=1, budget=0.005, pass_rounds=1, start_runs=4, start_rounds=1,
             first_runs=1, crawl_rounds=1, c16_files=2, scale=[100, 300], scale_1m=None,
             scale_rounds=1, prog_rounds=1, prog_runs=1, repo_files=20, pymods=3,
             cg_n=(10, 60), d_entries=50, proot_start_runs=1,
             srv_files=20, srv_dirs=10, srv_latencies=[0, 50], srv_rounds=1,
             srv_drain_rounds=1, srv_exit_drain=True,
             drain_files=20, drain_latencies=[0, 50], drain_rounds=1, drain_procs=2,
             drain_stock=[], raw_max=2000, raw_bun_rounds=1, raw_bun_files=20,
             raw_bun_dirs=10, pull_docs=200, pull_latency=10, dead_rounds=1)
