/* lease.c: the cache's lease and the upload capacity its holder may use.
 * One process at a time talks to the remote; uploads an earlier holder abandoned in flight
 * count against the limit until they must have ended. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* kv "lease.abandoned" = "<count> <until_ms>": uploads left in flight by holders that quit,
 * counted against the cache's limit at the server until they must have ended. */
#define ABANDONED     "lease.abandoned"
#define ABANDONED_MAX 64 /* its value: two decimal numbers */

int smh_lease(struct smh_engine *e)
{
    if (__atomic_load_n(&e->quit, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t now = smc_now_ms();
    if (now < e->lease_renewed + SMH_LEASE_RENEW_MS)
        return 1;
    int rc = smc_lease_take(e->c, SMH_LEASE, getpid(), e->start, now, SMH_LEASE_TTL_MS);
    if (rc == 1)
        e->lease_renewed = now;
    return rc == 1;
}

int smh_engine_lease(struct smh_engine *e)
{
    return smh_lease(e);
}

/* The abandoned uploads recorded now: 1 and (*n, *until), or 0 when none is recorded. */
static int abandoned_get(struct smh_engine *e, unsigned *n, unsigned long long *until)
{
    char cur[ABANDONED_MAX];
    return smc_kv_get(e->c, ABANDONED, cur, sizeof cur) == 0 &&
           sscanf(cur, "%u %llu", n, until) == 2;
}

/* Uploads a process leaves in flight when it quits still count against the cache's limit of
 * SMH_WORKERS at the server until they must have ended: the next holder uses fewer slots until
 * then. */
void smh_abandon_inflight(struct smh_engine *e)
{
    int n = 0;
    uint64_t until = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < SMH_WORKERS; i++) {
        struct job *j = &e->jobs[i];
        if (j->used && !j->done) {
            n++;
            uint64_t end = (j->started_ms ? j->started_ms : smc_now_ms()) + SMH_REQ_TIMEOUT_MS;
            if (end > until)
                until = end;
        }
    }
    pthread_mutex_unlock(&e->mu);
    if (!n)
        return;
    char val[ABANDONED_MAX];
    unsigned cn = 0;
    unsigned long long cu = 0;
    if (abandoned_get(e, &cn, &cu) && cu > smc_now_ms()) {
        n += (int)cn;
        if (cu > until)
            until = cu;
    }
    snprintf(val, sizeof val, "%d %llu", n, (unsigned long long)until);
    smc_kv_put(e->c, ABANDONED, val);
}

int smh_capacity(struct smh_engine *e, uint64_t now)
{
    unsigned n = 0;
    unsigned long long until = 0;
    if (!abandoned_get(e, &n, &until))
        return SMH_WORKERS;
    if (until <= now) {
        smc_kv_del(e->c, ABANDONED);
        return SMH_WORKERS;
    }
    return n >= SMH_WORKERS ? 0 : SMH_WORKERS - (int)n;
}

/* ---- the server not answering --------------------------------------------------------------- */

/* kv SILENT = "<since_ms> <probe_at_ms> <delay_ms>"; kv LATENCY = "<median_ms>" of the latest
 * answered requests of a lease holder */
#define SILENT  "remote.silent"
#define LATENCY "remote.latency"

static int silent_get(struct smc *c, unsigned long long *since, unsigned long long *probe,
                      unsigned long long *delay)
{
    char cur[ABANDONED_MAX];
    return smc_kv_get(c, SILENT, cur, sizeof cur) == 0 &&
           sscanf(cur, "%llu %llu %llu", since, probe, delay) == 3;
}

int smh_silent(struct smc *c, uint64_t *probe_at)
{
    unsigned long long since, probe, delay;
    if (!silent_get(c, &since, &probe, &delay))
        return 0;
    if (probe_at)
        *probe_at = probe;
    return 1;
}

void smh_silent_set(struct smc *c)
{
    unsigned long long since, probe, delay, now = smc_now_ms();
    if (silent_get(c, &since, &probe, &delay)) {
        delay = delay * 2 > SMH_SILENT_PROBE_MAX_MS ? SMH_SILENT_PROBE_MAX_MS : delay * 2;
    } else {
        since = now;
        delay = SMH_SILENT_PROBE_MIN_MS;
    }
    char val[ABANDONED_MAX];
    snprintf(val, sizeof val, "%llu %llu %llu", since, now + delay, delay);
    smc_kv_put(c, SILENT, val);
}

void smh_silent_clear(struct smc *c)
{
    if (smh_silent(c, NULL))
        smc_kv_del(c, SILENT);
}

long smh_stall_ms(struct smc *c)
{
    char cur[ABANDONED_MAX];
    long med = smc_kv_get(c, LATENCY, cur, sizeof cur) == 0 ? atol(cur) : 0;
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
    char val[ABANDONED_MAX];
    snprintf(val, sizeof val, "%llu", (unsigned long long)med);
    smc_kv_put(e->c, LATENCY, val);
}
