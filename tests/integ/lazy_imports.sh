#!/bin/bash
# The library is bound lazily: a process that never calls one of its imports never pays the
# loader's lookup for it (at start, about 60k instructions for its hundred imports). Where the
# first call of an import could run inside the SIGSYS handler of syscall user dispatch (whose
# stack must not hold the lazy resolver's saving of the vector state), arming binds every import
# first, each to exactly what the loader binds it to (LD_BIND_NOW=1: the same object and offset
# for every slot).
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ -z "${SMSHIM_SAN:-}" ] || skip "a sanitizer runtime interposes the same names first"
"$B/tests/rawsys" probe >"$T/probe" 2>&1 || skip "this kernel refuses SUD: $(cat "$T/probe")"

shim "$B/tests/gotslots" >"$T/lazy" || fail "gotslots failed: $(cat "$T/lazy")"
n=$(sed -n 's/^unbound \([0-9]*\) of \([0-9]*\)$/\1/p' "$T/lazy")
all=$(sed -n 's/^unbound \([0-9]*\) of \([0-9]*\)$/\2/p' "$T/lazy")
[ -n "$n" ] && [ "$all" -gt 20 ] || fail "unexpected gotslots output: $(tail -3 "$T/lazy")"
[ "$n" -gt $((all / 2)) ] || fail "only $n of $all imports were left to first use: the library was bound at load"
echo "ok - a plain process: $n of $all imports left unbound until first use"

LD_BIND_NOW=1 shim "$B/tests/gotslots" >"$T/now" || fail "gotslots (LD_BIND_NOW) failed"
grep -qx "unbound 0 of $all" "$T/now" || fail "LD_BIND_NOW left imports unbound: $(tail -1 "$T/now")"
SMSHIM_SUD=1 shim "$B/tests/gotslots" >"$T/armed" 2>"$T/armed.err" || fail "gotslots (armed) failed: $(cat "$T/armed.err")"
diff "$T/now" "$T/armed" || fail "armed for syscall user dispatch, the imports are not bound as the loader binds them (< loader, > armed)"
echo "ok - armed for syscall user dispatch: all $all imports bound before any trap, each as LD_BIND_NOW binds it"
