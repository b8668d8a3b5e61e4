/* sys.c: the raw door. syscall() and the SIGSYS handler of syscall user dispatch (sud.c) hand a
 * raw call to sm_sys_dispatch, which finds it in one table and calls the same core as the libc
 * wrapper of that family (the cores are declared in shim.h, each in its family's file). */
#include "shim.h"

#include <limits.h>
#include <sys/syscall.h>

#define S(a) ((const char *)(a))
/* a string argument that is NULL or not readable memory: the kernel answers EFAULT */
#define BAD(a) (sm_look(S(a)) < 0)
#define PASS   LONG_MIN /* not the shim's call: the caller issues it itself */

/* Which arguments the pre-filter looks at (sm_maybe): bit i is argument i + 1. ANY: the call
 * concerns the shim whatever it names (the cwd, exec, readlink, descriptors). */
#define ANY 0
#define P1  1
#define P2  2
#define P3  4
#define P4  8
#define P12 (P1 | P2)
#define P24 (P2 | P4)

/* openat2(dirfd, path, struct open_how { u64 flags, mode, resolve }, size): only plain opens
 * can be translated; an open with resolve flags is the kernel's. */
static long openat2_core(long dirfd, const char *path, const uint64_t *how, size_t size)
{
    if (!how || size < 24 || how[2] != 0)
        return PASS;
    return sm_openat_core((int)dirfd, path, (int)how[0], (mode_t)how[1]);
}

/* execveat(dirfd, path, argv, envp, flags): fexecve's form, or a path the cwd resolves */
static long execveat_core(long dirfd, const char *path, long argv, long envp, long flags)
{
    if (path && path[0] == '\0' && (flags & AT_EMPTY_PATH))
        return sm_fexecve_core((int)dirfd, (char *const *)argv, (char *const *)envp);
    if (path && flags == 0 && ((int)dirfd == AT_FDCWD || path[0] == '/'))
        return sm_execve_core(path, (char *const *)argv, (char *const *)envp);
    return PASS;
}

/* rt_sigaction of SIGSEGV or SIGBUS: the program's disposition, kept by fault.c */
static long fault_sigaction_row(long sig, long act, long oact, long size)
{
    long r;
    return sm_fault_raw(sig, (const void *)act, (void *)oact, size, &r) ? r : PASS;
}

/* dup or fcntl of a descriptor of the shim's: for the host it does not exist */
static long own_row(long fd)
{
    return fd >= 0 && fd <= INT32_MAX && sm_fd_is_own((int)fd) ? -EBADF : PASS;
}

/* dup2/dup3 onto (or of) a descriptor of the shim's: refused, or made possible by moving it;
 * every dup is made by fd.c (the lift gate) */
static long dup_core(long old, long nfd, long flags, int three)
{
    return sm_dup_core((int)old, (int)nfd, (int)flags, three);
}

/* A listing of the process's fd or fdinfo directory leaves the shim's descriptors out
 * (procfd.c); an answer they filled whole is read again, as an empty one would end the
 * listing. */
static long getdents_row(long nr, long fd, long buf, long n)
{
    for (;;) {
        long r = SM_REAL(syscall)(nr, fd, buf, n);
        if (r <= 0)
            return r < 0 ? -errno : 0;
        r = sm_procfd_strip(nr == SYS_getdents64, (int)fd, (char *)buf, r);
        if (r > 0)
            return r;
    }
}

/* unix domain socket addresses (sock.c) */
#define SA(a)    ((const struct sockaddr *)(a))
#define UN(a, l) sm_sock_concerns(SA(a), (socklen_t)(l))

/* An io_uring's operations (its opens, stats, renames, closes) reach the kernel from the ring
 * itself, past every wrapper and the SIGSYS handler: a path under the prefix would not be found
 * there and a close could take one of the shim's descriptors. A ring is refused as a kernel
 * without io_uring refuses it (ENOSYS), which every user of it must expect (libuv, liburing's
 * callers, Rust's io-uring fall back to plain calls, which the shim answers); once said in the
 * log. */
static long uring_row(void)
{
    static int said;
    if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
        sm_log(SM_LOG_INFO, "io_uring_setup refused (ENOSYS): a ring's operations would reach "
                            "the kernel past the shim");
    return -ENOSYS;
}

