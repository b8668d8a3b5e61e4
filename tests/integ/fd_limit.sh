#!/usr/bin/env bash
# A program at its descriptor limit (its soft RLIMIT_NOFILE lowered, the hard one leaving room)
# meets EMFILE exactly where a real directory gives it, and every call it makes once it has a
# number free succeeds and is recorded. The shim's descriptors took numbers of the program's
# (the range below the limit): its opens under the prefix failed one file early, and one that
# held every number could not even stat the prefix (the tree fd could not be opened) or, after
# closing one, open a file there (the tree fd took the number it freed). Each run is
# local-only (no sync thread: its requests take numbers for a moment); `smshim sync` then
# pushes what the program wrote.
. "$(dirname "$0")/../lib/common.sh"
P="$B/tests/fdlimit"
hard=$(ulimit -Hn)
start_server
n=0
for lim in 16 100 1024; do
    [ "$hard" = unlimited ] || [ "$hard" -ge $((lim + 64)) ] || continue
    for mode in files fill; do
        want=$(mkdir -p "$T/real-$lim-$mode" && "$P" "$T/real-$lim-$mode" $lim $mode 2>&1) ||
            fail "on a real directory: $want"
        c="$T/c-$lim-$mode"
        got=$(env -u SUPERMEMORY_API_KEY XDG_CONFIG_HOME="$T/nocfg" SMSHIM_CACHE="$c" \
            LD_PRELOAD="$PRELOAD" bash -c 'mkdir -p "$1" && exec "$0" "$1" "$2" "$3"' \
            "$P" "/sm/d$lim$mode" $lim $mode 2>&1) || fail "under the shim ($lim $mode): $got"
        [ "$got" = "$want" ] || fail "soft limit $lim, $mode: under the shim
$got
on a real directory
$want"
        "$B/smshim" sync --cache "$c" >"$T/sync.out" 2>&1 ||
            fail "smshim sync ($lim $mode): $(cat "$T/sync.out")"
        for f in renamed after; do
            [ $mode = fill ] && [ $f = after ] && continue # (renamed)
            [ "$(srv docs "/d$lim$mode/$f" | cut -d' ' -f1)" = 1 ] ||
                fail "$lim $mode: /d$lim$mode/$f did not reach the server: $(cat "$T/sync.out")"
        done
        n=$((n + 1))
        echo "ok - soft limit $lim, $mode: $(head -1 <<<"$want"), as on a real directory; its files pushed"
    done
done
[ $n -gt 0 ] || skip "the hard descriptor limit ($hard) leaves no room above a soft limit of 16"
