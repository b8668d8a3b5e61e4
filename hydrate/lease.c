/* lease.c: the cache's lease and the upload capacity its holder may use.
 * One process at a time talks to the remote; uploads an earlier holder abandoned in flight
 * count against the limit until they must have ended. */
#include "engine_int.h"

#include <stdio.h>
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
