/* sm_real.h: libc's own functions, for every module of the library (shim/, cache/, hydrate/).
 *
 * libsmshim.so exports wrappers named like libc's functions (open, stat, close, syscall,
 * pthread_create, ...). A call by that name from inside the library would bind to the wrapper, so
 * the library never makes one: every libc function it also exports is reached through this table,
 * resolved with dlsym(RTLD_NEXT), which from the library is libc (or a later preload) and from the
 * CLI or the test runner is libc too. `make check-self` (run by `make test`) verifies that no
 * object of the library references an exported name.
 *
 * The library's own threads (the sync thread, its workers, threads libcurl starts from them) are
 * marked with sm_in_lib; so is a host thread while it runs the change recorder (LMDB). The
 * wrappers pass every call of a marked thread straight to libc, so the calls that liblmdb and
 * libcurl make through their own PLT never act as the host's calls.
 */
#ifndef SM_REAL_H
#define SM_REAL_H

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

/* Placed in .data, on the page the loader writes anyway when it maps the library (the page where
 * .data ends and .bss begins, zeroed in part): what every process writes at start, or at its
 * first real call, costs no page fault there. .data and these together stay under a page (about
 * 3.9 KB now); only for the few things every process writes (a spill costs a fault, nothing
 * else). */
#define SM_HOT __attribute__((section(".data.sm_hot")))
/* The code every process runs at start and at exit, gathered where the linker puts constructors
 * (the start of .text): a few pages, paged in together, instead of one fault in each module. */
#define SM_START __attribute__((section(".text.startup")))

/* String work for the code every process runs at start (SM_START): no libc call, since each
 * import's first call costs the loader's lookup (about 700 instructions) in every process, and no
 * loop the compiler would turn back into one (memcpy, memmove). */
