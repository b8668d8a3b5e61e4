/* open.c: the open family (open, openat, creat, fopen, freopen, mkstemp). Every virtual
 * open returns a real kernel fd onto the file's local bytes in the tree (or onto the real
 * directory that mirrors a virtual one). */
#include "shim.h"
#include "../cache/cache.h"

#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NEEDS_MODE(f) (((f)&O_CREAT) || ((f)&__O_TMPFILE) == __O_TMPFILE)
#define OPEN_MODE(flags, last)                                                                     \
    mode_t mode = 0;                                                                               \
    if (NEEDS_MODE(flags)) {                                                                       \
        va_list ap;                                                                                \
        va_start(ap, last);                                                                        \
        mode = va_arg(ap, mode_t);                                                                 \
        va_end(ap);                                                                                \
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
        sm_note_write_st(key, &st);
        if ((flags & O_ACCMODE) != O_RDONLY)
            sm_wfd_set(fd, key, NULL);
    }
}

/* The length of path when it is a plain relative path ("a/b": no empty, "." or ".." component, no
 * trailing '/') that fits a key, else 0. */
static size_t plain_len(const char *path)
{
    size_t n = strlen(path), cut = 0;
    if (n == 0 || n + 2 > PATH_MAX || path[0] == '/' || path[n - 1] == '/')
        return 0;
    for (size_t i = 0; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        size_t len = i - cut; /* the component [cut, i) */
        if (len == 0 || (path[cut] == '.' && (len == 1 || (len == 2 && path[cut + 1] == '.'))))
            return 0;
        cut = i + 1;
    }
    return n;
}

/* Directories of the tree (paths relative to the tree fd) this process reached without meeting a
 * symbolic link and found to be directories (a probe's walk), or made (its mkdir, whose path may
 * have crossed a link): a hash of each, lock-free (a torn or stale slot is a miss or a stale
 * hit). A hit only saves the look at the directory; it never makes a name through a link pass
 * for canonical, because both users walk with openat2(RESOLVE_NO_SYMLINKS), which answers ELOOP
 * (never ENOENT) when a link is on the way whatever the table says: create_fast then drops the
 * directory, falls back and takes its record back, and when the directory is gone since, the
 * create fails (ENOENT), the table is emptied and the name recorded before it is recorded
 * removed again. This process's rmdir and directory renames empty it. A crawl's mkdir -p makes
 * each directory before its files, so their creates are one openat2 each. */
#define VDIR_N 512 /* two places a hash may take: few of a crawl's directories push out another */
static uint64_t vdir[VDIR_N];

static uint64_t vdir_hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h | 1; /* 0 is an empty slot */
}

static uint64_t *vdir_slot(uint64_t h, int second)
{
    return &vdir[(second ? h >> 32 : h) % VDIR_N];
}

static int vdir_known(uint64_t h)
{
    return __atomic_load_n(vdir_slot(h, 0), __ATOMIC_RELAXED) == h ||
           __atomic_load_n(vdir_slot(h, 1), __ATOMIC_RELAXED) == h;
}

/* Into the first place that is free or holds h already, else over the second one. */
static void vdir_note(uint64_t h)
{
    uint64_t a = __atomic_load_n(vdir_slot(h, 0), __ATOMIC_RELAXED);
    if (a == h || vdir_known(h))
        return;
    __atomic_store_n(vdir_slot(h, a != 0), h, __ATOMIC_RELAXED);
}

