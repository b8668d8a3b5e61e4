/* sud_trap.c: the SIGSYS handler of Syscall User Dispatch, re-issuing, syscall() while armed. */
#include "sud_int.h"

#include <asm/prctl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)

/* ---- statistics (SMSHIM_LOG=debug): trapped calls by number, logged at exit ------------------ */

#define SUD_NR_MAX 512
static unsigned long sud_count[SUD_NR_MAX];
static int sud_stats SM_HOT; /* read at exit by every process */
static int sud_dumped;

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
    /* the deepest the handlers went on this thread's shim stack (filled when it was made) */
    if (sud_stack) {
        const unsigned char *lo = (const unsigned char *)sud_stack + SUD_SCRATCH;
        size_t i = 0, len = SUD_STACK - SUD_SCRATCH;
        while (i < len && lo[i] == SUD_STACK_FILL)
            i++;
        sm_log(SM_LOG_DEBUG, "sud: this thread's signal stack: %zu of %zu bytes used at most",
               len - i, len);
    }
}

__attribute__((destructor)) static void sud_dtor(void)
{
    if (sud_stats) /* the test here: sud_dump's code is not paged in at every exit */
        sud_dump();
}

int sud_stack_fill(void)
{
    return sud_stats;
}

void sud_stats_init(void)
{
    sud_stats = sm_log_level >= SM_LOG_DEBUG;
    if (sud_stats)
        (void)at_quick_exit(sud_dump); /* Bun leaves through quick_exit: no destructors run */
}

/* ---- the handler ----------------------------------------------------------------------------- */

/* fn(nr, a1, a2) with the stack pointer at top (16-byte aligned), then back. */
long sud_scratch_call(long (*fn)(long, ...), long nr, long a1, long a2, uintptr_t top);
__asm__(".text\n"
        ".globl sud_scratch_call\n"
        ".hidden sud_scratch_call\n"
        ".type sud_scratch_call,@function\n"
        "sud_scratch_call:\n"
        "  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  mov %r8, %rsp\n"
        "  mov %rdi, %r11\n"
        "  mov %rsi, %rdi\n"
        "  mov %rdx, %rsi\n"
        "  mov %rcx, %rdx\n"
        "  xor %eax, %eax\n"
        "  call *%r11\n"
        "  mov %rbp, %rsp\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size sud_scratch_call, .-sud_scratch_call\n");

/* ---- the program's signal stack ---------------------------------------------------------------
 * Answering a call under the prefix needs up to about 49 KB of stack (SMSHIM_LOG=debug logs the
 * deepest use at exit), always on the shim's stack (sud_serve); on the program's, the handler
 * needs a few hundred bytes on top of the kernel's frame. A stack the program asks for (libc's
 * sigaltstack or a raw one) is installed as asked when it holds SUD_ALT_MIN bytes or more;
 * a smaller one, or a disabled one, is replaced by the shim's, and the program is told what it
 * asked for (its own ss_sp, ss_size and flags; SS_ONSTACK while it runs on the signal stack),
 * so its handlers run on the shim's stack instead. A disabled stack reads as the shim's (Go with
 * cgo adopts that one as its own). */

static __thread int alt_kept;     /* the shim's stack stands in for alt_prog */
static __thread stack_t alt_prog; /* what the program asked for, when alt_kept */

