#!/bin/bash
# An io_uring would run its operations (opens, stats, renames, closes) in the kernel past every
# wrapper and the SIGSYS handler: a path under the prefix would not be found there and a close
# could take one of the shim's descriptors. io_uring_setup is refused with ENOSYS, as a kernel
# without io_uring refuses it, through syscall() and, under syscall user dispatch, as a raw
# instruction; a process without the shim gets the kernel's answer.
. "$(dirname "$0")/../lib/common.sh"
RS="$B/tests/rawsys"
"$RS" uring >"$T/real" || fail "rawsys uring failed without the shim"
echo "# without the shim: $(tr '\n' ' ' <"$T/real")"
shim "$RS" uring >"$T/pre" 2>&1 || fail "rawsys uring failed under the preload: $(cat "$T/pre")"
grep -qx "syscall(): Function not implemented" "$T/pre" || fail "syscall(io_uring_setup) under the shim: $(cat "$T/pre")"
# a raw instruction without syscall user dispatch is the kernel's: the shim cannot see it
grep -x "instruction: .*" "$T/real" | cmp -s - <(grep -x "instruction: .*" "$T/pre") ||
    fail "a raw io_uring_setup without dispatch: $(cat "$T/pre") against $(cat "$T/real")"
echo "ok - syscall(SYS_io_uring_setup) is refused with ENOSYS"
if [ "${SMSHIM_SAN:-}" != thread ] && "$RS" probe >/dev/null 2>&1; then
    SMSHIM_SUD=1 shim "$RS" uring >"$T/sud" 2>&1 || fail "rawsys uring failed under SUD: $(cat "$T/sud")"
    printf 'syscall(): Function not implemented\ninstruction: Function not implemented\n' |
        cmp -s - "$T/sud" || fail "under syscall user dispatch: $(cat "$T/sud")"
    echo "ok - under syscall user dispatch the raw instruction is refused too"
else
    echo "# syscall user dispatch unavailable here (or TSan): the raw-instruction part is not run"
fi
