/* bg.c: the sync engine inside a host process: one background thread, started on the first
 * change under the prefix when an API key is set (never in a process that only reads), with
 * every signal blocked. It pushes while it holds the cache's lease; otherwise it only waits to
 * take the lease over. At exit the process hands the lease on, or waits (bounded) for its queue
 * to drain when nobody else could take over.
 *
 * Lock order: bg.mu, then the engine's own lock (never the other way).
 */
#include "hydrate.h"
#include "bg.h"

#include "../cache/cache.h"
#include "sm_real.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void start(void);

#define MISS_RING 256 /* misses waiting for the thread (more are dropped: bounded memory) */
#define MISS_TTL  2000 /* ms: a name asked for is not asked for again before this */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;   /* 0 idle, 1 running, -1 disabled (no key, other container, no libcurl) */
    pid_t pid;   /* the process that started the thread (a vfork child is not it) */
    pthread_t th;
    int kicks, stop;
    struct smh_bg_opts o;
    struct smh_engine *e;
    char *miss[MISS_RING]; /* filepaths missed under the prefix, for hydration */
    int nmiss;
    uint64_t next_pull;
    unsigned pulls;
    int setup_done; /* bg_setup finished (successfully or not) */
    int exiting;    /* the process is exiting: start no more network work */
} bg = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void log_msg(const char *m)
{
    if (bg.o.log)
        bg.o.log(m);
}

/* One pull or hydration request into the cache; 0 or -EIO. */
static long pull_one(int full, const char *filepath)
{
    char tree[4200], tmp[4200], msg[300];
    snprintf(tree, sizeof tree, "%s/tree", bg.o.cache_dir);
    snprintf(tmp, sizeof tmp, "%s/tmp", bg.o.cache_dir);
    struct smh_pull_opts po = {.cache = bg.o.cache, .tree = tree, .tmp = tmp,
                               .base_url = bg.o.base_url, .key = bg.o.key, .tag = bg.o.tag,
                               .full = full, .filepath = filepath, .timeout_ms = 30000,
                               .log = log_msg};
    struct smh_pull_result res;
    long rc = smh_pull(bg.e, &po, &res);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "pull%s%s: %s", filepath ? " " : "", filepath ? filepath : "",
                 res.error);
        log_msg(msg);
    }
    return rc;
}

/* Hand the misses of this process to the cache's hydration queue (kv "hydq.<filepath>"), so
 * that whichever process holds the lease asks the server once for each. */
static void misses_flush(void)
{
    char *v[MISS_RING];
    int n;
    pthread_mutex_lock(&bg.mu);
    n = bg.nmiss;
    memcpy(v, bg.miss, sizeof(char *) * (size_t)n);
    bg.nmiss = 0;
    pthread_mutex_unlock(&bg.mu);
    char name[4200], val[32];
    snprintf(val, sizeof val, "%llu", (unsigned long long)smc_now_ms());
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "hydq.%s", v[i]);
        smc_kv_put(bg.o.cache, name, val);
        free(v[i]);
    }
}

struct hyd {
    char *keys[64];
    int n;
};

static int hyd_collect(void *arg, const char *name, const char *val)
{
    struct hyd *h = arg;
    (void)val;
    if (h->n < 64 && (h->keys[h->n] = strdup(name + 5)))
        h->n++;
    return h->n >= 64;
}

static int hyd_stale(void *arg, const char *name, const char *val)
{
    struct hyd *h = arg;
    if (h->n < 64 && smc_now_ms() > strtoull(val, NULL, 10) + MISS_TTL &&
        (h->keys[h->n] = strdup(name)))
        h->n++;
    return h->n >= 64;
}

/* The lease holder answers the hydration queue: one filepath-filtered listing per name (and one
 * for the directory of that name), never twice within MISS_TTL (singleflight across processes:
 * the queue is keyed by filepath). */
static void hydrate_pending(void)
{
    struct hyd h = {.n = 0};
    char name[4200], val[32], done[32];
    smc_kv_each(bg.o.cache, "hydq.", hyd_collect, &h);
    for (int i = 0; i < h.n; i++) {
        snprintf(name, sizeof name, "hydd.%s", h.keys[i]);
        int recent = smc_kv_get(bg.o.cache, name, done, sizeof done) == 0 &&
                     smc_now_ms() < strtoull(done, NULL, 10) + MISS_TTL;
        char local[4300];
        struct stat st;
        snprintf(local, sizeof local, "%s/tree%s", bg.o.cache_dir, h.keys[i]);
        if (!recent && SM_REAL(lstat)(local, &st) == 0)
            recent = 1; /* it exists now (made locally since, as by a mkdir -p): nothing to ask */
        if (!recent) {
            char dir[4200];
            /* claimed before asking: nobody asks again within the negative TTL, whatever the
             * outcome (success, failure, or this process exiting with the answer in flight) */
            snprintf(val, sizeof val, "%llu", (unsigned long long)smc_now_ms());
            smc_kv_put(bg.o.cache, name, val);
            pull_one(0, h.keys[i]);
            snprintf(dir, sizeof dir, "%s/", h.keys[i]);
            pull_one(0, dir);
        }
        snprintf(name, sizeof name, "hydq.%s", h.keys[i]);
        smc_kv_del(bg.o.cache, name);
        free(h.keys[i]);
    }
    h.n = 0;
    smc_kv_each(bg.o.cache, "hydd.", hyd_stale, &h);
    for (int i = 0; i < h.n; i++) {
        smc_kv_del(bg.o.cache, h.keys[i]);
        free(h.keys[i]);
    }
}

