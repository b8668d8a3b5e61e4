/* cwd.c: chdir into the prefix changes the kernel cwd to the tree directory, so relative paths,
 * children and posix_spawn inherit it natively; getcwd, realpath and friends show it back as the
 * virtual path. */
#include "shim.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs in vfork children (Python's subprocess cwd=): no malloc, no locks, no tree fd. */
SM_ROOMY(int, sm_chdir_core, (const char *path))
{
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    sm_cwd_changing();
    rc = SM_REAL(chdir)(r.path) != 0 ? -errno : 0;
    sm_cwd_changed();
    return rc;
}

SM_EXPORT int chdir(const char *path)
{
    if (SM_LIKELY(!sm_maybe_cwd(path))) {
        sm_cwd_changing();
        int rc = SM_REAL(chdir)(path);
        sm_cwd_changed();
        return rc;
    }
    SM_CALL(sm_chdir_core(path));
}

SM_ROOMY(int, sm_fchdir_core, (int fd))
{
    sm_cwd_changing();
    int rc = SM_REAL(fchdir)(fd) != 0 ? -errno : 0;
    sm_cwd_changed();
    return rc;
}

SM_EXPORT int fchdir(int fd)
{
    SM_CALL(sm_fchdir_core(fd));
}

/* ---- what else changes what the cwd is ---------------------------------------------------------
 * The class the shim keeps of the cwd (path.c) is a path's: chroot makes the cwd's path another
 * (from the new root), and setns into a mount namespace moves the cwd to that namespace's root.
 * After unshare(CLONE_FS) (CLONE_NEWNS and CLONE_NEWUSER imply it) the thread's cwd is its own,
 * and so is a child's that shares the memory and not the fs (clone): one class for the process
 * would be another thread's, so none is kept from then on. */

SM_ROOMY(int, sm_chroot_core, (const char *path))
{
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    sm_cwd_changing();
    rc = SM_REAL(chroot)(r.path) != 0 ? -errno : 0;
    sm_cwd_changed();
    return rc;
}

SM_EXPORT int chroot(const char *path)
{
    if (SM_LIKELY(!sm_maybe_cwd(path))) {
        sm_cwd_changing();
        int rc = SM_REAL(chroot)(path);
        sm_cwd_changed();
        return rc;
    }
    SM_CALL(sm_chroot_core(path));
}

SM_ROOMY(int, sm_setns_core, (int fd, int type))
{
    sm_cwd_changing();
    int rc = SM_REAL(setns)(fd, type) != 0 ? -errno : 0;
    sm_cwd_changed();
    return rc;
}

SM_EXPORT int setns(int fd, int type)
{
    SM_CALL(sm_setns_core(fd, type));
}

SM_ROOMY(int, sm_unshare_core, (int flags))
{
    if (SM_REAL(unshare)(flags) != 0)
        return -errno;
    if (flags & (CLONE_FS | CLONE_NEWNS | CLONE_NEWUSER))
        sm_cwd_split();
    return 0;
}

SM_EXPORT int unshare(int flags)
{
    SM_CALL(sm_unshare_core(flags));
}

SM_ROOMY(int, sm_getcwd_core, (char *buf, size_t size))
{
    char t[PATH_MAX];
    if (!SM_REAL(getcwd)(t, sizeof t))
        return -errno;
    if (sm_cfg.enabled && sm_untranslate(t, sizeof t) < 0)
        return -ENAMETOOLONG;
    size_t n = strlen(t);
    if (n + 1 > size)
        return -ERANGE;
    memcpy(buf, t, n + 1);
    return (int)n + 1;
}

/* A cwd deeper than PATH_MAX: libc's own getcwd walks ".." for it (the system call cannot name
 * it); the answer, shown as its virtual path, in memory from malloc, or NULL with errno. */
