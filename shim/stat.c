/* stat.c: the stat and access families. A virtual entry's identity, size and times are those of
 * its real inode in the tree, so a path stat and an fstat of an fd opened on it always agree. */
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

int sm_fstatat_core(int dirfd, const char *path, struct stat *st, int flags)
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, 0, &r);
    if (rc < 0)
        return rc;
    if (SM_REAL(fstatat)(r.fd, r.path, st, flags) != 0) {
        int e = errno;
        if (e == ENOENT && r.kind == SM_TREE && sm_is_tree_fd(r.fd))
            sm_note_miss(r.path);
        return -e;
    }
    if (SM_UNLIKELY(S_ISLNK(st->st_mode)))
        st->st_size = link_size(r.fd, r.path, st->st_size);
    return 0;
}

int sm_statx_core(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, 0, &r);
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

int sm_faccessat_core(int dirfd, const char *path, int mode, int flags)
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, 0, &r);
    if (rc < 0)
        return rc;
    if (SM_REAL(faccessat)(r.fd, r.path, mode, flags) == 0)
        return 0;
    int e = errno;
    if (e == ENOENT && r.kind == SM_TREE && sm_is_tree_fd(r.fd))
        sm_note_miss(r.path);
    return -e;
}

SM_EXPORT int stat(const char *path, struct stat *st)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(stat)(path, st);
    SM_CALL(sm_fstatat_core(AT_FDCWD, path, st, 0));
}
SM_EXPORT int stat64(const char *path, struct stat64 *st) __attribute__((alias("stat")));

SM_EXPORT int lstat(const char *path, struct stat *st)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(lstat)(path, st);
    SM_CALL(sm_fstatat_core(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW));
}
SM_EXPORT int lstat64(const char *path, struct stat64 *st) __attribute__((alias("lstat")));

SM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(fstatat)(dirfd, path, st, flags);
    SM_CALL(sm_fstatat_core(dirfd, path, st, flags));
}
SM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
    __attribute__((alias("fstatat")));

/* The pre-2.33 ABI (node 20 is built against it): on x86-64 the structure is the same. */
SM_EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
    (void)ver;
    return stat(path, st);
}
SM_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st)
{
    (void)ver;
    return stat(path, (struct stat *)st);
}
SM_EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
    (void)ver;
    return lstat(path, st);
}
SM_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st)
{
    (void)ver;
    return lstat(path, (struct stat *)st);
}
SM_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    (void)ver;
    return fstatat(dirfd, path, st, flags);
}
SM_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
    (void)ver;
    return fstatat(dirfd, path, (struct stat *)st, flags);
}

SM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(statx)(dirfd, path, flags, mask, stx);
    SM_CALL(sm_statx_core(dirfd, path, flags, mask, stx));
}

SM_EXPORT int access(const char *path, int mode)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(access)(path, mode);
    SM_CALL(sm_faccessat_core(AT_FDCWD, path, mode, 0));
}

SM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(faccessat)(dirfd, path, mode, flags);
    SM_CALL(sm_faccessat_core(dirfd, path, mode, flags));
}

SM_EXPORT int euidaccess(const char *path, int mode)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(euidaccess)(path, mode);
    SM_CALL(sm_faccessat_core(AT_FDCWD, path, mode, AT_EACCESS));
}
SM_EXPORT int eaccess(const char *path, int mode) __attribute__((alias("euidaccess")));
