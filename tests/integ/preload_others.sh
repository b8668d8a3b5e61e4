#!/bin/bash
# Other preloaded interposers beside the shim, in both orders of LD_PRELOAD: fakeroot's library
# and libeatmydata. Under fakeroot the same commands (create, chown, a device node, stat, ls -l)
# print on the prefix what they print on a real directory, and the files are recorded. fakeroot's
# stat, lstat, fstatat and mknod call its own __xstat, __lxstat, __fxstatat and __xmknod by their
# PLT, which bind to the shim's when the shim comes first: the shim must pass those on to
# fakeroot's, not back to its stat (a loop that never ended: the shell span at 100% CPU).
# (timeout only guards against that hang; nothing here waits on time.) Not covered: with the shim
# first, the shim's own look at a name it removes goes through fakeroot too, which reports its
# faked type (a device node mknod made, a regular file in the tree): its removal is then not
# recorded, and is left to the scan.
. "$(dirname "$0")/../lib/common.sh"
need fakeroot timeout
FR=$(ls /usr/lib/*/libfakeroot/libfakeroot-sysv.so /usr/lib/libfakeroot/libfakeroot-sysv.so \
    2>/dev/null | head -1) || true
[ -n "$FR" ] || skip "libfakeroot-sysv.so not found"
EMD=$(ls /usr/lib/*/libeatmydata.so /usr/lib/libeatmydata.so 2>/dev/null | head -1) || true

# the commands, run in directory $D (a real one, then /sm/...)
cmds='cd "$D" && echo hi > x && chown 0:0 x && ls -ln x | cut -d" " -f1-5 &&
chown 12:34 x && stat -c "%u %g %s %F" x && mknod n c 1 3 && stat -c "%u %g %F %t %T" n &&
mkdir -p s/t && touch s/t/f && chown -R 7:8 s && ls -lnR s | grep -v "^total" | cut -d" " -f1-4 &&
cat x && ls'
mkdir -p "$T/real"
want=$(D="$T/real" timeout 120 fakeroot sh -c "$cmds" 2>&1) || fail "real directory: $want"

# fakeroot first (the fakeroot command prepends its library to the shim)
shim mkdir -p /sm/fr1 /sm/fr2 /sm/em1 /sm/em2
got=$(D=/sm/fr1 timeout 120 env LD_PRELOAD="$PRELOAD" fakeroot sh -c "$cmds" 2>&1) ||
    fail "fakeroot's library, then the shim: $got"
[ "$got" = "$want" ] || fail "fakeroot's library then the shim printed
$got
on a real directory
$want"
echo "ok - fakeroot's library then the shim: as on a real directory"

# the shim first
got=$(D=/sm/fr2 PRE="$PRELOAD" timeout 120 fakeroot sh -c \
    'LD_PRELOAD="$PRE:$LD_PRELOAD" exec sh -c "$0"' "$cmds" 2>&1) ||
    fail "the shim, then fakeroot's library: $got"
[ "$got" = "$want" ] || fail "the shim then fakeroot's library printed
$got
on a real directory
$want"
echo "ok - the shim then fakeroot's library: as on a real directory"

# and a stat of a path outside the prefix, and of a missing one, in that order
out=$(PRE="$PRELOAD" timeout 120 fakeroot sh -c \
    'LD_PRELOAD="$PRE:$LD_PRELOAD" exec stat -c "%F" /tmp /sm/fr2/x; ' 2>&1) || fail "stat: $out"
[ "$out" = "directory
regular file" ] || fail "stat under the shim then fakeroot's library: $out"
out=$(PRE="$PRELOAD" timeout 120 fakeroot sh -c \
    'LD_PRELOAD="$PRE:$LD_PRELOAD" exec stat /sm/fr2/none' 2>&1) && fail "stat of a missing name: $out"
echo "ok - stats in and out of the prefix, and a missing name, with the shim first"

# libeatmydata, both orders: writes with O_SYNC and fsync, read back
em='printf hi > "$D/a" && python3 -c "import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_SYNC, 0o644)
os.write(fd, b\"y\"); os.fsync(fd); os.close(fd)" "$D/b" && sync && cat "$D/a" "$D/b"'
if [ -n "$EMD" ]; then
    got=$(D=/sm/em1 timeout 120 env LD_PRELOAD="$EMD:$PRELOAD" sh -c "$em" 2>&1) ||
        fail "libeatmydata then the shim: $got"
    [ "$got" = hiy ] || fail "libeatmydata then the shim: $got"
    got=$(D=/sm/em2 timeout 120 env LD_PRELOAD="$PRELOAD:$EMD" sh -c "$em" 2>&1) ||
        fail "the shim then libeatmydata: $got"
    [ "$got" = hiy ] || fail "the shim then libeatmydata: $got"
    echo "ok - libeatmydata in both orders"
else
    echo "# libeatmydata is not installed: its part is not run"
fi

# every file written is recorded
"$B/smshim" status --list >"$T/list" 2>&1 || fail "status: $(cat "$T/list")"
for f in /fr1/x /fr2/x /fr1/s/t/f /fr2/s/t/f ${EMD:+/em1/a /em1/b /em2/a /em2/b}; do
    grep -q " $f\$" "$T/list" || fail "$f is not recorded: $(cat "$T/list")"
done
same_as_tree "after the interposers"
