/* stat.c: questions about a path: the stat and access families, statfs, statvfs, pathconf and
 * inotify watches. A virtual entry's identity, size and times are those of its real inode in
 * the tree, so a path stat and an fstat of an fd opened on it always agree. */
#include "shim.h"

#include <unistd.h>

/* The size of a symbolic link is the length of its target. A link whose target names the tree
 * (an absolute target under the prefix, stored translated) is shown with its virtual target by
 * readlink, so its size must be that length too. */
static long link_size(int fd, const char *path, long size)
{
    char t[PATH_MAX];
    ssize_t n = SM_REAL(readlinkat)(fd, path, t, sizeof t - 1);
    if (n < 0)
        return size;
    t[n] = '\0';
    if (sm_untranslate(t, sizeof t) > 0)
        return (long)strlen(t);
    return size;
}

/* an entry of the pre-2.33 ABI that a later interposer defines (below): the real call is its */
typedef int fxstatat_fn(int, int, const char *, struct stat *, int);

static inline int fstatat_in(int dirfd, const char *path, struct stat *st, int flags, int ver,
                             fxstatat_fn *next)
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    if ((next ? next(ver, r.fd, r.path, st, flags) : SM_REAL(fstatat)(r.fd, r.path, st, flags)) !=
        0) {
        int e = errno;
        if (e == ENOENT && r.kind == SM_TREE && sm_is_tree_fd(r.fd))
            sm_note_miss(r.path);
        return -e;
    }
    if (SM_UNLIKELY(S_ISLNK(st->st_mode)))
        st->st_size = link_size(r.fd, r.path, st->st_size);
    return 0;
}
SM_ROOMY(int, sm_fstatat_core, (int dirfd, const char *path, struct stat *st, int flags))
{
    return fstatat_in(dirfd, path, st, flags, 0, NULL);
}
int sm_fxstatat_core(int ver, int dirfd, const char *path, struct stat *st, int flags,
                     fxstatat_fn *next);
SM_ROOMY(int, sm_fxstatat_core,
         (int ver, int dirfd, const char *path, struct stat *st, int flags, fxstatat_fn *next))
{
    return fstatat_in(dirfd, path, st, flags, ver, next);
}

SM_ROOMY(int, sm_statx_core,
         (int dirfd, const char *path, int flags, unsigned mask, struct statx *stx))
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    if (SM_REAL(statx)(r.fd, r.path, flags, mask, stx) != 0) {
        int e = errno;
        if (e == ENOENT && r.kind == SM_TREE && sm_is_tree_fd(r.fd))
            sm_note_miss(r.path);
        return -e;
    }
    if (SM_UNLIKELY(S_ISLNK(stx->stx_mode)) && (stx->stx_mask & STATX_SIZE))
        stx->stx_size = (uint64_t)link_size(r.fd, r.path, (long)stx->stx_size);
    return 0;
}

SM_ROOMY(int, sm_faccessat_core, (int dirfd, const char *path, int mode, int flags))
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    if (SM_REAL(faccessat)(r.fd, r.path, mode, flags) == 0)
        return 0;
    int e = errno;
    if (e == ENOENT && r.kind == SM_TREE && sm_is_tree_fd(r.fd))
        sm_note_miss(r.path);
    return -e;
}

static SM_SLOW int stat_slow(const char *path, struct stat *st, int pre)
{
    if (!sm_look_rest(path, pre, 1))
        return SM_REAL(stat)(path, st);
    SM_CALL(sm_fstatat_core(AT_FDCWD, path, st, 0));
}
SM_EXPORT int stat(const char *path, struct stat *st)
{
    int pre = sm_pre(path, 1);
    if (SM_LIKELY(!pre))
        return SM_REAL(stat)(path, st);
    return stat_slow(path, st, pre);
}
SM_EXPORT int stat64(const char *path, struct stat64 *st) __attribute__((alias("stat")));
SM_INNER_ALIAS(stat);

