/* engine.c: the push engine's life: create, free, quit at exit, wait for a drain.
 *
 * The engine's files: engine.c (this), push.c (the dispatcher), jobs.c (what one job sends),
 * content.c (reading a file to send), workers.c (the upload threads), outcome.c (what a
 * finished job leads to), lease.c (the lease and the upload capacity), scan.c
 * (changes nobody recorded, poisoned retries), bind.c (the cache's remote), budget.c (the
 * request budget every request of the cache holds a slot of); engine_int.h holds
 * what they share.
 *
 * DESIGN
 * One process at a time talks to the remote for a cache: the holder of the lease SMC_KV_LEASE_SYNC
 * in LMDB (pid, start time, expiry; renewed every SMH_LEASE_RENEW_MS; taken over when its holder
 * dies or lets it expire). The holder runs the dispatcher and SMH_WORKERS upload workers. Every
 * request to the remote, uploads, pull pages and hydration, of every process on the cache,
 * holds a slot of the cache's request budget while in flight (budget.c: SMH_BUDGET_SLOTS in all,
 * SMH_BUDGET_READS for pulls and hydration), so however many processes share one cache there
 * are never more than SMH_BUDGET_SLOTS requests in flight for it. A process that quits with
 * uploads in flight keeps their slots while it lives; they are free once it is dead.
 *
 * Records are hints: a WRITE record says "look at this file", and the worker reads the bytes the
 * file holds when it gets there (so repeated writes coalesce, and a write made while an upload
 * was in flight is pushed again: smc_push_done compares the stat). Records of one path are
 * handled in order and never two at once (a rename touches two paths). Creates carry the
 * customId chosen when the file was first recorded: a create retried after a crash or a lost
 * answer updates the same document instead of making a second one.
 *
 * Failures: 429, 5xx, timeouts and dropped connections back off per path (SMH_BACKOFF_MIN_MS
 * doubling to SMH_BACKOFF_MAX_MS, or Retry-After); 401/403 pause the whole queue; another 4xx
 * (not 404) poisons the file (kept, listed by `smshim status`, retried by
 * `smshim sync --retry-poisoned`).
 *
 * Lock order: e->mu (initialised here) is the engine's lock; LMDB transactions are never begun
 * while holding it. scan.c's scan_mu is held across a whole scan (LMDB inside it) and e->mu is
 * never taken under it. bg.c takes its own bg.mu before e->mu, never the other way.
 */
#include "engine_int.h"

#include "clock.h"
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct smh_engine *smh_engine_new(const struct smh_opts *o)
{
    struct smh_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->c = o->cache;
    smc_layout_path(o->cache_dir, SMC_TREE, NULL, e->tree, sizeof e->tree);
    snprintf(e->base, sizeof e->base, "%s", o->base_url);
    snprintf(e->key, sizeof e->key, "%s", o->key);
    snprintf(e->tag, sizeof e->tag, "%s", o->tag);
    e->start = smc_self_start();
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (smh_http_load() != 0)
        return e; /* no workers: smh_push_run reports the queue as stuck */
    smh_workers_start(e);
    return e;
}

void smh_engine_free(struct smh_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->cv);
    /* a worker still waiting on the network is not waited for: its record stays queued and
     * the next lease holder sends it again (idempotent); the engine then stays allocated */
    int busy = 0;
    for (int i = 0; i < SMH_WORKERS; i++)
        busy |= e->jobs[i].used && !e->jobs[i].done;
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < e->nth; i++) {
        if (busy)
            pthread_detach(e->th[i]);
        else
            pthread_join(e->th[i], NULL);
    }
    smc_lease_drop(e->c, SMC_KV_LEASE_SYNC, getpid());
    if (busy)
        return;
    smh_ks_free(&e->backoff);
    memset(e->key, 0, sizeof e->key);
    free(e);
}

int smh_engine_unreachable(struct smh_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int u = e->prog.unreachable || e->nth == 0;
    pthread_mutex_unlock(&e->mu);
    return u;
}

void smh_engine_stall_rule(struct smh_engine *e)
{
    e->stall_ms = smh_stall_ms(e->c);
    e->wait_from = smc_now_ms();
    e->stalled = 0;
    e->stall_rule = 1;
}

void smh_engine_drain_wait(struct smh_engine *e, long timeout_ms)
{
    uint64_t deadline = smc_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    __atomic_store_n(&e->yield, 0, __ATOMIC_RELEASE);
    smh_engine_stall_rule(e);
    /* a drain has no debounce: the paths held back on purpose (debounce, a document still being
     * processed; b == 0: no failure) may go at once, so all 8 slots fill from the start */
    for (size_t i = 0; i < e->backoff.cap; i++)
        if (e->backoff.v[i].key && e->backoff.v[i].b == 0)
            e->backoff.v[i].a = 0;
    for (;;) {
        struct smc_counts n;
        uint64_t now = smc_now_ms();
        if (smc_counts(e->c, &n) != 0 || n.queued == 0 || now >= deadline || e->stalled)
            return;
        if (smh_engine_unreachable(e)) {
            smh_silent_set(e->c); /* no answer at all: the next processes do not wait */
            return;
        }
        /* in slices, so that a server found unreachable ends the wait */
        uint64_t left = deadline - now;
        smh_push_run(e, (long)(left < SMH_DRAIN_SLICE_MS ? left : SMH_DRAIN_SLICE_MS), 1, NULL,
                     NULL);
    }
}

void smh_engine_yield(struct smh_engine *e)
{
    __atomic_store_n(&e->yield, 1, __ATOMIC_RELEASE);
}

void smh_engine_quit(struct smh_engine *e)
{
    __atomic_store_n(&e->quit, 1, __ATOMIC_RELEASE);
    smc_lease_drop(e->c, SMC_KV_LEASE_SYNC, getpid());
}
