/* engine_int.h: what the push engine's files share (private to hydrate/).
 * Its constants, the engine and job structures, and the functions one file of the engine calls
 * in another. The DESIGN and the lock order are at the top of engine.c. */
#ifndef SMH_ENGINE_INT_H
#define SMH_ENGINE_INT_H

#include "hydrate.h"

#include "../cache/cache.h"
#include "api.h"
#include "budget.h"
#include "keyset.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- every timing and size of the push engine (each defined here only) ---------------------- */

#define SMH_WORKERS                                                                                \
    SMH_BUDGET_SLOTS /* upload workers of the lease holder; each job's requests hold a slot of the
                      * cache's request budget (budget.h), shared by every process on it */
#define SMH_BATCH    512 /* queue records the dispatcher reads per pass */
#define SMH_COALESCE 64  /* records one job may carry (later writes of the same file) */

#define SMH_LEASE_TTL_MS     5000  /* a lease not renewed for this long may be taken over */
#define SMH_LEASE_RENEW_MS   1000  /* the holder renews its lease at most this often */
#define SMH_LEASE_POLL_MS    100   /* a process waiting for the lease asks again this often */
#define SMH_DEBOUNCE_MS      500   /* a file is pushed once left alone this long (not in a drain) */
#define SMH_REREAD_MS        100   /* a file that changed while being read is read again then */
#define SMH_PROCESSING_MS    300   /* a document the service is still processing: look again then */
#define SMH_NO_HTTP_RETRY_MS 1000  /* without libcurl or cJSON, a job is tried again after this */
#define SMH_BACKOFF_MIN_MS   500   /* the first backoff of a failing path; it doubles ... */
#define SMH_BACKOFF_MAX_MS   60000 /* ... up to this (a Retry-After may ask for longer) */
#define SMH_AUTH_PAUSE_MS    60000 /* a refused key (401/403) pauses the whole queue this long */
#define SMH_BUSY_POLL_MS     50    /* the dispatcher's wait between passes (a job ending cuts it) */
#define SMH_HELD_MS          60000 /* a removal held back (another file's document) looks again */
#define SMH_IDLE_POLL_MS     1000  /* nothing in flight: its longest wait for a path's backoff */
#define SMH_RECHECK_MS       1000  /* no free slot (the budget's slots are taken): look again */
#define SMH_BUDGET_WAIT_MS   100 /* a worker waiting for a budget slot checks for stop this often */
#define SMH_END_POLL_MS      100 /* at the end of a run, how often it looks for jobs ending */
#define SMH_DRAIN_SLICE_MS   1000 /* smh_engine_drain_wait pushes in runs this long */
#define SMH_LAT_SAMPLES      16   /* answered jobs whose duration gives the median latency */
/* SMH_REQ_TIMEOUT_MS (hydrate.h): the longest one request may take */

/* ---- jobs ------------------------------------------------------------------------------------ */

/** One slot of work: the records of one path (two for a rename) handed to one worker. The
 *  dispatcher owns a job while it is not used or done; its worker owns it while busy. used, busy
 *  and done change only under e->mu. */
struct job {
    int used, busy, done; /* used: assigned; busy: a worker runs it; done: outcome set */
    uint32_t op;          /* SMC_Q_* */
    char key[PATH_MAX], to[PATH_MAX];
    char remote_id[sizeof((struct smc_qitem *)0)->remote_id];
    char custom_id[sizeof((struct smc_qitem *)0)->custom_id];
    uint64_t seqs[SMH_COALESCE];
    size_t nseq;
    enum smh_outcome outcome; /* what the request came to */
    long retry_after;         /* seconds (Retry-After), -1 if none */
    long defer_ms;            /* > 0: wait this long on purpose (debounce, processing) */
    long status;              /* HTTP status, 0 when no answer came */
    uint64_t started_ms;      /* when the worker took it (a request lasts SMH_REQ_TIMEOUT_MS) */
    char err[sizeof((struct smh_call *)0)->err];
};

/** What the dispatcher made of a finished job (smh_job_finish). */
enum smh_fate {
    SMH_FATE_DONE,     /* pushed, or nothing to push: its records are gone */
    SMH_FATE_RETRY,    /* the path backs off; its records stay queued */
    SMH_FATE_PAUSED,   /* the key is refused: the whole queue pauses */
    SMH_FATE_POISONED, /* the server refused the file for good: smh_job_poison marks it */
};