static SM_SLOW int lstat_slow(const char *path, struct stat *st, int pre)
{
    if (!sm_look_rest(path, pre, 1))
        return SM_REAL(lstat)(path, st);
    SM_CALL(sm_fstatat_core(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW));
}
SM_EXPORT int lstat(const char *path, struct stat *st)
{
    int pre = sm_pre(path, 1);
    if (SM_LIKELY(!pre))
        return SM_REAL(lstat)(path, st);
    return lstat_slow(path, st, pre);
}
SM_EXPORT int lstat64(const char *path, struct stat64 *st) __attribute__((alias("lstat")));
SM_INNER_ALIAS(lstat);

static SM_SLOW int fstatat_slow(int dirfd, const char *path, struct stat *st, int flags, int pre)
{
    if (!sm_look_rest(path, pre, dirfd == AT_FDCWD))
        return SM_REAL(fstatat)(dirfd, path, st, flags);
    SM_CALL(sm_fstatat_core(dirfd, path, st, flags));
}
SM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    int pre = sm_pre(path, dirfd == AT_FDCWD);
    if (SM_LIKELY(!pre))
        return SM_REAL(fstatat)(dirfd, path, st, flags);
    return fstatat_slow(dirfd, path, st, flags, pre);
}
SM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
    __attribute__((alias("fstatat")));
SM_INNER_ALIAS(fstatat);

/* The pre-2.33 ABI (node 20 is built against it): on x86-64 the structure is the same. libc
 * keeps these as compat symbols only, so they are answered through the stat family, unless an
 * interposer preloaded after the shim defines them (sm_real_next). fakeroot does, and its stat,
 * lstat and fstatat are `__xstat(_STAT_VER, ...)` and so on through its PLT, which binds to the
 * shim's when the shim comes first: answered through the shim's stat, whose next is fakeroot's
 * stat, the call came back for ever. So a call that passes through goes on to that definition,
 * and so does one relative to a descriptor of the shim's (the program has none: it is the shim's
 * own call on its tree, already translated, coming back through the interposer's fstatat); one
 * the shim resolves is made through it too, with the resolved path (a path the resolution hands
 * back unchanged, "/tmp/.", would otherwise go round through the interposer's fstatat again). */
typedef int xstat_fn(int, const char *, struct stat *);
static void *next_xstat, *next_xstat64, *next_lxstat, *next_lxstat64, *next_fxstatat,
    *next_fxstatat64;
#define XSTAT_ENTRY(name, slot, inner, type)                                                       \
    SM_EXPORT int name(int ver, const char *path, type *st)                                        \
    {                                                                                              \
        xstat_fn *next = (xstat_fn *)sm_real_next(&slot, #name);                                   \
        if (SM_UNLIKELY(next != NULL) && !sm_maybe_cwd(path))                                      \
            return next(ver, path, (struct stat *)st);                                             \
        return SM_INNER(inner)(path, (struct stat *)st);                                           \
    }
XSTAT_ENTRY(__xstat, next_xstat, stat, struct stat)
XSTAT_ENTRY(__xstat64, next_xstat64, stat, struct stat64)
XSTAT_ENTRY(__lxstat, next_lxstat, lstat, struct stat)
XSTAT_ENTRY(__lxstat64, next_lxstat64, lstat, struct stat64)
#define FXSTATAT_ENTRY(name, slot, type)                                                           \
    SM_EXPORT int name(int ver, int dirfd, const char *path, type *st, int flags)                  \
    {                                                                                              \
        fxstatat_fn *next = (fxstatat_fn *)sm_real_next(&slot, #name);                             \
        if (SM_LIKELY(next == NULL))                                                               \
            return SM_INNER(fstatat)(dirfd, path, (struct stat *)st, flags);                       \
        if (sm_fd_is_own(dirfd) || !sm_maybe_at(dirfd, path))                                      \
            return next(ver, dirfd, path, (struct stat *)st, flags);                               \
        SM_CALL(sm_fxstatat_core(ver, dirfd, path, (struct stat *)st, flags, next));               \
    }
FXSTATAT_ENTRY(__fxstatat, next_fxstatat, struct stat)
FXSTATAT_ENTRY(__fxstatat64, next_fxstatat64, struct stat64)

static SM_SLOW int statx_slow(int dirfd, const char *path, int flags, unsigned mask,
                              struct statx *stx, int pre)
{
    if (!sm_look_rest(path, pre, dirfd == AT_FDCWD))
        return SM_REAL(statx)(dirfd, path, flags, mask, stx);
    SM_CALL(sm_statx_core(dirfd, path, flags, mask, stx));
}
SM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
    int pre = sm_pre(path, dirfd == AT_FDCWD);
    if (SM_LIKELY(!pre))
        return SM_REAL(statx)(dirfd, path, flags, mask, stx);
    return statx_slow(dirfd, path, flags, mask, stx, pre);
}

static SM_SLOW int access_slow(const char *path, int mode, int pre)
{
    if (!sm_look_rest(path, pre, 1))
        return SM_REAL(access)(path, mode);
    SM_CALL(sm_faccessat_core(AT_FDCWD, path, mode, 0));
}
SM_EXPORT int access(const char *path, int mode)
{
    int pre = sm_pre(path, 1);
    if (SM_LIKELY(!pre))
        return SM_REAL(access)(path, mode);
    return access_slow(path, mode, pre);
}

static SM_SLOW int faccessat_slow(int dirfd, const char *path, int mode, int flags, int pre)
{
    if (!sm_look_rest(path, pre, dirfd == AT_FDCWD))
        return SM_REAL(faccessat)(dirfd, path, mode, flags);
    SM_CALL(sm_faccessat_core(dirfd, path, mode, flags));
}
SM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
    int pre = sm_pre(path, dirfd == AT_FDCWD);
    if (SM_LIKELY(!pre))
        return SM_REAL(faccessat)(dirfd, path, mode, flags);
    return faccessat_slow(dirfd, path, mode, flags, pre);
}

