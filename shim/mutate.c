/* mutate.c: calls that change the namespace or an entry's attributes (mkdir, unlink, rename,
 * link, symlink, truncate, chmod, chown, utime, mknod). Changes to regular files are recorded
 * for the sync engine after the kernel has made them on the tree. */
#include "shim.h"

#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

/* ---- mkdir / rmdir / unlink ------------------------------------------------------------------ */

SM_ROOMY(int, sm_mkdirat_core, (int dirfd, const char *path, mode_t mode))
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, 0, &r);
    if (rc < 0)
        return rc;
    if (SM_REAL(mkdirat)(r.fd, r.path, mode) != 0)
        return -errno;
    if (r.kind == SM_TREE && sm_is_tree_fd(r.fd))
        sm_vdir_made(r.path);
    return 0;
}

SM_EXPORT int mkdir(const char *path, mode_t mode)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(mkdir)(path, mode);
    SM_CALL(sm_mkdirat_core(AT_FDCWD, path, mode));
}

SM_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
    if (SM_LIKELY(!sm_maybe_at(dirfd, path)))
        return SM_REAL(mkdirat)(dirfd, path, mode);
    SM_CALL(sm_mkdirat_core(dirfd, path, mode));
}

/* The prefix itself behaves like a mount point: it cannot be removed or renamed. */
static int is_root(const struct sm_res *r)
{
    return r->kind == SM_TREE && sm_is_tree_fd(r->fd) && strcmp(r->path, ".") == 0;
}

SM_ROOMY(int, sm_unlinkat_core, (int dirfd, const char *path, int flags))
{
    struct sm_res r;
    char key[PATH_MAX];
    int rc = sm_resolve(dirfd, path, SM_RES_MUT, &r);
    if (rc < 0)
        return rc;
    if (r.kind == SM_PASS)
        return SM_REAL(unlinkat)(r.fd, r.path, flags) == 0 ? 0 : -errno;
    if (is_root(&r))
        return -EBUSY;
    int have_key = 0;
    struct stat st;
    if (!(flags & AT_REMOVEDIR)) {
        if (SM_REAL(fstatat)(r.fd, r.path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            have_key = sm_key_at(r.fd, r.path, key) == 0;
    }
    if (SM_REAL(unlinkat)(r.fd, r.path, flags) != 0)
        return -errno;
    if (flags & AT_REMOVEDIR)
        sm_vdir_forget();
    if (have_key) {
        sm_note_unlink(key); /* this name's document only: the inode's other names stay */
        if (st.st_nlink > 1)
            sm_note_relink(key, NULL, &st);
    }
    return 0;
}

SM_EXPORT int unlink(const char *path)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(unlink)(path);
    SM_CALL(sm_unlinkat_core(AT_FDCWD, path, 0));
}

SM_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
    if (SM_LIKELY(!sm_maybe_at(dirfd, path)))
        return SM_REAL(unlinkat)(dirfd, path, flags);
    SM_CALL(sm_unlinkat_core(dirfd, path, flags));
}

SM_EXPORT int rmdir(const char *path)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(rmdir)(path);
    SM_CALL(sm_unlinkat_core(AT_FDCWD, path, AT_REMOVEDIR));
}

SM_EXPORT int remove(const char *path)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(remove)(path);
    int saved = errno;
    int rc = sm_unlinkat_core(AT_FDCWD, path, 0);
    if (rc == -EISDIR)
        rc = sm_unlinkat_core(AT_FDCWD, path, AT_REMOVEDIR);
    return (int)sm_finish(rc, saved);
}

/* ---- rename ------------------------------------------------------------------------------------ */

/* What r names holds: 0 (nothing, or what is not synced: a symlink, a FIFO...), 1 a regular
 * file, 2 a directory; its lstat in *st when it is not 0. */
