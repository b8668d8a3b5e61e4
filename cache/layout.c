/* layout.c: the cache directory's layout (include/smshim.h): the one place that knows
 * <cache>/tree, <cache>/meta and <cache>/tmp, and creates them with their modes. */
#include "cache.h"
#include "smshim.h"
#include "sm_real.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

static const char *const part_dir[] = {
    [SMC_TREE] = SMSHIM_TREE_DIR,
    [SMC_META] = SMSHIM_META_DIR,
    [SMC_TMP] = SMSHIM_TMP_DIR,
};

int smc_layout_path(const char *cache, enum smc_part part, const char *rest, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s%s", cache, part_dir[part], rest ? rest : "");
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- exact modes --------------------------------------------------------------------------------
 * The cache's own directories and files have exactly the modes the cache gives them, whatever
 * the umask of the process that makes them: under `umask 777` a host made its cache directory
 * mode 000, and from then on every process on that cache (whatever its umask) failed every call
 * under the prefix with EACCES. A file the cache pulls into the tree is the service's, 0644 for
 * every process alike, as on a mounted filesystem; a file the program makes there keeps the
 * program's umask, as on a real directory. */

int smc_mkdirat_exact(int dirfd, const char *path, mode_t mode)
{
    struct stat st;
    if (SM_REAL(mkdirat)(dirfd, path, mode) != 0)
        return -errno;
    if (SM_REAL(fstatat)(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        (st.st_mode & 07777) == mode)
        return 0; /* the common umask took nothing the mode holds */
    /* by name: a directory of mode 000 cannot be opened to fchmod it (a descriptor of O_PATH
     * takes no fchmod); it was made by this call, in a directory of this user's */
    (void)SM_REAL(fchmodat)(dirfd, path, mode, 0);
    return 0;
}

void smc_fd_exact(int fd, const struct stat *st, mode_t mode)
{
    if ((st->st_mode & 07777) != mode && st->st_uid == geteuid())
        (void)fchmod(fd, mode); /* made narrower by a umask (this process's or an earlier one's) */
}

int smc_flock(int fd, int op)
{
    int rc;
    while ((rc = flock(fd, op)) != 0 && errno == EINTR)
        ;
    return rc;
}

int smc_file_exact(const char *dir, const char *name, mode_t mode)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
        return -ENAMETOOLONG;
    /* only a file this call makes: an open and close of one that exists (lock.mdb) would drop
     * the process's POSIX locks on it */
    int fd = sm_lib_openat(AT_FDCWD, p, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return errno == EEXIST ? 0 : -errno;
    (void)fchmod(fd, mode);
    sm_lib_close(fd);
    return 0;
}

/* mkdir -p with mode for each created component; 0 or -errno. */
static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        int rc = smc_mkdirat_exact(AT_FDCWD, buf, mode);
        if (rc < 0 && rc != -EEXIST)
            return rc;
        buf[i] = c;
    }
    return 0;
}

int smc_layout_ensure(const char *cache)
{
    static const mode_t part_mode[] = {[SMC_TREE] = 0755, [SMC_META] = 0700, [SMC_TMP] = 0700};
    char p[PATH_MAX];
    int rc = 0;
    /* the parts first: on a cache that exists (every process's first call) three mkdirs answer
     * EEXIST, and the cache's own path is made only when a part's parent is missing */
    for (int made = 0; made < 2; made++) {
        int missing = 0;
        for (int i = 0; rc == 0 && i < (int)(sizeof part_mode / sizeof part_mode[0]); i++) {
            rc = smc_layout_path(cache, (enum smc_part)i, NULL, p, sizeof p);
            if (rc == 0 && (rc = smc_mkdirat_exact(AT_FDCWD, p, part_mode[i])) == -EEXIST)
                rc = 0;
            else if (rc < 0)
                missing = rc == -ENOENT && !made;
        }
        if (!missing)
            break;
        if ((rc = mkdir_p(cache, 0700)) < 0)
            break;
    }
    return rc;
}
