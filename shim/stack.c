/* stack.c: room for the shim's work on a thread whose stack is small, and on a stack that is not
 * the thread's own.
 *
 * Answering a call under the prefix takes up to about 50 KB of stack (the deepest path, an
 * execve of a script whose interpreter is a script under the prefix, 49.4 KB: sud_int.h), and
 * the paths are made of PATH_MAX buffers. A thread made with a small stack (pthread's minimum is
 * 16 KiB; Python's threading.stack_size(32768); `ulimit -s` sets every thread's default), a
 * signal handler on an alternate signal stack (SIGSTKSZ is 8 KiB) and a coroutine on a
 * makecontext stack died of SIGSEGV inside the shim where a real directory answers the same
 * call. So:
 *  - Every entry into the shim's work (sm_look_more, every core: SM_ROOMY below) goes through
 *    sm_roomy_call. The work runs where it is when the stack pointer lies inside the thread's
 *    own stack with SM_ROOM_NEED bytes or more below it (two TLS loads and three compares), or
 *    when the thread's stack is not known; otherwise (too little left, or another stack: an
 *    alternate signal stack, a coroutine's, whose size is not known) on a stack of the shim's
 *    (SM_ROOM_STACK), with every argument register and up to four stack arguments as they were,
 *    and its result (rax:rdx) returned. While the work runs there, sm_room_top names that stack,
 *    so a nested entry (a signal handler's call, a core calling another) that has room on it
 *    stays.
 *  - A thread's own stack is [sm_stack_lo, sm_stack_hi). For a thread made through
 *    pthread_create, sud.c notes it at the thread's start from the size it was made with (an
 *    estimate lower than the true bottom by the thread's TLS and descriptor, which
 *    SM_ROOM_NEED's margin holds). For the main thread the constructor notes its top (argv lies
 *    above every frame), and its bottom is read at the first entry from RLIMIT_STACK (at most
 *    1 GiB below). A thread made otherwise (a raw clone, or before the library's constructor)
 *    has no known stack and is taken as roomy.
 *  - The shim's stacks come from a small pool, taken and given back with atomic exchanges
 *    (async-signal-safe: a signal handler's call under the prefix may need one while its
 *    thread's holds another); a new one is mapped, with a guard page below it, when all are in
 *    use, and unmapped when given back to a full pool. A signal handler that leaves by siglongjmp
 *    leaves its stack taken (and sm_room_top naming it: harmless, nothing else uses it).
 *  - Unwinders follow the frame: the call frame is described (CFI) as rbp + 16 throughout.
 * x86_64 only; elsewhere SM_ROOMY defines the function as it is. */
#include "shim.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

__thread uintptr_t sm_stack_lo; /* the thread's stack bottom (an estimate), 0 when not known */
__thread uintptr_t sm_stack_hi; /* above every frame of the thread's own stack; 0: not known */
__thread uintptr_t sm_room_top; /* the top of the shim's stack the thread's work runs on, or 0 */

void sm_stack_note(uintptr_t top, size_t size)
{
    sm_stack_lo = top > size ? top - size : 1;
    sm_stack_hi = top;
}

void sm_stack_note_main(uintptr_t top)
{
    sm_stack_lo = 0; /* read at the first entry (sm_room_enter) */
    sm_stack_hi = top;
}

#if defined(__x86_64__)

/* called from sm_roomy_call only */
uintptr_t sm_room_enter(uintptr_t sp) __attribute__((visibility("hidden")));
void sm_room_give(uintptr_t top) __attribute__((visibility("hidden")));

#define ROOM_POOL 16
static void *room_pool[ROOM_POOL]; /* the lowest address (the guard page) of each idle stack */

/* The top of a stack of the shim's (16-byte aligned), or 0 when none can be had: the caller
 * then runs where it is. */
SM_NOSAN static uintptr_t room_take(void)
{
    for (int i = 0; i < ROOM_POOL; i++) {
        void *p = __atomic_exchange_n(&room_pool[i], NULL, __ATOMIC_ACQ_REL);
        if (p)
            return (uintptr_t)p + 4096 + SM_ROOM_STACK;
    }
    void *p = mmap(NULL, SM_ROOM_STACK + 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    if (mprotect(p, 4096, PROT_NONE) != 0) { /* the guard */
        munmap(p, SM_ROOM_STACK + 4096);
        return 0;
    }
    return (uintptr_t)p + 4096 + SM_ROOM_STACK;
}

/* The main thread's stack bottom: RLIMIT_STACK below its top (at most 1 GiB; 8 MiB when the
 * limit cannot be read). libc's getrlimit (in libc's text, so not trapped under syscall user
 * dispatch, and bound when arming); little stack, as this runs on whatever stack the entry came
 * on. */
SM_NOSAN static uintptr_t main_lo(uintptr_t top)
{
    struct rlimit rl;
    uint64_t lim = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0)
        lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1ull << 30) ? 1ull << 30 : rl.rlim_cur;
    return top > lim ? top - lim : 1;
}