static int held(const struct sm_res *r, struct stat *st)
{
    if (SM_REAL(fstatat)(r->fd, r->path, st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    return S_ISREG(st->st_mode) ? 1 : S_ISDIR(st->st_mode) ? 2 : 0;
}

/* The name key of the tree held a thing of kind was and now holds one of kind now (held()):
 * what it held leaves the records, what it holds enters them, at once (no scan: a process with
 * no sync thread has its records right too). A directory that leaves takes its files' records
 * with it, as when it moves out of the prefix; the files of one that arrives are recorded as
 * when it moves in. A file that stays a file is recorded as written. */
static void note_replaced(const char *key, int was, int now)
{
    if (was == 1 && now != 1)
        sm_note_unlink(key);
    else if (was == 2)
        sm_note_rename(key, NULL, 1);
    if (now == 1)
        sm_note_write(key);
    else if (now == 2)
        sm_note_tree_in(key);
}

/* renameat2(RENAME_EXCHANGE): each name then holds what the other held, whatever the two are
 * (a file and a directory, a file and a symbolic link, a name inside the prefix and one
 * outside it). */
static int exchange(const struct sm_res *a, const struct sm_res *b, unsigned flags)
{
    struct stat st;
    int ka = held(a, &st), kb = held(b, &st);
    int dirs = ka != 1 || kb != 1; /* a directory (or what the stat did not see) moves */
    if (dirs)
        sm_cwd_changing(); /* it may be (or hold) the cwd */
    int rc = SM_REAL(renameat2)(a->fd, a->path, b->fd, b->path, flags) != 0 ? -errno : 0;
    if (dirs)
        sm_cwd_changed();
    if (rc < 0)
        return rc;
    if (dirs)
        sm_vdir_forget();
    char key[PATH_MAX];
    if (a->kind == SM_TREE && sm_key_at(a->fd, a->path, key) == 0)
        note_replaced(key, ka, kb);
    if (b->kind == SM_TREE && sm_key_at(b->fd, b->path, key) == 0)
        note_replaced(key, kb, ka);
    return 0;
}

SM_ROOMY(int, sm_renameat2_core,
         (int ofd, const char *opath, int nfd, const char *npath, unsigned flags))
{
    struct sm_res a, b;
    char from[PATH_MAX], to[PATH_MAX];
    struct stat st;
    int rc = sm_resolve(ofd, opath, SM_RES_MUT, &a);
    if (rc < 0)
        return rc;
    rc = sm_resolve(nfd, npath, SM_RES_MUT, &b);
    if (rc < 0)
        return rc;
    if (is_root(&a) || is_root(&b))
        return -EBUSY;
    if (flags & RENAME_EXCHANGE)
        return exchange(&a, &b, flags);
    int kind = 0; /* held(): 0 not synced (symlink, ...), 1 file, 2 directory */
    int have_from = 0;
    if (a.kind == SM_TREE) {
        kind = held(&a, &st);
        have_from = kind && sm_key_at(a.fd, a.path, from) == 0;
    }
    if (b.kind == SM_TREE && a.kind == SM_PASS)
        kind = held(&a, &st);
    if (kind == 1 && a.kind == SM_TREE && b.kind == SM_TREE) {
        /* two names of one inode: the kernel does nothing and so is nothing recorded */
        struct stat bs;
        if (SM_REAL(fstatat)(b.fd, b.path, &bs, AT_SYMLINK_NOFOLLOW) == 0 &&
            bs.st_dev == st.st_dev && bs.st_ino == st.st_ino)
            kind = 0;
    }
    if (kind != 1)
        sm_cwd_changing(); /* a directory (or what the stat did not see) moves: it may be (or
                              hold) the cwd, into the prefix or out of it */
    rc = flags ? SM_REAL(renameat2)(a.fd, a.path, b.fd, b.path, flags)
               : SM_REAL(renameat)(a.fd, a.path, b.fd, b.path);
    rc = rc != 0 ? -errno : 0;
    if (kind != 1)
        sm_cwd_changed();
    if (rc < 0)
        return rc;
    if (kind != 1)
        sm_vdir_forget();
    if (!kind)
        return 0;
    int have_to = b.kind == SM_TREE && sm_key_at(b.fd, b.path, to) == 0;
    sm_note_rename(have_from ? from : NULL, have_to ? to : NULL, kind == 2);
    if (kind == 2 && !have_from && have_to && a.kind == SM_PASS)
        sm_note_tree_in(to); /* a directory from outside: its files are tracked now */
    if (kind == 1 && st.st_nlink > 1 && (have_from || have_to))
        sm_note_relink(have_from ? from : NULL, have_to ? to : NULL, &st);
    return 0;
}

SM_EXPORT int rename(const char *o, const char *n)
{
    if (SM_LIKELY(!sm_maybe2(o, n)))
        return SM_REAL(rename)(o, n);
    SM_CALL(sm_renameat2_core(AT_FDCWD, o, AT_FDCWD, n, 0));
}

SM_EXPORT int renameat(int ofd, const char *o, int nfd, const char *n)
{
    if (SM_LIKELY(!sm_maybe2(o, n)))
        return SM_REAL(renameat)(ofd, o, nfd, n);
    SM_CALL(sm_renameat2_core(ofd, o, nfd, n, 0));
}

SM_EXPORT int renameat2(int ofd, const char *o, int nfd, const char *n, unsigned flags)
{
    if (SM_LIKELY(!sm_maybe2(o, n)))
        return SM_REAL(renameat2)(ofd, o, nfd, n, flags);
    SM_CALL(sm_renameat2_core(ofd, o, nfd, n, flags));
}

/* ---- links ------------------------------------------------------------------------------------- */

/* Hard links are real links in the tree: both names are one inode, as on a real directory. The
 * remote has no links: each name is its own document with the file's bytes, and the inode's
 * names are recorded (cache/links.c) so that a write through one marks them all. A link between
 * the tree and a path outside it fails with EXDEV, as across filesystems, but only after the
 * kernel's own path errors (the kernel looks both paths up before it compares their mounts). */

/* The kernel's answer for a link whose two ends are on different mounts. */
static int cross_errors(const struct sm_res *a, int aflags, const struct sm_res *b)
{
    struct stat st;
    char parent[PATH_MAX];
    if (SM_REAL(fstatat)(a->fd, a->path, &st, aflags) != 0)
        return -errno;
    if (SM_REAL(fstatat)(b->fd, b->path, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return -EEXIST;
    if (errno != ENOENT)
        return -errno;
    /* the last name is missing: so must its directory be, for ENOENT */
    size_t len = strlen(b->path);
    while (len > 1 && b->path[len - 1] == '/')
        len--;
    while (len > 0 && b->path[len - 1] != '/')
        len--;
    if (len >= sizeof parent)
        return -ENAMETOOLONG;
    memcpy(parent, b->path, len);
    strcpy(parent + len, ".");
    if (SM_REAL(fstatat)(b->fd, parent, &st, 0) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? -EXDEV : -ENOTDIR;
}

/* A source given as a descriptor (AT_EMPTY_PATH, or /proc/self/fd/N followed) that is a file of
 * the tree: an unnamed one (O_TMPFILE under the prefix) or one with a name there (its key in
 * key, else ""). 1 if so, 0 if not. */
static int tree_source(const struct sm_res *a, const char *o, int aflags, char key[PATH_MAX])
{
    struct stat st, tr;
    int fd = -1, n = 0, tfd = sm_tree_fd();
    if (o && !*o && (aflags & AT_EMPTY_PATH))
        fd = a->fd;
    else if (o && sscanf(o, "/proc/self/fd/%d%n", &fd, &n) == 1 && o[n] == '\0' &&
             !(aflags & AT_SYMLINK_NOFOLLOW))
        ;
    else
        return 0;
    if (fd < 0 || tfd < 0 || SM_REAL(fstat)(fd, &st) != 0 || SM_REAL(fstat)(tfd, &tr) != 0 ||
        st.st_dev != tr.st_dev || S_ISDIR(st.st_mode))
        return 0;
    key[0] = '\0';
    if (st.st_nlink == 0)
        return 1;
    return sm_key_fd(fd, key) == 0;
}

SM_ROOMY(int, sm_linkat_core, (int ofd, const char *o, int nfd, const char *n, int flags))
{
    struct sm_res a, b;
    char from[PATH_MAX], to[PATH_MAX];
    struct stat st;
    int rc = sm_resolve(ofd, o, SM_RES_MUT, &a);
    if (rc < 0)
        return rc;
    rc = sm_resolve(nfd, n, SM_RES_MUT, &b);
    if (rc < 0)
        return rc;
    int aflags = (flags & AT_SYMLINK_FOLLOW) ? 0 : AT_SYMLINK_NOFOLLOW;
    if (o && !*o && (flags & AT_EMPTY_PATH))
        aflags |= AT_EMPTY_PATH;
    if (a.kind == SM_PASS && b.kind == SM_PASS)
        return SM_REAL(linkat)(a.fd, a.path, b.fd, b.path, flags) == 0 ? 0 : -errno;
    int have_from = 0;
    if (a.kind == SM_PASS) {
        /* only a descriptor on a file of the tree may get a name in it */
        if (!tree_source(&a, o, aflags, from))
            return cross_errors(&a, aflags, &b);
        have_from = from[0] != '\0';
    } else if (b.kind == SM_PASS) {
        return cross_errors(&a, aflags, &b);
    } else {
        /* the name linked: the source itself, or what it leads to when followed */
        have_from = SM_REAL(fstatat)(a.fd, a.path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISREG(st.st_mode) && sm_key_at(a.fd, a.path, from) == 0;
    }
    if (SM_REAL(linkat)(a.fd, a.path, b.fd, b.path, flags) != 0)
        return -errno;
    if (SM_REAL(fstatat)(b.fd, b.path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        sm_key_at(b.fd, b.path, to) == 0) {
        if (st.st_nlink < 2)
            sm_note_write(to); /* an unnamed file's first name */
        else
            sm_note_link(have_from ? from : NULL, to, &st);
    }
    return 0;
}

SM_EXPORT int link(const char *o, const char *n)
{
    if (SM_LIKELY(!sm_maybe2(o, n)))
        return SM_REAL(link)(o, n);
    SM_CALL(sm_linkat_core(AT_FDCWD, o, AT_FDCWD, n, 0));
}

SM_EXPORT int linkat(int ofd, const char *o, int nfd, const char *n, int flags)
{
    if (SM_LIKELY(!sm_maybe2(o, n)))
        return SM_REAL(linkat)(ofd, o, nfd, n, flags);
    SM_CALL(sm_linkat_core(ofd, o, nfd, n, flags));
}

/* Symbolic links are real links in the tree. An absolute target under the prefix is stored as
 * its tree path (so the kernel follows it) and shown untranslated by readlink. */
SM_ROOMY(int, sm_symlinkat_core, (const char *target, int dirfd, const char *path))
{
    struct sm_res r;
    char t[PATH_MAX];
    int rc = sm_resolve(dirfd, path, SM_RES_MUT, &r);
    if (rc < 0)
        return rc;
    if (r.kind == SM_TREE && target && target[0] == '/' && sm_under_prefix(target) >= 0) {
        rc = sm_tree_path(target + sm_cfg.plen, t, sizeof t);
        if (rc < 0)
            return rc;
        target = t;
    }
    if (r.kind == SM_TREE && target)
        sm_links_note(target);
    return SM_REAL(symlinkat)(target, r.fd, r.path) == 0 ? 0 : -errno;
}

SM_EXPORT int symlink(const char *target, const char *path)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)) || sm_look(target) < 0) /* EFAULT from the kernel */
        return SM_REAL(symlink)(target, path);
    SM_CALL(sm_symlinkat_core(target, AT_FDCWD, path));
}

SM_EXPORT int symlinkat(const char *target, int dirfd, const char *path)
{
    if (SM_LIKELY(!sm_maybe_at(dirfd, path)) || sm_look(target) < 0) /* EFAULT from the kernel */
        return SM_REAL(symlinkat)(target, dirfd, path);
    SM_CALL(sm_symlinkat_core(target, dirfd, path));
}

/* readlink: every answer that names the tree is shown as its virtual path, whatever the link
 * (/proc/self/fd/N, /proc/self/cwd, a link in the tree). */
SM_ROOMY(int, sm_readlinkat_core, (int dirfd, const char *path, char *buf, size_t len))
{
    struct sm_res r;
    char t[PATH_MAX];
    int rc = sm_resolve(dirfd, path, 0, &r);
    if (rc < 0)
        return rc;
    ssize_t n = SM_REAL(readlinkat)(r.fd, r.path, t, sizeof t - 1);
    if (n < 0)
        return -errno;
    t[n] = '\0';
    if (t[0] == '/' && sm_cfg.enabled && sm_untranslate(t, sizeof t) > 0)
        n = (ssize_t)strlen(t);
    if ((size_t)n > len)
        n = (ssize_t)len;
    memcpy(buf, t, (size_t)n);
    return (int)n;
}

SM_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
    if (SM_UNLIKELY(sm_in_lib) || SM_UNLIKELY(sm_look(path) < 0)) /* EFAULT: the kernel's */
        return SM_REAL(readlinkat)(dirfd, path, buf, len);
    SM_CALL(sm_readlinkat_core(dirfd, path, buf, len));
}
SM_INNER_ALIAS(readlinkat);

SM_EXPORT ssize_t readlink(const char *path, char *buf, size_t len)
{
    return SM_INNER(readlinkat)(AT_FDCWD, path, buf, len);
}

SM_EXPORT ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen)
{
    (void)buflen;
    return SM_INNER(readlinkat)(AT_FDCWD, path, buf, len);
}

SM_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len,
                                   size_t buflen)
{
    (void)buflen;
    return SM_INNER(readlinkat)(dirfd, path, buf, len);
}

