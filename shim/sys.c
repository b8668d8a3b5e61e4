/* sys.c: everything else that takes a path or must know about the shim's own descriptors:
 * syscall(), close/dup guards, fsync, dlopen, mkstemp, inotify, xattr and statfs. */
#include "shim.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- the shim's own descriptors ----------------------------------------------------------- */

/* What a close of fd means to the shim, decided before the real close: 1 relock LMDB, 2 record
 * the file `key` again (it was open for writing). */
static int closing(int fd, char key[PATH_MAX])
{
    if (SM_UNLIKELY(sm_is_tree_fd(fd)))
        sm_tree_fd_lost(fd);
    if (SM_UNLIKELY(SM_GUARD_ON()) && sm_guard_closing(fd))
        return 1;
    return sm_wfd_closing(fd, key) ? 2 : 0;
}

static void closed(int what, const char *key)
{
    int saved = errno;
    if (what == 1)
        sm_guard_relock();
    else if (what == 2)
        sm_note_write(key);
    errno = saved;
}

SM_EXPORT int close(int fd)
{
    char key[PATH_MAX];
    int what = closing(fd, key);
    int rc = SM_REAL(close)(fd);
    if (SM_UNLIKELY(what))
        closed(what, key);
    return rc;
}

SM_EXPORT int fclose(FILE *f)
{
    char key[PATH_MAX];
    int what = f ? closing(fileno(f), key) : 0;
    int rc = SM_REAL(fclose)(f);
    if (SM_UNLIKELY(what))
        closed(what, key);
    return rc;
}

SM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    int t = sm_treefd_value;
    if (t >= 0 && (unsigned)t >= first && (unsigned)t <= last && !(flags & CLOSE_RANGE_CLOEXEC))
        sm_tree_fd_lost(t);
    return SM_REAL(close_range)(first, last, flags);
}

SM_EXPORT int dup2(int old, int nfd)
{
    if (SM_UNLIKELY(sm_is_tree_fd(nfd)) && old != nfd)
        sm_tree_fd_lost(nfd);
    return SM_REAL(dup2)(old, nfd);
}

SM_EXPORT int dup3(int old, int nfd, int flags)
{
    if (SM_UNLIKELY(sm_is_tree_fd(nfd)) && old != nfd)
        sm_tree_fd_lost(nfd);
    return SM_REAL(dup3)(old, nfd, flags);
}

/* ---- durability: fsync of a virtual file also makes the cache's committed state durable ---- */

static void sync_if_virtual(int fd)
{
    char key[PATH_MAX];
    if (sm_cfg.enabled && sm_key_fd(fd, key) == 0)
        sm_note_sync();
}

SM_EXPORT int fsync(int fd)
{
    int rc = SM_REAL(fsync)(fd);
    if (rc == 0) {
        int saved = errno;
        sync_if_virtual(fd);
        errno = saved;
    }
    return rc;
}

SM_EXPORT int fdatasync(int fd)
{
    int rc = SM_REAL(fdatasync)(fd);
    if (rc == 0) {
        int saved = errno;
        sync_if_virtual(fd);
        errno = saved;
    }
    return rc;
}

SM_EXPORT int syncfs(int fd)
{
    int rc = SM_REAL(syncfs)(fd);
    if (rc == 0) {
        int saved = errno;
        sync_if_virtual(fd);
        errno = saved;
    }
    return rc;
}

SM_EXPORT void sync(void)
{
    SM_REAL(sync)();
    int saved = errno;
    sm_note_sync();
    errno = saved;
}

/* ---- dlopen: a shared object stored under the prefix (a venv's C extension) --------------- */

/* Only a virtual path is rewritten; any other call is a tail call, so the loader still sees the
 * program's own return address (it picks the caller's RUNPATH from it). */
static __attribute__((noinline)) void *dlopen_virtual(const char *path, int flags)
{
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS, &r);
    if (rc < 0)
        return NULL;
    return SM_REAL(dlopen)(r.path, flags);
}

SM_EXPORT void *dlopen(const char *path, int flags)
{
    if (SM_UNLIKELY(path && strchr(path, '/') && sm_maybe(path)))
        return dlopen_virtual(path, flags);
    return SM_REAL(dlopen)(path, flags);
}

/* ---- temporary files: glibc's mkstemp opens inside itself ------------------------------------ */