static long sendmsg_row(long fd, long m, long flags)
{
    const struct msghdr *h = (const struct msghdr *)m;
    if (!h || !UN(h->msg_name, h->msg_namelen))
        return PASS;
    return sm_sendmsg_core((int)fd, h, (int)flags);
}

static long sendmmsg_row(long fd, long v, long vlen, long flags)
{
    struct mmsghdr *m = (struct mmsghdr *)v;
    for (unsigned i = 0; m && i < (unsigned)vlen; i++)
        if (UN(m[i].msg_hdr.msg_name, m[i].msg_hdr.msg_namelen))
            return sm_sendmmsg_core((int)fd, m, (unsigned)vlen, (int)flags);
    return PASS;
}

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* pivot_root moves the root and the cwd of every process whose root or cwd was the old root */
static long pivot_root_row(long a, long b)
{
    sm_cwd_changing();
    long r = SM_REAL(syscall)(SYS_pivot_root, a, b);
    r = r < 0 ? -errno : r;
    sm_cwd_changed();
    return r;
}

/* clone and clone3 through syscall() (their child must return where the call was made, so the
 * call is the caller's): a child that shares the memory and not the fs, or the fs and not the
 * memory, has a cwd the shim's memory cannot follow (path.c) */
static void clone_note(long nr, long a1, long a2)
{
    if (nr == SYS_clone)
        sm_cwd_cloning((unsigned long)a1);
    else if (a1 && (size_t)a2 >= sizeof(uint64_t) && ((uintptr_t)a1 & 7) == 0 &&
             sm_probe((const char *)a1) >= 0) /* the word of flags is readable (one page) */
        sm_cwd_cloning((unsigned long)*(const uint64_t *)a1);
}

/* The table: system call, the arguments that are paths, and the core that answers it. One line a
 * call, over 100 lines on purpose: every call the raw path serves is found here, in one place,
 * and the dispatcher and the list of served calls are both made from it. */
