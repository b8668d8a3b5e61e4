/* bg.c: the sync engine inside a host process: its background thread.
 * One thread, started on the first change under the prefix when an API key is set (never in a
 * process that only reads), with every signal blocked. It pushes while it holds the cache's
 * lease; otherwise it only waits to take the lease over. At exit the process hands the lease
 * on, or waits (bounded) for its queue to drain when nobody else could take over.
 *
 * Exit. The exiting thread may be a signal handler's (an _exit from a SIGALRM handler is
 * async-signal-safe) that interrupted anything: malloc, the change recorder inside an LMDB write
 * transaction, this file under bg.mu. So it takes no lock, allocates nothing and touches no LMDB:
 * it sets bg.exit_req, wakes the thread through a futex and waits on another futex, bg.exit_done,
 * until a deadline. The thread does the exit-time work (handing its misses to the cache,
 * deciding whether to wait for uploads, leaving the participants, the drain) and sets
 * exit_done. The thread's only sleep is a futex wait on bg.wake_seq for the same reason.
 *
 * Lock order: bg.mu, then the engine's own lock (never the other way).
 */
#include "hydrate.h"
#include "bg.h"

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

#define MISS_RING 256 /* misses waiting for the thread (more are dropped: bounded memory) */
#define MISS_TTL                                                                                   \
    2000 /* ms: the negative TTL: a name asked for is not asked for again before this, counted
          * from its answer (the one place it is set) */
#define MISS_RECENT      512  /* names this process asked for lately (a hash table, no chains) */
#define HYD_BATCH        64   /* hydration-queue names handed to the workers per pass */
#define BG_TICK_MS       500  /* the thread wakes at least this often, kicked or not */
#define BG_PUSH_SLICE_MS 1000 /* one push run of the thread lasts at most this long */
#define BG_SETUP_WAIT_MS                                                                           \
    5000                   /* at exit without uploads to wait for, the longest wait for the
                               * thread (its setup, its exit work) */
#define FULL_PULL_EVERY 10 /* every this many pulls is a full one (it finds deletions) */
#define BG_PATH_MAX                                                                                \
    (2 * PATH_MAX)     /* a path in the cache directory, or a kv name, with a
                                         * filepath in it */
#define BG_MSG_MAX 300 /* a log line, or a stored error */

/* kv names (schema.h): SMC_KV_HYDQ a miss waiting for the lease holder, SMC_KV_HYDD when the
 * holder last asked the server for it, SMC_KV_PROC a live process sharing the cache */

enum bg_state {
    BG_IDLE,     /* no thread yet */
    BG_RUNNING,  /* the thread is started */
    BG_DISABLED, /* never starts: no key, another container, no libcurl; or the process exits */
};

static struct {
    pthread_mutex_t mu;
    enum bg_state state; /* atomic where read without bg.mu */
    pid_t pid;           /* the process that started the thread (a vfork child is not it) */
    pthread_t th;
    int kicks; /* wakes since the thread last looked (under bg.mu) */
    struct smh_bg_opts o;
    struct smh_engine *e;
    char *miss[MISS_RING]; /* filepaths missed under the prefix, for hydration */
    int nmiss;
    uint64_t next_pull;
    unsigned pulls;
    int setup_done; /* bg_setup finished (successfully or not) */
    /* futex words (see Exit above), read and written atomically, without bg.mu */
    uint32_t wake_seq;   /* bumped by every wake of the thread */
    uint32_t sleeping;   /* the thread is in (or entering) its futex wait on wake_seq */
    uint32_t exit_req;   /* the process is exiting: start no more network work, do the exit */
    uint32_t exit_done;  /* the thread did the exit-time work */
    uint64_t exit_by_ms; /* when the exiting thread stops waiting (smc_now_ms's clock) */
} bg = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* futex(2) on a word of bg: async-signal-safe, unlike every pthread wait. SM_REAL(syscall) is
 * resolved when the thread starts, so an exiting handler never reaches dlsym. */
