#!/bin/bash
# The node and python parity tests still pass with Syscall User Dispatch forced on
# (SMSHIM_SUD=1): every process of every scenario (bash, coreutils, node, python and their
# children, which get SMSHIM_SUD back from the exec wrappers) runs armed, so anything a program,
# its runtime or ld.so makes as a raw call goes through the SIGSYS handler.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "not under TSan: it defers signals to its own interceptors, a SIGSYS dispatch cannot run there"
"$B/tests/rawsys" probe >"$T/probe.out" 2>&1 || skip "Syscall User Dispatch unavailable here: $(cat "$T/probe.out")"

# SUD is really armed in node and python, and passed on to a child given an environment without it
SMSHIM_SUD=1 SMSHIM_LOG=info:"$T/arm.log" shim node -e '
require("child_process").execFileSync("python3", ["-c", "open(\"/sm/armed.txt\", \"w\").write(\"ok\")"], {env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k === "PATH" || k === "ASAN_OPTIONS"))})'
armed=$(grep -c "sud: armed (SMSHIM_SUD=1)" "$T/arm.log" || true)
[ "$armed" -ge 2 ] || { cat "$T/arm.log"; fail "SUD not armed in node and its python child ($armed)"; }
[ "$(shim cat /sm/armed.txt)" = ok ] || fail "python child under SUD did not write into the prefix"
echo "ok - SUD armed in node and in a python child whose environment lacked SMSHIM_SUD"

export SMSHIM_SUD=1
for t in node python; do
    out="$T/$t.out"
    rc=0
    SMSHIM_TEST_TMP="$T/$t" bash "$SRC/tests/integ/$t.sh" >"$out" 2>&1 || rc=$?
    if [ $rc != 0 ]; then
        [ $rc = 77 ] && { echo "# $t.sh skipped: $(grep SKIP "$out")"; continue; }
        tail -40 "$out"
        fail "$t.sh fails with SMSHIM_SUD=1 (exit $rc)"
    fi
    echo "ok - $t.sh with SMSHIM_SUD=1: $(grep -c '^ok - parity' "$out") parity scenarios pass"
done