/* ---- the engine ------------------------------------------------------------------------------ */

struct smh_engine {
    struct smc *c;
    char tree[PATH_MAX];                                        /* <cache>/tree */
    char base[SMH_URL_MAX + 2], key[SMH_KEY_MAX + 2], tag[128]; /* (too long stays too long) */
    int drain;          /* skip the debounce (atomic: set by any thread) */
    pthread_mutex_t mu; /* the jobs' used/busy/done, stop, and prog as others read it */
    pthread_cond_t cv;  /* a job was assigned or finished, or stop */
    struct job jobs[SMH_WORKERS];
    pthread_t th[SMH_WORKERS];
    int nth, stop;             /* workers started; stop: they end */
    struct smh_keyset backoff; /* the dispatcher's: key -> (until_ms, delay_ms) */
    uint64_t paused_until;     /* the dispatcher's: 401/403 */
    uint64_t lease_renewed;    /* the lease holder's: when it last renewed */
    uint64_t start;            /* this process's start time (the lease's identity) */
    int quit;                  /* atomic: the process is exiting: stop taking the lease */
    int yield;                 /* atomic: end the current push run now (smh_engine_yield) */
    struct smh_progress prog;
    /* waiting only while requests make progress (smh_engine_drain_wait, smh_engine_stall_rule) */
    int stall_rule;                /* a drain run ends when nothing is answered for stall_ms */
    long stall_ms;                 /* smh_stall_ms when the rule was set */
    uint64_t wait_from;            /* when the current wait began */
    uint64_t last_answer;          /* atomic: when a worker last got an answer (any HTTP status) */
    int stalled;                   /* a run ended on the rule: the server is recorded as silent */
    uint64_t lat[SMH_LAT_SAMPLES]; /* the latest answered jobs' durations (under mu) */
    size_t nlat, nlat_saved;
};

/** The path a job's outcome is about: its new name for a rename, else its key. */
static inline const char *smh_job_path(const struct job *j)
{
    return j->op == SMC_Q_RENAME ? j->to : j->key;
}

/* content.c */
/** Read key's whole regular file beneath tree (at most SMH_DOC_MAX bytes, http.h): malloc'd NUL-terminated
 *  content and its stat before reading. 0, -EAGAIN when it changed while being read, -EFBIG,
 *  -errno. */
int smh_read_whole(const char *tree, const char *key, char **out, size_t *len, struct stat *st);
/** Can the service hold these bytes? UTF-8 text (no NUL, no overlong or surrogate forms), and
 *  neither "" nor "\n". */
int smh_text_ok(const char *s, size_t n);

/* jobs.c */
/** Run one job over conn (in a worker, outside e->mu): sets outcome, retry_after, defer_ms,
 *  status and err. */
void smh_job_run(struct smh_engine *e, struct smh_conn *conn, struct job *j);

/** Is the document id bound to a file here other than key (NULL: to any file)? Then nothing is
 *  sent to it for key, nor key bound to it: 1, and why in k->err (answered: id is what the
 *  server answered a create or upload with). 0 when no other file is bound to it. */
int smh_not_its_own(struct smh_engine *e, struct smh_call *k, const char *id, const char *key,
                    int answered);

/* stray.c */
/** A SMC_Q_STRAY job: delete the document it names unless an entry holds it now. */
int smh_job_stray(struct smh_engine *e, struct smh_call *k, struct job *j);

/* workers.c */
/** Start the SMH_WORKERS upload workers; e->nth says how many started. */
void smh_workers_start(struct smh_engine *e);

/* outcome.c */
/** Account for a finished job (under e->mu): progress, backoff, pause. */
enum smh_fate smh_job_finish(struct smh_engine *e, struct job *j);
/** Mark a job's file poisoned and drop its records (outside e->mu: LMDB). */
void smh_job_poison(struct smh_engine *e, const struct job *j);

/* lease.c */
/** Take or renew the lease (at most every SMH_LEASE_RENEW_MS): 1 when this process holds it. */
int smh_lease(struct smh_engine *e);
/** Jobs this holder may have in flight now: the budget slots its uploads hold plus those free for
 *  uploads (at most SMH_WORKERS). */
int smh_capacity(struct smh_engine *e, uint64_t now);
/** Store the median latency in the cache for the processes that wait next (outside e->mu). */
void smh_latency_save(struct smh_engine *e);

#endif
