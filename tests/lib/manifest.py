#!/usr/bin/env python3
"""manifest.py DIR: print one line per entry below DIR, sorted: type, relative path, size, mode
and sha256 (files) or target (symlinks). Times are left out: they differ between two runs."""
import hashlib
import os
import stat
import sys


def main(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            mode = "%o" % stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                t = os.readlink(p)
                out.append("l %s %s -> %s" % (rel, mode, t.replace(root, "$W")))
            elif stat.S_ISDIR(st.st_mode):
                out.append("d %s %s" % (rel, mode))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 16), b""):
                        h.update(chunk)
                out.append("f %s %d %s %s" % (rel, st.st_size, mode, h.hexdigest()))
            else:
                out.append("? %s %s" % (rel, mode))
    for line in sorted(out):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
