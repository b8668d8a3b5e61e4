/* fault.c: a path pointer that is not readable memory gives EFAULT, as on a real directory.
 *
 * Every wrapper looks at its path before the kernel does (sm_look, shim.h). Where the kernel
 * answers EFAULT for a pointer into unmapped memory (pjdfstest passes 0xdeadc0de), that look
 * would crash the process. So the first read of a path is sm_probe_path, a short routine in
 * assembly that reads the string in aligned 16-byte blocks (an aligned block never crosses into
 * a page the string does not reach), finding its end and any "/." in the same pass. A fault inside it is caught by the shim's SIGSEGV/SIGBUS
 * handler, which resumes the routine at its fixup (returning -1), as the kernel's own exception
 * tables do for copy_from_user. sm_look then passes the call through unchanged and the kernel
 * answers EFAULT. The hot path pays the scan, a few nanoseconds, and no system call.
 *
 * The rules kept here:
 *  - The handler stays installed. sigaction and signal for SIGSEGV and SIGBUS (sud_signal.c, and
 *    a raw rt_sigaction through syscall() or syscall user dispatch) record the program's
 *    disposition instead (fault_view); the kernel gets the shim's handler with the program's own
 *    sa_mask and its SA_ONSTACK / SA_NODEFER / SA_RESTART, so the program's handler runs on the
 *    stack and under the mask it asked for; SA_RESETHAND is emulated.
 *  - Only a fault (si_code > 0) at an instruction of the routine is the shim's. Every other one
 *    goes to the program's disposition: its handler is called with the kernel's own (signal,
 *    siginfo, context); for SIG_DFL the default is restored and the faulting instruction runs
 *    again (a signal sent with kill is raised again), so the process ends as it would have.
 *  - SIG_IGN is handed to the kernel as is (an exec'd program inherits it): while a signal is
 *    ignored its guard is off, and a bad path crashes, as the kernel would end a process that
 *    faults while ignoring SIGSEGV.
 *  - The handler reads no thread-local state and makes no system call before it knows the fault
 *    is the routine's (a Go thread's thread pointer is not libc's; see sud.c).
 *  - A program that replaces the handler with a raw rt_sigaction the shim does not see (no
 *    syscall(), no syscall user dispatch) has no guard: a bad path crashes it, as before.
 * x86_64 only; elsewhere sm_probe_path is strstr and nothing is installed. */
#include "shim.h"

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#if defined(__x86_64__)

/* int sm_probe_path(const char *p): -1 when a byte of the string is not readable memory, else 1
 * when it holds "/." (a "/.." or "/./" that can land anywhere) and 0 when not: one pass in
 * aligned 16-byte blocks (SSE2, part of x86_64), the string measured and searched at once.
 * Called from inline assembly (sm_probe, shim.h) that tells the compiler what it changes: it
 * keeps to rax, r8, r11, xmm0-xmm6 and the flags, reads p in rdi and leaves every other
 * register and the stack as they were, so a wrapper's own arguments stay where they are.
 * r11 the block; xmm6 0xff over the bytes of the first block before p (then 0), so that they
 * are neither NUL, '/' nor '.'; xmm3/4/5 NUL, '/', '.' in every byte. A block with a NUL or a
 * "/." in it ends the loop; a block without either that ends in '/' is compared with the next
 * byte, which is the string's (no NUL came yet). After a "/." only the NUL is looked for.
 * Every instruction between sm_probe_begin and sm_probe_end that reads memory reads the
 * string's blocks, and a fault there is the string's. */
