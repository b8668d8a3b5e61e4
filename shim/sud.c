/* sud.c: Syscall User Dispatch, the second door for programs that bypass libc (Bun makes its
 * file opens and stats as raw `syscall` instructions from its own code).
 *
 * Armed in a thread, `prctl(PR_SET_SYSCALL_USER_DISPATCH)` makes every `syscall` instruction
 * outside libc's executable mapping raise SIGSYS (si_code SYS_USER_DISPATCH) in that thread,
 * before the kernel runs the call. The handler decodes the registers, answers the calls that
 * name a path under the prefix with the same cores as the libc wrappers (sm_sys_dispatch in
 * sys.c, shared with syscall()), and re-issues every other call unchanged through libc's
 * syscall(), which lies in the allowed region; the result goes back in rax.
 *
 * The rules this file keeps (the README's section on syscall user dispatch says why):
 *  - The SIGSYS handler stays installed: sigaction/signal for SIGSYS (and a raw rt_sigaction)
 *    record the program's handler instead, and it receives every SIGSYS that is not a dispatch
 *    trap. Trapped calls are never handed to it.
 *  - SIGSYS is never blocked in an armed thread (a forced signal that is blocked kills the
 *    process): sigprocmask, pthread_sigmask, the sa_mask of every handler, the temporary masks of
 *    sigsuspend/ppoll/pselect/epoll_pwait, and their raw forms all lose SIGSYS. The handler runs
 *    with SA_NODEFER, so a raw call made by a signal handler nested inside it traps again.
 *  - The handler runs on the interrupted stack (no SA_ONSTACK), so a re-issued sigaltstack sees
 *    what the program would see, and with an empty sa_mask the thread's mask inside the handler
 *    is the program's own (uc_sigmask): a re-issued blocking call is interrupted, restarted
 *    (SA_RESTART) or fails with EINTR exactly as it would have.
 *  - Calls that cannot simply be re-issued from inside a handler are handled here: rt_sigreturn
 *    (resumed at libc's restorer), rt_sigprocmask (acts on uc_sigmask, which the handler's return
 *    restores), clone/clone3/fork/vfork (see sud_clone), the mask-taking waits.
 *  - Work that takes the loader's or libc's internal locks (the tree fd, the cache's LMDB
 *    environment, starting the sync thread, which dlopens libcurl) is done when arming, before
 *    the program's code runs. The handler allocates nothing of its own and takes no lock itself;
 *    recording a change takes LMDB's writer lock and wakes the sync thread under its mutex,
 *    which the interrupted code cannot hold: its own calls into the shim are libc calls, not raw
 *    ones (only a signal handler making a raw call under the prefix while its thread is inside
 *    the recorder could: the README lists it among the limits).
 *  - Every thread made with pthread_create is armed at its start, except the library's own
 *    (started from a thread marked sm_in_lib: see sm_thread_start) and program threads that
 *    start with every signal blocked; the child of a fork is armed again; an exec'd image arms
 *    itself in its constructor (SMSHIM_SUD is passed on by exec.c).
 *
 * x86_64 only; on other architectures sm_sud_init does nothing.
 */
#include "shim.h"
#include "smshim.h"

#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif
#ifndef PR_SYS_DISPATCH_OFF
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON  1
#endif
#ifndef SYSCALL_DISPATCH_FILTER_ALLOW
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif
#ifndef AUDIT_ARCH_X86_64
#define AUDIT_ARCH_X86_64 0xc000003eu
#endif
#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif
#ifndef CLONE_VFORK
#define CLONE_VFORK 0x00004000
#endif

/* The signal-state wrappers run inside a sanitizer runtime's own start-up (TSan installs its
 * handlers through the next sigaction, which is this one, before its thread state exists):
 * they and what they call are never instrumented. */
#define SUD_NOSAN __attribute__((no_sanitize("thread", "address", "undefined")))

int sm_sud_on; /* this process armed SUD (read by the wrappers and syscall()) */

/* "SMSHIM_SUD=<value>" when the variable was set: exec.c hands it to children */
static char sud_env[32];

const char *sm_sud_env(void)
{
    return sud_env[0] ? sud_env : NULL;
}

#define SIGSYS_BIT (1ull << (SIGSYS - 1))

