/* bg_pool.c: the lease holder's requests from the background thread: a pool of worker threads
 * that answer the cache's hydration queue (a process's misses), the periodic pulls and the probe
 * of a server recorded as not answering. */
#include "hydrate.h"
#include "bg_int.h"

#include "../cache/cache.h"
#include "clock.h"
#include "creds.h"
#include "http.h"
#include "keyset.h"
#include "sm_real.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* One pull or hydration request into the cache; 0 or -EIO (*unreachable, if not NULL: no answer
 * came at all). */
static long pull_one(int full, const char *filepath, int *unreachable)
{
    char tree[BG_PATH_MAX], tmp[BG_PATH_MAX], msg[BG_MSG_MAX];
    smc_layout_path(smh_bg.o.cache_dir, SMC_TREE, NULL, tree, sizeof tree);
    smc_layout_path(smh_bg.o.cache_dir, SMC_TMP, NULL, tmp, sizeof tmp);
    struct smh_pull_opts po = {.cache = smh_bg.o.cache,
                               .tree = tree,
                               .tmp = tmp,
                               .base_url = smh_bg.o.base_url,
                               .key = smh_bg.o.key,
                               .tag = smh_bg.o.tag,
                               .full = full,
                               .filepath = filepath,
                               .timeout_ms = SMH_REQ_TIMEOUT_MS,
                               .log = smh_bg_log};
    struct smh_pull_result res;
    long rc = smh_pull(smh_bg.e, &po, &res);
    if (unreachable)
        *unreachable = rc < 0 && res.unreachable;
    if (rc == 0)
        smh_silent_clear(smh_bg.o.cache);
    else if (res.unreachable && !smh_silent(smh_bg.o.cache, NULL))
        smh_silent_set(smh_bg.o.cache); /* the next processes do not wait on it (a failed probe
                                     * already backed off when it was claimed) */
    if (rc < 0) {
        snprintf(msg, sizeof msg, "pull%s%s: %s", filepath ? " " : "", filepath ? filepath : "",
                 res.error);
        smh_bg_log(msg);
    }
    return rc;
}

struct hyd {
    char *keys[HYD_BATCH];
    int n;
};

/* Keep a copy of s (when there is room); 1 when full. */
static int hyd_keep(struct hyd *h, const char *s)
{
    if (h->n < HYD_BATCH && (h->keys[h->n] = strdup(s)))
        h->n++;
    return h->n >= HYD_BATCH;
}

/* The queued filepaths. */
static int hyd_collect(void *arg, const char *key, const uint64_t *v, int got)
{
    (void)v, (void)got;
    return hyd_keep(arg, key);
}

/* The filepaths whose claim (SMC_KV_HYDD) is older than MISS_TTL. */
static int hyd_stale(void *arg, const char *key, const uint64_t *v, int got)
{
    struct hyd *h = arg;
    (void)got;
    if (smc_now_ms() > v[0] + MISS_TTL)
        return hyd_keep(h, key);
    return h->n >= HYD_BATCH;
}

/* ---- the hydration pool ----------------------------------------------------------------------
 * The lease holder answers the cache's hydration queue (kv SMC_KV_HYDQ, keyed by filepath: one entry per
 * name, whichever processes missed it) with HYD_WORKERS threads, one name each at a time: for a
 * name, one filepath-filtered listing, and one for the directory of that name. A name is never
 * asked for twice within MISS_TTL, by any process: SMC_KV_HYDD is claimed before asking, whatever the
 * outcome (success, failure, or this process exiting with the answer in flight). Within the
 * process, pool.busy holds every name handed out and not yet answered, so a name queued again
 * meanwhile is not handed out twice. Each listing also holds a slot of the cache's request
 * budget while it is in flight (smh_pull). Lock: pool.mu, never held across LMDB or the network,
 * never taken with smh_bg.mu held. */
