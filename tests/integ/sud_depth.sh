#!/bin/bash
# How deep the shim's SIGSYS handler goes on the shim's own signal stack, path by path
# (tests/prog/sudhwm fills the stack with a pattern before each raw call and reads the mark
# after it): calls under the prefix that record a change, with long paths and with every path
# checked beneath the tree; execve refused, with the environment rewritten, of a script whose
# interpreter is a script under the prefix, from Go's clone(CLONE_VM | CLONE_VFORK); the
# program's sigaltstack, sigaction and masks; fork, clone, clone3 and vfork, their children
# too; exit_group, without and with a key (the exit then waits for the sync thread); and a
# program's signal handler whose served call lands on top of a served call. The bound: every
# path, nested ones included, leaves more than half of the stack unused (so one more served
# call nested on the deepest still fits). The table is in the test's output.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "TSan and syscall user dispatch do not mix"
"$B/tests/rawsys" probe >"$T/probe" 2>&1 || skip "this kernel refuses SUD: $(cat "$T/probe")"

# run TAG [own]: the program in /sm/hwm-TAG of the current cache; its table is checked and shown
run() {
    local tag=$1 out="$T/$1.out"
    shim mkdir -p "/sm/hwm-$tag"
    local rc=0
    SMSHIM_SUD=1 shim "$B/tests/sudhwm" "/sm/hwm-$tag" ${2:-} >"$out" 2>"$T/$tag.err" || rc=$?
    [ "$rc" = 0 ] || { cat "$out" "$T/$tag.err"; fail "$tag: sudhwm exited $rc"; }
    local max size single
    max=$(awk '/^max / {print $2}' "$out")
    size=$(awk '/^max / {print $4}' "$out")
    single=$(awk 'NR > 1 && !/^(max|scratch|#)/ && !/nested/ {print $NF}' "$out" | sort -n | tail -1)
    [ -n "$max" ] && [ -n "$size" ] && [ "$size" -gt 0 ] || fail "$tag: no figures: $(tail -3 "$out")"
    for p in "execve of a script whose interpreter" "exit_group after a change" "vfork: the child" \
        "clone3 with a new stack" "a served call inside a served open" "a fork child's first change" \
        "sigaltstack 128 KiB (installed)" "guarded long/.. rename the directory"; do
        grep -q "^$p" "$out" || fail "$tag: no line for '$p'"
    done
    sed "s/^/    /" "$out"
    if [ -z "${SMSHIM_SAN:-}" ]; then
        [ $((max * 2)) -lt "$size" ] ||
            fail "$tag: a path used $max of the signal stack's $size bytes (more than half)"
    fi
    echo "ok - $tag: the deepest path uses $single bytes, nested $max, of the $size-byte signal stack"
}

run local
# with a signal stack of the program's own from the start, as ASan gives every thread before the
# shim arms it: the page below it is not the shim's scratch page, and the program must not fill
# it (ASan's thread registry lay there: the next thread's exit faulted on the pattern, and the
# runtime's report of that fault waited for ever on the registry's lock the thread held); here a
# guard page lies below it, which a fill faults on at once. There a served call runs on the
# shim's stack, and a program's handler that a signal runs meanwhile must be told that stack by
# sigaltstack (Go's handler ends the program otherwise: go_sud under ASan, whose threads have
# such a stack of their own)
run own own
# with a key: the exit waits for the sync thread of the process (and of the fork child). Not
# under ASan: a fork child starts its sync thread at its first change, inside the handler, and
# ASan's pthread_create interceptor reads the thread id with a raw call of its own while glibc
# has every signal blocked, which the kernel answers by killing the armed thread (a dispatch
# SIGSYS cannot be blocked); that is the sanitizer runtime's raw call, not the program's.
if [ "${SMSHIM_SAN:-}" = address ]; then
    echo "# ASan build: the round with a key is not run (see above)"
else
    export SMSHIM_CACHE="$T/cache-key"
    start_server
    run key
fi