/* A copy of *set without SIGSYS in tmp, or set itself when it has none. */
SUD_NOSAN static const sigset_t *sans_sigsys(const sigset_t *set, sigset_t *tmp)
{
    if (!set || !sigismember(set, SIGSYS))
        return set;
    memcpy(tmp, set, sizeof *tmp);
    sigdelset(tmp, SIGSYS);
    return tmp;
}

#if defined(__x86_64__)

/* ---- per-thread state -------------------------------------------------------------------------- */

/* The selector byte the kernel reads on every syscall outside the allowed region. It stays
 * BLOCK: the shim's own calls go through libc, which is the allowed region. */
static __thread volatile char sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
static __thread int sud_armed; /* this thread is armed */

static uintptr_t region_start, region_len; /* libc's executable mapping */
static uintptr_t restorer;                 /* libc's __restore_rt: mov $15,%rax; syscall */
static long (*real_syscall)(long, ...);    /* libc's syscall(), in the region */
static int stub_ok;                        /* libc's syscall() ends "syscall; cmp; jae; ret" */

/* ---- the program's SIGSYS disposition (two slots, flipped: the handler reads without a lock) */

struct prog_sa {
    void *handler; /* SIG_DFL, SIG_IGN, or the function */
    unsigned long flags;
    uint64_t mask;
};
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

static uint64_t mask64(const sigset_t *s)
{
    uint64_t m;
    memcpy(&m, s, sizeof m);
    return m;
}

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

/* ---- arming -------------------------------------------------------------------------------- */

SUD_NOSAN static int arm_with(volatile char *selector)
{
    return prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, region_start, region_len,
                 selector);
}

/* Arm the calling thread; 0 or -errno. */
SUD_NOSAN static int sud_arm_thread(void)
{
    sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
    if (arm_with(&sud_selector) != 0)
        return -errno;
    sud_armed = 1;
    return 0;
}

/* A program thread that starts with every signal blocked is left unarmed: a raw call there could
 * only die of a blocked SIGSYS. (The library's own threads never get here: pthread_create sends
 * them to sm_thread_start.) */
SUD_NOSAN static int blocks_everything(const sigset_t *m)
{
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP && s != SIGSYS && !sigismember(m, s))
            return 0;
    return 1;
}

/* The child of a fork (libc's or a trapped one): the kernel did not copy the setting. */
static void sud_rearm_child(void)
{
    if (!sud_armed)
        return;
    sud_armed = 0;
    int saved = errno;
    int rc = sud_arm_thread();
    if (rc < 0)
        sm_log(SM_LOG_ERROR, "sud: cannot re-arm after fork: %s", strerror(-rc));
    errno = saved;
}

/* ---- re-issuing --------------------------------------------------------------------------------- */

static long real_sys(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long r = real_syscall(nr, a1, a2, a3, a4, a5, a6);
    return r == -1 ? -(long)errno : r;
}

/* A temporary signal mask (8 bytes, as the kernel takes it) copied without SIGSYS. */
static const uint64_t *mask_arg(long p, long size, uint64_t *tmp)
{
    if (!p || size != 8)
        return (const uint64_t *)p; /* the kernel answers (EINVAL) */
    memcpy(tmp, (const void *)p, 8);
    *tmp &= ~SIGSYS_BIT;
    return tmp;
}

/* ---- signal-state calls: shared by the handler (uc != NULL) and syscall() (uc == NULL) ------ */