/* ---- truncate ------------------------------------------------------------------------------------ */

SM_ROOMY(int, sm_truncate_core, (const char *path, off_t len))
{
    struct sm_res r;
    char key[PATH_MAX];
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_MUT | SM_RES_ABS | SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    if (SM_REAL(truncate)(r.path, len) != 0)
        return -errno;
    if (r.kind == SM_TREE && sm_key_at(AT_FDCWD, r.path, key) == 0)
        sm_note_write(key);
    return 0;
}

SM_EXPORT int truncate(const char *path, off_t len)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(truncate)(path, len);
    SM_CALL(sm_truncate_core(path, len));
}
SM_EXPORT int truncate64(const char *path, off64_t len) __attribute__((alias("truncate")));

/* ---- attributes: the kernel keeps them on the tree's inodes --------------------------------- */

SM_ROOMY(int, sm_fchmodat_core, (int dirfd, const char *path, mode_t mode, int flags))
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    return SM_REAL(fchmodat)(r.fd, r.path, mode, flags) == 0 ? 0 : -errno;
}

SM_ROOMY(int, sm_fchownat_core, (int dirfd, const char *path, uid_t u, gid_t g, int flags))
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    return SM_REAL(fchownat)(r.fd, r.path, u, g, flags) == 0 ? 0 : -errno;
}

