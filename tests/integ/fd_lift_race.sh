#!/usr/bin/env bash
# A library open lands at the lowest free number, in the program's range, before the shim lifts
# it above: a program thread's close or dup2 onto that number at that moment must neither close
# the library's file nor hand the program's file to the library (which would then write LMDB
# pages into it, or close it). tests/lib/lifthook.c holds the moment open, no timing involved.
. "$(dirname "$0")/../lib/common.sh"
need gcc
gcc -shared -fPIC -O1 -o "$T/lifthook.so" "$SRC/tests/lib/lifthook.c" -ldl || fail "cannot build lifthook.so"
CLI="$B/smshim"
for mode in close dup2; do
    SMSHIM_CACHE="$T/cache-$mode" shim mkdir -p "/sm/$mode"
    out=$(LIFTHOOK_MATCH=/meta/data.mdb LD_PRELOAD="$PRELOAD:$T/lifthook.so" SMSHIM_CACHE="$T/cache-$mode" \
        "$B/tests/liftrace" "$mode" "/sm/$mode" "$T/own-$mode" 2>&1) || fail "$mode: $out"
    [ "$(tail -1 <<<"$out")" = ok ] || fail "$mode: $out"
    [ "$(cat "$T/own-$mode")" = mine ] || fail "$mode: the program's file holds $(wc -c <"$T/own-$mode") bytes"
    "$CLI" status --cache "$T/cache-$mode" --list >"$T/list-$mode" || fail "$mode: status --list failed"
    for f in a b; do
        grep -qx "dirty */$mode/$f.txt" "$T/list-$mode" || fail "$mode: /$mode/$f.txt is not recorded: $(cat "$T/list-$mode")"
    done
    echo "ok - $mode onto a library open's number before its lift: both keep their files"
done

# a descriptor the shim holds only for a moment (here the directory of a name reached through a
# symbolic link, opened to ask the kernel its name, then closed): a program thread's dup2 onto
# its number then must not be read as the shim's, nor closed by the shim's close
SMSHIM_CACHE="$T/cache-brief" shim mkdir -p /sm/brief/real
SMSHIM_CACHE="$T/cache-brief" shim ln -s real /sm/brief/link
SMSHIM_CACHE="$T/cache-brief" shim sh -c 'echo x >/sm/brief/real/c.txt' # the cache and its journal are made
out=$(LIFTHOOK_MATCH=brief/link/ LD_PRELOAD="$PRELOAD:$T/lifthook.so" SMSHIM_CACHE="$T/cache-brief" \
    "$B/tests/liftrace" dup2 /sm/brief/link "$T/own-brief" 2>&1) || fail "brief: $out"
[ "$(tail -1 <<<"$out")" = ok ] || fail "brief: $out"
[ "$(cat "$T/own-brief")" = mine ] || fail "brief: the program's file holds $(wc -c <"$T/own-brief") bytes"
"$CLI" status --cache "$T/cache-brief" --list >"$T/list-brief" || fail "brief: status --list failed"
for f in a b; do
    grep -qx "dirty */brief/real/$f.txt" "$T/list-brief" || fail "brief: /brief/real/$f.txt is not recorded: $(cat "$T/list-brief")"
done
echo "ok - dup2 onto a descriptor the shim holds for a moment: the program keeps its file, the shim names its own"

# an open of the library's that never ends (LIFTHOOK_HOLD: the hook returns only once the program's
# close is done) must not hang the program's close: it goes ahead once no call of the library's
# has ended for a while (the program exits; `timeout` only turns a hang into a failure)
SMSHIM_CACHE="$T/cache-hold" shim mkdir -p /sm/hold
rc=0
out=$(LIFTHOOK_HOLD=1 LIFTHOOK_MATCH=/meta/data.mdb LD_PRELOAD="$PRELOAD:$T/lifthook.so" SMSHIM_CACHE="$T/cache-hold" \
    timeout 120 "$B/tests/liftrace" hold /sm/hold "$T/own-hold" 2>&1) || rc=$?
[ "$rc" -ne 124 ] || fail "hold: the program's close waited for ever on an open of the library's"
echo "ok - a program's close does not wait for ever on an open of the library's that hangs"
