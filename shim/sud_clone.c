/* sud_clone.c: clone, clone3, fork and vfork trapped under SUD; re-arming the child of a fork. */
#include "sud_int.h"

#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#if defined(__x86_64__)

/* ---- re-arming a child ----------------------------------------------------------------------- */

/* The child of a fork (libc's or a trapped one): the kernel did not copy the setting. */
void sud_rearm_child(void)
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
        "  mov %rdi, %r11\n"     /* callee[] */
        "  mov 64(%rsp), %rax\n" /* fn */
        "  mov %rsi, %rdi\n"     /* nr */
        "  mov %rdx, %rsi\n"     /* a1 */
        "  mov %rcx, %rdx\n"     /* a2 */
        "  mov %r8, %rcx\n"      /* a3 */
        "  mov %r9, %r8\n"       /* a4 */
        "  mov 56(%rsp), %r9\n"  /* a5 */
        "  mov 0(%r11), %rbx\n"
        "  mov 8(%r11), %rbp\n"
        "  mov 16(%r11), %r12\n"
        "  mov 24(%r11), %r13\n"
        "  mov 32(%r11), %r14\n"
        "  mov 40(%r11), %r15\n"
        "  push $0\n" /* a6 */
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
    if (!sud_stub_ok || top < 64)
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
    long r = sud_clone_call(callee, nr, a1, a2, a3, a4, a5, sud_real_syscall);
    return r == -1 ? -(long)errno : r;
}

struct clone_args_v { /* struct clone_args, as far as this file needs it */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t rest[24];
};

long sud_clone(const greg_t *g, long nr, long a1, long a2, long a3, long a4, long a5)
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
        sm_cwd_cloning(flags); /* a child whose cwd is its own, or whose memory is (path.c) */
        if (a2) {              /* new stack */
            if (flags & CLONE_FILES)
                sm_gate_shared(); /* a thread, or a process sharing the table */
            return clone_new_stack(g, nr, a1, a2 - 8, a3, a4, a5, (uintptr_t)a2);
        }
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
    sm_cwd_cloning((unsigned long)c.flags);
    if (c.stack) {
        if (c.flags & CLONE_FILES)
            sm_gate_shared();
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

#endif
