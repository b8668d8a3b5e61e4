#!/usr/bin/env bash
# A program that decides what SIGXFSZ does (its default, SIG_IGN, a handler of its own), under a
# file size limit below a page (ulimit -f 1): what its calls answer and how many SIGXFSZ it gets
# are those of a real directory, whatever the shim writes for itself meanwhile. The shim's
# writes outside a call into the cache raised the program's SIGXFSZ: the links file sized at the
# first path check of a new cache ended a program writing 3 bytes, a copy of /proc/self/maps
# past the limit ran its handler, and so did each log line once the log had grown past it. The
# small files still reach the server.
. "$(dirname "$0")/../lib/common.sh"
CLI="$B/smshim"
P="$B/tests/fsizesig"
start_server
# run1 DIR MODE [EXTRA]: stdout and exit status of fsizesig under ulimit -f 1 (the shell's
# "File size limit exceeded" line is stderr, dropped)
run1() {
    local rc=0 out
    out=$(ulimit -f 1 && mkdir -p "$1" && exec "$P" "$2" "$1" ${3:-} 2>/dev/null) || rc=$?
    printf '%s\nexit %s\n' "$out" "$rc"
}
for mode in dfl ign handler; do
    want=$(run1 "$T/real-$mode" $mode maps)
    got=$(on "$T/c-$mode" shim bash -c "$(declare -f run1); P='$P' run1 /sm/$mode $mode maps")
    [ "$got" = "$want" ] || fail "$mode under ulimit -f 1 in a new cache: on the prefix
$got
on a real directory
$want"
    "$CLI" sync --cache "$T/c-$mode" >"$T/sync-$mode.out" 2>&1 || true
    [ "$(srv docs /$mode/small.txt | cut -d' ' -f1)" = 1 ] ||
        fail "$mode: /$mode/small.txt was not pushed: $(cat "$T/sync-$mode.out")"
    echo "ok - SIGXFSZ $mode, ulimit -f 1, a new cache: as on a real directory ($(echo "$want" | tail -n 1)), /$mode/small.txt pushed"
done

# a log past the limit: its lines are the shim's writes, not the program's
on "$T/c-log" shim bash -c 'echo 0 >/sm/first.txt' || fail "the first write failed"
head -c 5000 /dev/zero | tr '\0' x >"$T/c-log/log"
want=$(run1 "$T/real-log" handler close)
got=$(SMSHIM_LOG=debug on "$T/c-log" shim bash -c "$(declare -f run1); P='$P' run1 /sm/log handler close")
[ "$got" = "$want" ] || fail "a handler under ulimit -f 1 with a debug log past the limit: on the prefix
$got
on a real directory
$want"
echo "ok - a log past the limit raises nothing in the program ($(grep -c . <<<"$want") lines as on a real directory)"