long sud_alt_choose(const stack_t *ss, const stack_t *cur, int on, stack_t *n)
{
    int mode = ss->ss_flags & ~(int)SS_AUTODISARM;
    if (on)
        return -EPERM;
    if (mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE)
        return -EINVAL;
    if (mode != SS_DISABLE && ss->ss_size < 2048) /* the kernel's MINSIGSTKSZ on x86_64 */
        return -ENOMEM;
    if (!sud_stack)
        return -ENOMEM;
    *n = *ss;
    if (mode == SS_DISABLE && !alt_kept && cur->ss_sp == (void *)(sud_stack + SUD_SCRATCH)) {
        /* the program read the shim's stack back as its own and may now free it (ASan's
         * threads do, as they end): the shim's is a new one from here on */
        uintptr_t fresh = sud_stack_map();
        if (fresh)
            sud_stack = fresh;
    }
    if (mode == SS_DISABLE || ss->ss_size < SUD_ALT_MIN) {
        n->ss_sp = (void *)(sud_stack + SUD_SCRATCH);
        n->ss_size = SUD_STACK - SUD_SCRATCH;
        n->ss_flags = 0;
    }
    return 0;
}

void sud_alt_adopt(const stack_t *ss, const stack_t *n)
{
    alt_kept = (ss->ss_flags & ~(int)SS_AUTODISARM) != SS_DISABLE && n->ss_sp != ss->ss_sp;
    if (alt_kept)
        alt_prog = *ss;
}

/* While the handler answers a call on the shim's stack (sud_serve), that one is the kernel's
 * signal stack, and a handler of the program's that a signal runs meanwhile runs on it: such a
 * handler is told so (it is the stack it runs on, SS_ONSTACK), not the program's stack, which
 * the handler's return puts back. Go's handler checks first that it runs on the stack
 * sigaltstack names, and ends the program when it does not ("signal received but handler not on
 * signal stack"). */
void sud_alt_view(const stack_t *real, int on, stack_t *out)
{
    const stack_t *v = alt_kept ? &alt_prog : real;
    *out = *v;
    if (alt_kept || !(real->ss_flags & SS_DISABLE))
        out->ss_flags = (v->ss_flags & (int)SS_AUTODISARM) | (on ? SS_ONSTACK : 0);
}

/* sigaltstack, for the program, from inside the handler. The handler runs on the thread's
 * signal stack, where the kernel refuses to change it (EPERM) and the handler's return
 * (rt_sigreturn) puts back the stack saved in the frame (uc_stack). So: the kernel's checks
 * are made against the program's own stack pointer; a new stack is installed from the scratch
 * area below the shim's stack (signals blocked for that one call) and written into uc_stack too,
 * so the return keeps it; what the program reads is its view (sud_alt_view) of uc_stack. */
static long sud_sigaltstack(ucontext_t *uc, const stack_t *ss, stack_t *oss)
{
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    stack_t cur = uc->uc_stack, tmp, view;
    int on = !(cur.ss_flags & SS_DISABLE) && sp > (uintptr_t)cur.ss_sp &&
             sp <= (uintptr_t)cur.ss_sp + cur.ss_size;
    if (oss && real_sys(SYS_sigaltstack, 0, (long)&tmp, 0, 0, 0, 0) == 0 &&
        real_sys(SYS_sigaltstack, 0, (long)oss, 0, 0, 0, 0) < 0)
        return -EFAULT; /* the kernel's check that oss is writable */
    sud_alt_view(&cur, on, &view);
    if (ss) {
        stack_t n;
        long r = sud_alt_choose(ss, &cur, on, &n);
        if (r < 0)
            return r;
        uint64_t all = ~SIGSYS_BIT, old = 0;
        real_sys(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&old, 8, 0, 0);
        r = sud_scratch_call(sud_real_syscall, SYS_sigaltstack, (long)&n, 0,
                             (sud_stack + SUD_SCRATCH) & ~(uintptr_t)15);
        if (r == -1)
            r = -(long)errno;
        real_sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
        if (r < 0)
            return r;
        sud_alt_adopt(ss, &n);
        real_sys(SYS_sigaltstack, 0, (long)&uc->uc_stack, 0, 0, 0, 0);
    }
    if (oss)
        *oss = view;
    return 0;
}

