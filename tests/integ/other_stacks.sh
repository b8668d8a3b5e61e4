#!/bin/bash
# File calls under the prefix made on a stack that is not the thread's own get the answers a real
# directory gives: from a signal handler on an alternate signal stack (SIGSTKSZ is 8 KiB), and
# from a coroutine on a small makecontext stack, in the main thread and in a second one. The
# shim's work takes up to about 50 KB of stack; on such a stack it runs on one of its own.
. "$(dirname "$0")/../lib/common.sh"
shim mkdir -p /sm/os
for how in alt context; do
    for size in 8192 16384 32768; do
        [ "$how" = context ] && [ "$size" = 8192 ] && continue
        for where in main thread; do
            d="$T/real-$how-$size-$where"
            mkdir -p "$d"
            "$B/tests/otherstack" $how "$d" $size $where >"$T/real" ||
                fail "$how $size $where without the shim: exit $?"
            shim mkdir -p "/sm/os/$how-$size-$where"
            rc=0
            shim "$B/tests/otherstack" $how "/sm/os/$how-$size-$where" $size $where >"$T/shim.out" 2>"$T/err" || rc=$?
            [ "$rc" = 0 ] || fail "$how stack of $size bytes ($where thread): exit $rc, $(tail -2 "$T/shim.out") $(cat "$T/err")"
            diff "$T/real" "$T/shim.out" || fail "$how $size $where: the answers differ (< real, > shim)"
            [ -z "$(ls -A "$SMSHIM_CACHE/tree/os/$how-$size-$where")" ] || fail "$how $size $where: files left behind"
        done
        echo "ok - $how stack of $size bytes, main thread and another: 20 rounds as on a real directory"
    done
done

# a second signal, also on the alternate stack, arriving while the first handler's calls run: its
# frame nests on that stack (the shim's work holds it until the call is done), nothing is clobbered
for where in main thread; do
    shim mkdir -p "/sm/os/timer-$where"
    rc=0
    OTHERSTACK_TIMER=1 shim "$B/tests/otherstack" alt "/sm/os/timer-$where" 8192 $where >"$T/timer.out" 2>"$T/err" || rc=$?
    [ "$rc" = 0 ] || fail "alt stack with a timer ($where thread): exit $rc, $(tail -2 "$T/timer.out") $(cat "$T/err")"
    grep -qx "timer: ok" "$T/timer.out" && grep -qx "calls: ok" "$T/timer.out" ||
        fail "alt stack with a timer ($where thread): $(cat "$T/timer.out")"
done
echo "ok - 200 timer signals nested on an 8 KiB alternate stack during the calls, main thread and another"
