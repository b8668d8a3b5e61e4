/* real.c: the table of libc's own functions (sm_real.h), each resolved on first use with
 * dlsym(RTLD_NEXT) (or all at once when syscall dispatch is armed), and the start of the
 * library's own threads and descriptors. The only place that calls dlsym. Linked into the
 * library, the CLI and the test runner alike. */
#include "sm_real.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct sm_real_tab sm_real_tab SM_HOT; /* the first real calls fault no page in */
__thread int sm_in_lib;
__thread unsigned char sm_host_lib;
__thread int sm_own_table;

int sm_table_own(void)
{
    sm_own_table = SM_REAL(syscall)(SYS_close_range, 0U, ~0U, CLOSE_RANGE_UNSHARE) == 0 ||
                   SM_REAL(unshare)(CLONE_FILES) == 0;
    return sm_own_table ? 0 : -1;
}

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
SM_NOSAN static void real_resolve(void)
{
#define SM_REAL_RESOLVE(n)                                                                         \
    __atomic_store_n(&sm_real_tab.n, (__typeof__(n) *)dlsym(RTLD_NEXT, #n), __ATOMIC_RELEASE);
    SM_REAL_LIST(SM_REAL_RESOLVE)
#undef SM_REAL_RESOLVE
}
#pragma GCC diagnostic pop

/* ---- binding this object's own imports now ---------------------------------------------------
 * The library is linked for lazy binding (-z lazy): a process that never calls one of its
 * imports never pays the loader's lookup for it, which at start was most of what the library
 * added to a process (about 60k instructions for its hundred imports). The loader's resolver
 * binds each on its first call instead; it takes no lock and makes no system call, but it saves
 * the whole vector state on the stack. Where that first call may run inside a SIGSYS handler of
 * syscall user dispatch (every trapped call), the imports are bound when arming instead
 * (sm_real_init), each to what the loader would bind it to: the symbol of that name and version
 * in the global scope (dlvsym(RTLD_DEFAULT)), IFUNCs resolved. Objects linked with -z now (the
 * CLI built so, an old build) have nothing left to bind; their table may be read-only. */
extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));
extern ElfW(Dyn) _DYNAMIC[] __attribute__((visibility("hidden")));

#if defined(__x86_64__)
#define SM_JUMP_SLOT R_X86_64_JUMP_SLOT
#elif defined(__aarch64__)
#define SM_JUMP_SLOT R_AARCH64_JUMP_SLOT
#else
#define SM_JUMP_SLOT (-1L)
#endif

/* the name of version index `ndx` in the object's needed versions (NULL: none or not found) */
static const char *need_name(uintptr_t need, long num, const char *str, unsigned ndx)
{
    for (long i = 0; need && i < num && i < 256; i++) {
        const ElfW(Verneed) *vn = (const ElfW(Verneed) *)need;
        uintptr_t a = need + vn->vn_aux;
        for (unsigned j = 0; j < vn->vn_cnt && j < 256; j++) {
            const ElfW(Vernaux) *va = (const ElfW(Vernaux) *)a;
            if ((va->vna_other & 0x7fff) == ndx)
                return str + va->vna_name;
            if (!va->vna_next)
                break;
            a += va->vna_next;
        }
        if (!vn->vn_next)
            break;
        need += vn->vn_next;
    }
    return NULL;
}

int sm_real_bind_imports(void)
{
    uintptr_t base = (uintptr_t)&__ehdr_start;
    uintptr_t jmprel = 0, symtab = 0, strtab = 0, versym = 0, verneed = 0;
    size_t relsz = 0;
    long neednum = 0;
    for (const ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_JMPREL: jmprel = d->d_un.d_ptr; break;
        case DT_PLTRELSZ: relsz = d->d_un.d_val; break;
        case DT_SYMTAB: symtab = d->d_un.d_ptr; break;
        case DT_STRTAB: strtab = d->d_un.d_ptr; break;
        case DT_VERSYM: versym = d->d_un.d_ptr; break;
        case DT_VERNEED: verneed = d->d_un.d_ptr; break;
        case DT_VERNEEDNUM: neednum = (long)d->d_un.d_val; break;
        case DT_FLAGS:
            if (d->d_un.d_val & DF_BIND_NOW)
                return 0;
            break;
        case DT_FLAGS_1:
            if (d->d_un.d_val & DF_1_NOW)
                return 0;
            break;
        default: break;
        }
    }
    jmprel = sm_dyn_addr(base, jmprel);
    symtab = sm_dyn_addr(base, symtab);
    strtab = sm_dyn_addr(base, strtab);
    versym = sm_dyn_addr(base, versym);
    verneed = sm_dyn_addr(base, verneed);
    if (!jmprel || !symtab || !strtab)
        return 0;
    int unbound = 0;
    for (size_t off = 0; off + sizeof(ElfW(Rela)) <= relsz; off += sizeof(ElfW(Rela))) {
        const ElfW(Rela) *r = (const ElfW(Rela) *)(jmprel + off);
        if (ELF64_R_TYPE(r->r_info) != SM_JUMP_SLOT)
            continue;
        size_t si = ELF64_R_SYM(r->r_info);
        const ElfW(Sym) *sym = (const ElfW(Sym) *)symtab + si;
        const char *name = (const char *)strtab + sym->st_name;
        unsigned ndx = versym ? ((const ElfW(Half) *)versym)[si] & 0x7fff : 0;
        const char *ver = ndx > 1 ? need_name(verneed, neednum, (const char *)strtab, ndx) : NULL;
        void *p = ver ? dlvsym(RTLD_DEFAULT, name, ver) : dlsym(RTLD_DEFAULT, name);
        if (!p) {
            unbound++; /* left to the loader's resolver */
            continue;
        }
        __atomic_store_n((void **)(base + r->r_offset), p, __ATOMIC_RELEASE);
    }
    return unbound;
}

