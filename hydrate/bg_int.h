/* bg_int.h: what bg.c (the thread) and bg_pool.c (the lease holder's pulls and hydration) share:
 * the thread's state (smh_bg), its sizes and timings, and the pool's entry points; not for other
 * files. Lock order: smh_bg.mu, then the engine's own lock; the pool's lock is never taken with
 * smh_bg.mu held. */
#ifndef SMH_BG_INT_H
#define SMH_BG_INT_H

#include "bg.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define MISS_RING 256 /* misses waiting for the thread (more are dropped: bounded memory) */
#define MISS_TTL                                                                                   \
    2000 /* ms: the negative TTL: a name asked for is not asked for again before this, counted
          * from its answer (the one place it is set) */
#define MISS_RECENT      512  /* names this process asked for lately (a hash table, no chains) */
#define HYD_BATCH        64   /* hydration-queue names handed to the workers per pass */
#define BG_TICK_MS       500  /* the thread wakes at least this often, kicked or not */
#define BG_PUSH_SLICE_MS 1000 /* one push run of the thread lasts at most this long */
#define BG_SETUP_WAIT_MS                                                                           \
    5000                       /* at exit without uploads to wait for, the longest wait for the
                               * thread (its setup, its exit work) */
#define BG_INFLIGHT_POLL_MS 10 /* at exit, how often the thread looks at the requests in flight */
#define FULL_PULL_EVERY     10 /* every this many pulls is a full one (it finds deletions) */
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

struct smh_bg_state {
    pthread_mutex_t mu;
    enum bg_state state; /* atomic where read without smh_bg.mu */
    pid_t pid;           /* the process that started the thread (a vfork child is not it) */
    pthread_t th;
    int kicks; /* wakes since the thread last looked (under smh_bg.mu) */
    struct smh_bg_opts o;
    struct smh_engine *e;
    char *miss[MISS_RING]; /* filepaths missed under the prefix, for hydration */
    int nmiss;
    uint64_t next_pull;
    unsigned pulls;
    int setup_done; /* bg_setup finished (successfully or not) */
    /* futex words (see Exit in bg.c), read and written atomically, without smh_bg.mu */
    uint32_t wake_seq;   /* bumped by every wake of the thread */
    uint32_t sleeping;   /* the thread is in (or entering) its futex wait on wake_seq */
    uint32_t exit_req;   /* the process is exiting: start no more network work, do the exit */
    uint32_t exit_done;  /* the thread did the exit-time work */
    uint64_t exit_by_ms; /* when the exiting thread stops waiting (smc_now_ms's clock) */
};
/** The thread's state (bg.c). */
extern struct smh_bg_state smh_bg;

/** The thread's log line (through the options' log, when set). */
static inline void smh_bg_log(const char *m)
{
    if (smh_bg.o.log)
        smh_bg.o.log(m);
}

/* ---- the pool (bg_pool.c), called from the thread ---- */

/** Hand the queued names nobody is asking for yet to the workers, and forget the claims older
 *  than MISS_TTL. */
void smh_pool_hydrate_pending(void);
/** Hand out the holder's periodic pull when it is due. */
void smh_pool_pull_due(void);
/** The server is recorded as not answering: the holder's probe, once its backoff is over. */
void smh_pool_probe(void);
/** The process quits: the workers end once their request is answered (never waited for). */
void smh_pool_stop(void);
/** In a fork child: the parent's workers are not here. */
void smh_pool_atfork_child(void);

#endif
