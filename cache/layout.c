/* layout.c: the cache directory's layout (include/smshim.h): the one place that knows
 * <cache>/tree, <cache>/meta and <cache>/tmp, and creates them with their modes. */
#include "cache.h"
#include "smshim.h"
#include "sm_real.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

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
        if (SM_REAL(mkdirat)(AT_FDCWD, buf, mode) != 0 && errno != EEXIST)
            return -errno;
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
            if (rc == 0 && SM_REAL(mkdirat)(AT_FDCWD, p, part_mode[i]) != 0 && errno != EEXIST) {
                rc = -errno;
                missing = errno == ENOENT && !made;
            }
        }
        if (!missing)
            break;
        if ((rc = mkdir_p(cache, 0700)) < 0)
            break;
    }
    return rc;
}
