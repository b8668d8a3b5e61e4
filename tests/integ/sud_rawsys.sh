#!/bin/bash
# Syscall User Dispatch: a C program making raw `syscall` instructions (tests/prog/rawsys.c, inline
# asm, as Bun does) on prefix paths. With SMSHIM_SUD=1 every raw file call is served under the
# prefix exactly as on a real directory; without it the raw calls miss the prefix; the libc path
# works either way. Then the signal semantics an armed process keeps (SIGSYS handler chaining,
# masks, rt_sigreturn, sigaltstack, EINTR/SA_RESTART, nested traps, preserved registers and
# errno) and raw calls from threads and children (pthread, fork, raw fork/vfork/clone/clone3).
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "not under TSan: it defers signals to its own interceptors, a SIGSYS dispatch cannot run there"
RAW="$B/tests/rawsys"
"$RAW" probe >"$T/probe.out" 2>&1 || skip "Syscall User Dispatch unavailable here: $(cat "$T/probe.out")"

# ---- raw file calls: served with SUD, identical to a real directory --------------------------
mkdir -p "$T/real"
"$RAW" files "$T/real" >"$T/files.real"
shim mkdir -p /sm/raw
SMSHIM_SUD=1 shim "$RAW" files /sm/raw >"$T/files.sud"
if ! diff "$T/files.real" "$T/files.sud"; then
    fail "raw calls under SUD differ from a real directory (< real, > SUD)"
fi
echo "ok - $(wc -l <"$T/files.real") raw file calls served under the prefix, identical to a real directory"
manifest "$T/real" >"$T/real.man"
manifest "$SMSHIM_CACHE/tree/raw" >"$T/tree.man"
cmp -s "$T/real.man" "$T/tree.man" || { diff "$T/real.man" "$T/tree.man"; fail "tree differs"; }
"$B/smshim" status --cache "$SMSHIM_CACHE" --list | grep -q "/raw/d/i" ||
    fail "the file a raw openat created was not recorded in the cache"
echo "ok - tree identical, raw writes recorded for sync"

# ---- without SUD the raw calls never reach the prefix; libc calls do ------------------------
if [ -e /sm ]; then
    echo "# a real /sm exists on this machine: the no-SUD miss check is skipped"
else
    shim mkdir -p /sm/raw0
    SMSHIM_SUD=0 shim "$RAW" files /sm/raw0 >"$T/files.nosud" || true
    grep -qx "mkdirat d -> ENOENT" "$T/files.nosud" || { head "$T/files.nosud"; fail "raw mkdirat reached the prefix without SUD"; }
    grep -qx "openat creat d/f -> ENOENT" "$T/files.nosud" || fail "raw openat reached the prefix without SUD"
    [ ! -e "$SMSHIM_CACHE/tree/raw0/d" ] || fail "something was created without SUD"
    echo "ok - without SUD the raw calls miss the prefix (ENOENT)"
fi
mkdir -p "$T/real-libc"
"$RAW" libc "$T/real-libc" >"$T/libc.real"
shim mkdir -p /sm/libc
SMSHIM_SUD=0 shim "$RAW" libc /sm/libc >"$T/libc.nosud"
SMSHIM_SUD=1 shim "$RAW" libc /sm/libc >"$T/libc.sud"
diff "$T/libc.real" "$T/libc.nosud" || fail "libc path without SUD differs"
diff "$T/libc.real" "$T/libc.sud" || fail "libc path with SUD differs"
echo "ok - the libc path is the same with and without SUD"

# ---- signal semantics of an armed process ---------------------------------------------------
cat >"$T/signals.want" <<'WANT'
openat under prefix: ok
errno preserved: yes
registers preserved: yes
libc block SIGUSR1+SIGSYS: usr1=1 sys=0
raw block SIGUSR2+SIGSYS: r=0 usr2=1 sys=0 libc-usr2=1
raw unblock SIGUSR2: old had usr2=1
raw bad size: EINVAL
pthread_sigmask query ok, sys=0
sigaction SIGSYS reads back the program's handler: yes
after trapped calls: handler calls=0
after raise(SIGSYS): handler calls=1 si_code=SI_TKILL
after signal(SIG_IGN) + raise: alive, handler calls=1
raw rt_sigaction SIGSYS: old was SIG_IGN: yes
after kill(SIGSYS): handler calls=2
sa_mask keeps SIGSYS out: yes
own restorer (raw rt_sigreturn): handler calls=2, back in main
sigaltstack: set=0 on_stack=0 size=65536
sigaltstack seen by libc: same
SA_ONSTACK handler ran on the alternate stack: yes
raw read interrupted (no SA_RESTART): EINTR, handler=1
raw read with SA_RESTART: 1 byte(s), handler=1
raw ppoll with a full mask: 0
libc ppoll with a full mask: 0
WANT
SMSHIM_SUD=1 shim "$RAW" signals /sm/raw >"$T/signals.out" 2>&1 || { cat "$T/signals.out"; fail "signals: exit $?"; }
diff "$T/signals.want" "$T/signals.out" || fail "signal semantics under SUD (< expected, > got)"
echo "ok - signal semantics kept under SUD ($(wc -l <"$T/signals.want") checks)"

# ---- threads and children ----------------------------------------------------------------------
cat >"$T/threads.want" <<'WANT'
pthread raw openat: ok
libc fork child raw openat: exit 0
raw fork child raw openat: exit 0
raw vfork child raw openat: exit 0
raw clone (fork-like) child raw openat: exit 0
raw clone thread -> child ran: yes, its openat: 1
raw clone3 thread -> child ran: yes, its openat: 1
files seen through libc: from-thread=yes from-fork=yes from-rawfork=yes from-vfork=yes from-rawclone=yes
WANT
SMSHIM_SUD=1 timeout 60 bash -c "LD_PRELOAD='$PRELOAD' '$RAW' threads /sm/raw" >"$T/threads.out" 2>&1 || { cat "$T/threads.out"; fail "threads: exit $?"; }
diff "$T/threads.want" "$T/threads.out" || fail "threads and children under SUD (< expected, > got)"
echo "ok - raw calls from a pthread and from fork/vfork/clone children are served"

# ---- the cost of a trapped call ----------------------------------------------------------------
n=100000
[ -n "${SMSHIM_SAN:-}" ] && n=20000
echo "# without the shim:  $("$RAW" bench $n | tr '\n' ' ')"
echo "# shim, SUD off:     $(SMSHIM_SUD=0 shim "$RAW" bench $n | tr '\n' ' ')"
echo "# shim, SUD on:      $(SMSHIM_SUD=1 shim "$RAW" bench $n | tr '\n' ' ')"