SM_ROOMY(int, sm_utimensat_core,
         (int dirfd, const char *path, const struct timespec ts[2], int flags))
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    return SM_REAL(utimensat)(r.fd, r.path, ts, flags) == 0 ? 0 : -errno;
}

SM_ROOMY(int, sm_futimesat_core,
         (int dirfd, const char *path, const struct timeval tv[2], int flags))
{
    struct timespec ts[2];
    if (tv) {
        for (int i = 0; i < 2; i++) {
            ts[i].tv_sec = tv[i].tv_sec;
            ts[i].tv_nsec = tv[i].tv_usec * 1000;
        }
    }
    return sm_utimensat_core(dirfd, path, tv ? ts : NULL, flags);
}

SM_ROOMY(int, sm_utime_core, (const char *path, const struct utimbuf *ub))
{
    struct timespec ts[2];
    if (ub) {
        ts[0].tv_sec = ub->actime;
        ts[1].tv_sec = ub->modtime;
        ts[0].tv_nsec = ts[1].tv_nsec = 0;
    }
    return sm_utimensat_core(AT_FDCWD, path, ub ? ts : NULL, 0);
}

/* One wrapper: pass `name realargs` through when (dirfd, path) is certainly not virtual, else the
 * core. */
#define ATTR(name, realargs, dirfd, path, core)                                                    \
    if (SM_LIKELY(!sm_maybe_at(dirfd, path)))                                                      \
        return SM_REAL(name) realargs;                                                             \
    SM_CALL(core)

