/* bg.c: the sync engine inside a host process: its background thread.
 * One thread, started on the first change under the prefix when an API key is set (never in a
 * process that only reads), with every signal blocked. It pushes while it holds the cache's
 * lease; otherwise it only waits to take the lease over. At exit the process hands the lease
 * on, or waits (bounded) for its queue to drain when nobody else could take over.
 *
 * Exit. The exiting thread may be a signal handler's (an _exit from a SIGALRM handler is
 * async-signal-safe) that interrupted anything: malloc, the change recorder inside an LMDB write
 * transaction, this file under smh_bg.mu. So it takes no lock, allocates nothing and touches no LMDB:
 * it sets smh_bg.exit_req, wakes the thread through a futex and waits on another futex, smh_bg.exit_done,
 * until a deadline. The thread does the exit-time work (handing its misses to the cache,
 * deciding whether to wait for uploads, leaving the participants, the drain) and sets
 * exit_done. The thread's only sleep is a futex wait on smh_bg.wake_seq for the same reason.
 *
 * Lock order: smh_bg.mu, then the engine's own lock (never the other way).
 */
#include "hydrate.h"
#include "bg_int.h"

#include "../cache/cache.h"
#include "budget.h"
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

struct smh_bg_state smh_bg = {.mu = PTHREAD_MUTEX_INITIALIZER};

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
    __atomic_add_fetch(&smh_bg.wake_seq, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&smh_bg.sleeping, __ATOMIC_SEQ_CST))
        futex_wake_all(&smh_bg.wake_seq);
}

/* Hand the misses of this process to the cache's hydration queue (kv SMC_KV_HYDQ), so
 * that whichever process holds the lease asks the server once for each. */
static void misses_flush(void)
{
    char *v[MISS_RING];
    int n;
    pthread_mutex_lock(&smh_bg.mu);
    n = smh_bg.nmiss;
    memcpy(v, smh_bg.miss, sizeof(char *) * (size_t)n);
    smh_bg.nmiss = 0;
    pthread_mutex_unlock(&smh_bg.mu);
    uint64_t now = smc_now_ms();
    for (int i = 0; i < n; i++) {
        smc_kv_set_u64(smh_bg.o.cache, SMC_KV_HYDQ, v[i], now);
        free(v[i]);
    }
}

static void participant(int on)
{
    smc_proc_mark(smh_bg.o.cache, (int)getpid(), on);
}

/* Everything that may take time (binding check, dlopen of libcurl, worker threads) happens
 * here, in the background thread: the call that recorded the change has long returned. */
static int bg_setup(void)
{
    char why[BG_MSG_MAX];
    if ((!smh_bg.o.key || !smh_bg.o.key[0]) &&
        smh_creds_for_sync(smh_bg.o.cache, smh_bg.o.creds, smh_bg.o.url_env, &smh_bg.o.key,
                           &smh_bg.o.base_url, smh_bg.o.log) <= 0)
        return -1; /* no key in the environment, none (or a bad file) in the credentials */
    if (!smh_key_usable(smh_bg.o.key, why, sizeof why) ||
        !smh_key_allowed(smh_bg.o.base_url, why, sizeof why)) {
        smh_bg_log(why); /* once: stays local-only, the changes stay queued */
        return -1;
    }
    if (smh_bind(smh_bg.o.cache, smh_bg.o.base_url, smh_bg.o.tag, why, sizeof why) != 0) {
        if (smh_bg.o.log)
            smh_bg.o.log(why); /* stays local-only: never push one container's files into another */
        return -1;
    }
    if (smh_http_load() != 0) {
        snprintf(why, sizeof why, "no sync in this process (the changes stay queued): %s",
                 smh_http_load_error());
        smh_bg_log(why);
        return -1;
    }
    smh_http_log = smh_bg.o.log; /* (what becomes of a connection given up to the program) */
    __atomic_store_n(&smh_budget_log, smh_bg.o.log, __ATOMIC_RELEASE);
    struct smh_opts eo = {smh_bg.o.cache, smh_bg.o.cache_dir, smh_bg.o.base_url, smh_bg.o.key,
                          smh_bg.o.tag};
    struct smh_engine *e = smh_engine_new(&eo);
    if (!e)
        return -1;
    participant(1);
    /* this thread's pulls end once nothing moves for the stall time: the exiting thread may be
     * waiting for it */
    smh_conn_default_stall(smh_stall_ms(smh_bg.o.cache));
    __atomic_store_n(&smh_bg.e, e, __ATOMIC_RELEASE);
    return 0;
}