void sm_real_init(void)
{
    pthread_once(&real_once, real_resolve);
    (void)sm_real_bind_imports();
}

/* Two threads may resolve the same entry at once: both store the same pointer. */
SM_NOSAN SM_START void *sm_real_resolve(void **slot, const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    return p;
}

char sm_real_none;
SM_NOSAN void *sm_real_next_find(void **slot, const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p)
        p = &sm_real_none;
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    return p;
}

#if defined(__x86_64__)
/* void *sm_real_resolve_keeping(slot in rax, name in r11): sm_real_resolve(slot, name) in rax,
 * every other general register as it was (the xmm registers are the caller's to declare). Called
 * from inline assembly below the red zone, at any stack alignment. */
__asm__(".text\n"
        ".globl sm_real_resolve_keeping\n"
        ".hidden sm_real_resolve_keeping\n"
        ".type sm_real_resolve_keeping,@function\n"
        "sm_real_resolve_keeping:\n"
        "    pushq %rbp\n"
        "    movq %rsp, %rbp\n"
        "    andq $-16, %rsp\n"
        "    pushq %rdi\n"
        "    pushq %rsi\n"
        "    pushq %rdx\n"
        "    pushq %rcx\n"
        "    pushq %r8\n"
        "    pushq %r9\n"
        "    pushq %r10\n"
        "    pushq %r11\n"
        "    movq %rax, %rdi\n"
        "    movq %r11, %rsi\n"
        "    call sm_real_resolve\n"
        "    popq %r11\n"
        "    popq %r10\n"
        "    popq %r9\n"
        "    popq %r8\n"
        "    popq %rcx\n"
        "    popq %rdx\n"
        "    popq %rsi\n"
        "    popq %rdi\n"
        "    movq %rbp, %rsp\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size sm_real_resolve_keeping, .-sm_real_resolve_keeping\n");
#endif

static void gate_register(void);

struct lib_start {
    void *(*fn)(void *);
    void *arg;
    int passed; /* made by libc's pthread_create (sm_thread_start_passed) */
};

/* The new thread's first function. Under a sanitizer, a thread that sm_thread_start_passed made
 * runs it before the sanitizer's own start routine (s.fn) has made the thread known to it: so
 * nothing here is instrumented (ThreadSanitizer's function entry faulted on the thread state it
 * had not made yet: lib_fds under TSan, libcurl's resolver thread), and such a thread's start is
 * freed only once s.fn has returned, when the thread is the runtime's (its free would meet the
 * same missing state). One that ends in pthread_exit leaves its 24 bytes allocated. */
SM_NOSAN static void *lib_thread(void *p)
{
    struct lib_start s = *(struct lib_start *)p;
    sm_in_lib = 1;
    if (s.passed) {
        void *rv = s.fn(s.arg);
        free(p);
        return rv;
    }
    free(p);
    return s.fn(s.arg);
}

/* pthread_create as the program would call it, minus the shim: a sanitizer runtime preloaded
 * ahead of the library intercepts it and must see every thread start (its interceptor, exported
 * as __interceptor_pthread_create, then calls the shim's wrapper, which passes the call to
 * libc); without one, libc's. */
static __thread int thread_starting;
static __typeof__(pthread_create) *create_front;

int sm_thread_starting(void)
{
    return thread_starting;
}

static __typeof__(pthread_create) *create_fn(void)
{
    __typeof__(pthread_create) *f = __atomic_load_n(&create_front, __ATOMIC_ACQUIRE);
    if (f)
        return f;
    void *p = dlsym(RTLD_DEFAULT, "__interceptor_pthread_create");
    if (!p)
        p = (void *)SM_REAL(pthread_create);
    f = (__typeof__(pthread_create) *)p;
    __atomic_store_n(&create_front, f, __ATOMIC_RELEASE);
    return f;
}