SM_EXPORT int chmod(const char *path, mode_t mode)
{
    ATTR(chmod, (path, mode), AT_FDCWD, path, sm_fchmodat_core(AT_FDCWD, path, mode, 0));
}

SM_EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
    ATTR(fchmodat, (dirfd, path, mode, flags), dirfd, path,
         sm_fchmodat_core(dirfd, path, mode, flags));
}

SM_EXPORT int lchmod(const char *path, mode_t mode)
{
    ATTR(lchmod, (path, mode), AT_FDCWD, path,
         sm_fchmodat_core(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW));
}

SM_EXPORT int chown(const char *path, uid_t u, gid_t g)
{
    ATTR(chown, (path, u, g), AT_FDCWD, path, sm_fchownat_core(AT_FDCWD, path, u, g, 0));
}

SM_EXPORT int lchown(const char *path, uid_t u, gid_t g)
{
    ATTR(lchown, (path, u, g), AT_FDCWD, path,
         sm_fchownat_core(AT_FDCWD, path, u, g, AT_SYMLINK_NOFOLLOW));
}

SM_EXPORT int fchownat(int dirfd, const char *path, uid_t u, gid_t g, int flags)
{
    ATTR(fchownat, (dirfd, path, u, g, flags), dirfd, path,
         sm_fchownat_core(dirfd, path, u, g, flags));
}

