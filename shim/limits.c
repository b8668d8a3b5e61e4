/* limits.c: the program's file size limit (RLIMIT_FSIZE) and the library's own files.
 *
 * The kernel answers a write past the process's file size limit with EFBIG and SIGXFSZ, whose
 * default action ends the process (with a core). The library's writes (the journal, LMDB's
 * pages, the links file, the log) are the process's writes too, so under `ulimit -f 16` a
 * program that writes a 3-byte file under the prefix was ended by the cache's growth, where a
 * real directory lets it live. The rules kept here:
 *  - With a finite limit, every write of the library's on a host thread runs with SIGXFSZ
 *    blocked: a call into the cache (sm_lib_enter, outermost), and the few writes made outside
 *    one (sm_fsize_begin/end): a log line, the links file sized at a new cache's first path
 *    check (under `ulimit -f 1` that ended a program writing 3 bytes there), a copy of a
 *    process's maps (a memory file, which the limit binds too: past it the program reads the
 *    kernel's own file), a note of a static exec for smshim run. A write of the library's past
 *    the limit then fails with EFBIG, which the recorder reports like any failed write (nothing
 *    is lost: the tree holds the change and the scan finds what was not recorded); the signal
 *    it raised is taken back before the mask is restored, unless one was pending before the
 *    call (the program's, left for it). A bracket inside another on the same thread (a signal
 *    handler's call into the cache inside a log line) leaves the mask to the outer one.
 *  - The program's own writes meet the limit exactly as on a real disk: no mask is changed
 *    outside the library's calls.
 *  - The library's threads block every signal from their start: nothing to do there.
 *  - With no limit (the common case) a call pays one load. The limit is read at the first call
 *    into the library and again after each setrlimit or prlimit of it by this process (libc's,
 *    raw through syscall(), or trapped). A limit lowered from outside (prlimit --pid) is not
 *    seen until then: README, Limits. */
#include "shim.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>

int sm_fsize_cap = -1; /* -1 not read yet, 0 no limit, 1 a finite one */

/* this thread's outermost call into the library blocked SIGXFSZ (held); it was blocked already
 * (was_blocked) and pending (was_pending) at the call's start */
__thread unsigned char sm_fsize_held;
#define held sm_fsize_held
static __thread unsigned char was_blocked, was_pending;

/* the kernel's forms (no import of libc's: every import costs each process's start) */
static int pending(sigset_t *p)
{
    sigemptyset(p);
    return (int)SM_REAL(syscall)(SYS_rt_sigpending, p, 8L);
}

static int cap_read(void)
{
    struct rlimit rl;
    int cap = getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
    __atomic_store_n(&sm_fsize_cap, cap, __ATOMIC_RELAXED);
    return cap;
}

int sm_fsize_hold(void)
{
    int cap = __atomic_load_n(&sm_fsize_cap, __ATOMIC_RELAXED);
    if (cap < 0)
        cap = cap_read();
    if (!cap || held)
        return 0;
    sigset_t x, old, pend;
    sigemptyset(&x);
    sigaddset(&x, SIGXFSZ);
    if (SM_REAL(pthread_sigmask)(SIG_BLOCK, &x, &old) != 0)
        return 0;
    held = 1;
    was_blocked = (unsigned char)(sigismember(&old, SIGXFSZ) == 1);
    was_pending =
        (unsigned char)(was_blocked && pending(&pend) == 0 && sigismember(&pend, SIGXFSZ) == 1);
    return 1;
}

void sm_fsize_release(void)
{
    if (!held)
        return;
    held = 0;
    int saved = errno;
    sigset_t x, pend;
    sigemptyset(&x);
    sigaddset(&x, SIGXFSZ);
    if (!was_pending && pending(&pend) == 0 && sigismember(&pend, SIGXFSZ) == 1) {
        struct timespec now = {0, 0}; /* the library's: taken back */
        SM_REAL(syscall)(SYS_rt_sigtimedwait, &x, NULL, &now, 8L);
    }
    if (!was_blocked)
        SM_REAL(pthread_sigmask)(SIG_UNBLOCK, &x, NULL);
    errno = saved;
}

/* ---- the program changes a limit: read it again at the next call -------------------------- */

/* prlimit64 as the kernel takes it: 0 or -errno. Through libc's syscall() once the shim's table
 * holds it: syscall user dispatch traps every system call made outside libc, and this one is
 * made inside the dispatch's own answer to a trapped setrlimit or prlimit (and under the
 * wrappers of libc's), so from the shim's code it trapped again, for ever (a segfault: every
 * program armed for dispatch that set a limit; Go raises its descriptor limit at start whenever
 * the soft one is below the hard one). Before the table is there, a raw instruction,
 * uninstrumented: a sanitizer's runtime sets its limits through setrlimit while it starts,
 * before its shadow memory (and the shim's table) exist, and no dispatch is armed yet. */
SM_NOSAN static long raw_prlimit(long pid, long res, long nlim, long olim)
{
    __typeof__(syscall) *sys = __atomic_load_n(&sm_real_tab.syscall, __ATOMIC_ACQUIRE);
    if (sys) {
        long r = sys(SYS_prlimit64, pid, res, nlim, olim);
        return r == -1 ? -(long)errno : r;
    }
#if defined(__x86_64__)
    return sm_raw_syscall4(SYS_prlimit64, pid, res, nlim, olim);
#else
    long r = SM_REAL(syscall)(SYS_prlimit64, pid, res, nlim, olim);
    return r == -1 ? -(long)errno : r;
#endif
}

SM_NOSAN static long limit_set(long pid, long res, long nlim, long olim)
{
    long r = raw_prlimit(pid, res, nlim, olim);
    if (r == 0 && nlim && (res == RLIMIT_FSIZE || res < 0) && (pid == 0 || pid == (long)getpid()))
        __atomic_store_n(&sm_fsize_cap, -1, __ATOMIC_RELAXED);
    return r;
}

long sm_limits_raw(long nr, long a1, long a2, long a3, long a4)
{
    if (nr == SYS_setrlimit)
        return limit_set(0, a1, a2, 0);
    return limit_set(a1, a2, a3, a4); /* SYS_prlimit64 */
}

/* libc's form: 0, or -1 with errno */
SM_NOSAN static int libc_form(long r)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return (int)r;
}

SM_NOSAN SM_EXPORT int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
    return libc_form(limit_set(0, (long)res, (long)rl, 0));
}
SM_NOSAN SM_EXPORT int setrlimit64(__rlimit_resource_t res, const struct rlimit64 *rl)
{
    return libc_form(limit_set(0, (long)res, (long)rl, 0));
}

SM_NOSAN SM_EXPORT int prlimit(pid_t pid, __rlimit_resource_t res, const struct rlimit *nl,
                               struct rlimit *ol)
{
    return libc_form(limit_set(pid, (long)res, (long)nl, (long)ol));
}
SM_NOSAN SM_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t res, const struct rlimit64 *nl,
                                 struct rlimit64 *ol)
{
    return libc_form(limit_set(pid, (long)res, (long)nl, (long)ol));
}
