#!/bin/bash
# A file under the prefix opened again for writing through /proc (/proc/self/fd/N, /dev/fd/N,
# /proc/<pid>/fd/N: the kernel reopens the file N is open on) is recorded as any write-open of
# its name, before the open, so the process pushes it before it exits, as for a write by its
# name. It passed to the kernel as a path outside the prefix, unrecorded: the process exited
# without pushing it, and the change waited for a later scan (smshim sync).
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_PULL_INTERVAL=3600
shim bash -c 'mkdir -p /sm/p && cd /sm/p && for f in a b c d; do echo one > $f.txt; done'
"$B/smshim" sync >"$T/sync.out" 2>&1 || fail "sync: $(cat "$T/sync.out")"
# each file written again through a name of its descriptor under /proc
shim "$PY" -c '
import os
fd = os.open("/sm/p/a.txt", os.O_RDONLY)
w = os.open("/proc/self/fd/%d" % fd, os.O_WRONLY | os.O_TRUNC)
os.write(w, b"local a\n"); os.close(w)
fd = os.open("/sm/p/b.txt", os.O_RDONLY)
w = os.open("/proc/%d/fd/%d" % (os.getpid(), fd), os.O_WRONLY | os.O_TRUNC)
os.write(w, b"local b\n"); os.close(w)'
shim bash -c 'exec 5</sm/p/c.txt; echo "local c" > /dev/fd/5'
cat >"$T/fo.c" <<'C'
#include <stdio.h>
#include <fcntl.h>
int main(void)
{
    char p[64];
    int fd = open("/sm/p/d.txt", O_RDONLY);
    snprintf(p, sizeof p, "/dev/fd/%d", fd);
    FILE *f = fopen(p, "w");
    if (!f)
        return 1;
    fputs("local d\n", f);
    return fclose(f) != 0;
}
C
gcc -o "$T/fo" "$T/fo.c" || fail "cc"
shim "$T/fo" || fail "fopen of /dev/fd/N"
# each process waited at its exit for its upload: the server holds the local bytes already
srv check "$SMSHIM_CACHE/tree" || fail "the processes exited without pushing what they wrote"
echo "ok - write-opens through /proc/self/fd/N, /proc/PID/fd/N, /dev/fd/N and fopen are pushed before exit"
# a reopen for reading records nothing
"$B/smshim" sync >/dev/null 2>&1 || fail "sync"
shim bash -c 'exec 5</sm/p/a.txt; cat /dev/fd/5 /proc/self/fd/5 >/dev/null'
"$B/smshim" status --list | grep -q "^dirty" && fail "a reopen for reading was recorded as a change"
echo "ok - a reopen for reading records nothing"