SM_EXPORT int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
    ATTR(utimensat, (dirfd, path, ts, flags), dirfd, path,
         sm_utimensat_core(dirfd, path, ts, flags));
}

SM_EXPORT int utimes(const char *path, const struct timeval tv[2])
{
    ATTR(utimes, (path, tv), AT_FDCWD, path, sm_futimesat_core(AT_FDCWD, path, tv, 0));
}

SM_EXPORT int lutimes(const char *path, const struct timeval tv[2])
{
    ATTR(lutimes, (path, tv), AT_FDCWD, path,
         sm_futimesat_core(AT_FDCWD, path, tv, AT_SYMLINK_NOFOLLOW));
}

SM_EXPORT int futimesat(int dirfd, const char *path, const struct timeval tv[2])
{
    ATTR(futimesat, (dirfd, path, tv), dirfd, path, sm_futimesat_core(dirfd, path, tv, 0));
}

SM_EXPORT int utime(const char *path, const struct utimbuf *ub)
{
    ATTR(utime, (path, ub), AT_FDCWD, path, sm_utime_core(path, ub));
}

/* ---- special files --------------------------------------------------------------------------- */

/* Every node is made in the tree by the kernel, which decides as on a real directory: devices
 * for a caller with CAP_MKNOD (EPERM for others), FIFOs, sockets and plain files for anyone.
 * Only a plain file is recorded (and synced); the others are local only and never documents. */
