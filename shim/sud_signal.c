/* sud_signal.c: signal state under SUD: the program's SIGSYS handler; no mask blocks SIGSYS. */
#include "sud_int.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <ucontext.h>

/* A copy of *set without SIGSYS in tmp, or set itself when it has none. */
SUD_NOSAN static const sigset_t *sans_sigsys(const sigset_t *set, sigset_t *tmp)
{
    if (!set || !sigismember(set, SIGSYS))
        return set;
    memcpy(tmp, set, sizeof *tmp);
    sigdelset(tmp, SIGSYS);
    return tmp;
}

/* The program's view of a disposition, as sigaction and the handler's chaining keep it. */
struct prog_sa {
    void *handler; /* SIG_DFL, SIG_IGN, or the function */
    unsigned long flags;
    uint64_t mask;
};

static uint64_t mask64(const sigset_t *s)
{
    uint64_t m;
    memcpy(&m, s, sizeof m);
    return m;
}

#if defined(__x86_64__)

/* ---- the program's SIGSYS disposition (two slots, flipped: the handler reads without a lock) */

static struct prog_sa prog_slot[2];
static int prog_cur;
static int prog_wlock;

static void prog_get(struct prog_sa *out)
{
    int i = __atomic_load_n(&prog_cur, __ATOMIC_ACQUIRE);
    memcpy(out, &prog_slot[i], sizeof *out);
}

/* try: from the handler, which may have interrupted a writer in this very thread: give up */
static void prog_set_x(const struct prog_sa *in, int try)
{
    while (__atomic_exchange_n(&prog_wlock, 1, __ATOMIC_ACQUIRE)) {
        if (try)
            return;
        sched_yield();
    }
    int n = !__atomic_load_n(&prog_cur, __ATOMIC_RELAXED);
    memcpy(&prog_slot[n], in, sizeof *in);
    __atomic_store_n(&prog_cur, n, __ATOMIC_RELEASE);
    __atomic_store_n(&prog_wlock, 0, __ATOMIC_RELEASE);
}

static void prog_set(const struct prog_sa *in)
{
    prog_set_x(in, 0);
}

void sud_prog_adopt(const struct sigaction *old)
{
    struct prog_sa p = {(old->sa_flags & SA_SIGINFO) ? (void *)old->sa_sigaction
                                                     : (void *)old->sa_handler,
                        (unsigned long)old->sa_flags, mask64(&old->sa_mask)};
    prog_set(&p);
}

/* A SIGSYS that is not a dispatch trap (seccomp, kill): the program's disposition. */
void sud_chain(int sig, siginfo_t *si, void *ctx)
{
    struct prog_sa p;
    prog_get(&p);
    if (p.handler == (void *)SIG_IGN)
        return;
    if (p.handler == (void *)SIG_DFL) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        SM_REAL(sigaction)(SIGSYS, &dfl, NULL);
        real_sys(SYS_tgkill, getpid(), gettid(), SIGSYS, 0, 0, 0); /* not blocked: dies here */
        return;
    }
    uint64_t m = p.mask & ~SIGSYS_BIT;
    if (m)
        real_sys(SYS_rt_sigprocmask, SIG_BLOCK, (long)&m, 0, 8, 0, 0);
    if (p.flags & SA_RESETHAND) {
        struct prog_sa d = {(void *)SIG_DFL, 0, 0};
        prog_set_x(&d, 1);
    }
    if (p.flags & SA_SIGINFO)
        ((void (*)(int, siginfo_t *, void *))p.handler)(sig, si, ctx);
    else
        ((void (*)(int))p.handler)(sig);
}

/* ---- signal-state calls: shared by the handler (uc != NULL) and syscall() (uc == NULL) ------- */

/* A temporary signal mask (8 bytes, as the kernel takes it) copied without SIGSYS. */
static const uint64_t *mask_arg(long p, long size, uint64_t *tmp)
{
    if (!p || size != 8)
        return (const uint64_t *)p; /* the kernel answers (EINVAL) */
    memcpy(tmp, (const void *)p, 8);
    *tmp &= ~SIGSYS_BIT;
    return tmp;
}