static void futex_wait_ms(uint32_t *w, uint32_t val, uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / SMH_MS_PER_S),
                          (long)(ms % SMH_MS_PER_S) * (long)SMH_NS_PER_MS};
    SM_REAL(syscall)(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake_all(uint32_t *w)
{
    SM_REAL(syscall)(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* Wake the thread: lock-free, so the exiting thread can do it too. */
static void wake_thread(void)
{
    /* the system call only when the thread sleeps: a record made while it is awake (a burst of
     * creates) costs no call. Sleeper and waker each write their word, then read the other's
     * (seq_cst): either the waker sees sleeping, or the sleeper's futex wait sees the new
     * wake_seq and returns at once. */
    __atomic_add_fetch(&bg.wake_seq, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&bg.sleeping, __ATOMIC_SEQ_CST))
        futex_wake_all(&bg.wake_seq);
}

static void log_msg(const char *m)
{
    if (bg.o.log)
        bg.o.log(m);
}

/* One pull or hydration request into the cache; 0 or -EIO (*unreachable, if not NULL: no answer
 * came at all). */
static long pull_one(int full, const char *filepath, int *unreachable)
{
    char tree[BG_PATH_MAX], tmp[BG_PATH_MAX], msg[BG_MSG_MAX];
    smc_layout_path(bg.o.cache_dir, SMC_TREE, NULL, tree, sizeof tree);
    smc_layout_path(bg.o.cache_dir, SMC_TMP, NULL, tmp, sizeof tmp);
    struct smh_pull_opts po = {.cache = bg.o.cache,
                               .tree = tree,
                               .tmp = tmp,
                               .base_url = bg.o.base_url,
                               .key = bg.o.key,
                               .tag = bg.o.tag,
                               .full = full,
                               .filepath = filepath,
                               .timeout_ms = SMH_REQ_TIMEOUT_MS,
                               .log = log_msg};
    struct smh_pull_result res;
    long rc = smh_pull(bg.e, &po, &res);
    if (unreachable)
        *unreachable = rc < 0 && res.unreachable;
    if (rc == 0)
        smh_silent_clear(bg.o.cache);
    else if (res.unreachable && !smh_silent(bg.o.cache, NULL))
        smh_silent_set(bg.o.cache); /* the next processes do not wait on it (a failed probe
                                     * already backed off when it was claimed) */
    if (rc < 0) {
        snprintf(msg, sizeof msg, "pull%s%s: %s", filepath ? " " : "", filepath ? filepath : "",
                 res.error);
        log_msg(msg);
    }
    return rc;
}

/* Hand the misses of this process to the cache's hydration queue (kv SMC_KV_HYDQ), so
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
    uint64_t now = smc_now_ms();
    for (int i = 0; i < n; i++) {
        smc_kv_set_u64(bg.o.cache, SMC_KV_HYDQ, v[i], now);
        free(v[i]);
    }
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
 * never taken with bg.mu held. */
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
    if (smh_silent(bg.o.cache, NULL))
        return; /* asked once the server answers again */
    int recent =
        smc_kv_get_u64(bg.o.cache, SMC_KV_HYDD, key, &done) == 0 && smc_now_ms() < done + MISS_TTL;
    smc_layout_path(bg.o.cache_dir, SMC_TREE, NULL, tree, sizeof tree);
    if (!recent && smc_tree_stat(tree, key, &st) == 0)
        recent = 1; /* it exists now (made locally since, as by a mkdir -p): nothing to ask */
    if (!recent) {
        char dir[BG_PATH_MAX];
        int unreachable = 0;
        smc_kv_set_u64(bg.o.cache, SMC_KV_HYDD, key, smc_now_ms()); /* claimed before asking */
        pull_one(0, key, &unreachable);
        snprintf(dir, sizeof dir, "%s/", key);
        if (!unreachable)
            pull_one(0, dir, NULL);
        /* the negative TTL runs from the answer: a name missed again meanwhile waits for it */
        smc_kv_set_u64(bg.o.cache, SMC_KV_HYDD, key, smc_now_ms());
    }
    smc_kv_unset(bg.o.cache, SMC_KV_HYDQ, key);
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
static void pool_stop(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

/* Hand the queued names nobody is asking for yet to the workers, and forget the claims older
 * than MISS_TTL. */
static void hydrate_pending(void)
{
    struct hyd h = {.n = 0};
    smc_kv_each_nums(bg.o.cache, SMC_KV_HYDQ, 1, hyd_collect, &h);
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
    smc_kv_each_nums(bg.o.cache, SMC_KV_HYDD, 1, hyd_stale, &h);
    for (int i = 0; i < h.n; i++) {
        smc_kv_unset(bg.o.cache, SMC_KV_HYDD, h.keys[i]);
        free(h.keys[i]);
    }
}

/* The holder's periodic pulls: a delta pull every pull interval, a full one every
 * FULL_PULL_EVERY (and the first time: a delta pull cannot see deletions). A pull runs in a
 * worker of the pool (pull_run), so the sync thread goes on pushing meanwhile (and at exit drains
 * at once); bg.pulls and bg.next_pull are under pool.mu. */
static void pull_due(void)
{
    uint64_t now = smc_now_ms();
    uint64_t last_ms;
    int last = smc_kv_get_u64(bg.o.cache, SMC_KV_PULL_LAST, NULL, &last_ms) == 0;
    int nowm = !smh_report_watermark(bg.o.cache);
    pthread_mutex_lock(&pool.mu);
    if (!bg.next_pull && last) {
        /* whoever pulled last (another process, smshim run) counts: a new process does not
         * pull again before the interval is up */
        bg.next_pull = last_ms + (uint64_t)bg.o.pull_interval_ms;
        bg.pulls = 1; /* its next pull is a delta pull */
    }
    int due = !pool.pulling && now >= bg.next_pull;
    pthread_mutex_unlock(&pool.mu);
    if (!due)
        return;
    pool_start();
    pthread_mutex_lock(&pool.mu);
    if (pool.nth > 0 && !pool.pulling) {
        pool.pulling = 1;
        pool.pull = bg.pulls % FULL_PULL_EVERY == 0 || nowm;
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
    smh_scan(bg.e);
    pthread_mutex_lock(&pool.mu);
    bg.pulls += ok;
    bg.next_pull = smc_now_ms() + (uint64_t)bg.o.pull_interval_ms;
    pthread_mutex_unlock(&pool.mu);
}

static void participant(int on)
{
    smc_proc_mark(bg.o.cache, (int)getpid(), on);
}

/* Everything that may take time (binding check, dlopen of libcurl, worker threads) happens
 * here, in the background thread: the call that recorded the change has long returned. */
static int bg_setup(void)
{
    char why[BG_MSG_MAX];
    if ((!bg.o.key || !bg.o.key[0]) && smh_creds_for_sync(bg.o.cache, bg.o.creds, bg.o.url_env,
                                                          &bg.o.key, &bg.o.base_url, bg.o.log) <= 0)
        return -1; /* no key in the environment, none (or a bad file) in the credentials */
    if (!smh_key_allowed(bg.o.base_url, why, sizeof why)) {
        log_msg(why); /* once: stays local-only, the changes stay queued */
        return -1;
    }
    if (smh_bind(bg.o.cache, bg.o.base_url, bg.o.tag, why, sizeof why) != 0) {
        if (bg.o.log)
            bg.o.log(why); /* stays local-only: never push one container's files into another */
        return -1;
    }
    if (smh_http_load() != 0) {
        snprintf(why, sizeof why, "no sync in this process (the changes stay queued): %s",
                 smh_http_load_error());
        log_msg(why);
        return -1;
    }
    struct smh_opts eo = {bg.o.cache, bg.o.cache_dir, bg.o.base_url, bg.o.key, bg.o.tag};
    struct smh_engine *e = smh_engine_new(&eo);
    if (!e)
        return -1;
    participant(1);
    /* this thread's pulls end once nothing moves for the stall time: the exiting thread may be
     * waiting for it */
    smh_conn_default_stall(smh_stall_ms(bg.o.cache));
    __atomic_store_n(&bg.e, e, __ATOMIC_RELEASE);
    return 0;
}

/* The exit-time work, in the thread, for the exiting thread (see Exit above): misses go to the
 * cache (a live lease holder answers them), this process leaves the participants and, when
 * nobody else could take the lease over, the queue drains until the exiting thread's deadline. */
static void exit_work(void)
{
    misses_flush();
    struct smh_engine *e = bg.e;
    struct smc_counts n;
    char paused[BG_MSG_MAX];
    int wait = bg.o.exit_wait && smc_counts(bg.o.cache, &n) == 0 && n.queued > 0 &&
               !smh_report_paused(bg.o.cache, paused, sizeof paused) &&
               !smh_engine_unreachable(e) && !smh_silent(bg.o.cache, NULL);
    if (wait) /* another live process takes the lease over */
        wait = !smc_proc_other_alive(bg.o.cache, (int)getpid());
    participant(0);
    uint64_t by = __atomic_load_n(&bg.exit_by_ms, __ATOMIC_ACQUIRE), now = smc_now_ms();
    if (wait && by > now)
        smh_engine_drain_wait(e, (long)(by - now)); /* now without debounce */
    /* never join the workers: an upload in flight is redone by the next lease holder (creates
     * are idempotent by customId); a process does not wait on the network to exit */
    pool_stop();
    smh_engine_quit(e);
}

/* The server is recorded as not answering: the holder's probe, once its backoff is over, is
 * one pull (its first request is the probe, counted in the record; an answer clears it). */
static void probe(void)
{
    pthread_mutex_lock(&pool.mu);
    int pulling = pool.pulling; /* a pull still in flight: no probe beside it */
    pthread_mutex_unlock(&pool.mu);
    if (pulling || !smh_silent_probe(bg.o.cache))
        return;
    if (pull_one(!smh_report_watermark(bg.o.cache), NULL, NULL) == 0) {
        pthread_mutex_lock(&pool.mu);
        bg.pulls++;
        bg.next_pull = smc_now_ms() + (uint64_t)bg.o.pull_interval_ms;
        pthread_mutex_unlock(&pool.mu);
    }
}

static int exit_requested(void)
{
    return __atomic_load_n(&bg.exit_req, __ATOMIC_ACQUIRE) != 0;
}

static void *bg_main(void *arg)
{
    (void)arg;
    int ok = bg_setup() == 0;
    __atomic_store_n(&bg.setup_done, 1, __ATOMIC_RELEASE);
    if (!ok) {
        __atomic_store_n(&bg.state, BG_DISABLED, __ATOMIC_RELEASE);
        __atomic_store_n(&bg.exit_done, 1, __ATOMIC_RELEASE);
        futex_wake_all(&bg.exit_done);
        return NULL;
    }
    for (;;) {
        uint32_t seq = __atomic_load_n(&bg.wake_seq, __ATOMIC_ACQUIRE);
        pthread_mutex_lock(&bg.mu);
        int kicked = bg.kicks;
        bg.kicks = 0;
        pthread_mutex_unlock(&bg.mu);
        if (!kicked && !exit_requested()) {
            __atomic_store_n(&bg.sleeping, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&bg.wake_seq, __ATOMIC_SEQ_CST) == seq)
                futex_wait_ms(&bg.wake_seq, seq, BG_TICK_MS); /* returns at once if woken since */
            __atomic_store_n(&bg.sleeping, 0, __ATOMIC_RELAXED);
        }
        if (exit_requested())
            break;
        misses_flush();
        if (!exit_requested() && smh_engine_lease(bg.e)) {
            if (smh_silent(bg.o.cache, NULL)) {
                probe();
            } else {
                hydrate_pending();
                pull_due();
            }
        }
        smh_push_run(bg.e, BG_PUSH_SLICE_MS, 0, NULL, NULL);
    }
    exit_work();
    __atomic_store_n(&bg.exit_done, 1, __ATOMIC_RELEASE);
    futex_wake_all(&bg.exit_done);
    return NULL;
}

/* Start the thread with the options *o on first use (under bg.mu). */
static void start(const struct smh_bg_opts *o)
{
    if (__atomic_load_n(&bg.state, __ATOMIC_ACQUIRE) != BG_IDLE)
        return;
    bg.o = *o;
    if ((!bg.o.key || !bg.o.key[0]) && !smh_creds_present(bg.o.creds)) {
        __atomic_store_n(&bg.state, BG_DISABLED, __ATOMIC_RELEASE);
        return;
    }
    (void)SM_REAL(syscall); /* resolved now: the exiting thread's futex calls never reach dlsym */
    /* running before the thread exists: a thread whose setup fails at once sets DISABLED itself,
     * and that must not be overwritten here */
    bg.pid = getpid();
    __atomic_store_n(&bg.state, BG_RUNNING, __ATOMIC_RELEASE);
    if (sm_thread_start(&bg.th, NULL, bg_main, NULL) != 0) {
        __atomic_store_n(&bg.state, BG_DISABLED, __ATOMIC_RELEASE);
        return;
    }
    pthread_detach(bg.th);
}

/* Wake the thread (under bg.mu: the kick is counted). */
static void wake(void)
{
    bg.kicks++;
    wake_thread();
}

void smh_bg_kick(const struct smh_bg_opts *o)
{
    pthread_mutex_lock(&bg.mu);
    start(o);
    if (__atomic_load_n(&bg.state, __ATOMIC_ACQUIRE) == BG_RUNNING)
        wake();
    pthread_mutex_unlock(&bg.mu);
}

void smh_bg_miss(const struct smh_bg_opts *o, const char *filepath)
{
    /* the caller already answered ENOENT; this only queues the question */
    static struct {
        uint64_t hash, at;
    } recent[MISS_RECENT];
    uint64_t h = smc_hash64(filepath, strlen(filepath));
    uint64_t now = smc_now_ms();
    size_t slot = h % MISS_RECENT;
    if (__atomic_load_n(&recent[slot].hash, __ATOMIC_RELAXED) == h &&
        now < __atomic_load_n(&recent[slot].at, __ATOMIC_RELAXED) + MISS_TTL)
        return; /* asked for within the negative TTL */
    __atomic_store_n(&recent[slot].hash, h, __ATOMIC_RELAXED);
    __atomic_store_n(&recent[slot].at, now, __ATOMIC_RELAXED);
    char *copy = strdup(filepath);
    pthread_mutex_lock(&bg.mu);
    start(o);
    if (__atomic_load_n(&bg.state, __ATOMIC_ACQUIRE) == BG_RUNNING && copy &&
        bg.nmiss < MISS_RING) {
        bg.miss[bg.nmiss++] = copy;
        copy = NULL;
        wake();
    }
    pthread_mutex_unlock(&bg.mu);
    free(copy);
}

void smh_at_exit(void)
{
    /* a vfork child (or any other process) never touches the parent's thread */
    if (__atomic_load_n(&bg.state, __ATOMIC_ACQUIRE) != BG_RUNNING || bg.pid != getpid())
        return;
    __atomic_store_n(&bg.state, BG_DISABLED, __ATOMIC_RELEASE);
    /* with uploads to wait for, up to the exit timeout; else only for the thread's setup (it
     * may be loading libcurl or initialising OpenSSL, which the exit handlers must not tear down
     * under it) and its exit work */
    uint64_t wait_ms = bg.o.exit_wait && bg.o.exit_timeout_ms > BG_SETUP_WAIT_MS
                           ? (uint64_t)bg.o.exit_timeout_ms
                           : BG_SETUP_WAIT_MS;
    uint64_t by = smc_now_ms() + wait_ms;
    __atomic_store_n(&bg.exit_by_ms, by, __ATOMIC_RELEASE);
    __atomic_store_n(&bg.exit_req, 1, __ATOMIC_RELEASE);
    struct smh_engine *e = __atomic_load_n(&bg.e, __ATOMIC_ACQUIRE);
    if (e)
        smh_engine_yield(e); /* the thread leaves its push run at its next pass */
    wake_thread();
    for (;;) {
        uint64_t now = smc_now_ms();
        if (__atomic_load_n(&bg.exit_done, __ATOMIC_ACQUIRE) || now >= by)
            return;
        futex_wait_ms(&bg.exit_done, 0, by - now);
    }
}

void smh_atfork_child(void)
{
    /* the thread did not survive the fork; the child starts its own on its first change */
    pthread_mutex_init(&bg.mu, NULL);
    bg.state = BG_IDLE;
    bg.kicks = 0;
    bg.e = NULL;  /* the parent's engine: never used (its threads are not here) */
    bg.nmiss = 0; /* (the copies leak: the parent owns them) */
    bg.setup_done = 0;
    bg.wake_seq = bg.exit_req = bg.exit_done = bg.sleeping = 0;
    bg.next_pull = 0;
    pthread_mutex_init(&pool.mu, NULL); /* the parent's workers are not here */
    pthread_cond_init(&pool.cv, NULL);
    pool.ntodo = pool.nth = pool.stop = pool.pulling = 0;
    pool.pull = -1;
    pool.busy.v = NULL; /* (the parent's copies leak, as the misses do) */
    pool.busy.cap = pool.busy.n = 0;
}
