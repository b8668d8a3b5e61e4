/* sud_trap.c: the SIGSYS handler of Syscall User Dispatch, re-issuing, syscall() while armed. */
#include "sud_int.h"

#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)

/* ---- statistics (SMSHIM_LOG=debug): trapped calls by number, logged at exit ------------------ */

#define SUD_NR_MAX 512
static unsigned long sud_count[SUD_NR_MAX];
static int sud_stats, sud_dumped;

static void sud_dump(void)
{
    if (!sud_stats || __atomic_exchange_n(&sud_dumped, 1, __ATOMIC_ACQ_REL))
        return;
    char buf[900];
    size_t n = 0;
    unsigned long total = 0;
    for (int i = 0; i < SUD_NR_MAX; i++) {
        unsigned long c = __atomic_load_n(&sud_count[i], __ATOMIC_RELAXED);
        total += c;
        if (c && n < sizeof buf - 32)
            n += (size_t)snprintf(buf + n, sizeof buf - n, " %d:%lu", i, c);
    }
    buf[n < sizeof buf ? n : sizeof buf - 1] = '\0';
    sm_log(SM_LOG_DEBUG, "sud: %lu trapped calls (nr:count)%s", total, buf);
}

__attribute__((destructor)) static void sud_dtor(void)
{
    sud_dump();
}

void sud_stats_init(void)
{
    sud_stats = sm_log_level >= SM_LOG_DEBUG;
    if (sud_stats)
        (void)at_quick_exit(sud_dump); /* Bun leaves through quick_exit: no destructors run */
}

/* ---- the handler ----------------------------------------------------------------------------- */

/* One trapped call: the few that cannot be re-issued from a handler, the signal-state calls, the
 * shim's own (sm_sys_dispatch), and everything else re-issued through libc's syscall(). */
static long sud_call(ucontext_t *uc, long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    greg_t *g = uc->uc_mcontext.gregs;
    long r;
    int handled;
    switch (nr) {
    case SYS_rt_sigreturn:
        /* resume at libc's restorer with the same stack: it makes the call from the region */
        g[REG_RIP] = (greg_t)sud_restorer;
        return SYS_rt_sigreturn;
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork: return sud_clone(g, nr, a1, a2, a3, a4, a5);
    case SYS_exit_group:
        /* the same exit as libc's _exit: the shim's exit-time work (waiting for pending uploads,
         * see record.c) runs first */
        sud_dump();
        sm_exit_now((int)a1);
    case SYS_sigaltstack:
        /* this handler is not on the altstack, so the kernel sees what the program would; but
         * the handler's return restores the altstack saved in the frame: save the new one there */
        r = real_sys(nr, a1, a2, 0, 0, 0, 0);
        if (r == 0 && a1) {
            stack_t cur;
            if (real_sys(nr, 0, (long)&cur, 0, 0, 0, 0) == 0)
                uc->uc_stack = cur;
        }
        return r;
    default:
        if (sud_sigcall(uc, nr, a1, a2, a3, a4, a5, a6, &r))
            return r;
        r = sm_sys_dispatch(nr, a1, a2, a3, a4, a5, a6, &handled);
        if (handled) {
            sm_log(SM_LOG_DEBUG, "sud: served %ld -> %ld", nr, r);
            return r;
        }
        break;
    }
    /* everything else: re-issued as is */
    return real_sys(nr, a1, a2, a3, a4, a5, a6);
}

void sud_handler(int sig, siginfo_t *si, void *ctx)
{
    if (SM_UNLIKELY(si->si_code != SYS_USER_DISPATCH)) {
        sud_chain(sig, si, ctx);
        return;
    }
    int saved = errno;
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    long nr = si->si_syscall;
    if (SM_UNLIKELY(si->si_arch != AUDIT_ARCH_X86_64)) {
        g[REG_RAX] = -ENOSYS; /* int $0x80 from a 64-bit program: no way to re-issue it */
        errno = saved;
        return;
    }
    if (SM_UNLIKELY(sud_stats) && nr >= 0 && nr < SUD_NR_MAX)
        __atomic_fetch_add(&sud_count[nr], 1, __ATOMIC_RELAXED);
    g[REG_RAX] =
        sud_call(uc, nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
    errno = saved;
}

/* ---- syscall() while armed: the signal-state numbers first, then the shared dispatch --------- */

long sm_sud_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *handled)
{
    long r;
    *handled = 1;
    if (sud_sigcall(NULL, nr, a1, a2, a3, a4, a5, a6, &r))
        return r;
    if ((nr == SYS_fork || (nr == SYS_clone && !a2 && !(a1 & CLONE_VM))) && sud_armed) {
        r = real_sys(nr, a1, a2, a3, a4, a5, a6);
        if (r == 0)
            sud_rearm_child();
        return r;
    }
    return sm_sys_dispatch(nr, a1, a2, a3, a4, a5, a6, handled);
}

#else /* !__x86_64__ */

long sm_sud_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *handled)
{
    return sm_sys_dispatch(nr, a1, a2, a3, a4, a5, a6, handled);
}

#endif