struct ksa { /* the kernel's struct sigaction on x86_64 */
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static long sud_rt_sigaction(long sig, const struct ksa *act, struct ksa *oact, long size)
{
    if (size != 8 || sig != SIGSYS) {
        if (size == 8 && act && (act->mask & SIGSYS_BIT)) {
            struct ksa c = *act;
            c.mask &= ~SIGSYS_BIT;
            return real_sys(SYS_rt_sigaction, sig, (long)&c, (long)oact, size, 0, 0);
        }
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

/* Calls that take a temporary mask, or change signal state: NULL if nr is not one of them. */
static int sud_sigcall(ucontext_t *uc, long nr, long a1, long a2, long a3, long a4, long a5,
                       long a6, long *out)
{
    uint64_t tmp;
    switch (nr) {
    case SYS_rt_sigaction:
        *out = sud_rt_sigaction(a1, (const struct ksa *)a2, (struct ksa *)a3, a4);
        return 1;
    case SYS_rt_sigprocmask:
        *out = sud_rt_sigprocmask(uc, a1, a2, a3, a4);
        return 1;
    case SYS_rt_sigsuspend:
        *out = real_sys(nr, (long)mask_arg(a1, a2, &tmp), a2, 0, 0, 0, 0);
        return 1;
    case SYS_ppoll:
        *out = real_sys(nr, a1, a2, a3, (long)mask_arg(a4, a5, &tmp), a5, 0);
        return 1;
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
    default:
        return 0;
    }
}

/* ---- clone, clone3, fork, vfork from inside the handler -------------------------------------- */

/* A new process with its own copy of memory (no CLONE_VM, no new stack) is simply re-issued: the
 * child returns through its copy of the handler and the signal frame, armed again. A call with a
 * new stack goes through sud_clone_call: the child starts in libc's syscall(), whose `ret` pops
 * sud_clone_child, left just below the child's stack top together with the program's argument
 * registers and its resume address; the callee-saved registers are the program's, loaded before
 * the call. So the child resumes after the program's syscall instruction with rax = 0, its own
 * stack, and every register the program had. Such a thread is not armed (the kernel does not
 * copy the setting, and its TLS may not be libc's). A vfork (shared memory, same stack) cannot
 * run while the parent's handler frame lives on that stack: it becomes a fork that still
 * suspends the parent until the child execs or exits (CLONE_VFORK without CLONE_VM). */
long sud_clone_call(const long callee[6], long nr, long a1, long a2, long a3, long a4, long a5,
                    long (*fn)(long, ...));
void sud_clone_child(void);
__asm__(".text\n"
        ".globl sud_clone_call\n"
        ".hidden sud_clone_call\n"
        ".type sud_clone_call,@function\n"
        "sud_clone_call:\n"
        "  push %rbp\n"
        "  push %rbx\n"
        "  push %r12\n"
        "  push %r13\n"
        "  push %r14\n"
        "  push %r15\n"
        "  mov %rdi, %r11\n"      /* callee[] */
        "  mov 64(%rsp), %rax\n"  /* fn */
        "  mov %rsi, %rdi\n"      /* nr */
        "  mov %rdx, %rsi\n"      /* a1 */
        "  mov %rcx, %rdx\n"      /* a2 */
        "  mov %r8, %rcx\n"       /* a3 */
        "  mov %r9, %r8\n"        /* a4 */
        "  mov 56(%rsp), %r9\n"   /* a5 */
        "  mov 0(%r11), %rbx\n"
        "  mov 8(%r11), %rbp\n"
        "  mov 16(%r11), %r12\n"
        "  mov 24(%r11), %r13\n"
        "  mov 32(%r11), %r14\n"
        "  mov 40(%r11), %r15\n"
        "  push $0\n"             /* a6 */
        "  call *%rax\n"
        "  add $8, %rsp\n"
        "  pop %r15\n"
        "  pop %r14\n"
        "  pop %r13\n"
        "  pop %r12\n"
        "  pop %rbx\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size sud_clone_call, .-sud_clone_call\n"
        ".globl sud_clone_child\n"
        ".hidden sud_clone_child\n"
        ".type sud_clone_child,@function\n"
        "sud_clone_child:\n" /* rsp = the program's child stack top T */
        "  mov -24(%rsp), %rdi\n"
        "  mov -32(%rsp), %rsi\n"
        "  mov -40(%rsp), %rdx\n"
        "  mov -48(%rsp), %r10\n"
        "  mov -56(%rsp), %r8\n"
        "  mov -64(%rsp), %r9\n"
        "  xor %eax, %eax\n"
        "  jmp *-16(%rsp)\n"
        ".size sud_clone_child, .-sud_clone_child\n");

static long clone_new_stack(const greg_t *g, long nr, long a1, long a2, long a3, long a4, long a5,
                            uintptr_t top)
{
    if (!stub_ok || top < 64)
        return -ENOSYS;
    long *w = (long *)top;
    w[-1] = (long)(uintptr_t)sud_clone_child;
    w[-2] = g[REG_RIP];
    w[-3] = g[REG_RDI];
    w[-4] = g[REG_RSI];
    w[-5] = g[REG_RDX];
    w[-6] = g[REG_R10];
    w[-7] = g[REG_R8];
    w[-8] = g[REG_R9];
    long callee[6] = {g[REG_RBX], g[REG_RBP], g[REG_R12], g[REG_R13], g[REG_R14], g[REG_R15]};
    long r = sud_clone_call(callee, nr, a1, a2, a3, a4, a5, real_syscall);
    return r == -1 ? -(long)errno : r;
}

struct clone_args_v { /* struct clone_args, as far as this file needs it */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t rest[24];
};

static long sud_clone(const greg_t *g, long nr, long a1, long a2, long a3, long a4, long a5)
{
    long r;
    if (nr == SYS_fork || nr == SYS_vfork) {
        r = real_sys(SYS_clone, (nr == SYS_vfork ? CLONE_VFORK : 0) | SIGCHLD, 0, 0, 0, 0, 0);
        if (r == 0)
            sud_rearm_child();
        return r;
    }
    if (nr == SYS_clone) {
        unsigned long flags = (unsigned long)a1;
        if (a2) /* new stack */
            return clone_new_stack(g, nr, a1, a2 - 8, a3, a4, a5, (uintptr_t)a2);
        if (flags & CLONE_VM) {
            if (!(flags & CLONE_VFORK))
                return -EINVAL; /* two threads on one stack: not possible from a handler */
            flags &= ~(unsigned long)CLONE_VM;
        }
        r = real_sys(SYS_clone, (long)flags, 0, a3, a4, a5, 0);
        if (r == 0)
            sud_rearm_child();
        return r;
    }
    /* clone3(struct clone_args *args, size_t size) */
    struct clone_args_v c;
    size_t size = (size_t)a2;
    if (size < 64 || size > sizeof c || !a1)
        return real_sys(nr, a1, a2, 0, 0, 0, 0); /* the kernel's EINVAL/E2BIG/EFAULT */
    memcpy(&c, (const void *)a1, size);
    if (c.stack) {
        uintptr_t top = (uintptr_t)(c.stack + c.stack_size);
        c.stack_size -= 8;
        return clone_new_stack(g, nr, (long)&c, a2, 0, 0, 0, top);
    }
    if (c.flags & CLONE_VM) {
        if (!(c.flags & CLONE_VFORK))
            return -EINVAL;
        c.flags &= ~(uint64_t)CLONE_VM;
    }
    r = real_sys(nr, (long)&c, a2, 0, 0, 0, 0);
    if (r == 0)
        sud_rearm_child();
    return r;
}

/* ---- the handler ---------------------------------------------------------------------------------- */

/* A SIGSYS that is not a dispatch trap (seccomp, kill): the program's disposition. */
static void sud_chain(int sig, siginfo_t *si, void *ctx)
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

static long sud_call(ucontext_t *uc, long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    greg_t *g = uc->uc_mcontext.gregs;
    long r;
    int handled;
    switch (nr) {
    case SYS_rt_sigreturn:
        /* resume at libc's restorer with the same stack: it makes the call from the region */
        g[REG_RIP] = (greg_t)restorer;
        return SYS_rt_sigreturn;
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork:
        return sud_clone(g, nr, a1, a2, a3, a4, a5);
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

static void sud_handler(int sig, siginfo_t *si, void *ctx)
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
    g[REG_RAX] = sud_call(uc, nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8],
                          g[REG_R9]);
    errno = saved;
}

/* ---- syscall() while armed: the signal-state numbers first, then the shared dispatch -------- */

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

/* ---- finding libc and recognising Bun ------------------------------------------------------------- */

struct seg_q {
    uintptr_t addr; /* an address in the object */
    uintptr_t start, end;
};

static int seg_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct seg_q *q = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
        if (q->addr >= s && q->addr < e) {
            q->start = s;
            q->end = e;
            return 1;
        }
    }
    return 0;
}

/* Bun's executable (and every `bun build --compile` program, which is a copy of it) defines
 * symbol versions named BUN_<version> (BUN_1.2) for the N-API and V8 symbols it exports. */
static int verdef_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    int *found = data;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    uintptr_t strtab = 0, verdef = 0;
    long num = 0;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_STRTAB)
            strtab = dyn->d_un.d_ptr;
        else if (dyn->d_tag == DT_VERDEF)
            verdef = dyn->d_un.d_ptr;
        else if (dyn->d_tag == DT_VERDEFNUM)
            num = (long)dyn->d_un.d_val;
    }
    /* ld.so relocates some of these entries in place, not others */
    if (strtab && strtab < info->dlpi_addr)
        strtab += info->dlpi_addr;
    if (verdef && verdef < info->dlpi_addr)
        verdef += info->dlpi_addr;
    for (long i = 0; strtab && verdef && i < num && i < 64; i++) {
        const ElfW(Verdef) *vd = (const ElfW(Verdef) *)verdef;
        if (vd->vd_cnt > 0) {
            const ElfW(Verdaux) *aux = (const ElfW(Verdaux) *)(verdef + vd->vd_aux);
            if (strncmp((const char *)strtab + aux->vda_name, "BUN_", 4) == 0)
                *found = 1;
        }
        if (!vd->vd_next)
            break;
        verdef += vd->vd_next;
    }
    return 1; /* the first object is the executable: stop there */
}

