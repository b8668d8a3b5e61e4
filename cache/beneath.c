/* beneath.c: the sync engine's way into the tree. A key ("/a/b.md") is resolved beneath the
 * tree without ever following a symbolic link, so nothing the engine reads, writes, renames or
 * removes is ever outside the tree, whatever links programs made in it. Two ways, same answers:
 * - openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS) of the key's directory
 *   part, one call (Linux 5.6+), used when every component is a plain name;
 * - the walk: one component at a time, each directory opened with O_NOFOLLOW|O_DIRECTORY from
 *   the one before (a symbolic link or a file in the way ends it), creating missing directories
 *   when asked. It answers whatever openat2 cannot: a kernel or sandbox without it (ENOSYS,
 *   EPERM, EINVAL, E2BIG: not tried again), a key with ".", ".." or over-long components (the
 *   walk's error is the one of the first bad component), a path past PATH_MAX, a missing
 *   directory that is to be made, and any answer openat2 gives that the walk would not (EAGAIN
 *   of a rename race, EXDEV).
 * The last component is then used relative to its directory's descriptor, never followed
 * either. */
#include "cache.h"
#include "sm_real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static int walk_only;  /* smc_beneath_walk_only: tests compare both ways */
static int fast_state; /* 0 untried, 1 openat2 answers, -1 the kernel lacks or refuses it */
static unsigned long long fast_n; /* answers openat2 gave (smc_beneath_fast_count) */

int smc_beneath_walk_only(int on)
{
    return __atomic_exchange_n(&walk_only, on, __ATOMIC_RELAXED);
}

int smc_beneath_fast_seen(void)
{
    return __atomic_load_n(&fast_state, __ATOMIC_RELAXED) == 1;
}

unsigned long long smc_beneath_fast_count(void)
{
    return __atomic_load_n(&fast_n, __ATOMIC_RELAXED);
}

/* Every component of the n bytes at p is a plain name ("", ".", ".." and names over NAME_MAX
 * are left to the walk, which answers them in its order). */
static int plain_names(const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        size_t c = strcspn(p, "/");
        if (p + c > end)
            c = (size_t)(end - p);
        if ((c == 1 && p[0] == '.') || (c == 2 && p[0] == '.' && p[1] == '.') || c > NAME_MAX)
            return 0;
        p += c;
        while (p < end && *p == '/')
            p++;
    }
    return 1;
}

/* The directory part (n bytes at p) opened beneath fd by openat2: the descriptor, a final
 * -errno the walk would give too (-ENOTDIR for a link or a file in the way, -ENOENT, -EACCES),
 * or 1: let the walk answer. */
static int fast_dir(int fd, const char *p, size_t n, int mkdirs)
{
    char dir[PATH_MAX];
    if (__atomic_load_n(&walk_only, __ATOMIC_RELAXED) ||
        __atomic_load_n(&fast_state, __ATOMIC_RELAXED) < 0 || n >= sizeof dir || !plain_names(p, n))
        return 1;
    memcpy(dir, p, n);
    dir[n] = '\0';
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                           .resolve =
                               RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    sm_lift_begin(); /* the library's descriptor from the open on (sm_real.h) */
    long r = SM_REAL(syscall)(SYS_openat2, fd, dir, &how, sizeof how);
    int e = r < 0 ? errno : 0;
    r = r < 0 ? (sm_lift_end(), r) : sm_lift_end_fd((int)r);
    if (r < 0 && (e == ENOSYS || e == EPERM || e == EINVAL || e == E2BIG)) {
        __atomic_store_n(&fast_state, -1, __ATOMIC_RELAXED); /* not here: the walk from now on */
        return 1;
    }
    if (r >= 0 || e == ELOOP || e == ENOTDIR || e == ENOENT || e == EACCES)
        __atomic_store_n(&fast_state, 1, __ATOMIC_RELAXED);
    if (r >= 0) {
        __atomic_fetch_add(&fast_n, 1, __ATOMIC_RELAXED);
        return (int)r;
    }
    if (mkdirs || !(e == ELOOP || e == ENOTDIR || e == ENOENT || e == EACCES))
        return 1; /* directories to make, or an answer the walk would not give: walk */
    __atomic_fetch_add(&fast_n, 1, __ATOMIC_RELAXED);
    return e == ELOOP ? -ENOTDIR : -e; /* ELOOP: a symbolic link in the way */
}

int smc_tree_dir(const char *tree, const char *key, int mkdirs, const char **leaf)
{
    const char *p = key;
    while (*p == '/')
        p++;
    const char *last = strrchr(p, '/');
    *leaf = last ? last + 1 : p;
    if (!**leaf || strcmp(*leaf, ".") == 0 || strcmp(*leaf, "..") == 0)
        return -EINVAL;
    int fd = sm_lib_openat(AT_FDCWD, tree, O_PATH | O_DIRECTORY, 0);
    if (fd < 0)
        return -errno;
    if (last && p < last) {
        int r = fast_dir(fd, p, (size_t)(last - p), mkdirs);
        if (r != 1) {
            sm_lib_close(fd);
            return r;
        }
    }
    char comp[NAME_MAX + 1];
    while (last && p < last) {
        size_t n = strcspn(p, "/");
        if (n == 0) {
            p++;
            continue;
        }
        if (n > NAME_MAX || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            sm_lib_close(fd);
            return n > NAME_MAX ? -ENAMETOOLONG : -EINVAL;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        int made = mkdirs ? smc_mkdirat_exact(fd, comp, 0755) : 0;
        if (made < 0 && made != -EEXIST) {
            sm_lib_close(fd);
            return made;
        }
        int nfd = sm_lib_openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
        int e = errno;
        sm_lib_close(fd);
        if (nfd < 0)
            return e == ELOOP ? -ENOTDIR : -e; /* a symbolic link in the way */
        fd = nfd;
    }
    return fd;
}

int smc_tree_stat(const char *tree, const char *key, struct stat *st)
{
    const char *leaf;
    int dfd = smc_tree_dir(tree, key, 0, &leaf);
    if (dfd < 0)
        return dfd;
    int rc = SM_REAL(fstatat)(dfd, leaf, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
    sm_lib_close(dfd);
    return rc;
}

int smc_tree_open_file(int dfd, const char *leaf, const struct stat *want)
{
    int fd = sm_lib_openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (want && (st.st_dev != want->st_dev || st.st_ino != want->st_ino))) {
        sm_lib_close(fd);
        return -EINVAL; /* not a regular file, or not the one looked at a moment ago */
    }
    return fd;
}