static int thread_start(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg,
                        __typeof__(pthread_create) *create, int passed)
{
    gate_register();
    struct lib_start *s = malloc(sizeof *s);
    if (!s)
        return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    s->passed = passed;
    sigset_t all, old;
    sigfillset(&all);
    sigemptyset(&old);
    SM_REAL(pthread_sigmask)(SIG_BLOCK, &all, &old); /* the new thread inherits a full mask */
    thread_starting = 1;
    int rc = create(t, attr, lib_thread, s);
    thread_starting = 0;
    SM_REAL(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        free(s);
    return rc;
}

int sm_thread_start(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    return thread_start(t, attr, fn, arg, create_fn(), 0);
}

int sm_thread_start_passed(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    return thread_start(t, attr, fn, arg, SM_REAL(pthread_create), 1);
}

/* ---- the library's own descriptors (sm_real.h) ----------------------------------------------- */

uint64_t sm_own_fds[SM_FD_MAX / 64]; /* bit fd: the library's (words: a scan is short) */
static int fd_base = -1;             /* first number of the reserved range, set once */
static int fd_top;                   /* the range's end (the limit), set before fd_base */
#define MOVABLE_MAX 4
static int *movable[MOVABLE_MAX]; /* holders of descriptors that may be moved */

/* The range lies above the program's soft limit (fd_above): RLIMIT_NOFILE bounds the numbers
 * the kernel gives, not the numbers that exist, so a descriptor at or above the soft limit stays
 * valid. When the soft limit is below SM_FD_TOP and the hard limit leaves room, the range is
 * [soft, soft + SM_FD_RESERVE) and no descriptor of the library's takes a number the program
 * could have: it meets EMFILE exactly where a real directory gives it (the range below the
 * limit took numbers it had: an open at its last free one failed, and with every number taken
 * the tree fd could not be opened at all, so even a stat under the prefix failed with EMFILE).
 * The kernel gives a number there only while the soft limit is above it: each move into the
 * range (and a library open the kernel refused with EMFILE) raises the soft limit to the
 * range's end for that one call, then puts the program's value back (fd_raise, fd_lower).
 * Where the hard limit is the soft one (bash's `ulimit -n` sets both), or the soft limit is
 * SM_FD_TOP or more, the range is the top numbers below the limit, as it was. */
static int fd_above;
static unsigned fd_raisers; /* calls inside a raised limit, in every thread */
/* the program's soft limit while fd_raise holds it raised, else RLIM_INFINITY */
static rlim_t fd_prog_soft = RLIM_INFINITY;

static int fd_base_get(void)
{
    int b = __atomic_load_n(&fd_base, __ATOMIC_ACQUIRE);
    if (b >= 0)
        return b;
    struct rlimit rl;
    long top = SM_FD_TOP;
    int got = getrlimit(RLIMIT_NOFILE, &rl) == 0;
    if (got && rl.rlim_cur < (rlim_t)SM_FD_TOP)
        top = (long)rl.rlim_cur;
    if (got && rl.rlim_cur < (rlim_t)SM_FD_TOP &&
        (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= rl.rlim_cur + SM_FD_RESERVE)) {
        b = (int)top;
        top += SM_FD_RESERVE;
        __atomic_store_n(&fd_above, 1, __ATOMIC_RELAXED);
    } else {
        /* with fewer than 4 reserves' worth of numbers there is no range to spare */
        b = top >= 4 * SM_FD_RESERVE ? (int)(top - SM_FD_RESERVE) : (int)top;
    }
    __atomic_store_n(&fd_top, (int)top, __ATOMIC_RELAXED);
    __atomic_store_n(&fd_base, b, __ATOMIC_RELEASE);
    return b;
}

static long nofile(const struct rlimit *set, struct rlimit *get)
{
    return SM_REAL(syscall)(SYS_prlimit64, 0, RLIMIT_NOFILE, set, get);
}

/* The soft limit is at least the range's end until fd_lower: 1 (then call fd_lower), 0 when the
 * range is not above it or the limit cannot be raised. Async-signal-safe, no lock: the first of
 * the overlapping calls of every thread saves the program's value, the last puts it back. */
static int fd_raise(void)
{
    (void)fd_base_get();
    if (!__atomic_load_n(&fd_above, __ATOMIC_RELAXED))
        return 0;
    int saved = errno;
    __atomic_add_fetch(&fd_raisers, 1, __ATOMIC_SEQ_CST);
    rlim_t top = (rlim_t)__atomic_load_n(&fd_top, __ATOMIC_RELAXED);
    struct rlimit cur, up;
    int ok = nofile(NULL, &cur) == 0;
    if (ok && cur.rlim_cur < top) {
        __atomic_store_n(&fd_prog_soft, cur.rlim_cur, __ATOMIC_SEQ_CST);
        up.rlim_cur = top;
        up.rlim_max = cur.rlim_max;
        ok = cur.rlim_max >= top && nofile(&up, NULL) == 0;
    }
    if (!ok)
        __atomic_sub_fetch(&fd_raisers, 1, __ATOMIC_SEQ_CST);
    errno = saved;
    return ok;
}

static void fd_lower(void)
{
    if (__atomic_sub_fetch(&fd_raisers, 1, __ATOMIC_SEQ_CST) != 0)
        return;
    int saved = errno;
    rlim_t top = (rlim_t)__atomic_load_n(&fd_top, __ATOMIC_RELAXED);
    struct rlimit back, was;
    rlim_t prog = __atomic_exchange_n(&fd_prog_soft, RLIM_INFINITY, __ATOMIC_SEQ_CST);
    if (prog != RLIM_INFINITY && nofile(NULL, &back) == 0 && back.rlim_cur == top) {
        back.rlim_cur = prog;
        /* the program's own setrlimit meanwhile (was: not the raised value) is the one kept */
        if (nofile(&back, &was) == 0 && was.rlim_cur != top)
            (void)nofile(&was, NULL);
    }
    errno = saved;
}

/* fcntl(fd, F_DUPFD_CLOEXEC, from), from in the range: raised for the call when the range lies
 * above the limit (once more when another thread's fd_lower came between) */
static int dup_up(int fd, int from)
{
    for (int i = 0;; i++) {
        int up = fd_raise();
        int nfd = SM_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, from);
        int e = errno;
        if (up)
            fd_lower();
        errno = e;
        if (nfd >= 0 || e != EINVAL || !up || i > 0)
            return nfd;
    }
}

