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

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;   /* 0 idle, 1 running, -1 disabled (no key, other container, no libcurl) */
    pid_t pid;   /* the process that started the thread (a vfork child is not it) */
    pthread_t th;
    int kicks, stop;
    struct smh_bg_opts o;
    struct smh_engine *e;
} bg = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, {0}, NULL};

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
    if (bg_setup() != 0) {
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
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* no signal is ever delivered to the thread */
    int rc = pthread_create(&bg.th, NULL, bg_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
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
    pthread_mutex_lock(&bg.mu);
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
}
