"""results.json's machine: cores, CPU, kernel, glibc, Python, date, tool versions."""
import datetime
import os
import platform
import re
import shutil
import subprocess

from lib.proc import sh


def version(argv):
    """The first line a tool prints for argv (e.g. --version), None when it is missing."""
    if not shutil.which(argv[0]):
        return None
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=20)
    return p.stdout.strip().splitlines()[0] if p.stdout.strip() else None


def proot_version():
    """proot's version and whether its seccomp acceleration is on, None when it is missing."""
    if not shutil.which("proot"):
        return None
    out = sh(["proot", "--version"], check=False).stdout
    mv, acc = re.search(r"(\d+\.\d+\.\d+)", out), re.search(r"seccomp_filter = (\w+)", out)
    return "proot %s%s" % (mv.group(1) if mv else "?",
                           " (seccomp_filter %s)" % acc.group(1) if acc else "")


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "glibc": platform.libc_ver()[1], "python": platform.python_version(),
            "git": version(["git", "--version"]), "bindfs": version(["bindfs", "--version"]),
            "valgrind": version(["valgrind", "--version"]), "proot": proot_version()}
