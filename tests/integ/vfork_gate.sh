#!/usr/bin/env bash
# A vfork child that finds the lift gate's counts busy (a thread of its parent is between the
# library's open of a descriptor and its close) neither waits on them nor changes them: they are
# its parent's memory. The library's open is made certain to be in flight by a notes file that
# is a FIFO: a spawn of a static program opens SMSHIM_RUN_NOTES to note it, and the open waits
# for a reader. tests/prog/vforkgate.c says what is checked.
. "$(dirname "$0")/../lib/common.sh"
# Not under ThreadSanitizer: its vfork is a fork (the child's memory is its own: nothing to show),
# and its posix_spawn interceptor holds the runtime's thread registry across the call, which this
# test keeps waiting on purpose, so the runtime's first report in another thread waited for ever
[ "${SMSHIM_SAN:-}" != thread ] || skip "ThreadSanitizer makes vfork a fork and holds its registry across posix_spawn"
need gcc
printf '#include <stdio.h>\nint main(void){puts("static ran");return 0;}\n' >"$T/st.c"
gcc -static -O1 -o "$T/stprog" "$T/st.c" || skip "gcc -static cannot link here (no libc.a)"
shim mkdir -p /sm/x # the cache's layout, tmp/ included
notes="$SMSHIM_CACHE/tmp/notes"
mkfifo "$notes"
SMSHIM_RUN_NOTES="$notes" shim "$B/tests/vforkgate" "$notes" "$T/stprog" >"$T/out" 2>&1 ||
    fail "$(cat "$T/out")"
cat "$T/out"
grep -q '^static ran$' "$T/out" || fail "the static program did not run"