#define SM_NOLIBC __attribute__((noinline, unused, optimize("no-tree-loop-distribute-patterns")))
SM_START SM_NOLIBC static size_t sm_s_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
SM_START SM_NOLIBC static int sm_s_ncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] || !a[i])
            return (unsigned char)a[i] - (unsigned char)b[i];
    return 0;
}
SM_START SM_NOLIBC static int sm_s_eq(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    return a[i] == b[i];
}
/* n bytes from s to d, front to back (d may overlap s from below, as an in-place rewrite does) */
SM_START SM_NOLIBC static void sm_s_move(char *d, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

#if defined(__x86_64__)
/** A system call made by the instruction itself, in the library's text: -errno on failure. For
 *  code that runs before libc's syscall() is resolved, or in signal handlers, and never on a
 *  thread armed for syscall user dispatch (where it would trap). */
static inline long sm_raw_syscall4(long nr, long a1, long a2, long a3, long a4)
{
    long r;
    register long r10 __asm__("r10") = a4;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}
#endif

/** An address entry (d_ptr) of a loaded object's dynamic section: ld.so relocates some of them
 *  in place and leaves others as offsets from the object's base. */
static inline uintptr_t sm_dyn_addr(uintptr_t base, uintptr_t v)
{
    return v && v < base ? v + base : v;
}

/* Every libc function the library calls for real and also exports. One entry per name, in the
 * style of SQLite's aSyscall table: the list is the single place a real function is named. */
/* clang-format off */
#define SM_REAL_LIST(X)                                                                          \
    X(open) X(openat) X(creat) X(fopen) X(freopen) X(close) X(close_range) X(dup2) X(dup3)      \
    X(dup) X(fcntl) X(fcntl64)                                                                   \
    X(stat) X(lstat) X(fstatat) X(statx) X(fstat)                                               \
    X(access) X(faccessat) X(euidaccess)                                                         \
    X(opendir) X(scandir) X(scandirat) X(nftw) X(ftw) X(glob) X(readdir) X(readdir64)             \
    X(readdir_r) X(readdir64_r)                                                                  \
    X(mkdir) X(mkdirat) X(rmdir) X(unlink) X(unlinkat) X(remove) X(rename) X(renameat)          \
    X(renameat2) X(link) X(linkat) X(symlink) X(symlinkat) X(readlink) X(readlinkat)            \
    X(truncate) X(chmod) X(fchmodat) X(lchmod) X(chown) X(lchown) X(fchownat) X(utimensat)      \
    X(utime) X(utimes) X(futimesat) X(lutimes) X(mknod) X(mknodat) X(mkfifo) X(mkfifoat)        \
    X(getxattr) X(lgetxattr) X(listxattr) X(llistxattr) X(setxattr) X(lsetxattr)                \
    X(removexattr) X(lremovexattr) X(statfs) X(statvfs) X(pathconf)                             \
    X(realpath) X(canonicalize_file_name) X(chdir) X(fchdir) X(getcwd) X(get_current_dir_name)  \
    X(chroot) X(setns) X(unshare)                                                               \
    X(syscall) X(clone) X(execve) X(fexecve) X(posix_spawn) X(posix_spawnp)                              \
    X(posix_spawn_file_actions_addopen) X(posix_spawn_file_actions_addchdir_np)                 \
    X(posix_spawn_file_actions_addfchdir_np) X(posix_spawn_file_actions_adddup2)                \
    X(posix_spawn_file_actions_addclose) X(posix_spawn_file_actions_addclosefrom_np)            \
    X(posix_spawn_file_actions_init) X(posix_spawn_file_actions_destroy)                        \
    X(dlopen) X(dlmopen) X(dlinfo) X(inotify_add_watch)                                         \
    X(fsync) X(fdatasync) X(sync) X(syncfs) X(mkdtemp) X(mkostemps) X(setenv) X(fclose)         \
    X(exit) X(_exit) X(_Exit)                                                                    \
    X(pthread_create) X(pthread_sigmask) X(sigprocmask) X(sigaction) X(signal) X(sigsuspend)     \
    X(sigaltstack) X(pthread_attr_getstacksize) X(pthread_getattr_default_np)                   \
    X(pthread_attr_destroy)                                                                     \
    X(ppoll) X(pselect) X(epoll_pwait) X(epoll_pwait2)                                         \
    X(socket) X(socketpair) X(pipe) X(pipe2) X(eventfd) X(closefrom)                           \
    X(bind) X(connect) X(sendto) X(sendmsg) X(sendmmsg) X(accept) X(accept4) X(getsockname)     \
    X(getpeername) X(recvfrom) X(recvmsg) X(recvmmsg) X(getaddrinfo)                           \
    X(setuid) X(seteuid) X(setreuid) X(setresuid) X(setgid) X(setegid) X(setregid) X(setresgid) \
    X(setgroups)
/* clang-format on */

/* glibc 2.36 has epoll_pwait2 but no header declares it everywhere */
int epoll_pwait2(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);

#define SM_REAL_FIELD(n) __typeof__(n) *n;
/* (readdir_r and readdir64_r are deprecated: the shim wraps them for the programs that call them) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
struct sm_real_tab {
    SM_REAL_LIST(SM_REAL_FIELD)
};
#pragma GCC diagnostic pop
#undef SM_REAL_FIELD
extern struct sm_real_tab sm_real_tab;

/* The signal-state wrappers run inside a sanitizer runtime's own start-up (TSan installs its
 * handlers through the next sigaction, which is the shim's, before its thread state exists):
 * they and what they call, resolving this table included, are never instrumented. */
#define SM_NOSAN __attribute__((no_sanitize("thread", "address", "undefined")))

/** Resolve every entry now, and bind this object's own imports (arming syscall dispatch: a
 *  trapped call must never reach dlsym or the loader's lazy resolver). */
void sm_real_init(void);
/** Bind every import of this object the loader left to its lazy resolver (real.c); returns how
 *  many could not be found (they stay lazy). 0 at once for an object linked with -z now. */
int sm_real_bind_imports(void);
/** Resolve one entry on first use; returns it (NULL when libc lacks it). */
void *sm_real_resolve(void **slot, const char *name);
/* Each entry is resolved on first use (a process pays only for the functions it calls). On
 * x86_64 the first use calls sm_real_resolve through sm_real_resolve_keeping (real.c), which
 * keeps every general register but rax: a wrapper's arguments stay where they are across it, so
 * its pass-through needs no registers saved and its prologue moves into the path that looks
 * closer. */
#if defined(__x86_64__)
static inline __attribute__((always_inline)) void *sm_real_resolve_kept(void **slot,
                                                                        const char *name)
{
    register void *r __asm__("rax") = slot;
    register const char *nm __asm__("r11") = name;
    __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
                     "call sm_real_resolve_keeping\n\t"
                     "leaq 128(%%rsp), %%rsp"
                     : "+r"(r)
                     : "r"(nm)
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc",
                       "memory");
    return r;
}
#else
#define sm_real_resolve_kept sm_real_resolve
#endif
#define SM_REAL(n)                                                                                 \
    ({                                                                                             \
        __typeof__(n) *sm_f_ = __atomic_load_n(&sm_real_tab.n, __ATOMIC_ACQUIRE);                  \
        __builtin_expect(sm_f_ != NULL, 1)                                                         \
            ? sm_f_                                                                                \
            : (__typeof__(n) *)sm_real_resolve_kept((void **)&sm_real_tab.n, #n);                  \
    })

/** A later object's definition of name, one of the pre-2.33 entry points the library exports
 *  (__xstat, __fxstatat, __xmknod, ...): libc has them as compat symbols only, which dlsym does
 *  not find, so this is NULL unless an interposer preloaded after the library defines them.
 *  Resolved once into *slot (its absence too: the entry points are the busy stat of programs
 *  built against an older glibc). */
void *sm_real_next_find(void **slot, const char *name);
extern char sm_real_none __attribute__((visibility("hidden"))); /* *slot: looked for, not there */
static inline void *sm_real_next(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (__builtin_expect(p == NULL, 0))
        p = sm_real_next_find(slot, name);
    return p == (void *)&sm_real_none ? NULL : p;
}

/** Non-zero while the calling thread runs the library's own code: for good in the library's
 *  threads, for the length of a call into the cache in a host thread. */
extern __thread int sm_in_lib;
/** Non-zero in a thread of the library's that gave itself a table of descriptors of its own
 *  (unshare(CLONE_FILES): the loader's thread, the resolver's): its descriptors are in no other
 *  thread's table, so they are neither lifted nor marked, and its closes are plain. */
extern __thread int sm_own_table;
/** Give the calling thread (of the library's) a table of descriptors of its own, holding none of
 *  the process's (close_range(0, ~0U, CLOSE_RANGE_UNSHARE): nothing is copied, where
 *  unshare(CLONE_FILES) copies the whole table, the shim's reserved range included; that is the
 *  fallback). Sets sm_own_table; 0, or -1 when the thread still shares the process's table. */
int sm_table_own(void);

/** Mark the calling (host) thread as running the library's code until sm_lib_leave(); nests.
 *  Every call of the shim into the cache or the sync engine is bracketed by the two. */
/** RLIMIT_FSIZE as the library last read it: -1 not yet, 0 none, 1 finite (shim/limits.c). */
extern int sm_fsize_cap __attribute__((visibility("hidden")));
/** Under a finite file size limit, block SIGXFSZ for a write of the library's: 1 when this call
 *  blocked it (the caller ends with sm_fsize_release(), which takes back what the library's
 *  writes raised and restores the mask), 0 when there is no limit or an outer bracket of this
 *  thread holds it already (shim/limits.c). */
int sm_fsize_hold(void);
void sm_fsize_release(void);
/** The calling thread's outermost bracket holds SIGXFSZ blocked. */
extern __thread unsigned char sm_fsize_held;
/** A write of the library's on a host thread outside sm_lib_enter (a log line, the links file,
 *  a copy of a process's maps, a note for smshim run): under a finite file size limit it fails
 *  with EFBIG, never raising the program's SIGXFSZ. One load without a limit. */
static inline int sm_fsize_begin(void)
{
    return __builtin_expect(__atomic_load_n(&sm_fsize_cap, __ATOMIC_RELAXED) != 0, 0)
               ? sm_fsize_hold()
               : 0;
}
static inline void sm_fsize_end(int held)
{
    if (__builtin_expect(held, 0))
        sm_fsize_release();
}
/** Non-zero while a host thread is inside the library's code (its outermost sm_lib_enter): a
 *  call under the prefix that reaches a wrapper then is a signal handler's (the library's own
 *  code never names the prefix), answered without recording (shim/shim.h, sm_look_first).
 *  sm_lib_enter's answer is for sm_lib_leave only: bit 0 the thread was in the library already,
 *  bit 1 this call holds SIGXFSZ. */
extern __thread unsigned char sm_host_lib;
static inline int sm_lib_enter(void)
{
    int was = sm_in_lib;
    if (!was)
        sm_host_lib = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* a handler never sees sm_in_lib without it */
    sm_in_lib = 1;
    return was ? 1 : sm_fsize_begin() << 1;
}
static inline void sm_lib_leave(int was)
{
    sm_fsize_end(was & 2);
    sm_in_lib = was & 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (!(was & 1))
        sm_host_lib = 0;
}

/** Start one of the library's threads: every signal blocked (none is ever delivered there, and it
 *  is never armed for syscall dispatch), sm_in_lib set before fn runs. Returns 0 or an error
 *  number, as pthread_create. */
int sm_thread_start(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
/** The same for a pthread_create that reached the shim's wrapper from one of the library's
 *  threads (libcurl's resolver): a sanitizer's interceptor, bound ahead of the wrapper for every
 *  caller, has seen this start already (fn is its own start routine), so the thread is made by
 *  libc's pthread_create: through the interceptor again, the thread would start twice in it. */
int sm_thread_start_passed(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                           void *arg);
/** Non-zero while sm_thread_start is inside the pthread_create it calls: the shim's wrapper,
 *  reached again through a sanitizer's interceptor, then only passes the call on. */
int sm_thread_starting(void);

/* ---- the library's own descriptors ------------------------------------------------------------
 * Every descriptor the library holds (LMDB's files, the tree fd, the log, libcurl's sockets, a
 * file the sync engine reads or writes) lives above the range the host uses: it is moved to the
 * top SM_FD_RESERVE numbers below RLIMIT_NOFILE's soft limit (or below SM_FD_TOP when that is
 * higher) when it is made, and marked as the library's, so that the host's close, close_range,
 * closefrom and dup2 leave it alone (shim/fd.c); to the SM_FD_RESERVE numbers just above a soft
 * limit below SM_FD_TOP when the hard limit leaves room (shim/real.c, fd_above). Where the limit
 * is too small to reserve a range, descriptors stay where the kernel put them but are still
 * marked.
 * SM_FD_TOP bounds the kernel's table: every fork copies it up to the highest open number, and a
 * listing of /proc/self/fd walks it (a descriptor at 20,000 made a fork 75 us slower and a
 * listing 46 us). A host with more descriptors than that gets the numbers around the range from
 * the kernel, which gives the lowest free one. */
#define SM_FD_TOP     4096  /* the range ends here at the highest */
#define SM_FD_MAX     65536 /* descriptors at or above this are never marked */
#define SM_FD_RESERVE 64    /* numbers reserved below the limit */

/** fd (>= 0) becomes the library's: moved into the reserved range (close-on-exec) and marked.
 *  Returns the descriptor to use (fd itself when it cannot move), or fd when fd < 0. */
int sm_fd_lift(int fd);
/** Both ends of a pipe or socket pair; 0, or -1 as the call that made them. */
int sm_fd_lift2(int rc, int fds[2]);
/** The library closed or gave up fd. */
void sm_fd_forget(int fd);
/** Is fd the library's? (bit fd of sm_own_fds, shim/real.c) */
extern uint64_t sm_own_fds[SM_FD_MAX / 64] __attribute__((visibility("hidden")));
static inline int sm_fd_is_own(int fd)
{
    return (unsigned)fd < SM_FD_MAX &&
           (__atomic_load_n(&sm_own_fds[(unsigned)fd / 64], __ATOMIC_RELAXED) >> (fd % 64)) & 1;
}
/** The lowest marked descriptor >= from, or -1. */
int sm_fd_next_own(int from);
/** *holder names a descriptor of the library's that may be moved elsewhere when the host wants
 *  its number (the tree fd, the log); registered once. Others (LMDB's, sockets) are pinned. */
void sm_fd_movable(int *holder);
/** The host wants the number of fd (a dup2 onto it): move a movable descriptor elsewhere (its
 *  holder is updated) and return 0, or -EBUSY for a pinned one. */
int sm_fd_vacate(int fd);
/** The process is about to start a thread: the first time (in this process, or since a fork), the
 *  kernel's table of descriptors is grown to hold the reserved range, which costs an RCU grace
 *  period once the table is shared by threads (shim/real.c). */
void sm_fd_before_threads(void);
/** The process may have another thread sharing its table of descriptors from now on (a clone
 *  the shim saw start one): host calls take the lift gate (sm_host_alone is 0). Async-signal-safe:
 *  what sm_fd_before_threads does besides, a SIGSYS handler cannot. */
void sm_gate_shared(void);
/** In a fork child (its only thread, before anything else of the library's runs): the parent's
 *  descriptors the child never uses (LMDB's files of the environment it abandoned, libcurl's
 *  sockets and pipes of connections whose threads are not there) are closed, so that for the
 *  child's program they do not exist at all: its dup2 onto one of their numbers is a plain
 *  dup2. The movable ones (the tree fd, the log) stay: the child uses them. Closing the child's
 *  copy of lock.mdb drops no lock of the parent's (POSIX locks are the process's, and a child
 *  inherits none). */
void sm_fd_atfork_child(void);
/** Are n (at most 8) numbers of the reserved range free now? */
int sm_fd_room(int n);

/** The lift gate (shim/real.c states its invariant). Every open, dup, socket or pipe of the
 *  library's that may land at a number of the host's range is bracketed: sm_lift_begin() before
 *  the call, sm_lift_end_fd(fd) after it (lifts and marks fd, ends the bracket, returns the fd to
 *  use; fd < 0 passes through), or sm_lift_end() when nothing is kept. */
void sm_lift_begin(void);
int sm_lift_end_fd(int fd);
void sm_lift_end(void);
/** The soft RLIMIT_NOFILE is raised to the reserved range's end, which lies above the program's
 *  limit when its hard limit leaves room (shim/real.c): 1 until sm_fd_lower(), or 0 (no range
 *  there, nothing raised). For one library open the kernel refused with EMFILE: it is made
 *  again above the program's numbers, so a program that holds every number it may have does
 *  not make the library's calls fail. Async-signal-safe. */
int sm_fd_raise(void);
void sm_fd_lower(void);
/** The library's open or dup of expr, lifted (a statement expression); made again in the range
 *  when every number of the program's is taken (expr is evaluated twice then) */
#define SM_LIB_FD(expr)                                                                            \
    ({                                                                                             \
        sm_lift_begin();                                                                           \
        int sm_lfd_ = (expr);                                                                      \
        if (sm_lfd_ < 0 && errno == EMFILE && sm_fd_raise()) {                                     \
            sm_lfd_ = (expr);                                                                      \
            int sm_lerr_ = errno;                                                                  \
            sm_fd_lower();                                                                         \
            errno = sm_lerr_;                                                                      \
        }                                                                                          \
        sm_lift_end_fd(sm_lfd_);                                                                   \
    })
/** A descriptor the library holds for a moment only (opened, used and closed inside one call: a
 *  header read, a directory opened to ask the kernel its name, a line appended) stays at the
 *  number the kernel gave it, in the host's range: its whole life is inside the lift gate, from
 *  sm_brief_begin() before the open to sm_brief_end() after the close (or the failed open), so
 *  no host call that frees or replaces a number (close, dup2, ...) runs in another thread
 *  meanwhile: the library never reads, writes or closes a program's file there. No system call
 *  is added beyond a getpid: a vfork child (the parent's memory, a copy of its table that no
 *  other thread shares) and a process with one thread take no gate. sm_brief_openat and
 *  sm_brief_close are the two for the common open; nests. */
void sm_brief_begin(void);
void sm_brief_end(void);
/** Is this process a vfork child of the one whose descriptors the library holds: its memory
 *  (the library's state) is its parent's, its table of descriptors a copy? It must then change
 *  nothing of that state; its copies of the library's descriptors close at its exec. */
int sm_vm_borrowed(void);
/** This process and its parent share their memory (a vfork child, posix_spawn's child, a clone
 *  with CLONE_VM): 1; they do not: 0; kcmp cannot tell (refused, absent): -1, for the caller to
 *  decide. */
int sm_vm_parents(void);
/** sm_brief_begin, then openat(dirfd, path, flags | O_CLOEXEC, mode): the fd, or -1 (errno set,
 *  and the bracket ended). */
int sm_brief_openat(int dirfd, const char *path, int flags, mode_t mode);
/** close(fd) of a descriptor from sm_brief_openat (or opened after sm_brief_begin), then
 *  sm_brief_end. errno is kept. */
void sm_brief_close(int fd);
/** Every host call that frees or replaces a descriptor number (close, close_range, dup2, dup3,
 *  the raw forms, fork) is bracketed by these two (shim/fd.c). Async-signal-safe. */
void sm_host_fd_begin(void);
void sm_host_fd_end(void);
/** No second thread has started in this process (shim/real.c registers the gate before the
 *  first): no lift of another thread's can be in flight, so a host call needs no bracket. */
extern int sm_gate_registered __attribute__((visibility("hidden")));
static inline int sm_host_alone(void)
{
    return !__atomic_load_n(&sm_gate_registered, __ATOMIC_ACQUIRE);
}

/** dlopen(name, flags) for the library (libcurl, cJSON, liblmdb): the loader's descriptors are
 *  opened in a table of descriptors of the loading thread's own, never in the program's
 *  (shim/real.c). On failure NULL, with dlerror's text in err (errlen bytes) when err is set. */
void *sm_dlopen_own(const char *name, int flags, char *err, size_t errlen);

/** open/openat/close for the library's own descriptors (cache/, hydrate/). */
int sm_lib_openat(int dirfd, const char *path, int flags, mode_t mode);
int sm_lib_close(int fd);

/** What the loader of the program at path needs (shim/elf.c): SM_ELF_STATIC (no loader: no
 *  preload reaches it), SM_ELF_PREFIX (the loader must look under prefix, plen bytes: the audit
 *  module), or 0. A script is read through its interpreter. The exec wrappers and `smshim run`
 *  share it. */
enum { SM_ELF_STATIC = 1, SM_ELF_PREFIX = 2 };
int sm_elf_probe(const char *path, const char *prefix, size_t plen);
/** sm_elf_probe with its buffers in mem (SM_ELF_MEM bytes, 16-aligned) instead of on the stack:
 *  the exec wrappers run on threads whose stack may be 16 KiB. */
#define SM_ELF_MEM (3 * 4096 + 1024)
int sm_elf_probe_in(const char *path, const char *prefix, size_t plen, void *mem);
/** Each DT_NEEDED, DT_RPATH and DT_RUNPATH string (tag, string) of the ELF64 object at path, in
 *  order, to cb; its first nonzero answer ends the walk and is returned. -1 when the object
 *  cannot be read. */
typedef int (*sm_elf_cb)(void *arg, int tag, const char *s);
int sm_elf_names(const char *path, sm_elf_cb cb, void *arg);
/** The "#!" line at the start of b (n bytes; as the kernel, its first 255 only): 1 with the
 *  interpreter and its optional argument (trimmed) in interp and arg, 0 when b is no script. */
int sm_shebang_split(const char *b, size_t n, char interp[256], char arg[256]);
/** The static TLS (bytes) the libraries the program at path names in DT_NEEDED take, for those
 *  found in its DT_RPATH (when it has no DT_RUNPATH), ldpath (the child's LD_LIBRARY_PATH, or
 *  NULL) or DT_RUNPATH directories, each list split as the loader splits it (SM_SEPS_*;
 *  $ORIGIN expanded; each directory passed through dir(d, out, size), which writes the
 *  path to open into out, or answers -1 to skip it); libraries found elsewhere (the system's)
 *  count nothing. Its buffers are mem (SM_ELF_TLS_MEM bytes, 16-aligned), not the stack: the
 *  exec wrappers run on threads whose stack may be 16 KiB. No malloc, no lock. */
typedef int (*sm_elf_dir_cb)(const char *d, char *out, size_t size);
#define SM_ELF_TLS_MEM (7 * 4096 + 16 * 1024)
unsigned long sm_elf_tls_need(const char *path, const char *ldpath, sm_elf_dir_cb dir, void *mem);
/** sm_elf_probe(path, NULL, 0) == SM_ELF_STATIC */
int sm_elf_static(const char *path);
/** Does the list (n bytes or up to its NUL; entries separated by any byte of seps, as the
 *  loader splits each list: SM_SEPS_*) name the prefix or a path below it? An entry spelt with
 *  "//", "." or ".." is taken as naming it (shim/elf.c). */
int sm_list_under(const char *list, size_t n, const char *prefix, size_t plen, const char *seps);
#define SM_SEPS_LIBPATH ":;" /* LD_LIBRARY_PATH (glibc: ':' and ';'; an empty entry: the cwd) */
#define SM_SEPS_PRELOAD " :" /* LD_PRELOAD */
#define SM_SEPS_RUNPATH ":"  /* DT_RUNPATH and DT_RPATH */

#endif
