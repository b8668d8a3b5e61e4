/* sud_int.h: what the Syscall User Dispatch files (sud*.c) share; nothing else includes it.
 * The rules they keep, and which file does what, are at the top of sud.c. */
#ifndef SM_SUD_INT_H
#define SM_SUD_INT_H

#include "shim.h"

#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

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
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31) /* linux/signal.h */
#endif
#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif
#ifndef CLONE_VFORK
#define CLONE_VFORK 0x00004000
#endif

/* Never instrumented: see SM_NOSAN (sm_real.h). */
#define SUD_NOSAN SM_NOSAN

#define SIGSYS_BIT (1ull << (SIGSYS - 1))

/* Everything declared here is the library's alone: direct calls and PC-relative (or
 * initial-exec TLS) accesses, no GOT or PLT, as when it was static in one file. */
#pragma GCC visibility push(hidden)

/* shim.h declares it for sys.c; declared again here, hidden, so the wrappers in sud_signal.c
 * read it PC-relative as they did when it was defined beside them */
extern int sm_sud_on;

#if defined(__x86_64__)

/* ---- set when arming (sud.c), read-only afterwards ------------------------------------------- */

extern uintptr_t sud_restorer;              /* libc's __restore_rt: mov $15,%rax; syscall */
extern long (*sud_real_syscall)(long, ...); /* libc's syscall(), in the allowed region */
extern int sud_stub_ok;                     /* it ends "syscall; cmp; jae; ret" (sud_clone.c) */

/** The size of the shim's signal stack of each armed thread: the kernel's frame (3.3 KB with
 *  AVX-512 state), the handler's work and the program's signal handlers nested on it. Measured
 *  (test sud_depth, tests/prog/sudhwm.c: the stack filled with a pattern before each raw call,
 *  the mark read after it): a re-issued call 3.3 KB; a served call under the prefix 20-41 KB
 *  (a create 24 KB, a hard link or a rename with every path checked beneath the tree 41 KB); an
 *  execve of a script whose interpreter is a script under the prefix, every path checked, 49.4 KB,
 *  the deepest; fork, clone, clone3, vfork (both sides), sigaltstack, sigaction and exit_group
 *  3.3-3.8 KB; a program's handler whose served call lands on a served open 56 KB. So 252 KB of
 *  it (the scratch page below) hold the deepest path 5.1 times over, and a served call nested on
 *  the deepest (a signal handler's, about 100 KB together) 2.5 times; past the end is a guard
 *  page. */
#define SUD_STACK (256 * 1024)
/** The lowest SUD_SCRATCH bytes of it are not part of the signal stack the kernel knows: the
 *  handler changes the thread's signal stack from there (sud_trap.c), since the kernel refuses
 *  to while the caller's stack pointer is on it. */
#define SUD_SCRATCH 4096
/** A signal stack the program asks for is installed only from this size up; a smaller one is
 *  replaced by the shim's (the calls the handler answers run on the shim's: sud_trap.c). */
#define SUD_ALT_MIN (64 * 1024)
/** This thread's shim signal stack (its lowest address), 0 before the first arming. */
extern __thread uintptr_t sud_stack;
/** A new shim signal stack (its lowest address; a guard page below), or 0. */
SUD_NOSAN uintptr_t sud_stack_map(void);
/** Give the thread the shim's signal stack when it has none enabled; 0 or -errno. */
SUD_NOSAN int sud_stack_ensure(void);

/** This thread is armed (sud.c sets it; the wrappers, syscall() and the fork paths read it). */
extern __thread int sud_armed;

/** The raw call through libc's syscall(): the result, or -errno. */
static inline long real_sys(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long r = sud_real_syscall(nr, a1, a2, a3, a4, a5, a6);
    return r == -1 ? -(long)errno : r;
}

/* ---- arming (sud.c) -------------------------------------------------------------------------- */

/** Arm the calling thread; 0 or -errno. */
SUD_NOSAN int sud_arm_thread(void);

/* ---- the handler (sud_trap.c) ---------------------------------------------------------------- */

/** The program's sigaltstack (both doors, sud_trap.c). choose: the kernel's checks (cur: the
 *  kernel's stack now; on: the thread runs on it), then in *n the stack to install; 0 or -errno. adopt:
 *  after n was installed for ss. view: what the program reads, from the kernel's state. */
long sud_alt_choose(const stack_t *ss, const stack_t *cur, int on, stack_t *n);
void sud_alt_adopt(const stack_t *ss, const stack_t *n);
void sud_alt_view(const stack_t *real, int on, stack_t *out);

/** The SIGSYS handler, installed when arming (SA_SIGINFO | SA_NODEFER, empty sa_mask). */
void sud_handler(int sig, siginfo_t *si, void *ctx);
/** At arming: count trapped calls by number when SMSHIM_LOG=debug, logged at exit. */
void sud_stats_init(void);
/** With SMSHIM_LOG=debug a new shim stack is filled with SUD_STACK_FILL, and the deepest use
 *  of the calling thread's is logged at exit. */
int sud_stack_fill(void);
#define SUD_STACK_FILL 0xa5

/* ---- the program's SIGSYS disposition and the signal-state calls (sud_signal.c) -------------- */

/** At arming: the SIGSYS disposition the program had before the shim's handler replaced it. */
void sud_prog_adopt(const struct sigaction *old);
/** A SIGSYS that is not a dispatch trap (seccomp, kill): the program's disposition. */
void sud_chain(int sig, siginfo_t *si, void *ctx);
/** A call that takes a temporary mask or changes signal state, from the handler (uc != NULL) or
 *  from syscall() (uc == NULL): 1 with the raw result in *out, or 0 if nr is not one of them. */
int sud_sigcall(ucontext_t *uc, long nr, long a1, long a2, long a3, long a4, long a5, long a6,
                long *out);

/* ---- clone, clone3, fork, vfork (sud_clone.c) ------------------------------------------------ */

/** The child of a fork (libc's or a trapped one): arm it again if its parent thread was. */
void sud_rearm_child(void);
/** clone, clone3, fork or vfork trapped in the handler (g: the program's registers). */
long sud_clone(const greg_t *g, long nr, long a1, long a2, long a3, long a4, long a5);

#endif /* __x86_64__ */

#pragma GCC visibility pop

#endif