/* an entry of the pre-2.33 ABI that a later interposer defines (below): the real call is its */
typedef int xmknodat_fn(int, int, const char *, mode_t, dev_t *);

static inline int mknodat_in(int dirfd, const char *path, mode_t mode, dev_t dev, int ver,
                             xmknodat_fn *next)
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, SM_RES_MUT, &r);
    if (rc < 0)
        return rc;
    if ((next ? next(ver, r.fd, r.path, mode, &dev) : SM_REAL(mknodat)(r.fd, r.path, mode, dev)) !=
        0)
        return -errno;
    char key[PATH_MAX];
    if (r.kind == SM_TREE && (S_ISREG(mode) || (mode & S_IFMT) == 0) &&
        sm_key_at(r.fd, r.path, key) == 0)
        sm_note_write(key);
    return 0;
}
SM_ROOMY(int, sm_mknodat_core, (int dirfd, const char *path, mode_t mode, dev_t dev))
{
    return mknodat_in(dirfd, path, mode, dev, 0, NULL);
}
int sm_xmknodat_core(int ver, int dirfd, const char *path, mode_t mode, dev_t dev,
                     xmknodat_fn *next);
SM_ROOMY(int, sm_xmknodat_core,
         (int ver, int dirfd, const char *path, mode_t mode, dev_t dev, xmknodat_fn *next))
{
    return mknodat_in(dirfd, path, mode, dev, ver, next);
}

SM_EXPORT int mknod(const char *path, mode_t mode, dev_t dev)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(mknod)(path, mode, dev);
    SM_CALL(sm_mknodat_core(AT_FDCWD, path, mode, dev));
}

SM_EXPORT int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
    if (SM_LIKELY(!sm_maybe_at(dirfd, path)))
        return SM_REAL(mknodat)(dirfd, path, mode, dev);
    SM_CALL(sm_mknodat_core(dirfd, path, mode, dev));
}
SM_INNER_ALIAS(mknodat);

SM_EXPORT int mkfifo(const char *path, mode_t mode)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(mkfifo)(path, mode);
    SM_CALL(sm_mknodat_core(AT_FDCWD, path, S_IFIFO | (mode & 07777), 0));
}

SM_EXPORT int mkfifoat(int dirfd, const char *path, mode_t mode)
{
    if (SM_LIKELY(!sm_maybe_at(dirfd, path)))
        return SM_REAL(mkfifoat)(dirfd, path, mode);
    SM_CALL(sm_mknodat_core(dirfd, path, S_IFIFO | (mode & 07777), 0));
}

/* As the stat family's (stat.c): an interposer after the shim that defines these (fakeroot's
 * mknod and mknodat call its own __xmknod and __xmknodat through its PLT) gets the calls that pass
 * through, and the shim's own on its tree, and makes those the shim resolves, instead of the
 * shim's mknodat, whose next is the interposer's mknodat: the call came back for ever. */
int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev);
int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev);
static void *next_xmknod, *next_xmknodat;
SM_EXPORT int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev)
{
    int (*next)(int, const char *, mode_t, dev_t *) = sm_real_next(&next_xmknod, "__xmknod");
    if (SM_UNLIKELY(next != NULL) && !sm_maybe_cwd(path))
        return next(ver, path, mode, dev);
    return SM_INNER(mknodat)(AT_FDCWD, path, mode, dev ? *dev : 0);
}
SM_EXPORT int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev)
{
    xmknodat_fn *next = (xmknodat_fn *)sm_real_next(&next_xmknodat, "__xmknodat");
    if (SM_LIKELY(next == NULL))
        return SM_INNER(mknodat)(dirfd, path, mode, dev ? *dev : 0);
    if (sm_fd_is_own(dirfd) || !sm_maybe_at(dirfd, path))
        return next(ver, dirfd, path, mode, dev);
    SM_CALL(sm_xmknodat_core(ver, dirfd, path, mode, dev ? *dev : 0, next));
}