int sm_fd_raise(void)
{
    return fd_raise();
}

void sm_fd_lower(void)
{
    fd_lower();
}

static void fd_mark(int fd, int on)
{
    if (fd < 0 || fd >= SM_FD_MAX || sm_own_table) /* a private table's numbers are not these */
        return;
    uint64_t bit = (uint64_t)1 << (fd % 64);
    if (on)
        __atomic_fetch_or(&sm_own_fds[fd / 64], bit, __ATOMIC_RELAXED);
    else
        __atomic_fetch_and(&sm_own_fds[fd / 64], ~bit, __ATOMIC_RELAXED);
}

int sm_fd_next_own(int from)
{
    if (from < 0)
        from = 0;
    for (int i = from / 64; i < SM_FD_MAX / 64; i++) {
        uint64_t b = __atomic_load_n(&sm_own_fds[i], __ATOMIC_RELAXED);
        if (i == from / 64)
            b &= ~(uint64_t)0 << (from % 64);
        if (b)
            return i * 64 + __builtin_ctzll(b);
    }
    return -1;
}

/* Does the kernel's table of descriptors hold the reserved range? Set once it was grown for it
 * (sm_fd_before_threads) or a descriptor was lifted into it; a fork child starts again (its
 * table is copied only as far as the parent's open descriptors reach). */
static int table_grown;
static pthread_once_t grown_once = PTHREAD_ONCE_INIT;

static void grown_forked(void)
{
    __atomic_store_n(&table_grown, 0, __ATOMIC_RELAXED);
}

static void grown_register(void)
{
    pthread_atfork(NULL, NULL, grown_forked);
}

/* ---- the lift gate ------------------------------------------------------------------------------
 * The kernel gives a new descriptor the lowest free number, the host's range: a descriptor the
 * library opens is there from its open until sm_fd_lift has moved and marked it. A host thread's
 * close, close_range or dup2 onto that number in that moment would close the library's file, or
 * replace it with the host's, which the lift then took for the library's (and closed the host's
 * number); a host open right after a host close of the number would hand the host's file to the
 * library the same way. So:
 *
 *   Invariant: between a library open (or dup) that makes a descriptor and the end of its lift,
 *   no host call that frees or replaces a number (close, fclose, close_range, closefrom, dup2,
 *   dup3, their raw forms, and fork, whose child would inherit the number) is in flight; and
 *   while one is, no such library open starts.
 *
 * Two counters keep it, in the manner of Dekker: a lift adds itself to `lifts`, then looks at
 * `hosts`; a host call adds itself to `hosts`, then looks at `lifts` (both sequentially
 * consistent, so at least one of the two sees the other). A lift that sees a host call backs off
 * (takes itself out, waits until no host call is in flight, tries again); a host call that sees
 * lifts stays counted and waits until they are done: lifts in flight end (an open, a dup, a
 * close: they never wait on the host) and new ones wait, so the host call is never starved and
 * waits only for the opens already under way. The waits are futex waits (async-signal-safe).
 * A thread that re-enters from a signal handler (a host call inside its own lift, or a lift
 * inside its own host call) does not wait on itself: it goes ahead, counted (the one case the
 * invariant does not cover: that thread's own handler against another thread's call).
 * No wait hangs: one that sees no call of the other side end for 2 s goes ahead (GATE_STUCK).
 * While the process has one thread (no thread start seen: pthread_create, libc's clone or a
 * trapped clone sharing the table mark it, sm_gate_shared) a host call counts nothing: no lift
 * can be in flight in another thread, and its own handlers are the case above.
 * A fork child starts with both counters at zero (no lift crosses a fork: fork is a host call);
 * a raw fork's child, which runs no atfork handler, finds counts that are its parent's and drops
 * them when it would wait on them (its pid is not the one that counted). */