__asm__(".text\n"
        ".globl sm_probe_path\n"
        ".hidden sm_probe_path\n"
        ".type sm_probe_path,@function\n"
        "sm_probe_path:\n"
        "    movl %edi, %eax\n"
        "    andl $15, %eax\n"
        "    shll $4, %eax\n"
        "    leaq sm_probe_before(%rip), %r8\n"
        "    movdqa (%r8,%rax), %xmm6\n"
        "    movq %rdi, %r11\n"
        "    andq $-16, %r11\n"
        "    pxor %xmm3, %xmm3\n"
        "    movdqa sm_probe_slashes(%rip), %xmm4\n"
        "    movdqa sm_probe_dots(%rip), %xmm5\n"
        ".globl sm_probe_begin\n"
        ".hidden sm_probe_begin\n"
        "sm_probe_begin:\n"
        "1:  movdqa (%r11), %xmm0\n"
        "    por %xmm6, %xmm0\n"
        "    pxor %xmm6, %xmm6\n"
        "    movdqa %xmm0, %xmm1\n"
        "    pcmpeqb %xmm3, %xmm1\n" /* NULs */
        "    movdqa %xmm0, %xmm2\n"
        "    pcmpeqb %xmm4, %xmm2\n" /* slashes */
        "    pcmpeqb %xmm5, %xmm0\n"
        "    psrldq $1, %xmm0\n"  /* byte i: byte i+1 is a dot */
        "    pand %xmm2, %xmm0\n" /* byte i: a "/." starts there */
        "    por %xmm1, %xmm0\n"
        "    pmovmskb %xmm0, %eax\n"
        "    testl %eax, %eax\n"
        "    jnz 2f\n"
        "    cmpw $0x2e2f, 15(%r11)\n" /* "/." across the block's end (little-endian) */
        "    leaq 16(%r11), %r11\n"
        "    jne 1b\n"
        "    jmp 3f\n"
        "2:  pmovmskb %xmm1, %r8d\n" /* the NULs alone */
        "    testl %r8d, %r8d\n"
        "    jz 4f\n"               /* a "/." in a block with no NUL */
        "    leal -1(%r8), %r11d\n" /* the bytes before the first NUL */
        "    notl %r8d\n"
        "    andl %r11d, %r8d\n"
        "    andl %r8d, %eax\n"
        "    setnz %al\n"
        "    movzbl %al, %eax\n"
        "    ret\n"
        "4:  leaq 16(%r11), %r11\n"
        "3:  movdqa (%r11), %xmm0\n" /* after a "/.", the rest for its end only */
        "    pcmpeqb %xmm3, %xmm0\n"
        "    pmovmskb %xmm0, %eax\n"
        "    leaq 16(%r11), %r11\n"
        "    testl %eax, %eax\n"
        "    jz 3b\n"
        ".globl sm_probe_end\n"
        ".hidden sm_probe_end\n"
        "sm_probe_end:\n"
        "    movl $1, %eax\n"
        "    ret\n"
        ".globl sm_probe_fixup\n"
        ".hidden sm_probe_fixup\n"
        "sm_probe_fixup:\n"
        "    movl $-1, %eax\n"
        "    ret\n"
        ".size sm_probe_path, .-sm_probe_path\n"
        ".section .rodata\n"
        ".balign 16\n"
        "sm_probe_slashes: .fill 16, 1, 0x2f\n"
        "sm_probe_dots: .fill 16, 1, 0x2e\n"
        "sm_probe_before:\n" /* entry k: k bytes of 0xff, then 0 */
        "    .fill 16, 1, 0\n"
        "    .fill 1, 1, 0xff\n"
        "    .fill 15, 1, 0\n"
        "    .fill 2, 1, 0xff\n"
        "    .fill 14, 1, 0\n"
        "    .fill 3, 1, 0xff\n"
        "    .fill 13, 1, 0\n"
        "    .fill 4, 1, 0xff\n"
        "    .fill 12, 1, 0\n"
        "    .fill 5, 1, 0xff\n"
        "    .fill 11, 1, 0\n"
        "    .fill 6, 1, 0xff\n"
        "    .fill 10, 1, 0\n"
        "    .fill 7, 1, 0xff\n"
        "    .fill 9, 1, 0\n"
        "    .fill 8, 1, 0xff\n"
        "    .fill 8, 1, 0\n"
        "    .fill 9, 1, 0xff\n"
        "    .fill 7, 1, 0\n"
        "    .fill 10, 1, 0xff\n"
        "    .fill 6, 1, 0\n"
        "    .fill 11, 1, 0xff\n"
        "    .fill 5, 1, 0\n"
        "    .fill 12, 1, 0xff\n"
        "    .fill 4, 1, 0\n"
        "    .fill 13, 1, 0xff\n"
        "    .fill 3, 1, 0\n"
        "    .fill 14, 1, 0xff\n"
        "    .fill 2, 1, 0\n"
        "    .fill 15, 1, 0xff\n"
        "    .fill 1, 1, 0\n"
        ".text\n");

