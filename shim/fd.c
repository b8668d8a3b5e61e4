/* fd.c: the descriptors the shim must know about: the tree fd, descriptors open for writing on
 * files under the prefix (their close records the file again) and descriptors the program opened
 * on the cache's LMDB lock file (their close drops this process's locks, which are taken again).
 * close, fclose, close_range, dup2, dup3 and the fsync family; the raw door reaches the same
 * cores (sys.c). */
#include "shim.h"

#include <stdlib.h>
#include <unistd.h>

/* ---- descriptors open for writing under the prefix ------------------------------------------ */

/* The pid that opened each and the file's key. Their close records the file again, so that
 * writes made after the sync engine read it are pushed (the engine's scan finds those closed some
 * other way: exit, a child). */
#define WFD_MAX 4096
static struct {
    pid_t owner;
    char *key; /* malloc'd */
} wfd[WFD_MAX];

void sm_wfd_set(int fd, const char *key)
{
    if (fd < 0 || fd >= WFD_MAX)
        return;
    char *k = strdup(key);
    __atomic_store_n(&wfd[fd].owner, getpid(), __ATOMIC_RELAXED);
    free(__atomic_exchange_n(&wfd[fd].key, k, __ATOMIC_ACQ_REL));
}

/* close() of fd: 1 (and its key) when fd was opened for writing on a file under the prefix by
 * this process. */
static int wfd_closing(int fd, char key[PATH_MAX])
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

/* ---- close ------------------------------------------------------------------------------------ */

enum { CLOSE_PLAIN, CLOSE_RELOCK, CLOSE_RECORD };

/* What a close of fd means to the shim, decided before the real close. */
static int closing(int fd, char key[PATH_MAX])
{
    if (SM_UNLIKELY(sm_is_tree_fd(fd)))
        sm_tree_fd_lost(fd);
    if (SM_UNLIKELY(SM_GUARD_ON()) && sm_guard_closing(fd))
        return CLOSE_RELOCK;
    return wfd_closing(fd, key) ? CLOSE_RECORD : CLOSE_PLAIN;
}

static void closed(int what, const char *key)
{
    if (what == CLOSE_RELOCK)
        sm_guard_relock();
    else if (what == CLOSE_RECORD)
        sm_note_write(key);
}

int sm_close_core(int fd)
{
    char key[PATH_MAX];
    int what = closing(fd, key);
    int rc = SM_REAL(close)(fd) == 0 ? 0 : -errno;
    if (SM_UNLIKELY(what != CLOSE_PLAIN))
        closed(what, key);
    return rc;
}

SM_EXPORT int close(int fd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(close)(fd);
    SM_CALL(sm_close_core(fd));
}

SM_EXPORT int fclose(FILE *f)
{
    char key[PATH_MAX];
    if (SM_UNLIKELY(sm_in_lib) || !f)
        return SM_REAL(fclose)(f);
    int what = closing(fileno(f), key);
    int rc = SM_REAL(fclose)(f);
    if (SM_UNLIKELY(what != CLOSE_PLAIN)) {
        int saved = errno;
        closed(what, key);
        errno = saved;
    }
    return rc;
}

int sm_close_range_core(unsigned first, unsigned last, unsigned flags)
{
    int t = sm_treefd_value;
    if (t >= 0 && (unsigned)t >= first && (unsigned)t <= last && !(flags & CLOSE_RANGE_CLOEXEC))
        sm_tree_fd_lost(t);
    return SM_REAL(close_range)(first, last, (int)flags) == 0 ? 0 : -errno;
}

SM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(close_range)(first, last, flags);
    SM_CALL(sm_close_range_core(first, last, (unsigned)flags));
}

/* ---- dup2 / dup3 onto a descriptor the shim knows -------------------------------------------- */

void sm_fd_replacing(int old, int nfd)
{
    if (SM_UNLIKELY(sm_is_tree_fd(nfd)) && old != nfd)
        sm_tree_fd_lost(nfd);
}

SM_EXPORT int dup2(int old, int nfd)
{
    if (SM_LIKELY(!sm_in_lib))
        sm_fd_replacing(old, nfd);
    return SM_REAL(dup2)(old, nfd);
}

SM_EXPORT int dup3(int old, int nfd, int flags)
{
    if (SM_LIKELY(!sm_in_lib))
        sm_fd_replacing(old, nfd);
    return SM_REAL(dup3)(old, nfd, flags);
}

/* ---- durability: fsync of a virtual file also makes the cache's committed state durable ---- */

int sm_fsync_core(int fd, int kind)
{
    char key[PATH_MAX];
    int rc = kind == 0 ? SM_REAL(fsync)(fd) : kind == 1 ? SM_REAL(fdatasync)(fd) : SM_REAL(syncfs)(fd);
    if (rc != 0)
        return -errno;
    if (sm_cfg.enabled && sm_key_fd(fd, key) == 0)
        sm_note_sync();
    return 0;
}

SM_EXPORT int fsync(int fd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(fsync)(fd);
    SM_CALL(sm_fsync_core(fd, 0));
}

SM_EXPORT int fdatasync(int fd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(fdatasync)(fd);
    SM_CALL(sm_fsync_core(fd, 1));
}

SM_EXPORT int syncfs(int fd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(syncfs)(fd);
    SM_CALL(sm_fsync_core(fd, 2));
}

SM_EXPORT void sync(void)
{
    SM_REAL(sync)();
    if (SM_UNLIKELY(sm_in_lib))
        return;
    int saved = errno;
    sm_note_sync();
    errno = saved;
}