/* A hit led to a link or to nothing: h leaves the table (where no other hash took its place). */
static void vdir_drop(uint64_t h)
{
    for (int i = 0; i < 2; i++) {
        uint64_t want = h;
        __atomic_compare_exchange_n(vdir_slot(h, i), &want, 0, 0, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
    }
}

void sm_vdir_made(const char *rel)
{
    size_t n = plain_len(rel);
    if (n > 0)
        vdir_note(vdir_hash(rel, n)); /* a link on its way is found by the first create */
}

void sm_vdir_forget(void)
{
    for (int i = 0; i < VDIR_N; i++)
        __atomic_store_n(&vdir[i], 0, __ATOMIC_RELAXED);
}

/* The target of a write-open, path relative to the tree fd, before the open, in as few calls as
 * the kernel allows. openat2 with RESOLVE_NO_SYMLINKS walks every component without following a
 * symlink (nor crossing a mount, nor a /proc link), so when its walk reaches the last component
 * the path is its own canonical name and the key is "/" + path: no directory is opened to be
 * named by the kernel (sm_key_at). 1: the name exists (*st; a symlink itself when it is one);
 * 0: the last name is missing and its directory exists (*hit set when the table of directories
 * said so, not a stat); -1: cannot tell this way (a symlink on the way, a "." or "..", an old
 * kernel): the caller asks sm_key_at. */
static int probe_tree(int tfd, const char *path, char key[PATH_MAX], struct stat *st, int *hit)
{
    size_t n = plain_len(path);
    if (n == 0)
        return -1;
    struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                           .resolve =
                               RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS};
    sm_brief_begin();
    long fd = SM_REAL(syscall)(SYS_openat2, tfd, path, &how, sizeof how);
    if (fd < 0)
        sm_brief_end();
    const char *slash = strrchr(path, '/');
    uint64_t dh = slash ? vdir_hash(path, (size_t)(slash - path)) : 0;
    int found;
    if (fd >= 0) {
        found = SM_REAL(fstat)((int)fd, st) == 0 ? 1 : -1;
        sm_brief_close((int)fd);
        if (found == 1 && slash)
            vdir_note(dh); /* the walk went through its directory without a link */
    } else if (errno == ENOENT) {
        /* a missing component: the last one when its directory is there (not a symlink); a
         * directory this process saw so already is not looked at again */
        struct stat dst;
        char dir[PATH_MAX];
        found = 0;
        if (slash && vdir_known(dh)) {
            *hit = 1;
        } else if (slash) {
            memcpy(dir, path, (size_t)(slash - path));
            dir[slash - path] = '\0';
            if (SM_REAL(fstatat)(tfd, dir, &dst, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(dst.st_mode))
                found = -1;
            else
                vdir_note(dh);
        }
    } else {
        found = -1;
    }
    if (found >= 0) {
        key[0] = '/';
        memcpy(key + 1, path, n + 1);
    }
    return found;
}

/* The open of a resolved target. A write-open under the prefix is recorded *before* the real
 * open: the sync engine checks dirty_since and renames a pulled file into place in one LMDB
 * transaction, so a local write is either seen by that check or lands after the rename, never
 * clobbered (smc_apply_remote). The file is recorded again by its canonical name afterwards. */
/* The flags a create may pass to openat2 as they are (openat2 refuses any other bit, where openat
 * ignores it). */
#define CREATE_FLAGS                                                                               \
    (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_SYNC |          \
     O_DSYNC | O_CLOEXEC | O_NOATIME | O_DIRECT | O_LARGEFILE)

/* A create of a new file in one system call: when the name is plain ("a/b", no "." or "..") and
 * its directory one the table holds, "/" + path is recorded and the file made by openat2 with
 * O_EXCL and RESOLVE_NO_SYMLINKS, which succeeds only where that key is the new file's canonical
 * name. The fd, or -1 with *lex the key recorded ("" when nothing was): open_res then goes the
 * way of every other open and takes that record back when the key is not this open's. */
static int create_fast(const struct sm_res *r, int flags, mode_t mode, char lex[PATH_MAX],
                       struct smc_wtok *tok)
{
    lex[0] = '\0';
    if (!(flags & O_CREAT) || (flags & ~CREATE_FLAGS) || (flags & O_ACCMODE) == O_ACCMODE ||
        !sm_is_tree_fd(r->fd))
        return -1;
    size_t n = plain_len(r->path);
    if (n == 0)
        return -1;
    const char *slash = strrchr(r->path, '/');
    uint64_t dh = slash ? vdir_hash(r->path, (size_t)(slash - r->path)) : 0;
    if (slash && !vdir_known(dh))
        return -1;
    lex[0] = '/';
    memcpy(lex + 1, r->path, n + 1);
    sm_note_write_tok(lex, tok); /* before the open: the dirty_since guard */
    struct open_how how = {.flags = (uint64_t)(flags | O_EXCL),
                           .mode = mode & 07777,
                           .resolve =
                               RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS};
    long fd = SM_REAL(syscall)(SYS_openat2, r->fd, r->path, &how, sizeof how);
    if (fd < 0) {
        if (errno == ENOENT)
            sm_vdir_forget(); /* a directory the table held is gone since, maybe with others */
        else if (slash && errno != EEXIST)
            vdir_drop(dh); /* a link on the way (ELOOP, EXDEV), or no directory there */
        return -1;
    }
    if ((flags & O_ACCMODE) != O_RDONLY)
        sm_wfd_set((int)fd, lex, tok);
    return (int)fd;
}

/* An open for reading of a process's maps (procfd.c): the tree's paths in it are shown as the
 * prefix. */
static int reads_maps(const struct sm_res *r, int flags)
{
    return r->kind == SM_PASS && (flags & O_ACCMODE) == O_RDONLY &&
           !(flags & (O_PATH | O_DIRECTORY)) && r->path[0] == '/' && sm_procmaps_names(r->path);
}

/* A write-open of one of the program's descriptors through /proc (/proc/self/fd/N, /dev/fd/N) opens again the file N is open on; when that is a file of the
 * tree, the open is recorded before it as any write-open of its name. 1 and the file's key in
 * key (st its stat) when it is one; 0 when not. */
static int reopen_key(const struct sm_res *r, int flags, char key[PATH_MAX], struct stat *st)
{
    struct stat now;
    int n = r->kind == SM_PASS && r->path[0] == '/' && sm_open_writes(flags)
                ? sm_procfd_number(r->path)
                : -1;
    /* the name the kernel gives N is still that file's (not removed or replaced since) */
    return n >= 0 && sm_key_fd(n, key) == 0 && SM_REAL(fstat)(n, st) == 0 && S_ISREG(st->st_mode) &&
           SM_REAL(fstatat)(sm_tree_fd(), key + 1, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
           now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

static int open_res(const struct sm_res *r, int flags, mode_t mode)
{
    char pre[PATH_MAX], lex[PATH_MAX];
    struct stat st;
    struct smc_wtok tok = {0, 0}; /* where pre's record before the open lies */
    int have_pre = 0, hit = 0, was_missing = 0;
    pre[0] = lex[0] = '\0';
    if (SM_UNLIKELY(r->kind == SM_PASS) && reopen_key(r, flags, pre, &st)) {
        have_pre = 1;
        if (st.st_nlink > 1)
            sm_note_write_st(pre, &st); /* every name of a linked file, before the open */
        else
            sm_note_write_tok(pre, &tok);
    }
    if (r->kind == SM_TREE && sm_open_writes(flags) && (flags & __O_TMPFILE) != __O_TMPFILE) {
        int saved = errno;
        int fast = create_fast(r, flags, mode, lex, &tok);
        if (fast >= 0)
            return fast;
        errno = saved;
        int p = sm_is_tree_fd(r->fd) ? probe_tree(r->fd, r->path, pre, &st, &hit) : -1;
        if (p < 0)
            p = SM_REAL(fstatat)(r->fd, r->path, &st, AT_SYMLINK_NOFOLLOW) != 0
                    ? (errno == ENOENT ? 0 : -1)
                    : 1;
        /* a regular file or a new one, not a symlink: this key is the file's canonical name */
        have_pre = (p == 1 ? S_ISREG(st.st_mode) : p == 0 && (flags & O_CREAT)) &&
                   (pre[0] == '/' || sm_key_at(r->fd, r->path, pre) == 0) && strcmp(pre, "/") != 0;
        was_missing = have_pre && p == 0;
        int again = have_pre && lex[0] && strcmp(pre, lex) == 0;
        if (lex[0] && !again)
            sm_note_unlink(lex); /* a symlink, a directory, a name through a link: no file's */
        if (!again)
            tok.epoch = tok.pos = 0;
        if (have_pre && p == 1 && st.st_nlink > 1) {
            sm_note_write_st(pre, &st); /* every name of a linked file, before the open */
            tok.epoch = tok.pos = 0;
        } else if (have_pre && !again)
            sm_note_write_tok(pre, &tok);
    }
    int fd = SM_REAL(openat)(r->fd, r->path, flags, mode);
    if (SM_UNLIKELY(r->kind == SM_PASS) && fd >= 0 && reads_maps(r, flags))
        return sm_procmaps_open(fd);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && r->kind == SM_TREE && sm_is_tree_fd(r->fd) && !(flags & O_CREAT))
            sm_note_miss(r->path);
        if (was_missing) {
            /* a create the kernel refused (its directory gone since the table held it, a
             * trailing '/', O_DIRECTORY, no write permission, no space): the name recorded
             * before the open holds no file, unless another process made one there meanwhile */
            if (e == ENOENT && hit)
                sm_vdir_forget();
            if (SM_REAL(fstatat)(r->fd, r->path, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(st.st_mode))
                sm_note_unlink(pre);
        }
        return -e;
    }
    if (have_pre) {
        if ((flags & O_ACCMODE) != O_RDONLY)
            sm_wfd_set(fd, pre, &tok);
    } else if (r->kind == SM_TREE && sm_open_writes(flags)) {
        note_open(fd, flags);
    } else if (SM_UNLIKELY(SM_GUARD_ON()) && r->kind == SM_PASS)
        sm_guard_opened(fd);
    return fd;
}

SM_ROOMY(int, sm_openat_core, (int dirfd, const char *path, int flags, mode_t mode))
{
    struct sm_res r;
    int rc = sm_resolve(dirfd, path,
                        (sm_open_writes(flags) ? SM_RES_MUT : 0) | sm_open_follows(flags), &r);
    if (rc < 0)
        return rc;
    return open_res(&r, flags, mode);
}

/* A write-open that the pre-filter passes on as not under the prefix, but that may name one of
 * the program's descriptors through /proc: the core records it when it reopens a file of the
 * tree (reopen_key). */
static inline int reopen_maybe(const char *path, int flags)
{
    return flags >= 0 && sm_open_writes(flags) && path[0] == '/' && sm_procfd_maybe(path);
}

static SM_SLOW int open_slow(const char *path, int flags, mode_t mode, int pre)
{
    if (!sm_look_rest(path, pre, 1) && !reopen_maybe(path, flags))
        return SM_REAL(open)(path, flags, mode);
    SM_CALL(sm_openat_core(AT_FDCWD, path, flags, mode));
}
SM_EXPORT int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    int pre = sm_pre(path, 1);
    if (SM_LIKELY(!pre))
        return SM_UNLIKELY(sm_in_lib) ? SM_LIB_FD(SM_REAL(open)(path, flags, mode))
                                      : SM_REAL(open)(path, flags, mode);
    return open_slow(path, flags, mode, pre);
}
SM_EXPORT int open64(const char *path, int flags, ...) __attribute__((alias("open")));
SM_INNER_ALIAS(open);

SM_EXPORT int __open_2(const char *path, int flags)
{
    return SM_INNER(open)(path, flags);
}
SM_EXPORT int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

static SM_SLOW int openat_slow(int dirfd, const char *path, int flags, mode_t mode, int pre)
{
    if (!sm_look_rest(path, pre, dirfd == AT_FDCWD) && !reopen_maybe(path, flags))
        return SM_REAL(openat)(dirfd, path, flags, mode);
    SM_CALL(sm_openat_core(dirfd, path, flags, mode));
}
SM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    int pre = sm_pre(path, dirfd == AT_FDCWD);
    if (SM_LIKELY(!pre))
        return SM_UNLIKELY(sm_in_lib) ? SM_LIB_FD(SM_REAL(openat)(dirfd, path, flags, mode))
                                      : SM_REAL(openat)(dirfd, path, flags, mode);
    return openat_slow(dirfd, path, flags, mode, pre);
}
SM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
    __attribute__((alias("openat")));