#define SM_SYS_TABLE(X)                                                                            \
    /* open and stat */                                                                            \
    X(SYS_open, P1, sm_openat_core(AT_FDCWD, S(a1), (int)a2, (mode_t)a3))                          \
    X(SYS_creat, P1, sm_openat_core(AT_FDCWD, S(a1), O_CREAT | O_WRONLY | O_TRUNC, (mode_t)a2))    \
    X(SYS_openat, P2, sm_openat_core((int)a1, S(a2), (int)a3, (mode_t)a4))                         \
    X(SYS_openat2, P2, openat2_core(a1, S(a2), (const uint64_t *)a3, (size_t)a4))                  \
    X(SYS_stat, P1, sm_fstatat_core(AT_FDCWD, S(a1), (struct stat *)a2, 0))                        \
    X(SYS_lstat, P1, sm_fstatat_core(AT_FDCWD, S(a1), (struct stat *)a2, AT_SYMLINK_NOFOLLOW))     \
    X(SYS_newfstatat, P2, sm_fstatat_core((int)a1, S(a2), (struct stat *)a3, (int)a4))             \
    X(SYS_statx, P2, sm_statx_core((int)a1, S(a2), (int)a3, (unsigned)a4, (struct statx *)a5))     \
    X(SYS_access, P1, sm_faccessat_core(AT_FDCWD, S(a1), (int)a2, 0))                              \
    X(SYS_faccessat, P2, sm_faccessat_core((int)a1, S(a2), (int)a3, 0))                            \
    X(SYS_faccessat2, P2, sm_faccessat_core((int)a1, S(a2), (int)a3, (int)a4))                     \
    X(SYS_statfs, P1, sm_statfs_core(S(a1), (struct statfs *)a2))                                  \
    X(SYS_inotify_add_watch, P2, sm_inotify_add_watch_core((int)a1, S(a2), (uint32_t)a3))          \
    /* namespace changes */                                                                        \
    X(SYS_mkdir, P1, sm_mkdirat_core(AT_FDCWD, S(a1), (mode_t)a2))                                 \
    X(SYS_mkdirat, P2, sm_mkdirat_core((int)a1, S(a2), (mode_t)a3))                                \
    X(SYS_rmdir, P1, sm_unlinkat_core(AT_FDCWD, S(a1), AT_REMOVEDIR))                              \
    X(SYS_unlink, P1, sm_unlinkat_core(AT_FDCWD, S(a1), 0))                                        \
    X(SYS_unlinkat, P2, sm_unlinkat_core((int)a1, S(a2), (int)a3))                                 \
    X(SYS_rename, P12, sm_renameat2_core(AT_FDCWD, S(a1), AT_FDCWD, S(a2), 0))                     \
    X(SYS_renameat, P24, sm_renameat2_core((int)a1, S(a2), (int)a3, S(a4), 0))                     \
    X(SYS_renameat2, P24, sm_renameat2_core((int)a1, S(a2), (int)a3, S(a4), (unsigned)a5))         \
    X(SYS_link, P12, sm_linkat_core(AT_FDCWD, S(a1), AT_FDCWD, S(a2), 0))                          \
    X(SYS_linkat, P24, sm_linkat_core((int)a1, S(a2), (int)a3, S(a4), (int)a5))                    \
    X(SYS_symlink, P2, BAD(a1) ? PASS : sm_symlinkat_core(S(a1), AT_FDCWD, S(a2)))                 \
    X(SYS_symlinkat, P3, BAD(a1) ? PASS : sm_symlinkat_core(S(a1), (int)a2, S(a3)))                \
    X(SYS_readlink, ANY,                                                                           \
      BAD(a1) ? PASS : sm_readlinkat_core(AT_FDCWD, S(a1), (char *)a2, (size_t)a3))                \
    X(SYS_readlinkat, ANY,                                                                         \
      BAD(a2) ? PASS : sm_readlinkat_core((int)a1, S(a2), (char *)a3, (size_t)a4))                 \
    X(SYS_mknod, P1, sm_mknodat_core(AT_FDCWD, S(a1), (mode_t)a2, (dev_t)a3))                      \
    X(SYS_mknodat, P2, sm_mknodat_core((int)a1, S(a2), (mode_t)a3, (dev_t)a4))                     \
    /* attributes (a NULL path to utimensat/futimesat is the descriptor's: the kernel's) */        \
    X(SYS_truncate, P1, sm_truncate_core(S(a1), (off_t)a2))                                        \
    X(SYS_chmod, P1, sm_fchmodat_core(AT_FDCWD, S(a1), (mode_t)a2, 0))                             \
    X(SYS_fchmodat, P2, sm_fchmodat_core((int)a1, S(a2), (mode_t)a3, 0))                           \
    X(SYS_chown, P1, sm_fchownat_core(AT_FDCWD, S(a1), (uid_t)a2, (gid_t)a3, 0))                   \
    X(SYS_lchown, P1,                                                                              \
      sm_fchownat_core(AT_FDCWD, S(a1), (uid_t)a2, (gid_t)a3, AT_SYMLINK_NOFOLLOW))                \
    X(SYS_fchownat, P2, sm_fchownat_core((int)a1, S(a2), (uid_t)a3, (gid_t)a4, (int)a5))           \
    X(SYS_utimensat, P2, sm_utimensat_core((int)a1, S(a2), (const struct timespec *)a3, (int)a4))  \
    X(SYS_futimesat, P2, sm_futimesat_core((int)a1, S(a2), (const struct timeval *)a3, 0))         \
    X(SYS_utimes, P1, sm_futimesat_core(AT_FDCWD, S(a1), (const struct timeval *)a2, 0))           \
    X(SYS_utime, P1, sm_utime_core(S(a1), (const struct utimbuf *)a2))                             \
    X(SYS_getxattr, P1, sm_xattr_core('g', 1, S(a1), S(a2), (void *)a3, (size_t)a4, 0))            \
    X(SYS_lgetxattr, P1, sm_xattr_core('g', 0, S(a1), S(a2), (void *)a3, (size_t)a4, 0))           \
    X(SYS_setxattr, P1, sm_xattr_core('s', 1, S(a1), S(a2), (void *)a3, (size_t)a4, (int)a5))      \
    X(SYS_lsetxattr, P1, sm_xattr_core('s', 0, S(a1), S(a2), (void *)a3, (size_t)a4, (int)a5))     \
    X(SYS_listxattr, P1, sm_xattr_core('l', 1, S(a1), NULL, (void *)a2, (size_t)a3, 0))            \
    X(SYS_llistxattr, P1, sm_xattr_core('l', 0, S(a1), NULL, (void *)a2, (size_t)a3, 0))           \
    X(SYS_removexattr, P1, sm_xattr_core('r', 1, S(a1), S(a2), NULL, 0, 0))                        \
    X(SYS_lremovexattr, P1, sm_xattr_core('r', 0, S(a1), S(a2), NULL, 0, 0))                       \
    /* unix domain sockets: a virtual path in, the virtual path back out */                        \
    X(SYS_bind, ANY, UN(a2, a3) ? sm_bind_core((int)a1, SA(a2), (socklen_t)a3) : PASS)             \
    X(SYS_connect, ANY, UN(a2, a3) ? sm_connect_core((int)a1, SA(a2), (socklen_t)a3) : PASS)       \
    X(SYS_sendto, ANY,                                                                             \
      UN(a5, a6)                                                                                   \
          ? sm_sendto_core((int)a1, (const void *)a2, (size_t)a3, (int)a4, SA(a5), (socklen_t)a6)  \
          : PASS)                                                                                  \
    X(SYS_sendmsg, ANY, sendmsg_row(a1, a2, a3))                                                   \
    X(SYS_sendmmsg, ANY, sendmmsg_row(a1, a2, a3, a4))                                             \
    X(SYS_getsockname, ANY, sm_sockname_core(0, (int)a1, (struct sockaddr *)a2, (socklen_t *)a3))  \
    X(SYS_getpeername, ANY, sm_sockname_core(1, (int)a1, (struct sockaddr *)a2, (socklen_t *)a3))  \
    X(SYS_accept, ANY, sm_accept_core((int)a1, (struct sockaddr *)a2, (socklen_t *)a3, 0, 0))      \
    X(SYS_accept4, ANY,                                                                            \
      sm_accept_core((int)a1, (struct sockaddr *)a2, (socklen_t *)a3, (int)a4, 1))                 \
    X(SYS_recvfrom, ANY,                                                                           \
      a5 ? sm_recvfrom_core((int)a1, (void *)a2, (size_t)a3, (int)a4, (struct sockaddr *)a5,       \
                            (socklen_t *)a6)                                                       \
         : PASS)                                                                                   \
    X(SYS_recvmsg, ANY, a2 ? sm_recvmsg_core((int)a1, (struct msghdr *)a2, (int)a3) : PASS)        \
    X(SYS_recvmmsg, ANY,                                                                           \
      a2 ? sm_recvmmsg_core((int)a1, (struct mmsghdr *)a2, (unsigned)a3, (int)a4,                  \
                            (struct timespec *)a5)                                                 \
         : PASS)                                                                                   \
    /* a ring whose operations the shim would never see */                                         \
    X(SYS_io_uring_setup, ANY, uring_row())                                                        \
    /* the cwd (the kernel's getcwd answers the length with its NUL and never allocates) */        \
    X(SYS_getcwd, ANY, (a1 && a2) ? sm_getcwd_core((char *)a1, (size_t)a2) : PASS)                 \
    X(SYS_chdir, ANY, BAD(a1) ? PASS : sm_chdir_core(S(a1)))                                       \
    X(SYS_fchdir, ANY, sm_fchdir_core((int)a1))                                                    \
    X(SYS_chroot, ANY, BAD(a1) ? PASS : sm_chroot_core(S(a1)))                                     \
    X(SYS_setns, ANY, sm_setns_core((int)a1, (int)a2))                                             \
    X(SYS_unshare, ANY, sm_unshare_core((int)a1))                                                  \
    X(SYS_pivot_root, ANY, pivot_root_row(a1, a2))                                                 \
    /* exec: children keep the shim */                                                             \
    X(SYS_execve, ANY,                                                                             \
      BAD(a1) ? PASS : sm_execve_core(S(a1), (char *const *)a2, (char *const *)a3))                \
    X(SYS_execveat, ANY, BAD(a2) ? PASS : execveat_core(a1, S(a2), a3, a4, a5))                    \
    /* descriptors the shim must know about */                                                     \
    X(SYS_close, ANY, sm_close_core((int)a1))                                                      \
    X(SYS_close_range, ANY, sm_close_range_core((unsigned)a1, (unsigned)a2, (unsigned)a3))         \
    X(SYS_dup, ANY, own_row(a1))                                                                   \
    X(SYS_fcntl, ANY, own_row(a1))                                                                 \
    X(SYS_dup2, ANY, dup_core(a1, a2, 0, 0))                                                       \
    X(SYS_dup3, ANY, dup_core(a1, a2, a3, 1))                                                      \
    X(SYS_getdents64, ANY, getdents_row(SYS_getdents64, a1, a2, a3))                               \
    X(SYS_getdents, ANY, getdents_row(SYS_getdents, a1, a2, a3))                                   \
    X(SYS_fsync, ANY, sm_fsync_core((int)a1, 0))                                                   \
    X(SYS_fdatasync, ANY, sm_fsync_core((int)a1, 1))                                               \
    X(SYS_syncfs, ANY, sm_fsync_core((int)a1, 2))                                                  \
    /* the shim's SIGSEGV/SIGBUS handler stays installed (fault.c) */                              \
    X(SYS_rt_sigaction, ANY, fault_sigaction_row(a1, a2, a3, a4))                                  \
    /* a file size limit changed: read again at the next call into the library (limits.c) */       \
    X(SYS_setrlimit, ANY, sm_limits_raw(SYS_setrlimit, a1, a2, a3, a4))                            \
    X(SYS_prlimit64, ANY, sm_limits_raw(SYS_prlimit64, a1, a2, a3, a4))

