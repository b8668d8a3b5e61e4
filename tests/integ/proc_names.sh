#!/bin/bash
# A name of one of the shim's descriptors in the process's fd and fdinfo directories answers
# ENOENT however it is spelt (/proc/self, /proc/PID, thread-self, task/TID, /dev/fd, doubled
# slashes, "." and ".." components, what lies below it), and paths elsewhere under /dev pass
# through: /dev/null and /dev/shm answer as the kernel does, and a call on them never reaches
# the closer look at /proc names (procfd.c), which only paths that may name the fd directories
# pay: callgrind counts the calls of sm_procfd_names_own (tests/prog/procnames.c).
. "$(dirname "$0")/../lib/common.sh"
shim mkdir -p /sm/pn
out=$(shim "$B/tests/procnames" names /sm/pn 2>&1) || fail "$out"
echo "$out"

# what calls reach procfd.c's look at a name (not under a sanitizer: valgrind cannot run one)
if [ -n "${SMSHIM_SAN:-}" ]; then
    echo "# sanitizer build: the callgrind part is not run"
    exit 0
fi
command -v valgrind >/dev/null || { echo "# valgrind is not installed: the callgrind part is not run"; exit 0; }
# calls of fn in a callgrind output file (the "calls=N" lines below each call of it)
calls() { awk -v fn="$2" '/^cfn=/ {c = index($0, fn) > 0} /^calls=/ && c {split($1, a, "="); n += a[2]} END {print n + 0}' "$1"; }
for mode in pass proc; do
    LD_PRELOAD="$PRELOAD" valgrind --tool=callgrind --callgrind-out-file="$T/cg.$mode" \
        "$B/tests/procnames" $mode 50 >"$T/cg.$mode.log" 2>&1 || fail "$mode under callgrind: $(tail -5 "$T/cg.$mode.log")"
done
# the name is stored once per file and named by number afterwards: map the numbers back
names() { awk '/^c?fn=\([0-9]+\) / {match($0, /\([0-9]+\)/); id = substr($0, RSTART, RLENGTH); name[id] = substr($0, RSTART + RLENGTH + 1)} /^c?fn=\([0-9]+\)$/ {match($0, /\([0-9]+\)/); id = substr($0, RSTART, RLENGTH); sub(/\([0-9]+\)$/, id " " name[id])} {print}' "$1" >"$1.named"; }
names "$T/cg.pass"
names "$T/cg.proc"
p=$(calls "$T/cg.proc.named" sm_procfd_names_own)
[ "$p" -ge 150 ] || fail "150 calls on /proc/self/fd/0 made $p calls of sm_procfd_names_own (the count is not read right)"
n=$(calls "$T/cg.pass.named" sm_procfd_names_own)
[ "$n" = 0 ] || fail "300 calls on /dev/null and /dev/shm made $n calls of sm_procfd_names_own"
echo "ok - 300 calls on /dev/null and /dev/shm never reach procfd.c's look at a name (150 on /proc/self/fd/0 make $p)"
