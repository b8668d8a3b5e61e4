/* test_stray.c: the removals a pull remembers for a push applied late (hydrate/stray.c). */
#include "../runner.h"
#include "../../cache/cache.h"
#include "../../hydrate/stray.h"

#include <limits.h>
#include <string.h>

/* A pushed removal is remembered by its custom id with its filepath until a pull that started
 * after its grace has ended; one whose grace is not over stays. */
SM_TEST(stray_removals_pruned)
{
    char meta[PATH_MAX], path[64];
    struct smc *c = NULL;
    int64_t until;
    snprintf(meta, sizeof meta, "%s/meta", sm_test_tmpdir());
    ASSERT_EQ_INT(smc_open(meta, &c), 0);
    uint64_t now = smc_now_ms();
    smh_stray_gone(c, "/a.png", "cid-old");
    smh_stray_gone(c, "/b.md", ""); /* no custom id: nothing to remember */
    ASSERT_EQ_INT(smc_kv_get_num_str(c, SMC_KV_GONE, "cid-old", &until, path, sizeof path), 0);
    ASSERT_EQ_STR(path, "/a.png");
    ASSERT((uint64_t)until > now);
    ASSERT_EQ_INT(smc_kv_get_num_str(c, SMC_KV_GONE, "", &until, path, sizeof path), -ENOENT);
    smh_stray_prune(c, now); /* a pull that started before the grace ended */
    ASSERT_EQ_INT(smc_kv_get_num_str(c, SMC_KV_GONE, "cid-old", &until, path, sizeof path), 0);
    ASSERT_EQ_INT(smc_kv_set_num_str(c, SMC_KV_GONE, "cid-new", until + 1000, "/c.png"), 0);
    smh_stray_prune(c, (uint64_t)until + 1); /* after the first's grace, before the second's */
    ASSERT_EQ_INT(smc_kv_get_num_str(c, SMC_KV_GONE, "cid-old", &until, path, sizeof path),
                  -ENOENT);
    ASSERT_EQ_INT(smc_kv_get_num_str(c, SMC_KV_GONE, "cid-new", &until, path, sizeof path), 0);
    ASSERT_EQ_STR(path, "/c.png");
    smc_close(c);
    return 0;
}