/* The holder's periodic pulls: a delta pull every pull interval, a full one every tenth (and
 * the first time: a delta pull cannot see deletions). */
static void pull_due(void)
{
    uint64_t now = smc_now_ms();
    char wm[32];
    if (!bg.next_pull && smc_kv_get(bg.o.cache, "pull.last", wm, sizeof wm) == 0) {
        /* whoever pulled last (another process, smshim run) counts: a new process does not
         * pull again before the interval is up */
        bg.next_pull = strtoull(wm, NULL, 10) + (uint64_t)bg.o.pull_interval_ms;
        bg.pulls = 1; /* its next pull is a delta pull */
    }
    if (now < bg.next_pull)
        return;
    int full = bg.pulls % 10 == 0 || smc_kv_get(bg.o.cache, "pull.watermark", wm, sizeof wm) != 0;
    if (pull_one(full, NULL) == 0)
        bg.pulls++;
    /* changes nobody recorded (a write through a descriptor closed by exit, by a child, or by a
     * raw close) are found by comparing the tree with the entries */
    smh_scan(bg.e);
    bg.next_pull = smc_now_ms() + (uint64_t)bg.o.pull_interval_ms;
}

static void participant(int on)
{
    char name[64], val[64];
    snprintf(name, sizeof name, "proc.%d", (int)getpid());
    if (on) {
        snprintf(val, sizeof val, "%llu", (unsigned long long)smc_self_start());
        smc_kv_put(bg.o.cache, name, val);
    } else {
        smc_kv_del(bg.o.cache, name);
    }
}

/* Everything that may take time (binding check, dlopen of libcurl, worker threads) happens
 * here, in the background thread: the call that recorded the change has long returned. */
static int bg_setup(void)
{
    char why[300];
    if (smh_bind(bg.o.cache, bg.o.base_url, bg.o.tag, why, sizeof why) != 0) {
        if (bg.o.log)
            bg.o.log(why); /* stays local-only: never push one container's files into another */
        return -1;
    }
    struct smh_opts eo = {bg.o.cache, bg.o.cache_dir, bg.o.base_url, bg.o.key, bg.o.tag};
    struct smh_engine *e = smh_engine_new(&eo);
    if (!e)
        return -1;
    participant(1);
    pthread_mutex_lock(&bg.mu);
    bg.e = e;
    pthread_mutex_unlock(&bg.mu);
    return 0;
}

static void *bg_main(void *arg)
{
    (void)arg;
    int ok = bg_setup() == 0;
    pthread_mutex_lock(&bg.mu);
    bg.setup_done = 1;
    pthread_cond_broadcast(&bg.cv);
    pthread_mutex_unlock(&bg.mu);
    if (!ok) {
        __atomic_store_n(&bg.state, -1, __ATOMIC_RELEASE);
        return NULL;
    }
    pthread_mutex_lock(&bg.mu);
    while (!bg.stop) {
        if (!bg.kicks) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 500000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&bg.cv, &bg.mu, &ts);
        }
        bg.kicks = 0;
        if (bg.stop)
            break;
        pthread_mutex_unlock(&bg.mu);
        misses_flush();
        if (!__atomic_load_n(&bg.exiting, __ATOMIC_ACQUIRE) && smh_engine_lease(bg.e)) {
            hydrate_pending();
            pull_due();
        }
        smh_push_run(bg.e, 1000, 0, NULL, NULL);
        pthread_mutex_lock(&bg.mu);
    }
    pthread_mutex_unlock(&bg.mu);
    return NULL;
}

/* Start the thread (under bg.mu). */
static void start(void)
{
    if (!bg.o.key || !bg.o.key[0]) {
        bg.state = -1;
        return;
    }
    if (sm_thread_start(&bg.th, NULL, bg_main, NULL) != 0) {
        bg.state = -1;
        return;
    }
    pthread_detach(bg.th);
    bg.pid = getpid();
    bg.state = 1;
}

