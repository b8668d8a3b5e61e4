/* sud.c: arming Syscall User Dispatch (at start-up and in every new thread) and recognising Bun.
 *
 * Syscall User Dispatch is the second door, for programs that bypass libc (Bun makes its file
 * opens and stats as raw `syscall` instructions from its own code). Armed in a thread,
 * `prctl(PR_SET_SYSCALL_USER_DISPATCH)` makes every `syscall` instruction outside libc's
 * executable mapping raise SIGSYS (si_code SYS_USER_DISPATCH) in that thread, before the kernel
 * runs the call. The handler decodes the registers, answers the calls that name a path under the
 * prefix with the same cores as the libc wrappers (sm_sys_dispatch in sys.c, shared with
 * syscall()), and re-issues every other call unchanged through libc's syscall(), which lies in
 * the allowed region; the result goes back in rax.
 *
 * The files, one job each (sud_int.h holds what they share):
 *  - sud.c: arming (sm_sud_init, every thread made with pthread_create, SMSHIM_SUD) and
 *    recognising Bun;
 *  - sud_trap.c: the SIGSYS handler, re-issuing, the statistics, and syscall() while armed;
 *  - sud_signal.c: the program's SIGSYS disposition, the signal-state calls the handler and
 *    syscall() see raw, and the libc signal-state wrappers (sigaction, signal, pthread_sigmask,
 *    sigprocmask, sigsuspend, ppoll, pselect, epoll_pwait, epoll_pwait2);
 *  - sud_clone.c: clone, clone3, fork and vfork from inside the handler, and re-arming a child.
 *
 * The rules these files keep (the README's section on syscall user dispatch says why):
 *  - The SIGSYS handler stays installed: sigaction/signal for SIGSYS (and a raw rt_sigaction)
 *    record the program's handler instead, and it receives every SIGSYS that is not a dispatch
 *    trap. Trapped calls are never handed to it.
 *  - SIGSYS is never blocked in an armed thread (a forced signal that is blocked kills the
 *    process): sigprocmask, pthread_sigmask, the sa_mask of every handler, the temporary masks of
 *    sigsuspend/ppoll/pselect/epoll_pwait, and their raw forms all lose SIGSYS. The handler runs
 *    with SA_NODEFER, so a raw call made by a signal handler nested inside it traps again.
 *  - The handler runs on the thread's signal stack (SA_ONSTACK), never on the interrupted one (a
 *    goroutine's stack is 2-8 KB, smaller than the signal frame alone). Every armed thread gets
 *    a shim-owned signal stack (SUD_STACK) when it has none; the program's sigaltstack calls
 *    are made through the frame (sud_trap.c: uc_stack, which the handler's return installs), so
 *    the program still gets the stack it asks for, and a disabled one is the shim's again. A
 *    program that asks which stack it has sees the shim's (Go with cgo adopts it as its own).
 *    With an empty sa_mask the thread's mask inside the handler is the program's own
 *    (uc_sigmask): a re-issued blocking call is interrupted, restarted (SA_RESTART) or fails
 *    with EINTR exactly as it would have.
 *  - The handler reads the thread pointer (errno, sud_armed): a program that replaces it
 *    (arch_prctl(ARCH_SET_FS), as Go without cgo does) has that thread disarmed first, with a
 *    warning, so no trap ever runs on a thread pointer that is not libc's.
 *  - Calls that cannot simply be re-issued from inside a handler are handled explicitly:
 *    rt_sigreturn (resumed at libc's restorer: sud_trap.c), rt_sigprocmask (acts on uc_sigmask,
 *    which the handler's return restores) and the mask-taking waits (sud_signal.c),
 *    clone/clone3/fork/vfork (sud_clone.c).
 *  - Work that takes the loader's or libc's internal locks (the tree fd, the cache's LMDB
 *    environment, starting the sync thread, which dlopens libcurl) is done when arming, before
 *    the program's code runs. The handler allocates nothing of its own and takes no lock itself;
 *    recording a change takes LMDB's writer lock and wakes the sync thread under its mutex,
 *    which the interrupted code cannot hold: its own calls into the shim are libc calls, not raw
 *    ones (only a signal handler making a raw call under the prefix while its thread is inside
 *    the recorder could: the README lists it among the limits).
 *  - Every thread made with pthread_create is armed at its start, whatever its signal mask (Go's
 *    cgo runtime starts its threads with every signal blocked; SIGSYS alone is unblocked),
 *    except the library's own, which are known by sm_in_lib (set by their creator's thread:
 *    see sm_thread_start), not by their mask; the child of a fork is armed again; an exec'd
 *    image arms itself in its constructor (SMSHIM_SUD is passed on by exec.c).
 *  - Bun and Go executables (a .note.go.buildid note: name "Go\\0\\0", type 4) are armed without SMSHIM_SUD.
 *
 * x86_64 only; on other architectures sm_sud_init does nothing (it only records SMSHIM_SUD for
 * exec.c) and the wrappers pass every call through.
 */
