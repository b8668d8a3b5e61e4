/* open.c: the open family. Every virtual open returns a real kernel fd onto the file's local
 * bytes in the tree (or onto the real directory that mirrors a virtual one). */
#include "shim.h"

#include <stdlib.h>
#include <unistd.h>

#define NEEDS_MODE(f) (((f) & O_CREAT) || ((f) & __O_TMPFILE) == __O_TMPFILE)
#define OPEN_MODE(flags, last)                                                                   \
    mode_t mode = 0;                                                                             \
    if (NEEDS_MODE(flags)) {                                                                     \
        va_list ap;                                                                              \
        va_start(ap, last);                                                                      \
        mode = va_arg(ap, mode_t);                                                               \
        va_end(ap);                                                                              \
    }

static int open_writes(int flags)
{
    return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
}

/* Descriptors opened for writing on files under the prefix: the pid that opened each and the
 * file's key. Their close records the file again, so that writes made after the sync engine read
 * it are pushed (the engine's scan finds those closed some other way: exit, a child,
 * syscall(SYS_close)). */
#define WFD_MAX 4096
static struct {
    pid_t owner;
    char *key; /* malloc'd */
} wfd[WFD_MAX];

static void wfd_set(int fd, const char *key)
{
    if (fd < 0 || fd >= WFD_MAX)
        return;
    char *k = strdup(key);
    __atomic_store_n(&wfd[fd].owner, getpid(), __ATOMIC_RELAXED);
    free(__atomic_exchange_n(&wfd[fd].key, k, __ATOMIC_ACQ_REL));
}

int sm_wfd_closing(int fd, char key[PATH_MAX])
{
    if (fd < 0 || fd >= WFD_MAX || !__atomic_load_n(&wfd[fd].key, __ATOMIC_RELAXED))
        return 0;
    pid_t owner = __atomic_load_n(&wfd[fd].owner, __ATOMIC_RELAXED);
    /* a vfork or fork child closing an inherited descriptor: the parent's close counts */
    if (owner != getpid())
        return 0;
    char *k = __atomic_exchange_n(&wfd[fd].key, NULL, __ATOMIC_ACQ_REL);
    if (!k)
        return 0;
    snprintf(key, PATH_MAX, "%s", k);
    free(k);
    return 1;
}

/* After a successful open that may change a regular file under the prefix: record it (by the
 * name the kernel gives the descriptor, which resolves any symlink on the way). */
static void note_open(int fd, int flags)
{
    char key[PATH_MAX];
    struct stat st;
    if ((flags & __O_TMPFILE) == __O_TMPFILE)
        return; /* no name yet */
    if (SM_REAL(fstat)(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    if (sm_key_fd(fd, key) == 0) {
        sm_note_write(key);
        if ((flags & O_ACCMODE) != O_RDONLY)
            wfd_set(fd, key);
    }
}

/* The open of a resolved target. A write-open under the prefix is recorded *before* the real
 * open: the sync engine checks dirty_since and renames a pulled file into place in one LMDB
 * transaction, so a local write is either seen by that check or lands after the rename, never
 * clobbered (smc_apply_remote). The file is recorded again by its canonical name afterwards. */
static int open_res(const struct sm_res *r, int flags, mode_t mode)
{
    char pre[PATH_MAX];
    struct stat st;
    int have_pre = 0;
    if (r->kind == SM_TREE && open_writes(flags) && (flags & __O_TMPFILE) != __O_TMPFILE &&
        (SM_REAL(fstatat)(r->fd, r->path, &st, AT_SYMLINK_NOFOLLOW) != 0
             ? (errno == ENOENT && (flags & O_CREAT))
             : S_ISREG(st.st_mode)) &&
        sm_key_at(r->fd, r->path, pre) == 0 && strcmp(pre, "/") != 0) {
        /* a regular file or a new one, not a symlink: this key is the file's canonical name */
        have_pre = 1;
        sm_note_write(pre);
    }
    int fd = SM_REAL(openat)(r->fd, r->path, flags, mode);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && r->kind == SM_TREE && sm_is_tree_fd(r->fd) && !(flags & O_CREAT))
            sm_note_miss(r->path);
        return -e;
    }
    if (have_pre) {
        if ((flags & O_ACCMODE) != O_RDONLY)
            wfd_set(fd, pre);
    } else if (r->kind == SM_TREE && open_writes(flags)) {
        note_open(fd, flags);
    }
    else if (SM_UNLIKELY(SM_GUARD_ON()) && r->kind == SM_PASS)
        sm_guard_opened(fd);
    return fd;
}

