/* beneath.c: the sync engine's way into the tree. A key ("/a/b.md") is resolved beneath the
 * tree one component at a time, each directory opened with O_NOFOLLOW|O_DIRECTORY from the one
 * before: a symbolic link (or a file) in the way ends the walk, so nothing the engine reads,
 * writes, renames or removes is ever outside the tree, whatever links programs made in it. The
 * last component is then used relative to its directory's descriptor, never followed either. */
#include "cache.h"
#include "sm_real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

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
        if (mkdirs && SM_REAL(mkdirat)(fd, comp, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            sm_lib_close(fd);
            return -e;
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