/* Work moved off an alternate signal stack: the kernel places the next signal's frame at the top
 * of that stack whenever the stack pointer is not on it, which would overwrite the frames of the
 * handler the work was called from. So the asynchronous signals are blocked from before the move
 * until after the way back (the synchronous ones, faults and SIGSYS, cannot be: blocked, they
 * kill the process), and delivered then, nested on the alternate stack as they would have been.
 * room_masked_top names the stack the mask belongs to; room_mask is the mask before. */
static __thread uintptr_t room_masked_top;
static __thread uint64_t room_mask;

/* Is the thread on its alternate signal stack now? (the kernel's answer, from the stack pointer).
 * The system calls here are raw: they run in signal handlers, and only on a thread that is not
 * armed for syscall user dispatch. */
SM_NOSAN static int on_altstack(void)
{
    stack_t ss;
    return sm_raw_syscall4(SYS_sigaltstack, 0, (long)&ss, 0, 0) == 0 && (ss.ss_flags & SS_ONSTACK);
}

#define SYNC_SIGS                                                                                  \
    ((1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1)) | (1ull << (SIGILL - 1)) |                   \
     (1ull << (SIGFPE - 1)) | (1ull << (SIGTRAP - 1)) | (1ull << (SIGSYS - 1)))

/* The slow way in (sm_roomy_call): 0 when the work may run where it is (sp, the caller's stack
 * pointer, has SM_ROOM_NEED bytes below it on the thread's own stack or on the shim's stack the
 * thread's work is on), else the top of a stack of the shim's to run it on (0 too when none can be
 * had: then where it is). A thread armed for syscall user dispatch keeps that module's own
 * arrangement (its handler's work runs on its signal stack, sud_int.h): only its own stack is
 * checked. */
SM_NOSAN uintptr_t sm_room_enter(uintptr_t sp)
{
    uintptr_t hi = sm_stack_hi, lo = sm_stack_lo;
    if (hi && !lo)
        sm_stack_lo = lo = main_lo(hi);
    int own = sp < hi && sp >= lo;
    if (!hi || (own && sp - lo >= SM_ROOM_NEED))
        return 0;
    uintptr_t t = sm_room_top;
    if (t && sp < t && sp >= t - SM_ROOM_STACK && sp - (t - SM_ROOM_STACK) >= SM_ROOM_NEED)
        return 0;
    if (!own && sm_sud_thread_armed && sm_sud_thread_armed())
        return 0;
    if (own || !on_altstack())
        return room_take();
    uint64_t all = ~SYNC_SIGS, old;
    if (sm_raw_syscall4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&old, 8) != 0)
        return 0;
    uintptr_t top = room_take();
    if (!top) {
        sm_raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
        return 0;
    }
    room_mask = old;
    room_masked_top = top;
    return top;
}

