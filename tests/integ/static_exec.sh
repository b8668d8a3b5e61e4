#!/bin/bash
# A shimmed process that starts a statically linked program (which no preload reaches, so it
# sees nothing under the prefix) logs it, and `smshim run` names it on its own stderr when the
# command ends, once per program, whether it was exec'd by a shell, spawned with posix_spawn or
# exec'd from a vfork child. A dynamic program is never named; under `--ns` (where the kernel
# shows the tree at the prefix) nothing is.
. "$(dirname "$0")/../lib/common.sh"
need gcc
SMSHIM="$B/smshim"
printf '#include <stdio.h>\nint main(void){puts("static ran");return 0;}\n' >"$T/st.c"
gcc -static -O1 -o "$T/stprog" "$T/st.c" || skip "gcc -static cannot link here (no libc.a)"
cp "$T/stprog" "$T/stprog2"
export SMSHIM_LOG="warn:$T/shim.log"

# a shell execs it twice (one report), python spawns another with posix_spawn, and a dynamic
# program (cat) is never reported
"$SMSHIM" run -- bash -c "'$T/stprog'; '$T/stprog'; echo x | cat; \
    $PY -c 'import os; os.waitpid(os.posix_spawn(\"$T/stprog2\", [\"s\"], {}), 0)'" \
    >"$T/run.out" 2>"$T/run.err" || fail "smshim run failed: $(cat "$T/run.err")"
[ "$(grep -c 'static ran' "$T/run.out")" = 3 ] || fail "the static programs did not all run: $(cat "$T/run.out")"
cat "$T/run.err"
[ "$(grep -c "started $T/stprog, which is statically linked" "$T/run.err")" = 1 ] ||
    fail "smshim run did not name the exec'd static program once"
[ "$(grep -c "started $T/stprog2, which is statically linked" "$T/run.err")" = 1 ] ||
    fail "smshim run did not name the spawned static program once"
grep -q "started [^ ]*/cat," "$T/run.err" && fail "a dynamic program was reported as static"
grep -q "exec of $T/stprog: statically linked" "$T/shim.log" || fail "the exec was not logged"
echo "ok - static programs a shimmed shell and posix_spawn start are logged and reported once each"

# the notes file smshim run made is gone
ls "$SMSHIM_CACHE/tmp" 2>/dev/null | grep -q '^run-' && fail "smshim run left its notes file"
echo "ok - nothing is left in the cache"

# a program run with plain LD_PRELOAD logs it (no smshim run to report to)
: >"$T/shim.log"
shim bash -c "'$T/stprog'" >/dev/null
grep -q "exec of $T/stprog: statically linked" "$T/shim.log" || fail "the exec under a plain preload was not logged"
echo "ok - under a plain preload the exec is logged"

# in the namespace the kernel shows the tree at the prefix: nothing to report. Not under TSan:
# its runtime starts a thread of its own in every fork child, and the kernel refuses a new user
# namespace to a process of more than one thread (smshim run's unshare: EINVAL)
if [ "${SMSHIM_SAN:-}" = thread ]; then
    echo "# under TSan smshim run --ns cannot make its namespace: the --ns part is not run"
elif command -v unshare >/dev/null && unshare -Urm true 2>/dev/null; then
    "$SMSHIM" run --ns -- bash -c "'$T/stprog'" >/dev/null 2>"$T/ns.err" || fail "smshim run --ns failed: $(cat "$T/ns.err")"
    grep -q "statically linked" "$T/ns.err" && fail "a static program reported under --ns: $(cat "$T/ns.err")"
    echo "ok - under --ns nothing is reported"
else
    echo "# user namespaces refused here: the --ns part is not run"
fi