/* The exit-time work, in the thread, for the exiting thread (see Exit above): misses go to the
 * cache (a live lease holder answers them), this process leaves the participants and, when
 * nobody else could take the lease over, the queue drains until the exiting thread's deadline. */
static void exit_work(void)
{
    misses_flush();
    struct smh_engine *e = smh_bg.e;
    struct smc_counts n;
    char paused[BG_MSG_MAX];
    int wait = smh_bg.o.exit_wait && smc_counts(smh_bg.o.cache, &n) == 0 && n.queued > 0 &&
               !smh_report_paused(smh_bg.o.cache, paused, sizeof paused) &&
               !smh_engine_unreachable(e) && !smh_silent(smh_bg.o.cache, NULL);
    if (wait) /* another live process takes the lease over */
        wait = !smc_proc_other_alive(smh_bg.o.cache, (int)getpid());
    participant(0);
    uint64_t by = __atomic_load_n(&smh_bg.exit_by_ms, __ATOMIC_ACQUIRE), now = smc_now_ms();
    if (wait && by > now)
        smh_engine_drain_wait(e, (long)(by - now)); /* now without debounce */
    /* never join the workers: an upload in flight is redone by the next lease holder (creates
     * are idempotent by customId). But the server goes on with a request whose client is gone,
     * and the slots of the request budget those hold stay taken until their deadlines (their
     * timeout) once this process is dead: so nothing more is sent, and the requests in flight
     * are given the time an answering server takes to answer them (the stall rule: max(2 s, 3x
     * the median latency)), within the exiting thread's deadline, so their slots are given back
     * and the next process need not wait for them */
    smh_pool_stop();
    smh_engine_quit(e);
    smh_http_close();
    uint64_t until = smc_now_ms() + (uint64_t)smh_stall_ms(smh_bg.o.cache);
    if (until > by)
        until = by;
    /* (a server found not answering answers none of them: no process waits on it) */
    while (smh_http_inflight() > 0 && smc_now_ms() < until && !smh_engine_unreachable(e) &&
           !smh_silent(smh_bg.o.cache, NULL))
        smh_sleep_ms(BG_INFLIGHT_POLL_MS);
    /* a thread that held a slot across its last request may not give it back before the process
     * ends, and the slot would stay taken until that request's deadline: with nothing in flight
     * and nothing to be sent, no slot of this process carries a request */
    if (smh_http_inflight() == 0)
        smh_budget_release_all();
}

static int exit_requested(void)
{
    return __atomic_load_n(&smh_bg.exit_req, __ATOMIC_ACQUIRE) != 0;
}

static void *bg_main(void *arg)
{
    (void)arg;
    int ok = bg_setup() == 0;
    __atomic_store_n(&smh_bg.setup_done, 1, __ATOMIC_RELEASE);
    if (!ok) {
        __atomic_store_n(&smh_bg.state, BG_DISABLED, __ATOMIC_RELEASE);
        __atomic_store_n(&smh_bg.exit_done, 1, __ATOMIC_RELEASE);
        futex_wake_all(&smh_bg.exit_done);
        return NULL;
    }
    for (;;) {
        uint32_t seq = __atomic_load_n(&smh_bg.wake_seq, __ATOMIC_ACQUIRE);
        pthread_mutex_lock(&smh_bg.mu);
        int kicked = smh_bg.kicks;
        smh_bg.kicks = 0;
        pthread_mutex_unlock(&smh_bg.mu);
        if (!kicked && !exit_requested()) {
            __atomic_store_n(&smh_bg.sleeping, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&smh_bg.wake_seq, __ATOMIC_SEQ_CST) == seq)
                futex_wait_ms(&smh_bg.wake_seq, seq,
                              BG_TICK_MS); /* returns at once if woken since */
            __atomic_store_n(&smh_bg.sleeping, 0, __ATOMIC_RELAXED);
        }
        if (exit_requested())
            break;
        misses_flush();
        if (!exit_requested() && smh_engine_lease(smh_bg.e)) {
            if (smh_silent(smh_bg.o.cache, NULL)) {
                smh_pool_probe();
            } else {
                smh_pool_hydrate_pending();
                smh_pool_pull_due();
            }
        }
        smh_push_run(smh_bg.e, BG_PUSH_SLICE_MS, 0, NULL, NULL);
    }
    exit_work();
    __atomic_store_n(&smh_bg.exit_done, 1, __ATOMIC_RELEASE);
    futex_wake_all(&smh_bg.exit_done);
    return NULL;
}

