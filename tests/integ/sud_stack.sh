#!/bin/bash
# Under syscall user dispatch a raw call under the prefix is answered on the shim's own stack of
# the thread, not on a signal stack the program gave: on the program's stack the handler uses the
# kernel's signal frame and a few hundred bytes, whatever the call (stat, open and its record,
# rename, readlink, execve, with short paths, paths close to PATH_MAX, and with every path
# checked beneath the tree after a link that climbs). tests/prog/sudstack fills its own signal
# stack with a pattern before each raw call and reports how much of it the call used. The bound:
# a served call uses at most 1 KiB more of it than a call the handler only re-issues (the frame,
# the handler and libc's syscall()), and less than 8 KiB in all. The answers are those of a real
# directory.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "TSan and syscall user dispatch do not mix"
"$B/tests/rawsys" probe >"$T/probe" 2>&1 || skip "this kernel refuses SUD: $(cat "$T/probe")"
mkdir -p "$T/real"
"$B/tests/sudstack" "$T/real" >"$T/real.out" || fail "sudstack without the shim: exit $?"
shim mkdir -p /sm/stack
SMSHIM_SUD=1 SMSHIM_LOG=debug:"$T/log" shim "$B/tests/sudstack" /sm/stack >"$T/sud.out" 2>"$T/err" ||
    fail "sudstack under SUD: exit $?: $(cat "$T/err")"
# the same answers (the last column is the stack use)
diff <(awk '{NF--; print}' "$T/real.out") <(awk '{NF--; print}' "$T/sud.out") ||
    fail "under SUD the answers differ (< real, > SUD)"
base=$(awk '/^getppid/ {print $NF}' "$T/sud.out")
max=$(awk '/^max/ {print $2}' "$T/sud.out")
[ -n "$base" ] && [ "$base" -gt 0 ] || fail "no use measured for a re-issued call: $(head -3 "$T/sud.out")"
worst=$(awk 'NR > 2 && !/^max/ {print $NF, $0}' "$T/sud.out" | sort -n | tail -1 | cut -d' ' -f2-)
[ "$max" -le $((base + 1024)) ] ||
    fail "a served call used $max bytes of the program's signal stack, more than a re-issued one ($base) + 1024: $worst"
# the absolute figure is the uninstrumented build's: under ASan the handler's own frames carry
# redzones (a re-issued getppid alone takes 8.5 KB of the stack there), the bound above still holds
if [ -z "${SMSHIM_SAN:-}" ]; then
    [ "$max" -lt 8192 ] || fail "a served call used $max bytes of the program's signal stack (8 KiB at most): $worst"
fi
shim_use=$(sed -n 's/.*signal stack: \([0-9]*\) of.*/\1/p' "$T/log" | sort -n | tail -1)
echo "ok - raw calls under the prefix use at most $max bytes of the program's signal stack (a re-issued call $base); the shim's own stack: ${shim_use:-?} bytes"
