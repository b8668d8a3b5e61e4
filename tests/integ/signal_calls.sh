#!/usr/bin/env bash
# File calls under the prefix from a signal handler (async-signal-safe for POSIX) while the
# interrupted thread is itself making one: each ends as on a real directory. A handler that came
# inside the shim's own work waited for ever (the name kept for a file open for writing was
# malloc'd, first uses took a once and a mutex) or for seconds at a time (the lift gate waited on
# the very call it interrupted). A first run makes the cache (first uses inside), a second one
# uses it (the sync thread makes the process threaded, so the lift gate is taken); a third makes
# the handler's calls through syscall().
. "$(dirname "$0")/../lib/common.sh"
P="$B/tests/sigcalls"
mkdir -p "$T/real"
out=$("$P" "$T/real" 20000 2>&1) || fail "on a real directory: $out"
for run in first second raw; do
    rc=0
    how=; [ $run = raw ] && how=raw # the handler's calls through syscall()
    out=$(shim bash -c 'mkdir -p /sm/sig && exec timeout 300 "$0" /sm/sig 20000 $1' "$P" $how 2>&1) || rc=$?
    [ $rc -eq 0 ] && [ "${out%% *}" = ok ] || fail "$run run: exit $rc: $out"
    echo "ok - $run run: $out handler rounds, each open, write, close and unlink as on a real directory"
done
"$B/smshim" status --list >"$T/list" || fail "status --list failed"
grep -q '^dirty  */sig/m99$' "$T/list" || fail "the main loop's files are not recorded: $(head -5 "$T/list")"
echo "ok - the main loop's files are recorded"
