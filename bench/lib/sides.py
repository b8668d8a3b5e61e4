"""The sides (tmpfs, disk, shim, bindfs, PRoot, pass-through): their set-up and teardown."""
import hashlib
import os
import shutil
import sys

from lib import proc
from lib.config import PREFIX, PROOT_MNT
from lib.fs import mount_of, remove_tree
from lib.proc import last_json, log, sh


class Side:
    """A place the same programs run against: a directory as the programs name it, the real
    directory behind it, the environment (the preload) and a command wrapper (proot)."""

    def __init__(self, name, dir, backing, env=None, wrap=None, note=""):
        self.name, self.dir, self.backing = name, dir, backing
        self.extra = env or {}
        self.wrap = wrap or []
        self.note = note
        self.status, self.reason = "ok", None

    def ok(self):
        return self.status == "ok"

    def skip(self, reason):
        self.status, self.reason = "skipped", reason
        return self

    def why(self):
        """What a case reports for a side it could not run on."""
        return {"status": self.status, "reason": self.reason}

    def env(self):
        e = dict(proc.BASE_ENV)
        e.update(self.extra)
        return e

    def run(self, argv, timeout=900):
        return sh(self.wrap + argv, env=self.env(), timeout=timeout).stdout

    def json(self, argv, timeout=900):
        return last_json(self.run(argv, timeout))

    def timeit(self, argv, n, warm=1, timeout=900, parent_too=False):
        """Wall times (ns) of n runs of argv; the preload goes to the children only, or with
        parent_too to the timing process as well (its children then get what the shim gives
        the processes it starts)."""
        sets = []
        for k, v in sorted(self.extra.items()):
            sets += ["-e", "%s=%s" % (k, v)]
        env = dict(proc.BASE_ENV)
        if parent_too:
            env.update(self.extra)
            sets = []
        out = sh(self.wrap + [proc.BIN["timeit"]] + sets + ["-w", str(warm), str(n)] + argv,
                 env=env, timeout=timeout).stdout
        return last_json(out)["runs_ns"]

    def info(self):
        d = {"status": self.status}
        if self.reason:
            d["reason"] = self.reason
        if self.ok() and self.backing:
            mp, fstype, src = mount_of(self.backing)
            d.update(dir=self.dir, backing=self.backing, fs=fstype, device=src)
            if self.dir and self.dir.startswith("/") and os.path.exists(os.path.dirname(self.dir)):
                d["fs_seen"] = mount_of(os.path.dirname(self.dir))[1]
            if self.note:
                d["note"] = self.note
        return d


def shim_env(cache):
    return {"LD_PRELOAD": proc.PRELOAD, "SMSHIM_CACHE": cache, "SMSHIM_PREFIX": PREFIX}


def shim_proc_env(cache):
    """The whole environment of a process of that cache, the shim preloaded, no key."""
    e = dict(proc.BASE_ENV)
    e.update(shim_env(cache))
    return e


class Mounts:
    """What the bench mounted (unmounted at the end, or on a signal) and the directories it made
    for mount points (removed at the end)."""

    def __init__(self):
        self.points, self.made = [], []

    def unmount_all(self):
        for mp in reversed(self.points):
            if shutil.which("fusermount3") and mount_of(mp)[1].startswith("fuse"):
                sh(["fusermount3", "-u", "-z", mp], check=False)
            else:
                sh(["umount", "-l", mp], check=False)
        self.points.clear()


def find_tmpfs(W, mounts, may_mount):
    tag = hashlib.sha256(W.encode()).hexdigest()[:8]  # one per work directory
    for cand in ["/dev/shm", "/run/shm", "/tmp", "/run/user/%d" % os.getuid()]:
        if os.path.isdir(cand) and os.access(cand, os.W_OK) and mount_of(cand)[1] == "tmpfs":
            return (os.path.join(cand, "smshim-bench-%d-%s" % (os.getuid(), tag)),
                    "the tmpfs at " + cand)
    if may_mount and os.getuid() == 0 and shutil.which("mount"):
        mp = W + "-tmpfs"
        os.makedirs(mp, exist_ok=True)
        mounts.made.append(mp)
        if sh(["mount", "-t", "tmpfs", "-o", "size=4g", "tmpfs", mp], check=False).returncode == 0:
            mounts.points.append(mp)
            return mp + "/t", "a tmpfs the bench mounted at " + mp
    return None, "no writable tmpfs found and none could be mounted"


def fresh_work(W, smoke, mounts, stamp):
    """A fresh work directory W and its tmpfs twin T (unmounting and removing what an
    interrupted run may have left there): (T, note), T None when there is no tmpfs."""
    if os.path.exists(W) and os.listdir(W) and not os.path.exists(W + "/.smshim-bench"):
        sys.exit("bench: %s exists and was not made by the bench; remove it or pass --work" % W)
    T, tnote = find_tmpfs(W, mounts, not smoke)
    olds = [W] + ([T, T + "-disk", T + "-fuse", T + "-fuset"] if T else [])
    olds = [o for o in olds if o not in mounts.points]
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if any(mp == o or mp.startswith(o + "/") for o in olds) and mp not in mounts.points:
                sh(["umount", "-l", mp], check=False)
    os.makedirs(os.path.dirname(W), exist_ok=True)
    remove_tree(olds, stamp)
    os.makedirs(W)
    open(W + "/.smshim-bench", "w").close()
    if T:
        os.makedirs(T)
    return T, tnote