static int is_bun(void)
{
    int found = 0;
    dl_iterate_phdr(verdef_cb, &found);
    if (found)
        return 1;
    const char *fn = (const char *)getauxval(AT_EXECFN);
    if (fn) {
        const char *b = strrchr(fn, '/');
        b = b ? b + 1 : fn;
        if (strcmp(b, "bun") == 0)
            return 1;
    }
    return 0;
}

/* Does libc's syscall() end in "syscall; cmp $-4095,%rax; jae; ret"? (sud_clone_call relies on
 * the child reaching that ret with rax = 0.) */
static int check_stub(const unsigned char *p)
{
    for (int i = 0; i < 48; i++)
        if (p[i] == 0x0f && p[i + 1] == 0x05 && p[i + 2] == 0x48 && p[i + 3] == 0x3d &&
            p[i + 4] == 0x01 && p[i + 5] == 0xf0 && p[i + 6] == 0xff && p[i + 7] == 0xff &&
            p[i + 8] == 0x73 && p[i + 10] == 0xc3)
            return 1;
    return 0;
}

void sm_sud_init(void)
{
    const char *v = sm_getenv(SMSHIM_ENV_SUD);
    const char *why;
    if (v)
        snprintf(sud_env, sizeof sud_env, "%s=%s", SMSHIM_ENV_SUD, v);
    if (v && strcmp(v, "0") == 0)
        return;
    if (v && strcmp(v, "1") == 0)
        why = "SMSHIM_SUD=1";
    else if (is_bun())
        why = "Bun detected";
    else
        return;
    if (!sm_cfg.enabled)
        return;
    sm_real_init(); /* the real-function table is resolved lazily elsewhere: never in a handler */
    real_syscall = SM_REAL(syscall);
    struct seg_q q = {(uintptr_t)real_syscall, 0, 0};
    if (!real_syscall || !SM_REAL(sigaction) || !dl_iterate_phdr(seg_cb, &q)) {
        sm_log(SM_LOG_ERROR, "sud: libc's executable mapping not found: not armed");
        return;
    }
    region_start = q.start;
    region_len = q.end - q.start;
    stub_ok = check_stub((const unsigned char *)(uintptr_t)real_syscall);

    /* what would take locks inside the handler happens now: the tree fd, the LMDB environment
     * and, with a key, the sync thread (it dlopens libcurl); afterwards a trapped write only
     * commits to LMDB and wakes that thread */
    (void)sm_tree_fd();
    struct smc *c = sm_record_env();
    if (c)
        sm_sync_kick(c);

    struct sigaction sa, old, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sud_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (SM_REAL(sigaction)(SIGSYS, &sa, &old) != 0) {
        sm_log(SM_LOG_ERROR, "sud: sigaction(SIGSYS): %s: not armed", strerror(errno));
        return;
    }
    SM_REAL(sigaction)(SIGSYS, NULL, &cur);
    restorer = (uintptr_t)cur.sa_restorer;
    static const unsigned char rt[] = {0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05};
    if (restorer < region_start || restorer >= region_start + region_len ||
        memcmp((const void *)restorer, rt, sizeof rt) != 0) {
        sm_log(SM_LOG_ERROR, "sud: libc's signal restorer not recognised: not armed");
        SM_REAL(sigaction)(SIGSYS, &old, NULL);
        return;
    }
    struct prog_sa p = {(old.sa_flags & SA_SIGINFO) ? (void *)old.sa_sigaction
                                                    : (void *)old.sa_handler,
                        (unsigned long)old.sa_flags, mask64(&old.sa_mask)};
    prog_set(&p);
    sud_stats = sm_log_level >= SM_LOG_DEBUG;
    if (sud_stats)
        (void)at_quick_exit(sud_dump); /* Bun leaves through quick_exit: no destructors run */

    /* SIGSYS must not be blocked here either */
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGSYS);
    SM_REAL(pthread_sigmask)(SIG_UNBLOCK, &m, NULL);

    __atomic_store_n(&sm_sud_on, 1, __ATOMIC_RELEASE);
    int rc = sud_arm_thread();
    if (rc < 0) {
        __atomic_store_n(&sm_sud_on, 0, __ATOMIC_RELEASE);
        SM_REAL(sigaction)(SIGSYS, &old, NULL);
        sm_log(SM_LOG_WARN, "sud: prctl(PR_SET_SYSCALL_USER_DISPATCH): %s: not armed (%s)",
               strerror(-rc), why);
        return;
    }
    pthread_atfork(NULL, NULL, sud_rearm_child);
    sm_log(SM_LOG_INFO, "sud: armed (%s), libc region %#lx-%#lx", why, (unsigned long)region_start,
           (unsigned long)(region_start + region_len));
}

