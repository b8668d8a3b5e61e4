#!/usr/bin/env bash
# A thread with a small stack (pthread_attr_setstacksize down to PTHREAD_STACK_MIN; Python's
# threading.stack_size; `ulimit -s`, every thread's default) makes its calls under the prefix as
# on a real directory: the shim's own work (up to about 50 KB of stack for the deepest path)
# runs on a stack of the shim's when the thread's has too little left; it died of SIGSEGV.
. "$(dirname "$0")/../lib/common.sh"
[ -z "${SMSHIM_SAN:-}" ] || skip "a sanitizer's own frames need more stack than such a thread has"
P="$B/tests/smallstack"
shim mkdir -p /sm/warm && shim sh -c 'echo x >/sm/warm/x'
for size in 16384 32768 65536; do
    mkdir -p "$T/real$size"
    out=$("$P" "$T/real$size" $size 2>&1) || fail "on a real directory with a $size-byte stack: $out"
    shim mkdir -p "/sm/d$size"
    rc=0
    out=$(shim "$P" "/sm/d$size" $size 2>&1) || rc=$?
    [ $rc -eq 0 ] && [ "$out" = ok ] || fail "under the prefix with a $size-byte stack: exit $rc: $out"
    echo "ok - a thread with a $size-byte stack: every call as on a real directory"
done
# the first call of a process under the prefix (its settings read, its cache opened) from such a thread
rc=0
out=$(SMSHIM_CACHE="$T/fresh" shim "$P" /sm 16384 2>&1) || rc=$?
[ $rc -eq 0 ] && [ "$out" = ok ] || fail "a process's first call from a 16384-byte stack: exit $rc: $out"
echo "ok - a process's first call under the prefix from a 16 KiB stack"
