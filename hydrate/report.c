/* report.c: what the sync engine recorded in the cache about its work (the bound remote, the
 * last pull, a paused queue, the latest refusal), read in one place for the CLI. */
#include "hydrate.h"

#include "../cache/cache.h"

#include "keyset.h"

#include <string.h>

static int count_one(void *arg, const char *name, const char *value)
{
    (void)name;
    (void)value;
    ++*(uint64_t *)arg;
    return 0;
}

struct held {
    struct smh_pairs l;
};

static int held_one(void *arg, uint64_t seq, const struct smc_qrec *q, const char *from,
                    const char *to)
{
    (void)seq;
    (void)to;
    char id[sizeof q->remote_id];
    memcpy(id, q->remote_id, sizeof id);
    id[sizeof id - 1] = '\0';
    if (q->op == SMC_Q_DELETE && id[0])
        return smh_pairs_add(arg, from, id) < 0;
    return 0;
}

/* The queued removals whose document a file here is bound to (jobs.c holds them back). */
static void held_count(struct smc *c, uint64_t *n)
{
    struct smh_pairs l = {0};
    smc_queue_each(c, held_one, &l); /* (collected first: one transaction at a time) */
    for (size_t i = 0; i < l.n; i++)
        *n += smc_doc_others(c, l.ids[i], NULL, NULL, 0) > 0;
    smh_pairs_free(&l);
}

void smh_report_read(struct smc *c, struct smh_report *r)
{
    memset(r, 0, sizeof *r);
    smc_kv_get_str(c, SMC_KV_PUSH_PAUSED, NULL, r->paused, sizeof r->paused);
    smc_kv_get_str(c, SMC_KV_REMOTE_URL, NULL, r->url, sizeof r->url);
    smc_kv_get_str(c, SMC_KV_REMOTE_TAG, NULL, r->tag, sizeof r->tag);
    smc_kv_get_str(c, SMC_KV_PUSH_POISONED, NULL, r->last_poisoned, sizeof r->last_poisoned);
    r->pulled = smc_kv_get_u64(c, SMC_KV_PULL_LAST, NULL, &r->last_pull_ms) == 0;
    r->has_watermark = smc_kv_get_u64(c, SMC_KV_PULL_WATERMARK, NULL, &r->watermark_ms) == 0;
    smc_kv_get_u64(c, SMC_KV_PULL_DUPLICATES, NULL, &r->duplicates);
    smc_kv_each(c, SMC_KV_PULL_SKIPPED, count_one, &r->unsafe);
    smc_ids_shared(c, &r->shared);
    held_count(c, &r->held);
    smc_kv_get_str(c, SMC_KV_CREDS_ERROR, NULL, r->creds_error, sizeof r->creds_error);
    r->silent = smh_silent_info(c, &r->silent_probes);
}

int smh_report_paused(struct smc *c, char *why, size_t n)
{
    return smc_kv_get_str(c, SMC_KV_PUSH_PAUSED, NULL, why, n) == 0;
}

int smh_report_watermark(struct smc *c)
{
    uint64_t wm;
    return smc_kv_get_u64(c, SMC_KV_PULL_WATERMARK, NULL, &wm) == 0;
}
