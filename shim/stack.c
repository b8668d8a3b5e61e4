/* stack.c: room for the shim's work on a thread whose stack is small.
 *
 * Answering a call under the prefix takes up to about 50 KB of stack (the deepest path, an
 * execve of a script whose interpreter is a script under the prefix, 49.4 KB: sud_int.h), and
 * the paths are made of PATH_MAX buffers. A thread made with a small stack (pthread's minimum is
 * 16 KiB; Python's threading.stack_size(32768); `ulimit -s` sets every thread's default) died
 * of SIGSEGV inside the shim where a real directory answers the same call. So:
 *  - Every entry into the shim's work (sm_look_more, every core: SM_ROOMY below) goes through
 *    sm_roomy_call, which runs it where it is when the thread has SM_ROOM_NEED bytes or more
 *    below its stack pointer, or when the thread's stack is not known (one TLS load and a
 *    compare), and otherwise on a stack of the shim's (SM_ROOM_STACK), with every argument
 *    register and up to four stack arguments as they were, and its result (rax:rdx) returned.
 *  - A thread's stack is known when it was made through pthread_create with a stack smaller
 *    than SM_ROOM_WATCH (sud.c notes its bottom at its start, from the size it was made with: an
 *    estimate lower than the true bottom by the thread's TLS and descriptor, which
 *    SM_ROOM_NEED's margin holds). The main thread, a thread of 1 MiB or more, and threads made
 *    otherwise are taken as roomy.
 *  - The shim's stacks come from a small pool, taken and given back with atomic exchanges
 *    (async-signal-safe: a signal handler's call under the prefix may need one while its
 *    thread's holds another); a new one is mapped, with a guard page below it, when all are in
 *    use, and unmapped when given back to a full pool. A signal handler that runs meanwhile runs
 *    on the shim's stack, which has room for it; one that leaves by siglongjmp leaves its stack
 *    taken.
 *  - Unwinders follow the frame: the call frame is described (CFI) as rbp + 16 throughout.
 * x86_64 only; elsewhere SM_ROOMY defines the function as it is. */
#include "shim.h"

#include <sys/mman.h>

__thread uintptr_t sm_stack_lo; /* the thread's stack bottom (an estimate), 0 when not known */

void sm_stack_note(size_t size)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    sm_stack_lo = here > size ? here - size : 0;
}

#if defined(__x86_64__)

/* called from sm_roomy_call only */
uintptr_t sm_room_take(void) __attribute__((visibility("hidden")));
void sm_room_give(uintptr_t top) __attribute__((visibility("hidden")));

#define ROOM_POOL 16
static void *room_pool[ROOM_POOL]; /* the lowest address (the guard page) of each idle stack */

/* The top of a stack of the shim's (16-byte aligned), or 0 when none can be had: the caller
 * then runs where it is. */
SM_NOSAN uintptr_t sm_room_take(void)
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

SM_NOSAN void sm_room_give(uintptr_t top)
{
    void *p = (void *)(top - SM_ROOM_STACK - 4096);
    for (int i = 0; i < ROOM_POOL; i++) {
        void *none = NULL;
        if (__atomic_compare_exchange_n(&room_pool[i], &none, p, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return;
    }
    munmap(p, SM_ROOM_STACK + 4096);
}

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Entered by jmp from a function's stub (SM_ROOMY) with the body in r11 and the call's
 * arguments where the caller put them. r10 and rax are free (no body is variadic). */
__asm__(
    ".text\n"
    ".globl sm_roomy_call\n"
    ".hidden sm_roomy_call\n"
    ".type sm_roomy_call,@function\n"
    "sm_roomy_call:\n"
    "  .cfi_startproc\n"
    "  movq sm_stack_lo@gottpoff(%rip), %rax\n"
    "  movq %fs:(%rax), %rax\n"
    "  testq %rax, %rax\n"
    "  jz 1f\n"
    "  movq %rsp, %r10\n"
    "  subq %rax, %r10\n" /* bytes left; another stack gives a large or wrapped number */
    "  cmpq $" STR(
        SM_ROOM_NEED) ", %r10\n"
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
                      "  pushq %rax\n" /* (alignment) */
                      "  call sm_room_take\n"
                      "  movq -8(%rbp), %rdi\n" /* the call's registers, as they came */
                      "  movq -16(%rbp), %rsi\n"
                      "  movq -24(%rbp), %rdx\n"
                      "  movq -32(%rbp), %rcx\n"
                      "  movq -40(%rbp), %r8\n"
                      "  movq -48(%rbp), %r9\n"
                      "  movq -56(%rbp), %r11\n"
                      "  testq %rax, %rax\n"
                      "  jz 3f\n"
                      "  movq %rax, %rsp\n" /* onto the shim's stack */
                      "  pushq %rbp\n"      /* the way back */
                      "  pushq %rax\n"      /* its top, to give it back */
                      "  pushq 40(%rbp)\n"  /* up to four arguments on the stack, in their order */
                      "  pushq 32(%rbp)\n"
                      "  pushq 24(%rbp)\n"
                      "  pushq 16(%rbp)\n"
                      "  xorl %eax, %eax\n"
                      "  call *%r11\n"
                      "  addq $32, %rsp\n"
                      "  popq %rdi\n" /* the top */
                      "  popq %rbp\n"
                      "  movq %rbp, %rsp\n" /* back on the thread's stack */
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
                      "3:\n" /* no stack to be had: where it is, as it came */
                      "  movq %rbp, %rsp\n"
                      "  popq %rbp\n"
                      "  .cfi_def_cfa %rsp, 8\n"
                      "  jmp *%r11\n"
                      "  .cfi_endproc\n"
                      ".size sm_roomy_call, .-sm_roomy_call\n");

#endif