struct ksa { /* the kernel's struct sigaction on x86_64 */
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static long sud_rt_sigaction(long sig, const struct ksa *act, struct ksa *oact, long size)
{
    if (size != 8 || sig != SIGSYS) {
        struct ksa c;
        long r;
        if (size == 8 && act && (act->mask & SIGSYS_BIT)) {
            c = *act;
            c.mask &= ~SIGSYS_BIT;
            act = &c;
        }
        if (sm_fault_raw(sig, act, oact, size, &r)) /* SIGSEGV, SIGBUS: fault.c */
            return r;
        return real_sys(SYS_rt_sigaction, sig, (long)act, (long)oact, size, 0, 0);
    }
    struct prog_sa old;
    prog_get(&old);
    if (act) {
        struct prog_sa n = {act->handler, act->flags, act->mask};
        prog_set(&n);
    }
    if (oact) {
        oact->handler = old.handler;
        oact->flags = old.flags;
        oact->restorer = NULL;
        oact->mask = old.mask;
    }
    return 0;
}

/* rt_sigprocmask. In the handler the thread's mask is uc_sigmask (empty sa_mask, SA_NODEFER):
 * the kernel validates and answers, and the resulting mask, without SIGSYS, is written into
 * uc_sigmask, which the handler's return installs. */
static long sud_rt_sigprocmask(ucontext_t *uc, long how, long set, long oset, long size)
{
    uint64_t tmp;
    if (!uc) {
        if (how != SIG_UNBLOCK)
            set = (long)mask_arg(set, size, &tmp);
        return real_sys(SYS_rt_sigprocmask, how, set, oset, size, 0, 0);
    }
    long r = real_sys(SYS_rt_sigprocmask, how, set, oset, size, 0, 0);
    if (r < 0)
        return r;
    uint64_t now = 0, bit = SIGSYS_BIT;
    real_sys(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&now, 8, 0, 0);
    if (now & bit) {
        real_sys(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&bit, 0, 8, 0, 0);
        now &= ~bit;
    }
    memcpy(&uc->uc_sigmask, &now, sizeof now); /* the kernel's 8 bytes only */
    return 0;
}

/* Calls that take a temporary mask, or change signal state: 0 if nr is not one of them. */
int sud_sigcall(ucontext_t *uc, long nr, long a1, long a2, long a3, long a4, long a5, long a6,
                long *out)
{
    uint64_t tmp;
    switch (nr) {
    case SYS_rt_sigaction:
        *out = sud_rt_sigaction(a1, (const struct ksa *)a2, (struct ksa *)a3, a4);
        return 1;
    case SYS_rt_sigprocmask: *out = sud_rt_sigprocmask(uc, a1, a2, a3, a4); return 1;
    case SYS_rt_sigsuspend:
        *out = real_sys(nr, (long)mask_arg(a1, a2, &tmp), a2, 0, 0, 0, 0);
        return 1;
    case SYS_ppoll: *out = real_sys(nr, a1, a2, a3, (long)mask_arg(a4, a5, &tmp), a5, 0); return 1;
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
        *out = real_sys(nr, a1, a2, a3, a4, (long)mask_arg(a5, a6, &tmp), a6);
        return 1;
    case SYS_pselect6: {
        /* the sixth argument points at { const sigset_t *ss; size_t ss_len; } */
        struct {
            long ss;
            long len;
        } d;
        if (!a6) {
            *out = real_sys(nr, a1, a2, a3, a4, a5, 0);
            return 1;
        }
        memcpy(&d, (const void *)a6, sizeof d);
        d.ss = (long)mask_arg(d.ss, d.len, &tmp);
        *out = real_sys(nr, a1, a2, a3, a4, a5, (long)&d);
        return 1;
    }
    default: return 0;
    }
}

/* The calling thread is armed: its masks must not block SIGSYS. */
SUD_NOSAN static int armed_here(void)
{
    return SM_UNLIKELY(sm_sud_on) && sud_armed;
}

#else /* !__x86_64__ */

SUD_NOSAN static int armed_here(void)
{
    return 0;
}

static void prog_get(struct prog_sa *out)
{
    memset(out, 0, sizeof *out);
}
static void prog_set(const struct prog_sa *in)
{
    (void)in;
}

#endif

/* ---- the libc entry points that change signal state ------------------------------------------ */

/* SIGSEGV and SIGBUS: the program's disposition, kept by fault.c (its handler stays) */
SUD_NOSAN static int fault_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    struct sigaction c;
    sigset_t tmp;
    if (act && __atomic_load_n(&sm_sud_on, __ATOMIC_ACQUIRE) &&
        sigismember(&act->sa_mask, SIGSYS)) {
        c = *act;
        c.sa_mask = *sans_sigsys(&act->sa_mask, &tmp);
        act = &c;
    }
    int rc = sm_fault_sigaction(sig, act, old);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}

SUD_NOSAN SM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (SM_UNLIKELY(sig == SIGSEGV || sig == SIGBUS))
        return fault_sigaction(sig, act, old);
    if (SM_LIKELY(!__atomic_load_n(&sm_sud_on, __ATOMIC_ACQUIRE)))
        return SM_REAL(sigaction)(sig, act, old);
    if (sig == SIGSYS) {
        struct prog_sa cur;
        prog_get(&cur);
        if (act) {
            struct prog_sa n = {(act->sa_flags & SA_SIGINFO) ? (void *)act->sa_sigaction
                                                             : (void *)act->sa_handler,
                                (unsigned long)act->sa_flags, mask64(&act->sa_mask)};
            prog_set(&n);
        }
        if (old) {
            memset(old, 0, sizeof *old);
            if (cur.flags & SA_SIGINFO)
                old->sa_sigaction = (void (*)(int, siginfo_t *, void *))cur.handler;
            else
                old->sa_handler = (void (*)(int))cur.handler;
            old->sa_flags = (int)cur.flags;
            sigemptyset(&old->sa_mask);
            memcpy(&old->sa_mask, &cur.mask, sizeof cur.mask);
        }
        return 0;
    }
    sigset_t tmp;
    if (act && sigismember(&act->sa_mask, SIGSYS)) {
        struct sigaction c = *act;
        c.sa_mask = *sans_sigsys(&act->sa_mask, &tmp);
        return SM_REAL(sigaction)(sig, &c, old);
    }
    return SM_REAL(sigaction)(sig, act, old);
}
SM_INNER_ALIAS(sigaction);
SM_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
SUD_NOSAN SM_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return SM_INNER(sigaction)(sig, act, old);
}