static char *cwd_long(void)
{
    char *p = SM_REAL(getcwd)(NULL, 0);
    if (!p || !sm_cfg.enabled)
        return p;
    const struct sm_where *w = sm_w();
    if (w->tlen == 0 || strncmp(p, w->tree, w->tlen) != 0 ||
        (p[w->tlen] != '/' && p[w->tlen] != '\0'))
        return p;
    size_t rest = strlen(p + w->tlen);
    char *v = malloc(sm_cfg.plen + rest + 1);
    if (v) {
        memcpy(v, sm_cfg.prefix, sm_cfg.plen);
        memcpy(v + sm_cfg.plen, p + w->tlen, rest + 1);
    }
    free(p);
    return v;
}

SM_EXPORT char *getcwd(char *buf, size_t size)
{
    int saved = errno;
    if (buf && size == 0) {
        errno = EINVAL;
        return NULL;
    }
    char t[PATH_MAX];
    int rc = sm_getcwd_core(buf && size <= sizeof t ? buf : t,
                            buf && size <= sizeof t ? size : sizeof t);
    if (rc == -ENAMETOOLONG || (rc == -ERANGE && (!buf || size > sizeof t))) {
        /* deeper than PATH_MAX */
        char *p = cwd_long();
        if (!p)
            return NULL;
        size_t n = strlen(p) + 1;
        if (!buf && (!size || n <= size)) {
            errno = saved;
            return p;
        }
        if (buf && n <= size) {
            memcpy(buf, p, n);
            free(p);
            errno = saved;
            return buf;
        }
        free(p);
        errno = ERANGE;
        return NULL;
    }
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    if (buf && size <= sizeof t) {
        errno = saved;
        return buf;
    }
    size_t n = (size_t)rc;
    if (size && n > size) {
        errno = ERANGE;
        return NULL;
    }
    if (buf) {
        memcpy(buf, t, n);
        errno = saved;
        return buf;
    }
    char *p = malloc(size ? size : n);
    if (!p)
        return NULL;
    memcpy(p, t, n);
    errno = saved;
    return p;
}
SM_INNER_ALIAS(getcwd);

SM_EXPORT char *__getcwd_chk(char *buf, size_t size, size_t buflen)
{
    (void)buflen;
    return SM_INNER(getcwd)(buf, size);
}

SM_EXPORT char *getwd(char *buf)
{
    return SM_INNER(getcwd)(buf, PATH_MAX);
}

/* glibc compares $PWD with "." by stat, inside itself: do the same through the shim. */
SM_EXPORT char *get_current_dir_name(void)
{
    const char *pwd = sm_getenv("PWD");
    struct stat a, b;
    if (pwd && pwd[0] == '/' && sm_fstatat_core(AT_FDCWD, pwd, &a, 0) == 0 &&
        SM_REAL(stat)(".", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return strdup(pwd);
    return SM_INNER(getcwd)(NULL, 0);
}

/* ---- realpath -------------------------------------------------------------------------------------- */

SM_EXPORT char *realpath(const char *path, char *resolved)
{
    char out[PATH_MAX];
    SM_OPAQUE(path);
    if (!path || !sm_cfg.enabled)
        return SM_REAL(realpath)(path, resolved);
    int saved = errno;
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &r);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    if (SM_UNLIKELY(sm_privs_changed) && r.kind == SM_TREE) {
        /* the cache's path may be closed to this process: ask the kernel for the name of what
         * the path opens, through the tree fd */
        char link[32];
        int fd = sm_brief_openat(AT_FDCWD, r.path, O_PATH, 0);
        if (fd < 0)
            return NULL;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = SM_REAL(readlinkat)(AT_FDCWD, link, out, sizeof out - 1);
        int e = errno;
        sm_brief_close(fd);
        if (n < 0) {
            errno = e;
            return NULL;
        }
        out[n] = '\0';
    } else if (!SM_REAL(realpath)(r.path, out)) {
        return NULL;
    }
    if (sm_untranslate(out, sizeof out) < 0) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    if (!resolved) {
        char *p = strdup(out);
        if (p)
            errno = saved;
        return p;
    }
    strcpy(resolved, out);
    errno = saved;
    return resolved;
}
SM_INNER_ALIAS(realpath);

SM_EXPORT char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
    (void)resolvedlen;
    return SM_INNER(realpath)(path, resolved);
}

SM_EXPORT char *canonicalize_file_name(const char *path)
{
    return SM_INNER(realpath)(path, NULL);
}