int sm_openat_core(int dirfd, const char *path, int flags, mode_t mode)
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, open_writes(flags) ? SM_RES_MUT : 0, &r);
    if (rc < 0)
        return rc;
    return open_res(&r, flags, mode);
}

SM_EXPORT int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(open)(path, flags, mode);
    SM_CALL(sm_openat_core(AT_FDCWD, path, flags, mode));
}
SM_EXPORT int open64(const char *path, int flags, ...) __attribute__((alias("open")));

SM_EXPORT int __open_2(const char *path, int flags)
{
    return open(path, flags);
}
SM_EXPORT int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

SM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(openat)(dirfd, path, flags, mode);
    SM_CALL(sm_openat_core(dirfd, path, flags, mode));
}
SM_EXPORT int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

SM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    return openat(dirfd, path, flags);
}
SM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
    __attribute__((alias("__openat_2")));

SM_EXPORT int creat(const char *path, mode_t mode)
{
    return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
SM_EXPORT int creat64(const char *path, mode_t mode) __attribute__((alias("creat")));

/* fopen mode string -> open flags (as glibc reads it); -1 for an invalid mode. */
static int fmode_flags(const char *m)
{
    int f;
    switch (m[0]) {
    case 'r': f = O_RDONLY; break;
    case 'w': f = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': f = O_WRONLY | O_CREAT | O_APPEND; break;
    default: return -1;
    }
    for (int i = 1; i < 7 && m[i] && m[i] != ','; i++) {
        switch (m[i]) {
        case '+': f = (f & ~O_ACCMODE) | O_RDWR; break;
        case 'x': f |= O_EXCL; break;
        case 'e': f |= O_CLOEXEC; break;
        default: break;
        }
    }
    return f;
}

SM_EXPORT FILE *fopen(const char *path, const char *mode)
{
    if (SM_LIKELY(!sm_maybe(path)) || !mode)
        return SM_REAL(fopen)(path, mode);
    int saved = errno;
    int flags = fmode_flags(mode);
    if (flags < 0) {
        errno = EINVAL;
        return NULL;
    }
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, open_writes(flags) ? SM_RES_MUT : 0, &r);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    if (r.kind == SM_PASS) {
        FILE *f = SM_REAL(fopen)(r.path, mode);
        if (f && SM_GUARD_ON())
            sm_guard_opened(fileno(f));
        return f;
    }
    int fd = open_res(&r, flags, 0666);
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    FILE *f = fdopen(fd, mode);
    if (!f) {
        int e = errno;
        SM_REAL(close)(fd);
        errno = e;
        return NULL;
    }
    errno = saved;
    return f;
}
SM_EXPORT FILE *fopen64(const char *path, const char *mode) __attribute__((alias("fopen")));

SM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
    if (SM_LIKELY(!sm_maybe(path)) || !mode)
        return SM_REAL(freopen)(path, mode, stream);
    int flags = fmode_flags(mode);
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, (flags >= 0 && open_writes(flags)) ? SM_RES_MUT | SM_RES_ABS
                                                                            : SM_RES_ABS, &r);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    FILE *f = SM_REAL(freopen)(r.path, mode, stream);
    if (f && r.kind == SM_TREE && flags >= 0 && open_writes(flags)) {
        int saved = errno;
        note_open(fileno(f), flags);
        errno = saved;
    }
    return f;
}
SM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
    __attribute__((alias("freopen")));