/* ---- threads ---------------------------------------------------------------------------------- */

struct sud_start {
    void *(*fn)(void *);
    void *arg;
};

SUD_NOSAN static void *sud_thread_start(void *p)
{
    struct sud_start s = *(struct sud_start *)p;
    free(p);
    sigset_t cur, m;
    sigemptyset(&m);
    sigemptyset(&cur);
    sigaddset(&m, SIGSYS);
    SM_REAL(pthread_sigmask)(SIG_BLOCK, NULL, &cur);
    if (blocks_everything(&cur)) {
        SM_REAL(pthread_sigmask)(SIG_BLOCK, &m, NULL); /* as its creator meant: no signal at all */
    } else {
        if (sigismember(&cur, SIGSYS))
            SM_REAL(pthread_sigmask)(SIG_UNBLOCK, &m, NULL);
        int rc = sud_arm_thread();
        if (rc < 0)
            sm_log(SM_LOG_ERROR, "sud: cannot arm a new thread: %s", strerror(-rc));
    }
    return s.fn(s.arg);
}

SUD_NOSAN SM_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    if (SM_UNLIKELY(sm_in_lib)) /* a thread libcurl starts from the sync thread: the library's */
        return sm_thread_start(t, attr, fn, arg);
    if (SM_LIKELY(!__atomic_load_n(&sm_sud_on, __ATOMIC_ACQUIRE)))
        return SM_REAL(pthread_create)(t, attr, fn, arg);
    struct sud_start *s = malloc(sizeof *s);
    if (!s)
        return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    int rc = SM_REAL(pthread_create)(t, attr, sud_thread_start, s);
    if (rc != 0)
        free(s);
    return rc;
}