#include "sud_int.h"
#include "smshim.h"

#include <link.h>
#include <sched.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int sm_sud_on; /* this process armed SUD (read by the wrappers and syscall()) */

/* "SMSHIM_SUD=<value>" when the variable was set: exec.c hands it to children */
static char sud_env[32];

const char *sm_sud_env(void)
{
    return sud_env[0] ? sud_env : NULL;
}

#if defined(__x86_64__)

/* ---- per-thread state and what arming found -------------------------------------------------- */

/* The selector byte the kernel reads on every syscall outside the allowed region. It stays
 * BLOCK: the shim's own calls go through libc, which is the allowed region. */
static __thread volatile char sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
__thread int sud_armed; /* this thread is armed */

int sm_sud_thread_armed(void)
{
    return sud_armed;
}

static uintptr_t region_start, region_len; /* libc's executable mapping */
uintptr_t sud_restorer;                    /* libc's __restore_rt: mov $15,%rax; syscall */
long (*sud_real_syscall)(long, ...);       /* libc's syscall(), in the region */
int sud_stub_ok;                           /* libc's syscall() ends "syscall; cmp; jae; ret" */

/* ---- arming ---------------------------------------------------------------------------------- */

SUD_NOSAN static int arm_with(volatile char *selector)
{
    return prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, region_start, region_len,
                 selector);
}

__thread uintptr_t sud_stack; /* the shim's signal stack of this thread (its base), or 0 */

/* The thread's signal stack is the shim's when it has none (or had it disabled): the handler is
 * SA_ONSTACK and never runs on the interrupted stack. */
SUD_NOSAN uintptr_t sud_stack_map(void)
{
    void *p = mmap(NULL, SUD_STACK + 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    (void)mprotect(p, 4096, PROT_NONE); /* a guard below it */
    uintptr_t base = (uintptr_t)p + 4096;
    if (sud_stack_fill())
        memset((void *)base, SUD_STACK_FILL, SUD_STACK);
    return base;
}

SUD_NOSAN int sud_stack_ensure(void)
{
    stack_t cur;
    if (!sud_stack && !(sud_stack = sud_stack_map()))
        return -ENOMEM;
    long r = real_sys(SYS_sigaltstack, 0, (long)&cur, 0, 0, 0, 0);
    if (r < 0 || !(cur.ss_flags & SS_DISABLE))
        return (int)r;
    stack_t st = {.ss_sp = (void *)(sud_stack + SUD_SCRATCH),
                  .ss_flags = 0,
                  .ss_size = SUD_STACK - SUD_SCRATCH};
    return (int)real_sys(SYS_sigaltstack, (long)&st, 0, 0, 0, 0, 0);
}

SUD_NOSAN int sud_arm_thread(void)
{
    int rc = sud_stack_ensure();
    if (rc < 0)
        return rc;
    sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
    if (arm_with(&sud_selector) != 0)
        return -errno;
    sud_armed = 1;
    return 0;
}

/* ---- finding libc and recognising Bun -------------------------------------------------------- */

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
 * symbol versions named BUN_<version> (BUN_1.2) for the N-API and V8 symbols it exports. The
 * executable is the loader's first object; at start its list is read without the loader's lock
 * (no other thread can change it before the constructors have run), and with no libc call. */
SM_START static int is_bun_image(void)
{
    const struct link_map *m = _r_debug.r_map;
    const ElfW(Dyn) *dyn = m ? m->l_ld : NULL;
    uintptr_t base = m ? m->l_addr : 0, strtab = 0, verdef = 0;
    long num = 0;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_STRTAB)
            strtab = dyn->d_un.d_ptr;
        else if (dyn->d_tag == DT_VERDEF)
            verdef = dyn->d_un.d_ptr;
        else if (dyn->d_tag == DT_VERDEFNUM)
            num = (long)dyn->d_un.d_val;
    }
    strtab = sm_dyn_addr(base, strtab);
    verdef = sm_dyn_addr(base, verdef);
    for (long i = 0; strtab && verdef && i < num && i < 64; i++) {
        const ElfW(Verdef) *vd = (const ElfW(Verdef) *)verdef;
        if (vd->vd_cnt > 0) {
            const ElfW(Verdaux) *aux = (const ElfW(Verdaux) *)(verdef + vd->vd_aux);
            if (sm_s_ncmp((const char *)strtab + aux->vda_name, "BUN_", 4) == 0)
                return 1;
        }
        if (!vd->vd_next)
            break;
        verdef += vd->vd_next;
    }
    return 0;
}

