#!/bin/bash
# Under syscall user dispatch the shim's SIGSYS handler runs on the thread's signal stack and
# answers calls under the prefix on the shim's own stack (up to about 49 KB). A program that sets
# a small signal stack of its own (8 KiB, through libc's sigaltstack or a raw call), or disables
# it and then makes raw calls from a small stack (16 KiB, makecontext), must still have its raw
# file calls served, read back the stack it set, and have its SA_ONSTACK handlers run: the same
# output as with no shim at all.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "TSan and syscall user dispatch do not mix"
"$B/tests/rawsys" probe >"$T/probe" 2>&1 || skip "this kernel refuses SUD: $(cat "$T/probe")"
for how in libc raw; do
    mkdir -p "$T/real-$how"
    "$B/tests/altstack" $how "$T/real-$how" >"$T/$how.real" || fail "altstack $how without the shim: exit $?"
    shim mkdir -p "/sm/alt-$how"
    rc=0
    SMSHIM_SUD=1 shim "$B/tests/altstack" $how "/sm/alt-$how" >"$T/$how.sud" 2>"$T/$how.err" || rc=$?
    diff "$T/$how.real" "$T/$how.sud" || fail "$how: under SUD (exit $rc) the output differs (< real, > SUD): $(cat "$T/$how.err")"
    grep -q "raw calls: ok" "$T/$how.sud" || fail "$how: no raw call was served"
    echo "ok - a program's own small or disabled signal stack ($how) under SUD: $(grep -c 'raw calls: ok' "$T/$how.sud") rounds of raw calls served"
done
[ -z "$(ls -A "$SMSHIM_CACHE/tree/alt-libc")" ] || fail "the raw calls left something behind"