/* Run the real generator on the tree path, then copy the chosen name back into the template. */
static int mktemp_core(char *tmpl, int suffixlen, int flags, int dir)
{
    struct sm_res r;
    char key[PATH_MAX];
    int rc = sm_resolve(AT_FDCWD, tmpl, SM_RES_ABS | SM_RES_MUT, &r);
    if (rc < 0)
        return rc;
    char t[PATH_MAX];
    snprintf(t, sizeof t, "%s", r.path);
    if (dir) {
        if (!SM_REAL(mkdtemp)(t))
            return -errno;
        rc = 0;
    } else {
        rc = SM_REAL(mkostemps)(t, suffixlen, flags);
        if (rc < 0)
            return -errno;
    }
    /* the generated characters sit just before the suffix in both strings */
    size_t tl = strlen(tmpl), xl = strlen(t);
    if (tl >= (size_t)suffixlen + 6 && xl >= (size_t)suffixlen + 6)
        memcpy(tmpl + tl - suffixlen - 6, t + xl - suffixlen - 6, 6);
    if (!dir && r.kind == SM_TREE && sm_key_fd(rc, key) == 0)
        sm_note_write(key);
    return rc;
}

SM_EXPORT int mkostemps(char *tmpl, int suffixlen, int flags)
{
    if (SM_LIKELY(!sm_maybe(tmpl)))
        return SM_REAL(mkostemps)(tmpl, suffixlen, flags);
    SM_CALL(mktemp_core(tmpl, suffixlen, flags, 0));
}
SM_EXPORT int mkostemps64(char *tmpl, int suffixlen, int flags) __attribute__((alias("mkostemps")));

SM_EXPORT int mkstemp(char *tmpl)
{
    return mkostemps(tmpl, 0, 0);
}
SM_EXPORT int mkstemp64(char *tmpl) __attribute__((alias("mkstemp")));

SM_EXPORT int mkostemp(char *tmpl, int flags)
{
    return mkostemps(tmpl, 0, flags);
}
SM_EXPORT int mkostemp64(char *tmpl, int flags) __attribute__((alias("mkostemp")));

SM_EXPORT int mkstemps(char *tmpl, int suffixlen)
{
    return mkostemps(tmpl, suffixlen, 0);
}
SM_EXPORT int mkstemps64(char *tmpl, int suffixlen) __attribute__((alias("mkstemps")));

SM_EXPORT char *mkdtemp(char *tmpl)
{
    if (SM_LIKELY(!sm_maybe(tmpl)))
        return SM_REAL(mkdtemp)(tmpl);
    int saved = errno;
    int rc = mktemp_core(tmpl, 0, 0, 1);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    errno = saved;
    return tmpl;
}

/* ---- calls that take a path and nothing the kernel cannot do on the tree --------------------- */

#define ABS_BODY(name, realargs, path, fail)                                                          \
    if (SM_LIKELY(!sm_maybe(path)))                                                              \
        return SM_REAL(name) realargs;                                                                \
    struct sm_res r;                                                                             \
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS, &r);                                         \
    if (rc < 0) {                                                                                \
        errno = -rc;                                                                             \
        return fail;                                                                             \
    }

SM_EXPORT int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
    ABS_BODY(inotify_add_watch, (fd, path, mask), path, -1);
    return SM_REAL(inotify_add_watch)(fd, r.path, mask);
}

SM_EXPORT int statfs(const char *path, struct statfs *buf)
{
    ABS_BODY(statfs, (path, buf), path, -1);
    return SM_REAL(statfs)(r.path, buf);
}
SM_EXPORT int statfs64(const char *path, struct statfs64 *buf) __attribute__((alias("statfs")));

SM_EXPORT int statvfs(const char *path, struct statvfs *buf)
{
    ABS_BODY(statvfs, (path, buf), path, -1);
    return SM_REAL(statvfs)(r.path, buf);
}
SM_EXPORT int statvfs64(const char *path, struct statvfs64 *buf) __attribute__((alias("statvfs")));

SM_EXPORT long pathconf(const char *path, int name)
{
    ABS_BODY(pathconf, (path, name), path, -1);
    return SM_REAL(pathconf)(r.path, name);
}

/* Extended attributes under the prefix: none are kept (the remote has none). The entry must
 * exist; then reads find no attribute and writes are not supported. Nothing from the cache's own
 * files (security labels, ...) shows through. Paths that leave the prefix go to libc as resolved. */