SUD_NOSAN static int armed_here(void)
{
    return SM_UNLIKELY(sm_sud_on) && sud_armed;
}

#else /* !__x86_64__ */

long sm_sud_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *handled)
{
    return sm_sys_dispatch(nr, a1, a2, a3, a4, a5, a6, handled);
}

void sm_sud_init(void)
{
    const char *v = sm_getenv(SMSHIM_ENV_SUD);
    if (v)
        snprintf(sud_env, sizeof sud_env, "%s=%s", SMSHIM_ENV_SUD, v);
}

SUD_NOSAN static int armed_here(void)
{
    return 0;
}

struct prog_sa {
    void *handler;
    unsigned long flags;
    uint64_t mask;
};
static void prog_get(struct prog_sa *out)
{
    memset(out, 0, sizeof *out);
}
static void prog_set(const struct prog_sa *in)
{
    (void)in;
}
static uint64_t mask64(const sigset_t *s)
{
    uint64_t m;
    memcpy(&m, s, sizeof m);
    return m;
}

#endif

/* ---- the libc entry points that change signal state -------------------------------------------- */

SUD_NOSAN SM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
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

SUD_NOSAN SM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
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

SUD_NOSAN SM_EXPORT int epoll_pwait(int ep, struct epoll_event *ev, int max, int tmo, const sigset_t *mask)
{
    sigset_t tmp;
    if (armed_here())
        mask = sans_sigsys(mask, &tmp);
    return SM_REAL(epoll_pwait)(ep, ev, max, tmo, mask);
}

SUD_NOSAN SM_EXPORT int epoll_pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *tmo,
                           const sigset_t *mask)
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