static unsigned gate_lifts, gate_hosts; /* in flight (futex words) */
/* calls of each side that ended, ever: a wait that sees none end for GATE_STUCK rounds of 200 ms
 * (a vfork child killed inside its close, which shares these words and never ends its call; an
 * open or close that hangs in the kernel) goes ahead rather than hang the process */
static unsigned gate_lifts_done, gate_hosts_done;
#define GATE_STUCK 10
static unsigned gate_lift_waiters, gate_host_waiters; /* threads waiting on the other side */
static pid_t gate_pid;                                /* the process the counts belong to */
static __thread unsigned my_lifts, my_hosts;          /* this thread's own, nested */

static void gate_wait(unsigned *word, unsigned val)
{
    struct timespec ts = {0, 200 * 1000 * 1000}; /* a raw fork's child looks at its pid again */
    SM_REAL(syscall)(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void gate_wake(unsigned *word)
{
    SM_REAL(syscall)(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static pid_t gate_me(void)
{
    pid_t p = __atomic_load_n(&gate_pid, __ATOMIC_RELAXED);
    if (!p) {
        p = (pid_t)SM_REAL(syscall)(SYS_getpid);
        __atomic_store_n(&gate_pid, p, __ATOMIC_RELAXED);
    }
    return p;
}

/* Another process's counts (tested only while waiting on them). A vfork child's are its
 * parent's memory: no other thread shares its table (a copy), so it waits for nothing, and it
 * must not change them (the parent's threads' calls in flight are counted there). A raw fork's
 * child inherited a copy (no atfork handler ran): this process's threads hold none of them. */
static int gate_stale(void)
{
    pid_t p = __atomic_load_n(&gate_pid, __ATOMIC_RELAXED);
    if (!p || p == (pid_t)SM_REAL(syscall)(SYS_getpid))
        return 0;
    if (sm_vm_borrowed())
        return 1;
    __atomic_store_n(&gate_lifts, my_lifts, __ATOMIC_SEQ_CST);
    __atomic_store_n(&gate_hosts, my_hosts, __ATOMIC_SEQ_CST);
    __atomic_store_n(&gate_pid, 0, __ATOMIC_RELAXED);
    return 1;
}

void sm_lift_begin(void)
{
    if (sm_own_table)
        return; /* nothing it opens is in the program's table */
    if (!my_lifts && !my_hosts) {
        (void)gate_me();
        for (int stuck = 0;;) {
            my_lifts++; /* before the count: a handler's host call in between goes ahead */
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            __atomic_add_fetch(&gate_lifts, 1, __ATOMIC_SEQ_CST);
            unsigned h = __atomic_load_n(&gate_hosts, __ATOMIC_SEQ_CST);
            if (!h || stuck >= GATE_STUCK)
                return;
            /* a host call is in flight: out of its way until it is done */
            if (__atomic_sub_fetch(&gate_lifts, 1, __ATOMIC_SEQ_CST) == 0 &&
                __atomic_load_n(&gate_host_waiters, __ATOMIC_SEQ_CST))
                gate_wake(&gate_lifts);
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            my_lifts--;
            __atomic_add_fetch(&gate_lift_waiters, 1, __ATOMIC_SEQ_CST);
            while ((h = __atomic_load_n(&gate_hosts, __ATOMIC_SEQ_CST)) != 0 && !gate_stale() &&
                   stuck < GATE_STUCK) {
                unsigned done = __atomic_load_n(&gate_hosts_done, __ATOMIC_SEQ_CST);
                gate_wait(&gate_hosts, h);
                stuck = __atomic_load_n(&gate_hosts_done, __ATOMIC_SEQ_CST) == done ? stuck + 1 : 0;
            }
            __atomic_sub_fetch(&gate_lift_waiters, 1, __ATOMIC_SEQ_CST);
        }
    } else {
        my_lifts++;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        __atomic_add_fetch(&gate_lifts, 1, __ATOMIC_SEQ_CST); /* nested: goes ahead */
    }
}

void sm_lift_end(void)
{
    if (sm_own_table)
        return;
    __atomic_add_fetch(&gate_lifts_done, 1, __ATOMIC_SEQ_CST);
    if (__atomic_sub_fetch(&gate_lifts, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&gate_host_waiters, __ATOMIC_SEQ_CST))
        gate_wake(&gate_lifts);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    my_lifts--; /* after the count: a handler's host call meanwhile still goes ahead */
}

/* Registered before the process's second thread starts (the host's or the library's first):
 * until then no lift or host call is in flight in another thread at a fork, and no lift of
 * another thread's can be between its open and its lift while a host call frees a number
 * (sm_host_alone). */
int sm_gate_registered;
/* this thread's host brackets that took no gate (the process had one thread at their start) */
static __thread unsigned host_free;

void sm_host_fd_begin(void)
{
    if (sm_host_alone()) {
        host_free++;
        return;
    }
    /* this thread's own count first: a handler's lift between the two sees it, and goes ahead
     * instead of waiting on the call it interrupted */
    int nested = my_lifts || my_hosts;
    my_hosts++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_add_fetch(&gate_hosts, 1, __ATOMIC_SEQ_CST);
    if (nested) /* a handler inside this thread's own lift or host call */
        return;
    unsigned l = __atomic_load_n(&gate_lifts, __ATOMIC_SEQ_CST);
    if (__builtin_expect(!l, 1))
        return;
    __atomic_add_fetch(&gate_host_waiters, 1, __ATOMIC_SEQ_CST);
    for (int stuck = 0; (l = __atomic_load_n(&gate_lifts, __ATOMIC_SEQ_CST)) != 0 &&
                        !gate_stale() && stuck < GATE_STUCK;) {
        unsigned done = __atomic_load_n(&gate_lifts_done, __ATOMIC_SEQ_CST);
        gate_wait(&gate_lifts, l);
        stuck = __atomic_load_n(&gate_lifts_done, __ATOMIC_SEQ_CST) == done ? stuck + 1 : 0;
    }
    __atomic_sub_fetch(&gate_host_waiters, 1, __ATOMIC_SEQ_CST);
}

void sm_host_fd_end(void)
{
    if (host_free) {
        host_free--;
        return;
    }
    __atomic_add_fetch(&gate_hosts_done, 1, __ATOMIC_SEQ_CST);
    if (__atomic_sub_fetch(&gate_hosts, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&gate_lift_waiters, __ATOMIC_SEQ_CST))
        gate_wake(&gate_hosts);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (my_hosts)
        my_hosts--; /* after the count, as at the start */
}

/* A vfork child (sm_real.h): the process whose words these are recorded its pid (gate_pid); a
 * process of another pid whose memory is that process's (kcmp KCMP_VM; refused or unknown, taken
 * as shared: the parent's state is what must not change) is one. A raw fork's child has memory
 * of its own. */
int sm_vm_parents(void)
{
    long me = SM_REAL(syscall)(SYS_getpid), parent = SM_REAL(syscall)(SYS_getppid);
    long r = SM_REAL(syscall)(SYS_kcmp, me, parent, KCMP_VM, 0L, 0L);
    return r == 0 ? 1 : r > 0 ? 0 : -1;
}

int sm_vm_borrowed(void)
{
    pid_t p = __atomic_load_n(&gate_pid, __ATOMIC_RELAXED), me;
    if (!p || p == (me = (pid_t)SM_REAL(syscall)(SYS_getpid)))
        return 0;
    long r = SM_REAL(syscall)(SYS_kcmp, (long)me, (long)p, KCMP_VM, 0L, 0L);
    return r <= 0;
}

/* ---- descriptors the library holds for a moment (sm_real.h) -----------------------------------
 * Such a descriptor is at a number of the host's range from its open to its close: a host
 * thread's dup2 onto that number in between (the program's right: the number is free for it)
 * would have the library read, write or stat the program's file there, and close it; a close
 * and an open of the program's would do the same. So its whole life is one lift of the gate
 * above. The gate is not taken where no other thread shares the table, decided here by the pid
 * the gate recorded: none yet (gate_register records it before the process's second thread
 * starts, a lift at the first lift), or another process's: a vfork child (its table is a copy,
 * the gate's words are its parent's memory, which its waits and its pid must not touch) or a
 * raw fork's child (one thread). brief_free counts this thread's brackets that took none. */
static __thread unsigned brief_free;

void sm_brief_begin(void)
{
    pid_t p = __atomic_load_n(&gate_pid, __ATOMIC_RELAXED);
    if (!p || p != (pid_t)SM_REAL(syscall)(SYS_getpid)) {
        brief_free++;
        return;
    }
    sm_lift_begin();
}

void sm_brief_end(void)
{
    if (brief_free) {
        brief_free--;
        return;
    }
    sm_lift_end();
}

int sm_brief_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    sm_brief_begin();
    int fd = SM_REAL(openat)(dirfd, path, flags | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        sm_brief_end();
        errno = e;
    }
    return fd;
}

void sm_brief_close(int fd)
{
    int e = errno;
    SM_REAL(close)(fd);
    sm_brief_end();
    errno = e;
}

static void gate_fork_prepare(void)
{
    sm_host_fd_begin();
}

static void gate_fork_parent(void)
{
    sm_host_fd_end();
}

static void gate_fork_child(void)
{
    /* a fork inside another thread's raised call: the child, whose limit is the raised one, puts
     * the program's back */
    if (__atomic_load_n(&fd_raisers, __ATOMIC_RELAXED)) {
        __atomic_store_n(&fd_raisers, 1, __ATOMIC_RELAXED);
        fd_lower();
    }
    /* this thread is the child's only one: its own counts are all there are */
    my_hosts = 0;
    __atomic_store_n(&gate_hosts, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&gate_lifts, my_lifts, __ATOMIC_SEQ_CST);
    __atomic_store_n(&gate_lift_waiters, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&gate_host_waiters, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&gate_pid, 0, __ATOMIC_RELAXED);
}

void sm_gate_shared(void)
{
    (void)gate_me(); /* the process is about to have a second thread: brief holds gate now */
    __atomic_store_n(&sm_gate_registered, 1, __ATOMIC_SEQ_CST);
}

static int gate_atfork;

static void gate_register(void)
{
    sm_gate_shared();
    if (!__atomic_load_n(&gate_atfork, __ATOMIC_ACQUIRE) &&
        !__atomic_exchange_n(&gate_atfork, 1, __ATOMIC_ACQ_REL))
        pthread_atfork(gate_fork_prepare, gate_fork_parent, gate_fork_child);
}

int sm_lift_end_fd(int fd)
{
    fd = sm_fd_lift(fd);
    sm_lift_end();
    return fd;
}

int sm_fd_lift(int fd)
{
    if (fd < 0 || sm_own_table)
        return fd;
    int base = fd_base_get();
    if (fd < base) {
        int saved = errno;
        int nfd = dup_up(fd, base);
        if (nfd >= 0) {
            SM_REAL(close)(fd);
            fd = nfd;
            __atomic_store_n(&table_grown, 1, __ATOMIC_RELAXED);
        }
        errno = saved;
    }
    fd_mark(fd, 1);
    return fd;
}

/* The kernel grows a process's table of descriptors when a number above its size is taken, and
 * while the table is shared by several threads each growth first waits for an RCU grace period
 * (fs/file.c, expand_fdtable): 5-17 ms on a loaded 2-core VM, against 30 us with one thread. The
 * library's first descriptor (the tree fd) is lifted at the process's first call under the
 * prefix, and when that call comes from one of a crawl's 16 workers, every worker waits for it.
 * So a process grows its table to hold the reserved range just before it starts its first
 * thread, while one thread is all it has: an O_PATH descriptor on "/" (whose close drops no
 * POSIX lock), one copy of it at the range's top, both closed: four calls and the table's
 * memory (8 bytes a number), once per process that starts threads. A process that never starts
 * one, or that lifted a descriptor already, pays nothing. */
void sm_fd_before_threads(void)
{
    gate_register();
    if (__builtin_expect(__atomic_load_n(&table_grown, __ATOMIC_RELAXED), 1) ||
        __atomic_exchange_n(&table_grown, 1, __ATOMIC_RELAXED))
        return;
    pthread_once(&grown_once, grown_register);
    int saved = errno, base = fd_base_get(), top = __atomic_load_n(&fd_top, __ATOMIC_RELAXED);
    if (base < top) { /* else no range is reserved */
        int p = SM_REAL(openat)(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0);
        if (p >= 0) {
            int hi = dup_up(p, top - 1);
            if (hi >= 0)
                SM_REAL(close)(hi);
            SM_REAL(close)(p);
        }
    }
    errno = saved;
}

int sm_fd_lift2(int rc, int fds[2])
{
    if (rc == 0) {
        fds[0] = sm_fd_lift(fds[0]);
        fds[1] = sm_fd_lift(fds[1]);
    }
    return rc;
}

void sm_fd_forget(int fd)
{
    fd_mark(fd, 0);
}

void sm_fd_movable(int *holder)
{
    for (int i = 0; i < MOVABLE_MAX; i++) {
        int *h = NULL;
        if (__atomic_load_n(&movable[i], __ATOMIC_ACQUIRE) == holder ||
            __atomic_compare_exchange_n(&movable[i], &h, holder, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return;
    }
}

int sm_fd_vacate(int fd)
{
    for (int i = 0; i < MOVABLE_MAX; i++) {
        int *h = __atomic_load_n(&movable[i], __ATOMIC_ACQUIRE);
        if (!h || __atomic_load_n(h, __ATOMIC_ACQUIRE) != fd)
            continue;
        int nfd = dup_up(fd, fd_base_get());
        if (nfd < 0)
            return -EBUSY; /* every number above the base is taken: it cannot move now */
        fd_mark(nfd, 1);
        __atomic_store_n(h, nfd, __ATOMIC_RELEASE);
        fd_mark(fd, 0); /* the host's dup2 closes the old number */
        return 0;
    }
    return -EBUSY;
}

void sm_fd_atfork_child(void)
{
    for (int fd = sm_fd_next_own(0); fd >= 0; fd = sm_fd_next_own(fd + 1)) {
        int keep = 0;
        for (int i = 0; i < MOVABLE_MAX; i++) {
            int *h = __atomic_load_n(&movable[i], __ATOMIC_ACQUIRE);
            keep |= h && __atomic_load_n(h, __ATOMIC_ACQUIRE) == fd;
        }
        if (!keep) {
            fd_mark(fd, 0);
            SM_REAL(close)(fd);
        }
    }
}

int sm_fd_room(int n)
{
    int base = fd_base_get(), got[8], k = 0, ok = 1;
    sm_lift_begin(); /* the placeholder and its copies are the library's until closed */
    int ph = SM_REAL(open)("/dev/null", O_RDONLY | O_CLOEXEC);
    if (ph < 0) {
        sm_lift_end();
        return 0;
    }
    for (; k < n && k < 8; k++)
        if ((got[k] = dup_up(ph, base)) < 0) {
            ok = 0;
            break;
        }
    while (k > 0) {
        int fd = got[--k];
        SM_REAL(close)(fd);
    }
    SM_REAL(close)(ph);
    sm_lift_end();
    return ok && n <= 8;
}

/* ---- shared objects the library loads ----------------------------------------------------------
 * The loader opens a shared object (and each library it needs: libcurl brings some thirty) at
 * the lowest free number, past every wrapper, reads and maps it and closes it. In the program's
 * table another thread's close of that number (a program closing what it does not know, a
 * stale close anywhere) would close it under the loader ("cannot close file descriptor",
 * "failed to map segment": the load fails and the process has no sync), and the program sees
 * the numbers meanwhile. So the load runs in a thread of the library's that first gives itself
 * a table of descriptors of its own (sm_table_own): the loader's descriptors are
 * never in the program's table, and the mappings, which are the process's, stay when the
 * thread and its table are gone. The constructors of the objects loaded run in that thread
 * (sm_in_lib: their opens are the library's). Where unshare is refused (a seccomp policy) the
 * thread loads in the shared table, as before; so does the caller when the address space is
 * limited (see below). The caller waits for the thread; should it not
 * end within DL_WAIT_MS (the caller holds the loader's lock itself: a constructor of the
 * program's writing under the prefix, where the thread would wait on that lock for ever), the
 * caller loads by itself, in the shared table, and the thread's own load is later released. */
#define DL_WAIT_MS 5000

struct dl_call {
    const char *name;
    int flags;
    void *h;
    char err[256];
    unsigned done; /* futex word: 1 once h and err are set; 2 once the caller gave up waiting */
};

static void *dl_main(void *arg)
{
    struct dl_call *c = arg;
    sm_table_own();
    void *h = SM_REAL(dlopen)(c->name, c->flags);
    if (!h) {
        const char *e = dlerror();
        snprintf(c->err, sizeof c->err, "%s", e ? e : "unknown error");
    }
    c->h = h;
    unsigned z = 0;
    if (!__atomic_compare_exchange_n(&c->done, &z, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (h) /* the caller loaded it by itself: this load's reference goes */
            dlclose(h);
        free(c);
        return NULL;
    }
    SM_REAL(syscall)(SYS_futex, &c->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return NULL;
}

void *sm_dlopen_own(const char *name, int flags, char *err, size_t errlen)
{
    /* a limited address space (ulimit -v) loads in place: the thread's first malloc would
     * reserve a malloc arena (64 MiB of it) that the cache's map may need */
    struct rlimit as;
    int roomy = getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur == RLIM_INFINITY;
    struct dl_call *c = roomy ? calloc(1, sizeof *c) : NULL;
    pthread_t t;
    if (c) {
        c->name = name; /* the caller's string: a static name, alive after a give-up */
        c->flags = flags;
    }
    if (!c || sm_thread_start(&t, NULL, dl_main, c) != 0) {
        free(c);
        void *h = SM_REAL(dlopen)(name, flags);
        if (!h && err && errlen) {
            const char *e = dlerror();
            snprintf(err, errlen, "%s", e ? e : "unknown error");
        }
        return h;
    }
    pthread_detach(t);
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += DL_WAIT_MS / 1000;
    while (__atomic_load_n(&c->done, __ATOMIC_ACQUIRE) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
        if (ms <= 0)
            break;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        SM_REAL(syscall)(SYS_futex, &c->done, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    }
    unsigned z = 0;
    if (__atomic_compare_exchange_n(&c->done, &z, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        /* not done in time: load here; the thread frees c when it ends */
        void *h = SM_REAL(dlopen)(name, flags);
        if (!h && err && errlen) {
            const char *e = dlerror();
            snprintf(err, errlen, "%s", e ? e : "unknown error");
        }
        return h;
    }
    void *h = c->h;
    if (!h && err && errlen)
        snprintf(err, errlen, "%s", c->err);
    free(c);
    return h;
}

int sm_lib_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    return SM_LIB_FD(SM_REAL(openat)(dirfd, path, flags | O_CLOEXEC, mode));
}

int sm_lib_close(int fd)
{
    sm_fd_forget(fd);
    return SM_REAL(close)(fd);
}