extern const char sm_probe_begin[] __attribute__((visibility("hidden")));
extern const char sm_probe_end[] __attribute__((visibility("hidden")));
extern const char sm_probe_fixup[] __attribute__((visibility("hidden")));

/* ---- the program's view of SIGSEGV (0) and SIGBUS (1), under a sequence count -------------- */

struct view {
    unsigned seq; /* odd while written */
    int installed;
    struct sigaction sa;
};
static struct view views[2] SM_HOT; /* written at start by every process */
static int view_wlock;

static struct view *view_of(int sig)
{
    return sig == SIGSEGV ? &views[0] : sig == SIGBUS ? &views[1] : NULL;
}

/* a consistent copy; a bounded number of tries (the handler may have interrupted a writer of
 * this very thread, which cannot finish until it returns) */
SM_NOSAN static void view_get(struct view *v, struct sigaction *out)
{
    for (int i = 0; i < 1000; i++) {
        unsigned s = __atomic_load_n(&v->seq, __ATOMIC_ACQUIRE);
        memcpy(out, &v->sa, sizeof *out);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(s & 1) && __atomic_load_n(&v->seq, __ATOMIC_RELAXED) == s)
            return;
    }
}

SM_NOSAN SM_START static void view_put(struct view *v, const struct sigaction *in)
{
    __atomic_store_n(&v->seq, v->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(&v->sa, in, sizeof *in);
    __atomic_store_n(&v->seq, v->seq + 1, __ATOMIC_RELEASE);
}

static void handler(int sig, siginfo_t *si, void *ctx);

/* What the kernel gets for the program's disposition p: SIG_IGN as is, else the shim's handler
 * with p's mask and its stack, deferral and restart choices. */
SM_NOSAN static int install(int sig, const struct sigaction *p)
{
    struct sigaction k;
    if (p->sa_handler == SIG_IGN) { /* sa_handler and sa_sigaction share their storage */
        k = *p;
    } else {
        memset(&k, 0, sizeof k);
        k.sa_sigaction = handler;
        k.sa_flags = SA_SIGINFO | (p->sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART));
        k.sa_mask = p->sa_mask;
    }
    return SM_REAL(sigaction)(sig, &k, NULL) == 0 ? 0 : -errno;
}

SM_NOSAN static void chain(int sig, siginfo_t *si, void *ctx)
{
    struct view *v = view_of(sig);
    struct sigaction p;
    view_get(v, &p);
    void *h = (p.sa_flags & SA_SIGINFO) ? (void *)p.sa_sigaction : (void *)p.sa_handler;
    if (h == (void *)SIG_DFL || h == (void *)SIG_IGN) {
        /* the kernel's own end: a fault runs again under SIG_DFL; a sent signal is pending
         * (blocked in this handler) and is delivered at its return */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        if (h == (void *)SIG_IGN && si->si_code <= 0)
            return; /* a sent signal the program ignores */
        SM_REAL(sigaction)(sig, &dfl, NULL);
        if (si->si_code <= 0)
            SM_REAL(syscall)(SYS_tgkill, getpid(), SM_REAL(syscall)(SYS_gettid), sig);
        return;
    }
    if (p.sa_flags & SA_RESETHAND) {
        struct sigaction d;
        memset(&d, 0, sizeof d);
        d.sa_handler = SIG_DFL;
        if (!__atomic_exchange_n(&view_wlock, 1, __ATOMIC_ACQUIRE)) {
            view_put(v, &d);
            __atomic_store_n(&view_wlock, 0, __ATOMIC_RELEASE);
        }
    }
    if (p.sa_flags & SA_SIGINFO)
        p.sa_sigaction(sig, si, ctx);
    else
        p.sa_handler(sig);
}