/* Start the thread with the options *o on first use (under smh_bg.mu). */
static void start(const struct smh_bg_opts *o)
{
    if (__atomic_load_n(&smh_bg.state, __ATOMIC_ACQUIRE) != BG_IDLE)
        return;
    smh_bg.o = *o;
    if ((!smh_bg.o.key || !smh_bg.o.key[0]) && !smh_creds_present(smh_bg.o.creds)) {
        __atomic_store_n(&smh_bg.state, BG_DISABLED, __ATOMIC_RELEASE);
        return;
    }
    (void)SM_REAL(syscall); /* resolved now: the exiting thread's futex calls never reach dlsym */
    /* running before the thread exists: a thread whose setup fails at once sets DISABLED itself,
     * and that must not be overwritten here */
    smh_bg.pid = getpid();
    __atomic_store_n(&smh_bg.state, BG_RUNNING, __ATOMIC_RELEASE);
    if (sm_thread_start(&smh_bg.th, NULL, bg_main, NULL) != 0) {
        __atomic_store_n(&smh_bg.state, BG_DISABLED, __ATOMIC_RELEASE);
        return;
    }
    pthread_detach(smh_bg.th);
}

/* Wake the thread (under smh_bg.mu: the kick is counted). */
static void wake(void)
{
    smh_bg.kicks++;
    wake_thread();
}

void smh_bg_kick(const struct smh_bg_opts *o)
{
    pthread_mutex_lock(&smh_bg.mu);
    start(o);
    if (__atomic_load_n(&smh_bg.state, __ATOMIC_ACQUIRE) == BG_RUNNING)
        wake();
    pthread_mutex_unlock(&smh_bg.mu);
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
    pthread_mutex_lock(&smh_bg.mu);
    start(o);
    if (__atomic_load_n(&smh_bg.state, __ATOMIC_ACQUIRE) == BG_RUNNING && copy &&
        smh_bg.nmiss < MISS_RING) {
        smh_bg.miss[smh_bg.nmiss++] = copy;
        copy = NULL;
        wake();
    }
    pthread_mutex_unlock(&smh_bg.mu);
    free(copy);
}

int smh_bg_owed(void)
{
    return __atomic_load_n(&smh_bg.state, __ATOMIC_ACQUIRE) == BG_RUNNING && smh_bg.pid == getpid();
}

void smh_at_exit(void)
{
    /* a vfork child (or any other process) never touches the parent's thread */
    if (__atomic_load_n(&smh_bg.state, __ATOMIC_ACQUIRE) != BG_RUNNING || smh_bg.pid != getpid())
        return;
    __atomic_store_n(&smh_bg.state, BG_DISABLED, __ATOMIC_RELEASE);
    /* with uploads to wait for, up to the exit timeout; else only for the thread's setup (it
     * may be loading libcurl or initialising OpenSSL, which the exit handlers must not tear down
     * under it) and its exit work */
    uint64_t wait_ms = smh_bg.o.exit_wait && smh_bg.o.exit_timeout_ms > BG_SETUP_WAIT_MS
                           ? (uint64_t)smh_bg.o.exit_timeout_ms
                           : BG_SETUP_WAIT_MS;
    uint64_t by = smc_now_ms() + wait_ms;
    __atomic_store_n(&smh_bg.exit_by_ms, by, __ATOMIC_RELEASE);
    __atomic_store_n(&smh_bg.exit_req, 1, __ATOMIC_RELEASE);
    struct smh_engine *e = __atomic_load_n(&smh_bg.e, __ATOMIC_ACQUIRE);
    if (e)
        smh_engine_yield(e); /* the thread leaves its push run at its next pass */
    wake_thread();
    for (;;) {
        uint64_t now = smc_now_ms();
        if (__atomic_load_n(&smh_bg.exit_done, __ATOMIC_ACQUIRE) || now >= by)
            return;
        futex_wait_ms(&smh_bg.exit_done, 0, by - now);
    }
}

void smh_atfork_child(void)
{
    /* the thread did not survive the fork; the child starts its own on its first change */
    pthread_mutex_init(&smh_bg.mu, NULL);
    smh_bg.state = BG_IDLE;
    smh_bg.kicks = 0;
    smh_bg.e = NULL;  /* the parent's engine: never used (its threads are not here) */
    smh_bg.nmiss = 0; /* (the copies leak: the parent owns them) */
    smh_bg.setup_done = 0;
    smh_bg.wake_seq = smh_bg.exit_req = smh_bg.exit_done = smh_bg.sleeping = 0;
    smh_bg.next_pull = 0;
    smh_pool_atfork_child();
    smh_http_atfork_child();
}