static int xattr_core(const struct sm_res *r, int follow, int op)
{
    struct stat st;
    if (SM_REAL(fstatat)(r->fd, r->path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
        return -errno;
    switch (op) {
    case 'g': return -ENODATA;
    case 'l': return 0;
    case 'r': return -ENODATA;
    default: return -ENOTSUP;
    }
}

#define XATTR(name, args, path, follow, op)                                                      \
    if (SM_LIKELY(!sm_maybe(path)))                                                              \
        return SM_REAL(name) args;                                                               \
    int saved = errno;                                                                           \
    struct sm_res r;                                                                             \
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS, &r);                                         \
    if (rc < 0)                                                                                  \
        return sm_finish(rc, saved);                                                             \
    if (r.kind == SM_PASS) {                                                                     \
        const char *p_ = r.path;                                                                 \
        (void)p_;                                                                                \
        return SM_REAL(name) XATTR_PASS_##name;                                                  \
    }                                                                                            \
    return sm_finish(xattr_core(&r, follow, op), saved);

#define XATTR_PASS_getxattr     (p_, name, v, n)
#define XATTR_PASS_lgetxattr    (p_, name, v, n)
#define XATTR_PASS_listxattr    (p_, list, n)
#define XATTR_PASS_llistxattr   (p_, list, n)
#define XATTR_PASS_setxattr     (p_, name, v, n, flags)
#define XATTR_PASS_lsetxattr    (p_, name, v, n, flags)
#define XATTR_PASS_removexattr  (p_, name)
#define XATTR_PASS_lremovexattr (p_, name)

SM_EXPORT ssize_t getxattr(const char *path, const char *name, void *v, size_t n)
{
    XATTR(getxattr, (path, name, v, n), path, 1, 'g');
}
SM_EXPORT ssize_t lgetxattr(const char *path, const char *name, void *v, size_t n)
{
    XATTR(lgetxattr, (path, name, v, n), path, 0, 'g');
}
SM_EXPORT ssize_t listxattr(const char *path, char *list, size_t n)
{
    XATTR(listxattr, (path, list, n), path, 1, 'l');
}
SM_EXPORT ssize_t llistxattr(const char *path, char *list, size_t n)
{
    XATTR(llistxattr, (path, list, n), path, 0, 'l');
}
SM_EXPORT int setxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    XATTR(setxattr, (path, name, v, n, flags), path, 1, 's');
}
SM_EXPORT int lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    XATTR(lsetxattr, (path, name, v, n, flags), path, 0, 's');
}
SM_EXPORT int removexattr(const char *path, const char *name)
{
    XATTR(removexattr, (path, name), path, 1, 'r');
}
SM_EXPORT int lremovexattr(const char *path, const char *name)
{
    XATTR(lremovexattr, (path, name), path, 0, 'r');
}

/* ---- raw system calls: syscall() and the SUD handler (sud.c) share one dispatch ------------ */

/* A wrapper's libc contract (-1 and errno) back to the raw one (-errno). */
static long raw_ret(long r)
{
    return r == -1 ? -(long)errno : r;
}

#define P(a) ((const char *)(a))

/* The raw call `nr` with its six arguments, answered by the same cores and wrappers as the libc
 * entry points when it names a path the shim must translate (or a descriptor it must know about).
 * Sets *handled and returns the raw result (>= 0 or -errno) when it did the call; otherwise leaves
 * *handled 0 and the caller issues the call itself. May change errno. Allocates nothing and takes
 * no lock on its own (the change recorder may, see record.c); safe in the SUD handler. */