#define HYD_WORKERS 4 /* hydration requests of the lease holder in flight at once */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* a name was handed out, or stop */
    char *todo[HYD_BATCH]; /* names handed out, not yet taken by a worker */
    int ntodo;
    struct smh_keyset busy; /* names handed out and not yet answered */
    int nth, stop;
    int pull;    /* a periodic pull handed out: -1 none, else full or not */
    int pulling; /* a worker runs it (the sync thread hands out no other meanwhile) */
    pid_t pid;   /* the process whose workers these are (a fork child has none) */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .pull = -1};

static void pull_run(int full);

/* Answer one name: unless it was asked for within MISS_TTL or exists now, claim it, ask for it
 * and for the directory of that name (not when the first got no answer at all); then it leaves
 * the queue. While the server is recorded as not answering it stays queued, unasked. */
static void hydrate_one(const char *key)
{
    char tree[BG_PATH_MAX];
    uint64_t done;
    struct stat st;
    if (smh_silent(smh_bg.o.cache, NULL))
        return; /* asked once the server answers again */
    int recent = smc_kv_get_u64(smh_bg.o.cache, SMC_KV_HYDD, key, &done) == 0 &&
                 smc_now_ms() < done + MISS_TTL;
    smc_layout_path(smh_bg.o.cache_dir, SMC_TREE, NULL, tree, sizeof tree);
    if (!recent && smc_tree_stat(tree, key, &st) == 0)
        recent = 1; /* it exists now (made locally since, as by a mkdir -p): nothing to ask */
    if (!recent) {
        char dir[BG_PATH_MAX];
        int unreachable = 0;
        smc_kv_set_u64(smh_bg.o.cache, SMC_KV_HYDD, key, smc_now_ms()); /* claimed before asking */
        pull_one(0, key, &unreachable);
        if (smh_http_closed())
            return; /* this process ends, and did not ask: the name stays queued for the next
                     * lease holder (after the claim's TTL) */
        snprintf(dir, sizeof dir, "%s/", key);
        if (!unreachable)
            pull_one(0, dir, NULL);
        /* the negative TTL runs from the answer: a name missed again meanwhile waits for it */
        smc_kv_set_u64(smh_bg.o.cache, SMC_KV_HYDD, key, smc_now_ms());
    }
    smc_kv_unset(smh_bg.o.cache, SMC_KV_HYDQ, key);
}

static void *hyd_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (!pool.stop && pool.ntodo == 0 && pool.pull < 0)
            pthread_cond_wait(&pool.cv, &pool.mu);
        if (pool.stop)
            break;
        if (pool.pull >= 0) {
            int full = pool.pull;
            pool.pull = -1;
            pthread_mutex_unlock(&pool.mu);
            pull_run(full);
            pthread_mutex_lock(&pool.mu);
            pool.pulling = 0;
            continue;
        }
        char *key = pool.todo[--pool.ntodo];
        pthread_mutex_unlock(&pool.mu);
        hydrate_one(key);
        pthread_mutex_lock(&pool.mu);
        smh_ks_del(&pool.busy, key);
        free(key);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

/* Start the workers on first use (in the sync thread). */
static void pool_start(void)
{
    pthread_mutex_lock(&pool.mu);
    if (pool.pid != getpid()) {
        pool.pid = getpid();
        pool.nth = 0;
    }
    while (pool.nth < HYD_WORKERS && !pool.stop) {
        pthread_t th;
        if (sm_thread_start(&th, NULL, hyd_worker, NULL) != 0)
            break;
        pthread_detach(th);
        pool.nth++;
    }
    pthread_mutex_unlock(&pool.mu);
}