SUD_NOSAN SM_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
    if (SM_UNLIKELY(sig == SIGSEGV || sig == SIGBUS)) {
        /* glibc's signal(): BSD semantics, the signal blocked in its handler */
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = h;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, sig);
        if (fault_sigaction(sig, &sa, &old) != 0)
            return SIG_ERR;
        return old.sa_handler;
    }
    if (SM_LIKELY(sig != SIGSYS || !__atomic_load_n(&sm_sud_on, __ATOMIC_ACQUIRE)))
        return SM_REAL(signal)(sig, h);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (SM_INNER(sigaction)(SIGSYS, &sa, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}
SM_INNER_ALIAS(signal);
SM_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h);
SUD_NOSAN SM_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
    return SM_INNER(signal)(sig, h);
}

/* An armed thread keeps a signal stack the handler fits on (sud_trap.c says which): the same
 * rule as the raw call, outside the handler. */
SUD_NOSAN SM_EXPORT int sigaltstack(const stack_t *ss, stack_t *oss)
{
#if defined(__x86_64__)
    if (armed_here()) {
        stack_t cur, view, n;
        long r = real_sys(SYS_sigaltstack, 0, (long)&cur, 0, 0, 0, 0);
        if (r == 0 && oss)
            r = real_sys(SYS_sigaltstack, 0, (long)oss, 0, 0, 0, 0); /* oss is writable */
        if (r == 0) {
            int on = (cur.ss_flags & SS_ONSTACK) != 0;
            sud_alt_view(&cur, on, &view);
            if (ss) {
                r = sud_alt_choose(ss, &cur, on, &n);
                if (r == 0)
                    r = real_sys(SYS_sigaltstack, (long)&n, 0, 0, 0, 0, 0);
                if (r == 0)
                    sud_alt_adopt(ss, &n);
            }
        }
        if (r < 0) {
            errno = (int)-r;
            return -1;
        }
        if (oss)
            *oss = view;
        return 0;
    }
#endif
    return SM_REAL(sigaltstack)(ss, oss);
}

SUD_NOSAN SM_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    sigset_t tmp;
    if (armed_here() && how != SIG_UNBLOCK)
        set = sans_sigsys(set, &tmp);
    return SM_REAL(pthread_sigmask)(how, set, old);
}

SUD_NOSAN SM_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    sigset_t tmp;
    if (armed_here() && how != SIG_UNBLOCK)
        set = sans_sigsys(set, &tmp);
    return SM_REAL(sigprocmask)(how, set, old);
}

SUD_NOSAN SM_EXPORT int sigsuspend(const sigset_t *mask)
{
    sigset_t tmp;
    if (armed_here())
        mask = sans_sigsys(mask, &tmp);
    return SM_REAL(sigsuspend)(mask);
}

SUD_NOSAN SM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
                              const sigset_t *mask)
{
    sigset_t tmp;
    if (armed_here())
        mask = sans_sigsys(mask, &tmp);
    return SM_REAL(ppoll)(fds, n, tmo, mask);
}

SUD_NOSAN SM_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
                                const sigset_t *mask)
{
    sigset_t tmp;
    if (armed_here())
        mask = sans_sigsys(mask, &tmp);
    return SM_REAL(pselect)(n, r, w, e, tmo, mask);
}

SUD_NOSAN SM_EXPORT int epoll_pwait(int ep, struct epoll_event *ev, int max, int tmo,
                                    const sigset_t *mask)
{
    sigset_t tmp;
    if (armed_here())
        mask = sans_sigsys(mask, &tmp);
    return SM_REAL(epoll_pwait)(ep, ev, max, tmo, mask);
}

SUD_NOSAN SM_EXPORT int epoll_pwait2(int ep, struct epoll_event *ev, int max,
                                     const struct timespec *tmo, const sigset_t *mask)
{
    sigset_t tmp;
    if (armed_here())
        mask = sans_sigsys(mask, &tmp);
    if (!SM_REAL(epoll_pwait2)) {
        errno = ENOSYS;
        return -1;
    }
    return SM_REAL(epoll_pwait2)(ep, ev, max, tmo, mask);
}
