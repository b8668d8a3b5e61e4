/* bind.c: which remote a cache syncs with: bound to one (URL, tag) on first use, refused after. */
#include "hydrate.h"

#include "../cache/cache.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The bound URL and tag are read into buffers this large: a longer stored value (or one cut
 * short) never compares equal, so the cache stays refused rather than misbound. */
#define BIND_URL_MAX 600
#define BIND_TAG_MAX 160

int smh_bind(struct smc *c, const char *url, const char *tag, char *why, size_t n)
{
    char cur_url[BIND_URL_MAX], cur_tag[BIND_TAG_MAX];
    int hu = smc_kv_get_str(c, SMC_KV_REMOTE_URL, NULL, cur_url, sizeof cur_url) == 0;
    int ht = smc_kv_get_str(c, SMC_KV_REMOTE_TAG, NULL, cur_tag, sizeof cur_tag) == 0;
    if (hu && ht) {
        if (strcmp(cur_url, url) == 0 && strcmp(cur_tag, tag) == 0)
            return 0;
        snprintf(why, n,
                 "this cache syncs with %s (tag %s), not %s (tag %s): use another SMSHIM_CACHE",
                 cur_url, cur_tag, url, tag);
        return -EEXIST;
    }
    int rc = smc_kv_set_str(c, SMC_KV_REMOTE_URL, NULL, url);
    if (rc == 0)
        rc = smc_kv_set_str(c, SMC_KV_REMOTE_TAG, NULL, tag);
    if (rc < 0)
        snprintf(why, n, "cannot bind the cache: %s", strerror(-rc));
    return rc;
}
