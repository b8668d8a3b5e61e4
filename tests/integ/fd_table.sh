#!/bin/bash
# The shim's first descriptor (the tree fd, at the top of its reserved range) never grows the
# kernel's table of descriptors while the process has threads: a growth then waits for an RCU
# grace period (milliseconds, while every thread waiting on that first call waits too). The
# table is grown once before the first thread starts; a process that starts none grows it at
# its first call under the prefix, as before.
. "$(dirname "$0")/../lib/common.sh"
# the range must lie above the table a new process starts with (64 numbers, more when the
# parent holds higher ones): a limit of 1024 puts it at 960-1023
ulimit -n 1024 2>/dev/null || skip "cannot set the descriptor limit to 1024"
out=$(shim "$B/tests/fdtable" /sm/fdt-threads)
echo "$out"
start=$(awk '$1 == "start" {print $2}' <<<"$out")
thread=$(awk '$1 == "thread" {print $2}' <<<"$out")
create=$(awk '$1 == "create" {print $2}' <<<"$out")
[ "$start" -ge 64 ] && [ "$start" -lt 1024 ] || skip "the table starts with $start numbers here"
[ "$create" -ge 1024 ] || fail "the shim's descriptors are not in their range (table $create)"
[ "$thread" = "$create" ] ||
    fail "the table grew from $thread to $create numbers while the process had a thread"
echo "ok - a threaded process's table held the shim's range before its first call ($thread)"
out=$(shim "$B/tests/fdtable" /sm/fdt-single nothread)
echo "$out"
[ "$(awk '$1 == "create" {print $2}' <<<"$out")" -ge 1024 ] ||
    fail "a process without threads: the shim's descriptors are not in their range"
out=$("$B/tests/fdtable" "$T/fdt-noshim")
[ "$(awk '$1 == "thread" {print $2}' <<<"$out")" = "$start" ] ||
    fail "without the shim the table grew at the first thread: the test shows nothing"
echo "ok - without threads the table grows at the first call under the prefix, as before"