SM_INNER_ALIAS(openat);

SM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    return SM_INNER(openat)(dirfd, path, flags);
}
SM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
    __attribute__((alias("__openat_2")));

SM_EXPORT int creat(const char *path, mode_t mode)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(creat)(path, mode);
    SM_CALL(sm_openat_core(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode));
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

/* fopen in the library's threads (OpenSSL's CA bundle and configuration, libcurl's files): on a
 * descriptor of the library's, above the program's range, as every open of the library. */
static FILE *lib_fopen(const char *path, const char *mode)
{
    int flags = fmode_flags(mode);
    if (flags < 0)
        return SM_REAL(fopen)(path, mode);
    int fd = SM_LIB_FD(SM_REAL(open)(path, flags | O_CLOEXEC, 0666));
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, mode);
    if (!f) {
        int e = errno;
        sm_lib_close(fd);
        errno = e;
    }
    return f;
}

SM_EXPORT FILE *fopen(const char *path, const char *mode)
{
    if (SM_UNLIKELY(sm_in_lib) && path && mode)
        return lib_fopen(path, mode);
    if ((SM_LIKELY(!sm_maybe_cwd(path)) &&
         !(path && mode && reopen_maybe(path, fmode_flags(mode)))) ||
        !mode)
        return SM_REAL(fopen)(path, mode);
    int saved = errno;
    int flags = fmode_flags(mode);
    if (flags < 0) {
        errno = EINVAL;
        return NULL;
    }
    struct sm_res r;
    int rc =
        sm_resolve(AT_FDCWD, path, (sm_open_writes(flags) ? SM_RES_MUT : 0) | SM_RES_FOLLOW, &r);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    if (r.kind == SM_PASS && !reads_maps(&r, flags) && !reopen_maybe(r.path, flags)) {
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
    if (SM_LIKELY(!sm_maybe_cwd(path)) || !mode)
        return SM_REAL(freopen)(path, mode, stream);
    int flags = fmode_flags(mode);
    struct sm_res r;
    int rc =
        sm_resolve(AT_FDCWD, path,
                   ((flags >= 0 && sm_open_writes(flags)) ? SM_RES_MUT | SM_RES_ABS : SM_RES_ABS) |
                       SM_RES_FOLLOW,
                   &r);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    FILE *f = SM_REAL(freopen)(r.path, mode, stream);
    if (f && r.kind == SM_TREE && flags >= 0 && sm_open_writes(flags)) {
        int saved = errno;
        note_open(fileno(f), flags);
        errno = saved;
    }
    return f;
}
SM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
    __attribute__((alias("freopen")));

/* ---- temporary files: glibc's mkstemp opens inside itself ---------------------------------- */

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
SM_INNER_ALIAS(mkostemps);

SM_EXPORT int mkstemp(char *tmpl)
{
    return SM_INNER(mkostemps)(tmpl, 0, 0);
}
SM_EXPORT int mkstemp64(char *tmpl) __attribute__((alias("mkstemp")));

SM_EXPORT int mkostemp(char *tmpl, int flags)
{
    return SM_INNER(mkostemps)(tmpl, 0, flags);
}
SM_EXPORT int mkostemp64(char *tmpl, int flags) __attribute__((alias("mkostemp")));

SM_EXPORT int mkstemps(char *tmpl, int suffixlen)
{
    return SM_INNER(mkostemps)(tmpl, suffixlen, 0);
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
