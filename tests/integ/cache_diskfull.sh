#!/usr/bin/env bash
# A full disk under the cache never kills the program: the environment's commits write into a
# writable map, where a page of a file hole written when no block is left would be a SIGBUS.
# The cache sits on a small tmpfs; one process opens the environment, the disk is filled, and
# the same process then records enough files to grow data.mdb far past what it had; a fresh
# process then opens the environment on the full disk. Every create succeeds (the tree's empty
# files need no blocks), and what could be recorded before the disk filled is recorded.
. "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
CLI="$B/smshim"
D="$T/small"
mkdir -p "$D"
mount -t tmpfs -o size=24m,nr_inodes=200000 smshim-full "$D" || skip "cannot mount a tmpfs"
trap 'umount -l "$D" 2>/dev/null || true' EXIT
export SMSHIM_CACHE="$D/cache"
shim "$PY" - "$D/fill" <<'EOF' || fail "the writer died on a full disk (status $?)"
import os, sys
os.makedirs("/sm/d")
open("/sm/before.txt", "w").write("x")  # the environment is open
with open(sys.argv[1], "wb") as f:  # outside the prefix: fill the disk
    try:
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
    except OSError:
        pass
for i in range(60000):  # about 12 MiB of entries and queue records
    open("/sm/d/f%05d" % i, "w").close()
EOF
shim "$PY" -c 'open("/sm/after.txt", "w").close()' || fail "a fresh process died on a full disk"
[ -e "$D/cache/tree/d/f59999" ] && [ -e "$D/cache/tree/after.txt" ] || fail "creates are missing"
rm -f "$D/fill"
"$CLI" status --cache "$SMSHIM_CACHE" --list >"$T/list" || fail "status --list failed"
grep -qx "dirty */before.txt" "$T/list" || fail "/before.txt was not recorded: $(head "$T/list")"
echo "ok - a full disk under the cache fails the records, never the program"