/* The process quits: the workers end once their request is answered (never waited for). */
void smh_pool_stop(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

/* Hand the queued names nobody is asking for yet to the workers, and forget the claims older
 * than MISS_TTL. */
void smh_pool_hydrate_pending(void)
{
    struct hyd h = {.n = 0};
    smc_kv_each_nums(smh_bg.o.cache, SMC_KV_HYDQ, 1, hyd_collect, &h);
    if (h.n)
        pool_start();
    pthread_mutex_lock(&pool.mu);
    int handed = 0;
    for (int i = 0; i < h.n; i++) {
        if (pool.nth > 0 && pool.ntodo < HYD_BATCH && !smh_ks_get(&pool.busy, h.keys[i]) &&
            smh_ks_put(&pool.busy, h.keys[i])) {
            pool.todo[pool.ntodo++] = h.keys[i];
            handed = 1;
        } else {
            free(h.keys[i]); /* being asked already, or no room: handed out at a later pass */
        }
    }
    if (handed)
        pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    h.n = 0;
    smc_kv_each_nums(smh_bg.o.cache, SMC_KV_HYDD, 1, hyd_stale, &h);
    for (int i = 0; i < h.n; i++) {
        smc_kv_unset(smh_bg.o.cache, SMC_KV_HYDD, h.keys[i]);
        free(h.keys[i]);
    }
}

/* The holder's periodic pulls: a delta pull every pull interval, a full one every
 * FULL_PULL_EVERY (and the first time: a delta pull cannot see deletions). A pull runs in a
 * worker of the pool (pull_run), so the sync thread goes on pushing meanwhile (and at exit drains
 * at once); smh_bg.pulls and smh_bg.next_pull are under pool.mu. */
void smh_pool_pull_due(void)
{
    uint64_t now = smc_now_ms();
    uint64_t last_ms;
    int last = smc_kv_get_u64(smh_bg.o.cache, SMC_KV_PULL_LAST, NULL, &last_ms) == 0;
    int nowm = !smh_report_watermark(smh_bg.o.cache);
    pthread_mutex_lock(&pool.mu);
    if (!smh_bg.next_pull && last) {
        /* whoever pulled last (another process, smshim run) counts: a new process does not
         * pull again before the interval is up */
        smh_bg.next_pull = last_ms + (uint64_t)smh_bg.o.pull_interval_ms;
        smh_bg.pulls = 1; /* its next pull is a delta pull */
    }
    int due = !pool.pulling && now >= smh_bg.next_pull;
    pthread_mutex_unlock(&pool.mu);
    if (!due)
        return;
    pool_start();
    pthread_mutex_lock(&pool.mu);
    if (pool.nth > 0 && !pool.pulling) {
        pool.pulling = 1;
        pool.pull = smh_bg.pulls % FULL_PULL_EVERY == 0 || nowm;
        pthread_cond_broadcast(&pool.cv);
    }
    pthread_mutex_unlock(&pool.mu);
}

/* One periodic pull, in a worker of the pool. */
static void pull_run(int full)
{
    int ok = pull_one(full, NULL, NULL) == 0;
    /* changes nobody recorded (a write through a descriptor closed by exit, by a child, or by a
     * raw close) are found by comparing the tree with the entries */
    smh_scan(smh_bg.e);
    pthread_mutex_lock(&pool.mu);
    smh_bg.pulls += ok;
    smh_bg.next_pull = smc_now_ms() + (uint64_t)smh_bg.o.pull_interval_ms;
    pthread_mutex_unlock(&pool.mu);
}

/* The server is recorded as not answering: the holder's probe, once its backoff is over, is
 * one pull (its first request is the probe, counted in the record; an answer clears it). */
void smh_pool_probe(void)
{
    pthread_mutex_lock(&pool.mu);
    int pulling = pool.pulling; /* a pull still in flight: no probe beside it */
    pthread_mutex_unlock(&pool.mu);
    if (pulling || !smh_silent_probe(smh_bg.o.cache))
        return;
    if (pull_one(!smh_report_watermark(smh_bg.o.cache), NULL, NULL) == 0) {
        pthread_mutex_lock(&pool.mu);
        smh_bg.pulls++;
        smh_bg.next_pull = smc_now_ms() + (uint64_t)smh_bg.o.pull_interval_ms;
        pthread_mutex_unlock(&pool.mu);
    }
}

void smh_pool_atfork_child(void)
{
    pthread_mutex_init(&pool.mu, NULL); /* the parent's workers are not here */
    pthread_cond_init(&pool.cv, NULL);
    pool.ntodo = pool.nth = pool.stop = pool.pulling = 0;
    pool.pull = -1;
    pool.busy.v = NULL; /* (the parent's copies leak, as the misses do) */
    pool.busy.cap = pool.busy.n = 0;
}