SM_EXPORT int euidaccess(const char *path, int mode)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(euidaccess)(path, mode);
    SM_CALL(sm_faccessat_core(AT_FDCWD, path, mode, AT_EACCESS));
}
SM_EXPORT int eaccess(const char *path, int mode) __attribute__((alias("euidaccess")));

/* ---- the filesystem a path lives on, and watches on it ---------------------------------------- */

/* The calls below take no dirfd: a virtual path becomes its absolute tree path. */
#define ABS_CORE(call)                                                                             \
    struct sm_res r;                                                                               \
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &r);                           \
    if (rc < 0)                                                                                    \
        return rc;                                                                                 \
    long v = (call);                                                                               \
    return v < 0 ? -errno : (int)v;

SM_ROOMY(int, sm_statfs_core, (const char *path, struct statfs *buf))
{
    ABS_CORE(SM_REAL(statfs)(r.path, buf));
}

static int statvfs_core(const char *path, struct statvfs *buf)
{
    ABS_CORE(SM_REAL(statvfs)(r.path, buf));
}

SM_ROOMY(int, sm_inotify_add_watch_core, (int fd, const char *path, uint32_t mask))
{
    ABS_CORE(SM_REAL(inotify_add_watch)(fd, r.path, mask));
}

SM_EXPORT int statfs(const char *path, struct statfs *buf)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(statfs)(path, buf);
    SM_CALL(sm_statfs_core(path, buf));
}
SM_EXPORT int statfs64(const char *path, struct statfs64 *buf) __attribute__((alias("statfs")));

SM_EXPORT int statvfs(const char *path, struct statvfs *buf)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(statvfs)(path, buf);
    SM_CALL(statvfs_core(path, buf));
}
SM_EXPORT int statvfs64(const char *path, struct statvfs64 *buf) __attribute__((alias("statvfs")));

/* pathconf answers -1 with errno unchanged for "no limit": the real call's answer is returned
 * as it is. */
SM_EXPORT long pathconf(const char *path, int name)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(pathconf)(path, name);
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &r);
    if (rc < 0)
        return sm_ret(rc);
    return SM_REAL(pathconf)(r.path, name);
}

SM_EXPORT int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(inotify_add_watch)(fd, path, mask);
    SM_CALL(sm_inotify_add_watch_core(fd, path, mask));
}
