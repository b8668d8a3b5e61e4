/* lease.c: the cache's lease, the upload capacity its holder may use, and the cache-wide record
 * of a server that is not answering.
 * One process at a time pushes; its uploads hold slots of the cache's request budget
 * (budget.c), which it shares with every pull and hydration of every process on the cache, and
 * with the uploads a quitting process left in flight (while that process lives). */
#include "engine_int.h"

#include "budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int smh_lease(struct smh_engine *e)
{
    if (__atomic_load_n(&e->quit, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t now = smc_now_ms();
    if (now < e->lease_renewed + SMH_LEASE_RENEW_MS)
        return 1;
    int rc = smc_lease_take(e->c, SMC_KV_LEASE_SYNC, getpid(), e->start, now, SMH_LEASE_TTL_MS);
    if (rc == 1)
        e->lease_renewed = now;
    return rc == 1;
}

int smh_engine_lease(struct smh_engine *e)
{
    return smh_lease(e);
}

int smh_capacity(struct smh_engine *e, uint64_t now)
{
    (void)now;
    /* the slots this process's uploads hold, and those free for uploads (read before e->mu:
     * LMDB is never used under it) */
    int cap = smh_budget_held_uploads() + smh_budget_free(e->c, SMH_BUDGET_UPLOAD);
    return cap > SMH_WORKERS ? SMH_WORKERS : cap;
}

/* ---- the server not answering --------------------------------------------------------------- */

/* kv SMC_KV_SILENT; kv SMC_KV_LATENCY, the median of the latest answered requests of a lease
 * holder. probes: how many probes were claimed since the record was made (smh_silent_probe);
 * each is one request to the server. */

struct silent {
    unsigned long long since, probe, delay, probes;
};

static int silent_get(struct smc *c, struct silent *s)
{
    uint64_t v[4];
    int got = smc_kv_get_nums(c, SMC_KV_SILENT, NULL, v, 4);
    s->since = v[0];
    s->probe = v[1];
    s->delay = v[2];
    s->probes = v[3];
    return got >= 3;
}

static void silent_put(struct smc *c, const struct silent *s)
{
    const uint64_t v[4] = {s->since, s->probe, s->delay, s->probes};
    smc_kv_set_nums(c, SMC_KV_SILENT, NULL, v, 4);
}

int smh_silent(struct smc *c, uint64_t *probe_at)
{
    struct silent s;
    if (!silent_get(c, &s))
        return 0;
    if (probe_at)
        *probe_at = UINT64_MAX; /* only the holder's probe asks (smh_silent_probe): a push waits */
    return 1;
}

int smh_silent_info(struct smc *c, unsigned long long *probes)
{
    struct silent s;
    if (!silent_get(c, &s))
        return 0;
    if (probes)
        *probes = s.probes;
    return 1;
}

/* The record made or renewed: the next probe backs off further. */
static void silent_record(struct smc *c, int probe)
{
    struct silent s;
    unsigned long long now = smc_now_ms();
    if (silent_get(c, &s)) {
        s.delay = s.delay * 2 > SMH_SILENT_PROBE_MAX_MS ? SMH_SILENT_PROBE_MAX_MS : s.delay * 2;
    } else {
        s.since = now;
        s.delay = SMH_SILENT_PROBE_MIN_MS;
        s.probes = 0;
    }
    s.probe = now + s.delay;
    s.probes += probe != 0;
    silent_put(c, &s);
}

void smh_silent_set(struct smc *c)
{
    silent_record(c, 0);
}

int smh_silent_probe(struct smc *c)
{
    struct silent s;
    if (!silent_get(c, &s) || smc_now_ms() < s.probe)
        return 0;
    silent_record(c, 1);
    return 1;
}

void smh_silent_clear(struct smc *c)
{
    if (smh_silent(c, NULL))
        smc_kv_unset(c, SMC_KV_SILENT, NULL);
}

long smh_stall_ms(struct smc *c)
{
    uint64_t m = 0;
    long med = smc_kv_get_u64(c, SMC_KV_LATENCY, NULL, &m) == 0 ? (long)m : 0;
    return med > SMH_STALL_MIN_MS / 3 ? 3 * med : SMH_STALL_MIN_MS;
}

/* The median of the samples (0 when none). Under e->mu. */
static uint64_t latency_median(struct smh_engine *e)
{
    uint64_t v[SMH_LAT_SAMPLES];
    size_t n = e->nlat < SMH_LAT_SAMPLES ? e->nlat : SMH_LAT_SAMPLES;
    memcpy(v, e->lat, n * sizeof *v);
    for (size_t i = 1; i < n; i++) /* insertion sort: at most SMH_LAT_SAMPLES */
        for (size_t k = i; k > 0 && v[k - 1] > v[k]; k--) {
            uint64_t t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return n ? v[n / 2] : 0;
}

void smh_latency_save(struct smh_engine *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t med = e->nlat != e->nlat_saved ? latency_median(e) : 0;
    e->nlat_saved = e->nlat;
    pthread_mutex_unlock(&e->mu);
    if (!med)
        return;
    smc_kv_set_u64(e->c, SMC_KV_LATENCY, NULL, med);
}