/* Does the call name something under the prefix (or concern the shim whatever it names)? */
/* A path that is NULL or not readable memory makes the whole call the kernel's (EFAULT). */
static int concerns(int paths, long a1, long a2, long a3, long a4)
{
    if (paths == ANY)
        return 1;
    const long a[4] = {a1, a2, a3, a4};
    int any = 0;
    for (int i = 0; i < 4; i++) {
        if (!(paths & (1 << i)))
            continue;
        int m = sm_look(S(a[i]));
        if (m < 0)
            return 0;
        any |= m;
    }
    return any;
}

/* A raw call of a thread running the library's code passes to the kernel: the library's own.
 * One that names the prefix from a host thread inside the library's code is a signal handler's
 * (sm_handler_call): a row with paths looks at them (sm_look says so), a row without (ANY: an
 * fsync, a close) stays the library's route, which takes no lock the interrupted frame holds. */
static int lib_passes(int paths)
{
    return SM_UNLIKELY(sm_in_lib) && (paths == ANY || !sm_host_lib);
}

/* The raw call `nr` with its six arguments, answered by the cores when it concerns the shim.
 * Sets *handled and returns the raw result (>= 0 or -errno) when it did the call; otherwise
 * leaves *handled 0 and the caller issues the call itself. May change errno. Allocates nothing
 * and takes no lock on its own (the change recorder may, see record.c); safe in the SUD
 * handler. A thread running the library's own code is never answered here (lib_passes). */