/* Back on the caller's stack (sm_roomy_call): the stack of the shim's goes back to the pool. */
SM_NOSAN void sm_room_give(uintptr_t top)
{
    int masked = room_masked_top == top;
    uint64_t old = room_mask;
    if (masked)
        room_masked_top = 0;
    void *p = (void *)(top - SM_ROOM_STACK - 4096);
    int i = 0;
    for (; i < ROOM_POOL; i++) {
        void *none = NULL;
        if (__atomic_compare_exchange_n(&room_pool[i], &none, p, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            break;
    }
    if (i == ROOM_POOL)
        munmap(p, SM_ROOM_STACK + 4096);
    if (masked) /* what came meanwhile is delivered now, nested on the alternate stack */
        sm_raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
}

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Entered by jmp from a function's stub (SM_ROOMY) with the body in r11 and the call's
 * arguments where the caller put them. r10 and rax are free (no body is variadic). The fast way:
 * the stack pointer inside [sm_stack_lo, sm_stack_hi) with SM_ROOM_NEED below it, or no stack
 * known; anything else asks sm_room_enter. */
/* clang-format off */
__asm__(
    ".text\n"
    ".globl sm_roomy_call\n"
    ".hidden sm_roomy_call\n"
    ".type sm_roomy_call,@function\n"
    "sm_roomy_call:\n"
    "  .cfi_startproc\n"
    "  movq sm_stack_hi@gottpoff(%rip), %rax\n"
    "  movq %fs:(%rax), %r10\n"
    "  testq %r10, %r10\n"
    "  jz 1f\n"                    /* no stack known: where it is */
    "  cmpq %r10, %rsp\n"
    "  jae 2f\n"                   /* above the thread's own stack: another one */
    "  movq sm_stack_lo@gottpoff(%rip), %rax\n"
    "  movq %fs:(%rax), %rax\n"
    "  testq %rax, %rax\n"
    "  jz 2f\n"                    /* the main thread's bottom, not read yet */
    "  movq %rsp, %r10\n"
    "  subq %rax, %r10\n"
    "  jb 2f\n"                    /* below it: another stack */
    "  cmpq $" STR(SM_ROOM_NEED) ", %r10\n"
    "  jb 2f\n"
    "1:\n"
    "  jmp *%r11\n"
    "2:\n"
    "  pushq %rbp\n"
    "  .cfi_adjust_cfa_offset 8\n"
    "  .cfi_offset %rbp, -16\n"
    "  movq %rsp, %rbp\n"
    "  .cfi_def_cfa_register %rbp\n"
    "  pushq %rdi\n"
    "  pushq %rsi\n"
    "  pushq %rdx\n"
    "  pushq %rcx\n"
    "  pushq %r8\n"
    "  pushq %r9\n"
    "  pushq %r11\n"
    "  pushq %rax\n"               /* (alignment) */
    "  leaq 8(%rbp), %rdi\n"       /* the stack pointer the work would run at */
    "  call sm_room_enter\n"
    "  movq -8(%rbp), %rdi\n"      /* the call's registers, as they came */
    "  movq -16(%rbp), %rsi\n"
    "  movq -24(%rbp), %rdx\n"
    "  movq -32(%rbp), %rcx\n"
    "  movq -40(%rbp), %r8\n"
    "  movq -48(%rbp), %r9\n"
    "  movq -56(%rbp), %r11\n"
    "  testq %rax, %rax\n"
    "  jz 3f\n"
    "  movq %rax, %rsp\n"          /* onto the shim's stack */
    "  pushq %rbp\n"               /* the way back */
    "  pushq %rax\n"               /* its top, to give it back */
    "  movq sm_room_top@gottpoff(%rip), %r10\n"
    "  pushq %fs:(%r10)\n"         /* the stack the thread's work was on before */
    "  movq %rax, %fs:(%r10)\n"    /* its work is on this one now */
    "  pushq %rax\n"               /* (alignment) */
    "  pushq 40(%rbp)\n"           /* up to four arguments on the stack, in their order */
    "  pushq 32(%rbp)\n"
    "  pushq 24(%rbp)\n"
    "  pushq 16(%rbp)\n"
    "  xorl %eax, %eax\n"
    "  call *%r11\n"
    "  addq $40, %rsp\n"
    "  movq sm_room_top@gottpoff(%rip), %r10\n"
    "  popq %fs:(%r10)\n"
    "  popq %rdi\n"                /* the top */
    "  popq %rbp\n"
    "  movq %rbp, %rsp\n"          /* back on the thread's stack */
    "  movq %rax, -8(%rbp)\n"
    "  movq %rdx, -16(%rbp)\n"
    "  subq $64, %rsp\n"
    "  call sm_room_give\n"
    "  movq -8(%rbp), %rax\n"
    "  movq -16(%rbp), %rdx\n"
    "  .cfi_remember_state\n"
    "  movq %rbp, %rsp\n"
    "  popq %rbp\n"
    "  .cfi_def_cfa %rsp, 8\n"
    "  ret\n"
    "  .cfi_restore_state\n"
    "3:\n"                         /* room here, or no stack to be had: where it is, as it came */
    "  movq %rbp, %rsp\n"
    "  popq %rbp\n"
    "  .cfi_def_cfa %rsp, 8\n"
    "  jmp *%r11\n"
    "  .cfi_endproc\n"
    ".size sm_roomy_call, .-sm_roomy_call\n");
/* clang-format on */

#endif