/* ---- the shim's own work, on the shim's stack ---------------------------------------------------
 * Answering a call under the prefix (the cores: path translation, the tree, the change recorder)
 * takes up to about 49 KB of stack (test sud_depth); the handler itself, around it, a few
 * hundred bytes on top of the kernel's frame. When the handler runs on a signal stack the program gave (one of
 * SUD_ALT_MIN or more, installed as asked), the call is answered on the shim's own stack of the
 * thread instead, idle then, so the program's stack holds only the frame and the handler (test
 * sud_stack). The shim's stack is made the thread's signal stack for that time, so a signal
 * that arrives meanwhile (a program's handler, a nested trap) is delivered below the work, not
 * over the frame at the top of the program's stack; the kernel puts the program's stack back
 * at the handler's return (uc_stack). The change is made from the scratch area with every
 * signal blocked (sud_scratch_call), the program's mask restored once on the shim's stack. */

struct sud_work {
    long nr, a[6];
    uint64_t mask; /* the program's signal mask, restored on the shim's stack */
    int handled;
    long r;
};

/* sm_sys_dispatch, and the debug line of a call it answered */
static long sud_dispatch(long nr, long a1, long a2, long a3, long a4, long a5, long a6,
                         int *handled)
{
    long r = sm_sys_dispatch(nr, a1, a2, a3, a4, a5, a6, handled);
    if (*handled)
        sm_log(SM_LOG_DEBUG, "sud: served %ld -> %ld", nr, r);
    return r;
}

static long sud_work_run(long p, ...)
{
    struct sud_work *w = (struct sud_work *)p;
    real_sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&w->mask, 0, 8, 0, 0);
    w->r = sud_dispatch(w->nr, w->a[0], w->a[1], w->a[2], w->a[3], w->a[4], w->a[5], &w->handled);
    return 0;
}

static long sud_serve(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *handled)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (!sud_stack || (here >= sud_stack && here < sud_stack + SUD_STACK) ||
        !sm_sys_wants(nr, a1, a2, a3, a4))
        return sud_dispatch(nr, a1, a2, a3, a4, a5, a6, handled);
    struct sud_work w = {.nr = nr, .a = {a1, a2, a3, a4, a5, a6}};
    stack_t shim = {.ss_sp = (void *)(sud_stack + SUD_SCRATCH),
                    .ss_flags = 0,
                    .ss_size = SUD_STACK - SUD_SCRATCH};
    uint64_t all = ~0ull;
    real_sys(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&w.mask, 8, 0, 0);
    long r = sud_scratch_call(sud_real_syscall, SYS_sigaltstack, (long)&shim, 0,
                              (sud_stack + SUD_SCRATCH) & ~(uintptr_t)15);
    if (r != 0) { /* not switched: answered here, as before */
        real_sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&w.mask, 0, 8, 0, 0);
        return sud_dispatch(nr, a1, a2, a3, a4, a5, a6, handled);
    }
    (void)sud_scratch_call(sud_work_run, (long)&w, 0, 0, (sud_stack + SUD_STACK) & ~(uintptr_t)15);
    *handled = w.handled;
    return w.r;
}

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
    case SYS_sigaltstack: return sud_sigaltstack(uc, (const stack_t *)a1, (stack_t *)a2);
    case SYS_arch_prctl:
        if (a1 == ARCH_SET_FS && sud_armed) {
            /* the thread pointer is about to stop being libc's: the handler reads errno and
             * sud_armed through it, so this thread is disarmed first (no trap after this one) */
            real_sys(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0, 0);
            sud_armed = 0;
            sm_log(SM_LOG_WARN, "sud: the program replaces its thread pointer (arch_prctl "
                                "ARCH_SET_FS, as Go without cgo does): this thread is no longer "
                                "armed, its raw calls do not see the prefix");
        }
        break;
    default:
        if (sud_sigcall(uc, nr, a1, a2, a3, a4, a5, a6, &r))
            return r;
        r = sud_serve(nr, a1, a2, a3, a4, a5, a6, &handled);
        if (handled)
            return r;
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
