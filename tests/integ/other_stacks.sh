#!/bin/bash
# File calls under the prefix made on a stack that is not the thread's own get the answers a real
# directory gives: from a signal handler on an alternate signal stack (SIGSTKSZ is 8 KiB), and
# from a coroutine on a small makecontext stack, in the main thread and in a second one. The
# shim's work takes up to about 50 KB of stack; on such a stack it runs on one of its own.
. "$(dirname "$0")/../lib/common.sh"
[ -z "${SMSHIM_SAN:-}" ] || skip "a sanitizer runtime takes a thread's signal stack as its own (it unmaps it at the thread's exit) and its frames need more stack than these have"
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

# the main thread's own stack under `ulimit -s 32` (its bottom is read from RLIMIT_STACK): a shell
# creates, reads, renames, lists and removes files under the prefix as on a real directory
script='echo hi > "$1/x" && cat "$1/x" && mkdir "$1/d" && mv "$1/x" "$1/d/y" && ls -R "$1" && rm -r "$1/d" && ls -A "$1"'
mkdir -p "$T/real-ulimit"
(ulimit -s 32 && sh -c "$script" sh "$T/real-ulimit") >"$T/ul.real" 2>&1 || fail "ulimit -s 32 without the shim: $(cat "$T/ul.real")"
shim mkdir -p /sm/os/ulimit
# changes another process left in the journal: the shell's first call folds them into LMDB (the
# deepest work, liblmdb loaded) on that small stack
shim sh -c 'for i in 1 2 3 4 5 6 7 8; do echo $i > /sm/os/ulimit/p$i; rm /sm/os/ulimit/p$i; done'
rc=0
(ulimit -s 32 && shim sh -c "$script" sh /sm/os/ulimit) >"$T/ul.shim" 2>&1 || rc=$?
sed -i "s#$T/real-ulimit#DIR#g" "$T/ul.real"
sed -i "s#/sm/os/ulimit#DIR#g" "$T/ul.shim"
[ "$rc" = 0 ] || fail "ulimit -s 32: exit $rc: $(cat "$T/ul.shim")"
diff "$T/ul.real" "$T/ul.shim" || fail "ulimit -s 32: the output differs (< real, > shim)"
echo "ok - the main thread under ulimit -s 32: files made, read, moved, listed and removed as on a real directory"