def make_sides(W, T, tnote, smoke, mounts):
    """Every disk-backed side works in one and the same real directory, the cache's own tree
    (<cache>/tree/w): the shim through /sm/w, the disk side directly, bindfs over it, PRoot
    binding it. Only the access layer differs, never the directory: on ext4 without a journal a
    create's cost depends on the block group its directory landed in (recently freed inodes are
    skipped one by one), and two fresh directories can differ twentyfold. Names that sides
    create carry the side's tag, so they never collide. The same holds for the tmpfs-backed set.
    Where it can (root, not the smoke run) the disk side reaches the tree through a bind mount at
    a path as deep as the tmpfs side's, so neither walks more components."""
    S = {}
    tree = W + "/cache/tree"
    os.makedirs(tree)
    disk_dir, disk_note = tree, "the cache's own tree, without the shim"
    if not smoke and T and os.getuid() == 0 and shutil.which("mount"):
        mp = T + "-disk"
        os.makedirs(mp)
        mounts.made.append(mp)
        if sh(["mount", "--bind", tree, mp], check=False).returncode == 0:
            mounts.points.append(mp)
            disk_dir = mp
            disk_note += ", bind-mounted at %s (as deep as the tmpfs side)" % mp
    S["tmpfs"] = Side("tmpfs", T + "/w", T, note=tnote) if T else \
        Side("tmpfs", None, None).skip(tnote)
    S["disk"] = Side("disk", disk_dir + "/w", tree, note=disk_note)
    S["shim"] = Side("shim", PREFIX + "/w", tree, env=shim_env(W + "/cache"),
                     note="cache %s/cache" % W)
    S["bindfs"] = setup_bindfs("bindfs", tree, (T + "-fuse") if T else W + "/fuse", smoke,
                               mounts)
    S["proot"] = setup_proot("proot", tree, smoke)
    if T:
        ttree = T + "/cache/tree"
        os.makedirs(ttree)
        S["shim_t"] = Side("shim_t", PREFIX + "/w", ttree, env=shim_env(T + "/cache"),
                           note="cache %s/cache" % T)
        S["bindfs_t"] = setup_bindfs("bindfs_t", ttree, T + "-fuset", smoke, mounts)
        S["proot_t"] = setup_proot("proot_t", ttree, smoke)
    else:
        for n in ("shim_t", "bindfs_t", "proot_t"):
            S[n] = Side(n, None, None).skip(tnote)
    # pass-through: one real directory outside the prefix, run without the shim, with it, and
    # with it after a write under the prefix (so the process's LMDB environment is open)
    pas = W + "/dpas"
    S["pass_off"] = Side("pass_off", pas + "/w", pas, note="no shim")
    S["pass"] = Side("pass", pas + "/w", pas, env=shim_env(W + "/cache"),
                     note="shim loaded, paths outside the prefix")
    S["pass_guard"] = Side("pass_guard", pas + "/w", pas, env=shim_env(W + "/cache"),
                           note="shim loaded and its LMDB environment open")
    return S


def setup_bindfs(name, src, mnt, smoke, mounts):
    s = Side(name, mnt + "/w", src, note="bindfs %s %s (default FUSE options)" % (src, mnt))
    reason = None
    if smoke:
        reason = "smoke run"
    elif not shutil.which("bindfs"):
        reason = "bindfs is not installed (apt-get install bindfs fuse3 failed or was not run)"
    elif not os.path.exists("/dev/fuse"):
        reason = "no /dev/fuse on this machine"
    else:
        os.makedirs(src, exist_ok=True)
        os.makedirs(mnt, exist_ok=True)
        mounts.made.append(mnt)
        p = sh(["bindfs", src, mnt], check=False, timeout=30)
        if p.returncode != 0:
            reason = "bindfs could not mount: " + (p.stderr.strip() or "exit %d" % p.returncode)
        elif not mount_of(mnt)[1].startswith("fuse"):
            reason = "bindfs exited 0 but %s is not a FUSE mount" % mnt
        else:
            mounts.points.append(mnt)
    return s.skip(reason) if reason else s


def setup_proot(name, src, smoke):
    s = Side(name, PROOT_MNT + "/w", src, wrap=["proot", "-b", "%s:%s" % (src, PROOT_MNT)],
             note="proot -b %s:%s" % (src, PROOT_MNT))
    reason = None
    if smoke:
        reason = "smoke run"
    elif not shutil.which("proot"):
        reason = "proot is not installed (apt-get install proot failed or was not run)"
    else:
        os.makedirs(src, exist_ok=True)
        p = sh(["proot", "-b", "%s:%s" % (src, PROOT_MNT), "/bin/true"], check=False, timeout=60)
        if p.returncode != 0:
            reason = "proot cannot run here: " + (p.stderr.strip()[-300:] or
                                                  "exit %d" % p.returncode)
    return s.skip(reason) if reason else s


def log_sides(W, S):
    log("bench: work %s, preload %s" % (W, proc.PRELOAD))
    for n, s in S.items():
        i = s.info()
        log("  %-10s %s" % (n, ("%s -> %s (%s)" % (i["dir"], i["backing"], i["fs"]))
                            if s.ok() else "%s: %s" % (s.status, s.reason)))
