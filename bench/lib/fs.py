"""File-system facts and chores: mounts, ext4 without a journal, rm -rf, bytes, manifests."""
import hashlib
import os
import time

from lib.proc import log, sh

RECENT_S, MANY_INODES = 300, 20000  # ext4 skips inodes freed less than 300 s ago


def mount_of(path):
    """(mount point, fs type, source) of the file system holding path."""
    path = os.path.realpath(path)
    best, blen = ("/", "?", "?"), -1
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            mp = parts[4].replace("\\040", " ")
            sep = parts.index("-")
            if path == mp or path.startswith(mp.rstrip("/") + "/") or mp == "/":
                if len(mp) >= blen:
                    best, blen = (mp, parts[sep + 1], parts[sep + 2]), len(mp)
    return best


def ext4_without_journal(path):
    """ext4 with no journal skips recently freed inodes (60-300 s) on every allocation."""
    mp, fstype, dev = mount_of(path)
    if fstype != "ext4":
        return False
    try:
        jb = os.listdir("/proc/fs/jbd2")
    except OSError:
        return False
    return not any(j.startswith(os.path.basename(dev) + "-") for j in jb)


def inodes_used(path):
    st = os.statvfs(path)
    return st.f_files - st.f_ffree


def remove_tree(paths, stamp):
    """rm -rf, then note when and about how many inodes were freed (see cache_disk)."""
    paths = [p for p in paths if os.path.lexists(p)]
    if not paths:
        return
    probe = os.path.dirname(stamp)
    before = inodes_used(probe)
    sh(["rm", "-rf"] + paths, check=False, timeout=1800)
    freed = max(0, before - inodes_used(probe))
    with open(stamp, "w") as f:
        f.write("%f %d\n" % (time.time(), freed))


def cache_disk(W, stamp):
    """results.json's cache_disk: the disk under the work directory, whether it is ext4 without
    a journal, and a warning (also printed) when an earlier run's cleanup freed many inodes
    there less than 300 s ago."""
    nojournal = ext4_without_journal(W)
    d = {"path": W + "/cache", "fs": mount_of(W)[1], "device": mount_of(W)[2],
         "ext4_without_journal": nojournal}
    try:
        with open(stamp) as f:
            when, freed = f.read().split()
        ago = time.time() - float(when)
    except (OSError, ValueError):
        ago, freed = None, 0
    if nojournal and ago is not None and ago < RECENT_S and int(freed) > MANY_INODES:
        d["warning"] = (
            "about %s inodes of an earlier bench run were freed %.0f s before this run started: "
            "creates and mkdirs on the disk may be slower than usual" % (freed, ago))
        log("bench: note: " + d["warning"])
    return d


def dir_bytes(path):
    """Allocated bytes (st_blocks) of everything below path, and the number of inodes."""
    total = inodes = 0
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            try:
                st = os.lstat(os.path.join(root, n))
            except OSError:
                continue
            total += st.st_blocks * 512
            inodes += 1
    return total, inodes


def tree_manifest(root):
    """[(relative path, size, sha256)] of every file below root, sorted."""
    out = []
    for d, dirs, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                data = f.read()
            out.append((os.path.relpath(p, root), len(data), hashlib.sha256(data).hexdigest()))
    return sorted(out)
