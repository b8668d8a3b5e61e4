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

SM_EXPORT int close(int fd)
{
    if (SM_UNLIKELY(sm_is_tree_fd(fd)))
        sm_tree_fd_lost(fd);
    if (SM_UNLIKELY(sm_guard_on) && sm_guard_closing(fd)) {
        int rc = SM_REAL(close)(fd);
        int saved = errno;
        sm_guard_relock();
        errno = saved;
        return rc;
    }
    return SM_REAL(close)(fd);
}

SM_EXPORT int fclose(FILE *f)
{
    if (SM_UNLIKELY(sm_guard_on) && f && sm_guard_closing(fileno(f))) {
        int rc = SM_REAL(fclose)(f);
        int saved = errno;
        sm_guard_relock();
        errno = saved;
        return rc;
    }
    return SM_REAL(fclose)(f);
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

/* ---- syscall(): the numbers programs really call through it (libuv: statx, close, ...) ---- */

static long sys_ret(long r, int saved)
{
    return sm_finish(r, saved);
}

SM_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    int saved = errno;
    switch (nr) {
    case SYS_open:
        if (sm_maybe((const char *)a1))
            return sys_ret(sm_openat_core(AT_FDCWD, (const char *)a1, (int)a2, (mode_t)a3), saved);
        break;
    case SYS_openat:
        if (sm_maybe((const char *)a2))
            return sys_ret(sm_openat_core((int)a1, (const char *)a2, (int)a3, (mode_t)a4), saved);
        break;
    case SYS_stat:
    case SYS_lstat:
        if (sm_maybe((const char *)a1))
            return sys_ret(sm_fstatat_core(AT_FDCWD, (const char *)a1, (struct stat *)a2,
                                           nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : 0),
                           saved);
        break;
    case SYS_newfstatat:
        if (sm_maybe((const char *)a2))
            return sys_ret(sm_fstatat_core((int)a1, (const char *)a2, (struct stat *)a3, (int)a4),
                           saved);
        break;
    case SYS_statx:
        if (sm_maybe((const char *)a2))
            return sys_ret(sm_statx_core((int)a1, (const char *)a2, (int)a3, (unsigned)a4,
                                         (struct statx *)a5),
                           saved);
        break;
    case SYS_access:
        if (sm_maybe((const char *)a1))
            return sys_ret(sm_faccessat_core(AT_FDCWD, (const char *)a1, (int)a2, 0), saved);
        break;
    case SYS_faccessat:
    case SYS_faccessat2:
        if (sm_maybe((const char *)a2))
            return sys_ret(sm_faccessat_core((int)a1, (const char *)a2, (int)a3,
                                             nr == SYS_faccessat2 ? (int)a4 : 0),
                           saved);
        break;
    case SYS_mkdirat:
        if (sm_maybe((const char *)a2))
            return sys_ret(sm_mkdirat_core((int)a1, (const char *)a2, (mode_t)a3), saved);
        break;
    case SYS_unlinkat:
        if (sm_maybe((const char *)a2))
            return sys_ret(sm_unlinkat_core((int)a1, (const char *)a2, (int)a3), saved);
        break;
    case SYS_renameat2:
        if (sm_maybe((const char *)a2) || sm_maybe((const char *)a4))
            return sys_ret(sm_renameat2_core((int)a1, (const char *)a2, (int)a3, (const char *)a4,
                                             (unsigned)a5),
                           saved);
        break;
    case SYS_readlinkat:
        return sys_ret(sm_readlinkat_core((int)a1, (const char *)a2, (char *)a3, (size_t)a4),
                       saved);
    case SYS_close:
        if (sm_is_tree_fd((int)a1))
            sm_tree_fd_lost((int)a1);
        break;
    case SYS_getcwd: {
        char *p = getcwd((char *)a1, (size_t)a2);
        return p ? (long)strlen(p) + 1 : -1;
    }
    case SYS_chdir:
        return chdir((const char *)a1);
    case SYS_fchdir:
        return fchdir((int)a1);
    default:
        break;
    }
    return SM_REAL(syscall)(nr, a1, a2, a3, a4, a5, a6);
}