SM_NOSAN static void handler(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (si->si_code > 0 && ip >= (uintptr_t)sm_probe_begin && ip < (uintptr_t)sm_probe_end) {
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)sm_probe_fixup;
        return;
    }
    chain(sig, si, ctx);
}

SM_NOSAN int sm_fault_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    struct view *v = view_of(sig);
    if (!v || !__atomic_load_n(&v->installed, __ATOMIC_ACQUIRE))
        return SM_REAL(sigaction)(sig, act, old) == 0 ? 0 : -errno;
    while (__atomic_exchange_n(&view_wlock, 1, __ATOMIC_ACQUIRE))
        sched_yield();
    struct sigaction cur;
    view_get(v, &cur);
    int rc = 0;
    if (act) {
        rc = install(sig, act);
        if (rc == 0)
            view_put(v, act);
    }
    __atomic_store_n(&view_wlock, 0, __ATOMIC_RELEASE);
    if (rc == 0 && old)
        *old = cur;
    return rc;
}

/* rt_sigaction as the kernel takes it on x86_64 (raw calls) */
struct ksa {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

SM_NOSAN int sm_fault_raw(long sig, const void *kact, void *koact, long size, long *out)
{
    if ((sig != SIGSEGV && sig != SIGBUS) || size != 8)
        return 0;
    const struct ksa *a = kact;
    struct sigaction c, o;
    if (a) {
        memset(&c, 0, sizeof c);
        c.sa_handler = (void (*)(int))a->handler;
        c.sa_flags = (int)a->flags;
        c.sa_restorer = (void (*)(void))a->restorer;
        memcpy(&c.sa_mask, &a->mask, sizeof a->mask);
    }
    memset(&o, 0, sizeof o);
    *out = sm_fault_sigaction((int)sig, a ? &c : NULL, &o);
    if (*out == 0 && koact) {
        struct ksa *k = koact;
        k->handler = (void *)o.sa_handler;
        k->flags = (unsigned long)(unsigned)o.sa_flags;
        k->restorer = (void *)o.sa_restorer;
        memcpy(&k->mask, &o.sa_mask, sizeof k->mask);
    }
    return 1;
}

/* Install the handler for SIGSEGV and SIGBUS, adopting what is there as the program's view: one
 * call per signal installs the handler for what a process inherits (SIG_DFL, no mask, no flags)
 * and reads what was there; a second one is made only when that was something else (SIG_IGN, or
 * a handler of a program that loaded the library later), to hand the kernel what install() gives
 * for it. */
SM_NOSAN SM_START void sm_fault_init(void)
{
    static const int sigs[2] = {SIGSEGV, SIGBUS};
    for (int i = 0; i < 2; i++) {
        struct sigaction k, cur;
        memset(&k, 0, sizeof k); /* the mask too: empty */
        k.sa_sigaction = handler;
        k.sa_flags = SA_SIGINFO;
        if (SM_REAL(sigaction)(sigs[i], &k, &cur) != 0)
            continue;
        view_put(&views[i], &cur);
        int plain = cur.sa_handler != SIG_IGN &&
                    !(cur.sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART)) &&
                    sigisemptyset(&cur.sa_mask);
        if (plain || install(sigs[i], &cur) == 0)
            __atomic_store_n(&views[i].installed, 1, __ATOMIC_RELEASE);
        else
            SM_REAL(sigaction)(sigs[i], &cur, NULL); /* as it was: no guard for this signal */
    }
}

#else /* !__x86_64__ */

int sm_probe_path(const char *p)
{
    return strstr(p, "/.") != NULL;
}

int sm_fault_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return SM_REAL(sigaction)(sig, act, old) == 0 ? 0 : -errno;
}

int sm_fault_raw(long sig, const void *kact, void *koact, long size, long *out)
{
    (void)sig, (void)kact, (void)koact, (void)size, (void)out;
    return 0;
}

void sm_fault_init(void)
{
}

#endif
