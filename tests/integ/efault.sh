#!/bin/bash
# A path pointer that is not readable memory (0xdeadc0de, as pjdfstest passes) or NULL gets
# EFAULT from every path call, as on a real directory, instead of crashing the process in the
# shim's first look at the path: through the libc wrappers, syscall(), and raw instructions under
# syscall user dispatch, in every path argument of two-path calls too. The shim's fault handler
# leaves the program's own SIGSEGV/SIGBUS handling as it was: its handler gets its faults and
# sent signals, sigaction reads back what it set, SA_RESETHAND, signal() and SIG_DFL/SIG_IGN.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "the fault guard is implemented for x86_64 only"
case "${SMSHIM_SAN:-}" in address | thread)
    skip "the sanitizer's own interceptors read a path before the shim and the kernel do (a bad pointer is its report)" ;;
esac
BP="$B/tests/badptr"
mkdir -p "$T/real"
shim mkdir -p /sm/bp
for m in libc syscall; do
    "$BP" calls "$T/real/$m" $m >"$T/$m.real" || fail "$m on a real directory: exit $?"
    rc=0
    shim "$BP" calls /sm/bp/$m $m >"$T/$m.shim" 2>&1 || rc=$?
    diff "$T/$m.real" "$T/$m.shim" || fail "$m: under the shim (exit $rc) the answers differ (< real, > shim)"
    echo "ok - $(grep -c EFAULT "$T/$m.real") bad-pointer calls through $m answer EFAULT as on a real directory"
done
if [ "${SMSHIM_SAN:-}" != thread ] && "$B/tests/rawsys" probe >/dev/null 2>&1; then
    "$BP" calls "$T/real/insn" insn >"$T/insn.real"
    rc=0
    SMSHIM_SUD=1 shim "$BP" calls /sm/bp/insn insn >"$T/insn.sud" 2>&1 || rc=$?
    diff "$T/insn.real" "$T/insn.sud" || fail "raw instructions under SUD (exit $rc) differ (< real, > shim)"
    echo "ok - raw instructions under syscall user dispatch answer EFAULT too"
else
    echo "# syscall user dispatch unavailable here (or TSan): the raw-instruction part is not run"
fi

"$BP" signals >"$T/sig.real" 2>&1 || fail "signals without the shim: exit $?"
rc=0
shim "$BP" signals >"$T/sig.shim" 2>&1 || rc=$?
diff "$T/sig.real" "$T/sig.shim" || fail "the program's SIGSEGV/SIGBUS handling differs under the shim (exit $rc)"
grep -q "default fault: Segmentation fault" "$T/sig.shim" || fail "SIG_DFL no longer ends a faulting process"
echo "ok - the program's own SIGSEGV/SIGBUS dispositions behave as without the shim"
