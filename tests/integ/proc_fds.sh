#!/bin/bash
# A program that lists its descriptors through /proc (/proc/self/fd and every other name of its
# fd and fdinfo directories, by readdir, readdir64, readdir_r, scandir, fdopendir and getdents64
# through syscall()) sees the descriptors it holds, every one, and none of the shim's (LMDB's
# files, the tree, the log: the kernel lists them); the name of one of the shim's numbers there
# answers ENOENT to readlink, stat, lstat, access and open, absolute or relative to the
# directory, as for a number that is not open.
. "$(dirname "$0")/../lib/common.sh"
shim mkdir -p /sm/pf
out=$(shim "$B/tests/procfds" /sm/pf 2>&1) || fail "$out"
[ "$(tail -1 <<<"$out")" = ok ] || fail "$out"
echo "ok - the program's listings of its own descriptors hold its own, none of the shim's"
# another process's listing of the program's descriptors is the kernel's (ls is not the process)
out=$(shim bash -c 'echo x >/sm/pf/b.txt; ls /proc/$$/fd' 2>&1) || fail "ls: $out"
[ "$(wc -w <<<"$out")" -gt 3 ] || fail "ls of the shell's /proc/PID/fd lists only: $out"
echo "ok - a listing of another process's descriptors is the kernel's"