long sm_sys_dispatch(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *handled)
{
    (void)a6;
    *handled = 1;
    switch (nr) {
    /* ---- open and stat families: the cores ---- */
    case SYS_open:
        if (sm_maybe(P(a1)))
            return sm_openat_core(AT_FDCWD, P(a1), (int)a2, (mode_t)a3);
        break;
    case SYS_creat:
        if (sm_maybe(P(a1)))
            return sm_openat_core(AT_FDCWD, P(a1), O_CREAT | O_WRONLY | O_TRUNC, (mode_t)a2);
        break;
    case SYS_openat:
        if (sm_maybe(P(a2)))
            return sm_openat_core((int)a1, P(a2), (int)a3, (mode_t)a4);
        break;
#ifdef SYS_openat2
    case SYS_openat2: {
        /* struct open_how { u64 flags, mode, resolve }: only plain opens can be translated */
        const uint64_t *how = (const uint64_t *)a3;
        if (how && (size_t)a4 >= 24 && how[2] == 0 && sm_maybe(P(a2)))
            return sm_openat_core((int)a1, P(a2), (int)how[0], (mode_t)how[1]);
        break;
    }
#endif
    case SYS_stat:
    case SYS_lstat:
        if (sm_maybe(P(a1)))
            return sm_fstatat_core(AT_FDCWD, P(a1), (struct stat *)a2,
                                   nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : 0);
        break;
    case SYS_newfstatat:
        if (sm_maybe(P(a2)))
            return sm_fstatat_core((int)a1, P(a2), (struct stat *)a3, (int)a4);
        break;
    case SYS_statx:
        if (sm_maybe(P(a2)))
            return sm_statx_core((int)a1, P(a2), (int)a3, (unsigned)a4, (struct statx *)a5);
        break;
    case SYS_access:
        if (sm_maybe(P(a1)))
            return sm_faccessat_core(AT_FDCWD, P(a1), (int)a2, 0);
        break;
    case SYS_faccessat:
    case SYS_faccessat2:
        if (sm_maybe(P(a2)))
            return sm_faccessat_core((int)a1, P(a2), (int)a3, nr == SYS_faccessat2 ? (int)a4 : 0);
        break;

    /* ---- namespace changes ---- */
    case SYS_mkdir:
        if (sm_maybe(P(a1)))
            return sm_mkdirat_core(AT_FDCWD, P(a1), (mode_t)a2);
        break;
    case SYS_mkdirat:
        if (sm_maybe(P(a2)))
            return sm_mkdirat_core((int)a1, P(a2), (mode_t)a3);
        break;
    case SYS_rmdir:
    case SYS_unlink:
        if (sm_maybe(P(a1)))
            return sm_unlinkat_core(AT_FDCWD, P(a1), nr == SYS_rmdir ? AT_REMOVEDIR : 0);
        break;
    case SYS_unlinkat:
        if (sm_maybe(P(a2)))
            return sm_unlinkat_core((int)a1, P(a2), (int)a3);
        break;
    case SYS_rename:
        if (sm_maybe(P(a1)) || sm_maybe(P(a2)))
            return sm_renameat2_core(AT_FDCWD, P(a1), AT_FDCWD, P(a2), 0);
        break;
    case SYS_renameat:
    case SYS_renameat2:
        if (sm_maybe(P(a2)) || sm_maybe(P(a4)))
            return sm_renameat2_core((int)a1, P(a2), (int)a3, P(a4),
                                     nr == SYS_renameat2 ? (unsigned)a5 : 0);
        break;
    case SYS_link:
        if (sm_maybe(P(a1)) || sm_maybe(P(a2)))
            return raw_ret(link(P(a1), P(a2)));
        break;
    case SYS_linkat:
        if (sm_maybe(P(a2)) || sm_maybe(P(a4)))
            return raw_ret(linkat((int)a1, P(a2), (int)a3, P(a4), (int)a5));
        break;
    case SYS_symlink:
        if (sm_maybe(P(a2)))
            return sm_symlinkat_core(P(a1), AT_FDCWD, P(a2));
        break;
    case SYS_symlinkat:
        if (sm_maybe(P(a3)))
            return sm_symlinkat_core(P(a1), (int)a2, P(a3));
        break;
    case SYS_readlink:
        return sm_readlinkat_core(AT_FDCWD, P(a1), (char *)a2, (size_t)a3);
    case SYS_readlinkat:
        return sm_readlinkat_core((int)a1, P(a2), (char *)a3, (size_t)a4);
    case SYS_mknod:
        if (sm_maybe(P(a1)))
            return raw_ret(mknod(P(a1), (mode_t)a2, (dev_t)a3));
        break;
    case SYS_mknodat:
        if (sm_maybe(P(a2)))
            return raw_ret(mknodat((int)a1, P(a2), (mode_t)a3, (dev_t)a4));
        break;

    /* ---- attributes ---- */
    case SYS_truncate:
        if (sm_maybe(P(a1)))
            return raw_ret(truncate(P(a1), (off_t)a2));
        break;
    case SYS_chmod:
        if (sm_maybe(P(a1)))
            return raw_ret(chmod(P(a1), (mode_t)a2));
        break;
    case SYS_fchmodat:
        if (sm_maybe(P(a2)))
            return raw_ret(fchmodat((int)a1, P(a2), (mode_t)a3, 0));
        break;
    case SYS_chown:
    case SYS_lchown:
        if (sm_maybe(P(a1)))
            return raw_ret(nr == SYS_chown ? chown(P(a1), (uid_t)a2, (gid_t)a3)
                                           : lchown(P(a1), (uid_t)a2, (gid_t)a3));
        break;
    case SYS_fchownat:
        if (sm_maybe(P(a2)))
            return raw_ret(fchownat((int)a1, P(a2), (uid_t)a3, (gid_t)a4, (int)a5));
        break;
    case SYS_utimensat: /* a NULL path is futimens on the descriptor: the kernel's business */
        if (a2 && sm_maybe(P(a2)))
            return raw_ret(utimensat((int)a1, P(a2), (const struct timespec *)a3, (int)a4));
        break;
    case SYS_futimesat:
        if (a2 && sm_maybe(P(a2)))
            return raw_ret(futimesat((int)a1, P(a2), (const struct timeval *)a3));
        break;
    case SYS_utimes:
        if (sm_maybe(P(a1)))
            return raw_ret(utimes(P(a1), (const struct timeval *)a2));
        break;
    case SYS_utime:
        if (sm_maybe(P(a1)))
            return raw_ret(utime(P(a1), (const struct utimbuf *)a2));
        break;
    case SYS_statfs:
        if (sm_maybe(P(a1)))
            return raw_ret(statfs(P(a1), (struct statfs *)a2));
        break;
    case SYS_inotify_add_watch:
        if (sm_maybe(P(a2)))
            return raw_ret(inotify_add_watch((int)a1, P(a2), (uint32_t)a3));
        break;
    case SYS_getxattr:
    case SYS_lgetxattr:
        if (sm_maybe(P(a1)))
            return raw_ret(nr == SYS_getxattr ? getxattr(P(a1), P(a2), (void *)a3, (size_t)a4)
                                              : lgetxattr(P(a1), P(a2), (void *)a3, (size_t)a4));
        break;
    case SYS_setxattr:
    case SYS_lsetxattr:
        if (sm_maybe(P(a1)))
            return raw_ret(nr == SYS_setxattr
                               ? setxattr(P(a1), P(a2), (const void *)a3, (size_t)a4, (int)a5)
                               : lsetxattr(P(a1), P(a2), (const void *)a3, (size_t)a4, (int)a5));
        break;
    case SYS_listxattr:
    case SYS_llistxattr:
        if (sm_maybe(P(a1)))
            return raw_ret(nr == SYS_listxattr ? listxattr(P(a1), (char *)a2, (size_t)a3)
                                               : llistxattr(P(a1), (char *)a2, (size_t)a3));
        break;
    case SYS_removexattr:
    case SYS_lremovexattr:
        if (sm_maybe(P(a1)))
            return raw_ret(nr == SYS_removexattr ? removexattr(P(a1), P(a2))
                                                 : lremovexattr(P(a1), P(a2)));
        break;

    /* ---- the cwd ---- */
    case SYS_getcwd:
        if (a1 && a2) { /* the kernel's contract: the length with its NUL, no allocation */
            char *p = getcwd((char *)a1, (size_t)a2);
            return p ? (long)strlen(p) + 1 : -(long)errno;
        }
        break;
    case SYS_chdir:
        return raw_ret(chdir(P(a1)));
    case SYS_fchdir:
        return raw_ret(fchdir((int)a1));

    /* ---- exec: children keep the shim ---- */
    case SYS_execve:
        return raw_ret(execve(P(a1), (char *const *)a2, (char *const *)a3));
    case SYS_execveat:
        if (a2 && P(a2)[0] == '\0' && (a5 & AT_EMPTY_PATH))
            return raw_ret(fexecve((int)a1, (char *const *)a3, (char *const *)a4));
        if (a2 && a5 == 0 && ((int)a1 == AT_FDCWD || P(a2)[0] == '/'))
            return raw_ret(execve(P(a2), (char *const *)a3, (char *const *)a4));
        break;

    /* ---- descriptors the shim must know about ---- */
    case SYS_close:
        if (sm_is_tree_fd((int)a1))
            sm_tree_fd_lost((int)a1);
        break;
    case SYS_close_range: {
        int t = sm_treefd_value;
        if (t >= 0 && (unsigned)t >= (unsigned)a1 && (unsigned)t <= (unsigned)a2 &&
            !((unsigned)a3 & CLOSE_RANGE_CLOEXEC))
            sm_tree_fd_lost(t);
        break;
    }
    case SYS_dup2:
    case SYS_dup3:
        if (sm_is_tree_fd((int)a2) && a1 != a2)
            sm_tree_fd_lost((int)a2);
        break;
    case SYS_fsync:
        return raw_ret(fsync((int)a1));
    case SYS_fdatasync:
        return raw_ret(fdatasync((int)a1));
    case SYS_syncfs:
        return raw_ret(syncfs((int)a1));
    default:
        break;
    }
    *handled = 0;
    return 0;
}
#undef P

SM_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    int saved = errno, handled = 0;
    long r;
    if (SM_UNLIKELY(sm_sud_on))
        r = sm_sud_syscall(nr, a1, a2, a3, a4, a5, a6, &handled);
    else
        r = sm_sys_dispatch(nr, a1, a2, a3, a4, a5, a6, &handled);
    if (handled)
        return sm_finish(r, saved);
    return SM_REAL(syscall)(nr, a1, a2, a3, a4, a5, a6);
}