long sm_sys_dispatch(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *handled)
{
    (void)a6;
    long r = PASS;
    switch (nr) {
#define SM_SYS_CASE(n, paths, call)                                                                \
    case n:                                                                                        \
        if (lib_passes(paths) ? 0 : concerns(paths, a1, a2, a3, a4))                               \
            r = (call);                                                                            \
        break;
        SM_SYS_TABLE(SM_SYS_CASE)
#undef SM_SYS_CASE
    default: break;
    }
    *handled = r != PASS;
    return *handled ? r : 0;
}

/* Would sm_sys_dispatch answer this call itself (its row concerns the shim)? The SIGSYS handler
 * asks first, so that only those calls leave the program's signal stack (sud_trap.c). */
int sm_sys_wants(long nr, long a1, long a2, long a3, long a4)
{
    switch (nr) {
#define SM_SYS_WANTS(n, paths, call)                                                               \
    case n: return lib_passes(paths) ? 0 : concerns(paths, a1, a2, a3, a4);
        SM_SYS_TABLE(SM_SYS_WANTS)
#undef SM_SYS_WANTS
    default: return 0;
    }
}

/* Six arguments are read whatever the caller passed, as libc's syscall does (the kernel takes
 * what the call needs); the sixth lies in the caller's frame, which AddressSanitizer would take
 * for an underflow of it: the reads are not instrumented. */
__attribute__((no_sanitize("address"))) SM_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    int saved = errno, handled = 0;
    long r;
    if (SM_UNLIKELY(nr == SYS_clone || nr == SYS_clone3))
        clone_note(nr, a1, a2);
    if (SM_UNLIKELY(sm_sud_on))
        r = sm_sud_syscall(nr, a1, a2, a3, a4, a5, a6, &handled);
    else
        r = sm_sys_dispatch(nr, a1, a2, a3, a4, a5, a6, &handled);
    if (handled)
        return sm_finish(r, saved);
    return SM_REAL(syscall)(nr, a1, a2, a3, a4, a5, a6);
}