void smh_bg_kick(const struct smh_bg_opts *o)
{
    pthread_mutex_lock(&bg.mu);
    if (bg.state == 0) {
        bg.o = *o;
        start();
    }
    if (bg.state == 1) {
        bg.kicks++;
        pthread_cond_signal(&bg.cv);
    }
    pthread_mutex_unlock(&bg.mu);
}

void smh_bg_miss(const struct smh_bg_opts *o, const char *filepath)
{
    /* the caller already answered ENOENT; this only queues the question */
    static struct {
        uint64_t hash, at;
    } recent[512];
    uint64_t h = 1469598103934665603ull;
    for (const char *s = filepath; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    uint64_t now = smc_now_ms();
    size_t slot = h % 512;
    if (__atomic_load_n(&recent[slot].hash, __ATOMIC_RELAXED) == h &&
        now < __atomic_load_n(&recent[slot].at, __ATOMIC_RELAXED) + MISS_TTL)
        return; /* asked for within the negative TTL */
    __atomic_store_n(&recent[slot].hash, h, __ATOMIC_RELAXED);
    __atomic_store_n(&recent[slot].at, now, __ATOMIC_RELAXED);
    char *copy = strdup(filepath);
    pthread_mutex_lock(&bg.mu);
    if (bg.state == 0) {
        bg.o = *o;
        start();
    }
    if (bg.state == 1 && copy && bg.nmiss < MISS_RING) {
        bg.miss[bg.nmiss++] = copy;
        copy = NULL;
        bg.kicks++;
        pthread_cond_signal(&bg.cv);
    }
    pthread_mutex_unlock(&bg.mu);
    free(copy);
}

void smh_notify_change(void)
{
    pthread_mutex_lock(&bg.mu);
    if (bg.state == 1) {
        bg.kicks++;
        pthread_cond_signal(&bg.cv);
    }
    pthread_mutex_unlock(&bg.mu);
}

struct other {
    int self;
    int found;
};

static int other_alive(void *arg, const char *name, const char *val)
{
    struct other *o = arg;
    int pid = atoi(name + 5);
    if (pid != o->self && smc_pid_alive(pid, strtoull(val, NULL, 10)))
        o->found = 1;
    return o->found;
}

void smh_at_exit(void)
{
    /* a vfork child (or any other process) never touches the parent's thread or lock */
    if (__atomic_load_n(&bg.state, __ATOMIC_ACQUIRE) != 1 || bg.pid != getpid())
        return;
    __atomic_store_n(&bg.state, -1, __ATOMIC_RELEASE);
    /* misses not yet handed to the cache go there now: a live lease holder answers them */
    __atomic_store_n(&bg.exiting, 1, __ATOMIC_RELEASE);
    misses_flush();
    /* the thread may still be setting up (loading libcurl, initialising OpenSSL): the exit
     * handlers must not tear those down under it, so wait for that local work (bounded) */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&bg.mu);
    while (!bg.setup_done && pthread_cond_timedwait(&bg.cv, &bg.mu, &dl) == 0)
        ;
    struct smh_engine *e = bg.e;
    pthread_mutex_unlock(&bg.mu);
    if (e) {
        struct smc_counts n;
        char paused[200];
        int wait = bg.o.exit_wait && smc_counts(bg.o.cache, &n) == 0 && n.queued > 0 &&
                   smc_kv_get(bg.o.cache, "push.paused", paused, sizeof paused) != 0 &&
                   !smh_engine_unreachable(e);
        if (wait) {
            struct other ot = {(int)getpid(), 0};
            smc_kv_each(bg.o.cache, "proc.", other_alive, &ot);
            wait = !ot.found; /* another live process takes the lease over */
        }
        participant(0);
        if (wait) {
            /* the background thread keeps pushing, now without debounce */
            pthread_mutex_lock(&bg.mu);
            bg.kicks++;
            pthread_cond_signal(&bg.cv);
            pthread_mutex_unlock(&bg.mu);
            smh_engine_drain_wait(e, bg.o.exit_timeout_ms);
        }
        /* never join the workers: an upload in flight is redone by the next lease holder
         * (creates are idempotent by customId); a process does not wait on the network to exit */
        smh_engine_quit(e);
    }
    pthread_mutex_lock(&bg.mu);
    bg.stop = 1;
    pthread_cond_signal(&bg.cv);
    pthread_mutex_unlock(&bg.mu);
}

void smh_atfork_child(void)
{
    /* the thread did not survive the fork; the child starts its own on its first change */
    pthread_mutex_init(&bg.mu, NULL);
    pthread_cond_init(&bg.cv, NULL);
    bg.state = 0;
    bg.kicks = bg.stop = 0;
    bg.e = NULL; /* the parent's engine: never used (its threads are not here) */
    bg.nmiss = 0; /* (the copies leak: the parent owns them) */
    bg.setup_done = 0;
    bg.exiting = 0;
    bg.next_pull = 0;
}