/* A Go executable carries a note named "Go" of type 4 (the build ID, .note.go.buildid). Its
 * program headers are the kernel's AT_PHDR, its load bias the loader's first object's. */
SM_START static int is_go(void)
{
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    unsigned long n = getauxval(AT_PHNUM);
    uintptr_t bias = _r_debug.r_map ? _r_debug.r_map->l_addr : 0;
    for (unsigned long i = 0; ph && i < n; i++) {
        if (ph[i].p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(bias + ph[i].p_vaddr);
        const unsigned char *end = p + ph[i].p_memsz;
        while (p + 12 <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t nsz = (nh->n_namesz + 3) & ~3u, dsz = (nh->n_descsz + 3) & ~3u;
            if (p + 12 + nsz + dsz > end)
                break;
            if (nh->n_type == 4 && (nh->n_namesz == 3 || nh->n_namesz == 4) && p[12] == 'G' &&
                p[13] == 'o' && p[14] == '\0')
                return 1;
            p += 12 + nsz + dsz;
        }
    }
    return 0;
}

SM_START static int is_bun(void)
{
    if (is_bun_image())
        return 1;
    const char *fn = (const char *)getauxval(AT_EXECFN);
    if (fn) {
        const char *b = fn;
        for (const char *c = fn; *c; c++)
            if (*c == '/')
                b = c + 1;
        if (sm_s_eq(b, "bun"))
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

SM_START void sm_sud_init(void)
{
    const char *v = sm_env_get(SMSHIM_ENV_SUD);
    const char *why;
    if (v)
        snprintf(sud_env, sizeof sud_env, "%s=%s", SMSHIM_ENV_SUD, v);
    if (v && sm_s_eq(v, "0"))
        return;
    if (v && sm_s_eq(v, "1"))
        why = "SMSHIM_SUD=1";
    else if (is_bun())
        why = "Bun detected";
    else if (is_go())
        why = "Go executable";
    else
        return;
    if (!sm_cfg.enabled || !sm_w()->ok) /* the settings are decided now, before any trap */
        return;
    sm_real_init(); /* the real-function table is resolved lazily elsewhere: never in a handler */
    sud_real_syscall = SM_REAL(syscall);
    struct seg_q q = {(uintptr_t)sud_real_syscall, 0, 0};
    if (!sud_real_syscall || !SM_REAL(sigaction) || !dl_iterate_phdr(seg_cb, &q)) {
        sm_log(SM_LOG_ERROR, "sud: libc's executable mapping not found: not armed");
        return;
    }
    region_start = q.start;
    region_len = q.end - q.start;
    sud_stub_ok = check_stub((const unsigned char *)(uintptr_t)sud_real_syscall);

    /* what would take locks inside the handler happens now: the tree fd, the LMDB environment
     * and, with a key, the sync thread (it dlopens libcurl); afterwards a trapped write only
     * commits to LMDB and wakes that thread */
    (void)sm_tree_fd();
    struct smc *c = sm_record_env_ready();
    if (c)
        sm_sync_kick(c);

    struct sigaction sa, old, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sud_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (SM_REAL(sigaction)(SIGSYS, &sa, &old) != 0) {
        sm_log(SM_LOG_ERROR, "sud: sigaction(SIGSYS): %s: not armed", strerror(errno));
        return;
    }
    SM_REAL(sigaction)(SIGSYS, NULL, &cur);
    sud_restorer = (uintptr_t)cur.sa_restorer;
    static const unsigned char rt[] = {0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05};
    if (sud_restorer < region_start || sud_restorer >= region_start + region_len ||
        memcmp((const void *)sud_restorer, rt, sizeof rt) != 0) {
        sm_log(SM_LOG_ERROR, "sud: libc's signal restorer not recognised: not armed");
        SM_REAL(sigaction)(SIGSYS, &old, NULL);
        return;
    }
    sud_prog_adopt(&old);
    sud_stats_init();

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

/* ---- threads --------------------------------------------------------------------------------- */

struct sud_start {
    void *(*fn)(void *);
    void *arg;
    size_t size; /* the thread's stack size (stack.c), 0 when not known */
    int arm;     /* arm it for syscall user dispatch */
};

SUD_NOSAN static void *sud_thread_start(void *p)
{
    struct sud_start s = *(struct sud_start *)p;
    free(p);
    if (s.size) /* every frame the thread has lies below this one's */
        sm_stack_note((uintptr_t)__builtin_frame_address(0) + 16, s.size);
    if (s.arm) {
        sigset_t m;
        sigemptyset(&m);
        sigaddset(&m, SIGSYS);
        /* whatever mask its creator gave it (Go's cgo runtime blocks everything): a trap while
         * SIGSYS is blocked would kill the process */
        SM_REAL(pthread_sigmask)(SIG_UNBLOCK, &m, NULL);
        int rc = sud_arm_thread();
        if (rc < 0)
            sm_log(SM_LOG_ERROR, "sud: cannot arm a new thread: %s", strerror(-rc));
    }
    return s.fn(s.arg);
}

/* The stack size a thread made with attr gets, 0 when not known. */
static size_t stack_size(const pthread_attr_t *attr)
{
    size_t size = 0;
    pthread_attr_t d;
    if (attr) {
        if (SM_REAL(pthread_attr_getstacksize)(attr, &size) != 0)
            return 0;
    } else {
        if (SM_REAL(pthread_getattr_default_np)(&d) != 0)
            return 0;
        int rc = SM_REAL(pthread_attr_getstacksize)(&d, &size);
        SM_REAL(pthread_attr_destroy)(&d);
        if (rc != 0)
            return 0;
    }
    return size;
}

SUD_NOSAN SM_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr,
                                       void *(*fn)(void *), void *arg)
{
    if (SM_UNLIKELY(sm_in_lib)) /* a thread libcurl starts from the sync thread: the library's */
        return sm_thread_starting() ? SM_REAL(pthread_create)(t, attr, fn, arg)
                                    : sm_thread_start_passed(t, attr, fn, arg);
    size_t size = 0;
    if (SM_LIKELY(sm_cfg.enabled)) {
        sm_fd_before_threads();  /* while the process has one thread: cheap */
        size = stack_size(attr); /* its stack is known to the shim's work (stack.c) */
    }
    int arm = __atomic_load_n(&sm_sud_on, __ATOMIC_ACQUIRE);
    if (SM_LIKELY(!arm) && SM_UNLIKELY(!size))
        return SM_REAL(pthread_create)(t, attr, fn, arg);
    struct sud_start *s = malloc(sizeof *s);
    if (!s)
        return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    s->size = size;
    s->arm = arm;
    int rc = SM_REAL(pthread_create)(t, attr, sud_thread_start, s);
    if (rc != 0)
        free(s);
    return rc;
}

#else /* !__x86_64__ */

void sm_sud_init(void)
{
    const char *v = sm_env_get(SMSHIM_ENV_SUD);
    if (v)
        snprintf(sud_env, sizeof sud_env, "%s=%s", SMSHIM_ENV_SUD, v);
}

#endif

/* libc's clone: one that shares the table of descriptors (a thread made without pthread_create,
 * or a process sharing it) readies the gate and the table as pthread_create does; one whose
 * child shares the memory and not the fs (or the reverse) ends what is known of the cwd. The three
 * optional arguments are read whatever the caller passed (libc's clone reads those its flags
 * name). Such a thread is not armed for syscall user dispatch. */
__attribute__((no_sanitize("address"))) SM_EXPORT int clone(int (*fn)(void *), void *stack,
                                                            int flags, void *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    pid_t *ptid = va_arg(ap, pid_t *);
    void *tls = va_arg(ap, void *);
    pid_t *ctid = va_arg(ap, pid_t *);
    va_end(ap);
    if ((flags & CLONE_FILES) && SM_LIKELY(sm_cfg.enabled) && !sm_in_lib)
        sm_fd_before_threads();
    sm_cwd_cloning((unsigned long)(unsigned)flags); /* a cwd of the child's own (path.c) */
    return SM_REAL(clone)(fn, stack, flags, arg, ptid, tls, ctid);
}
