#!/bin/bash
# Under syscall user dispatch a thread that replaces its thread pointer (arch_prctl ARCH_SET_FS,
# as Go without cgo does) is disarmed first, with a warning, since the handler reads errno and
# its own state through the thread pointer: its raw calls then go to the kernel unchanged (they
# miss the prefix, and nothing is made at its real path), its libc calls still see the prefix,
# its re-issued calls still work, and the process's other threads stay armed.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "TSan and syscall user dispatch do not mix"
"$B/tests/rawsys" probe >"$T/probe" 2>&1 || skip "this kernel refuses SUD: $(cat "$T/probe")"
[ ! -e /sm ] || skip "a real /sm exists on this machine: a missed raw call could land there"
shim mkdir -p /sm/tls
SMSHIM_SUD=1 SMSHIM_LOG=warn:"$T/log" shim "$B/tests/settls" /sm/tls >"$T/out" 2>&1 ||
    { cat "$T/out"; fail "settls exited $?"; }
cat >"$T/want" <<'W'
raw create before: ok
arch_prctl get: ok
arch_prctl set: ok
raw create after: ENOENT
libc create after: ok
raw getppid after: ok
other thread: raw create after: ok
W
diff "$T/want" "$T/out" || fail "the thread that replaced its thread pointer (< wanted, > got)"
grep -q 'replaces its thread pointer (arch_prctl ARCH_SET_FS.*no longer armed' "$T/log" ||
    { cat "$T/log"; fail "no warning"; }
[ "$(grep -c 'no longer armed' "$T/log")" = 1 ] || fail "the warning is not said once"
[ "$(cd "$SMSHIM_CACHE/tree/tls" && ls | sort | tr '\n' ' ')" = "before libc other " ] ||
    fail "the tree holds: $(ls "$SMSHIM_CACHE/tree/tls")"
[ ! -e /sm ] || fail "a raw call of the disarmed thread made a real /sm"
echo "ok - a thread that replaces its thread pointer is disarmed with one warning; the others stay armed"
