/* hydrate.h: the sync engine (smh_ API). It mirrors a Supermemory container into the cache and
 * pushes local changes through the durable queue; it runs in a background thread of a host
 * process, or in the foreground under `smshim sync` / `smshim run`. It never touches the shim;
 * the shim reaches it through bg.h (smh_bg_kick, smh_bg_miss) and the process hooks
 * smh_at_exit and smh_atfork_child. See engine.c for the DESIGN. */
#ifndef SMH_HYDRATE_H
#define SMH_HYDRATE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct smc;

struct smh_opts {
    struct smc *cache; /* the cache's LMDB handle (owned by the caller) */
    const char *cache_dir;
    const char *base_url; /* SUPERMEMORY_BASE_URL or the default */
    const char *key;      /* SUPERMEMORY_API_KEY: kept in memory only */
    const char *tag;      /* the container tag */
};

#define SMH_REQ_TIMEOUT_MS 30000 /* the longest one request may take (push or pull) */

/** Check that this cache syncs with (url, tag), binding it on first use. 0, or -EEXIST with a
 *  message in why (another URL or tag: use another SMSHIM_CACHE). */
int smh_bind(struct smc *c, const char *url, const char *tag, char *why, size_t n);

struct smh_engine;
struct smh_engine *smh_engine_new(const struct smh_opts *o);
void smh_engine_free(struct smh_engine *e);

struct smh_progress {
    size_t queued, in_flight, done, failed, poisoned;
    int paused;      /* 401/403 */
    int unreachable; /* the last attempts got no answer */
    char last_error[160];
};

/** Push until the queue is empty, nothing can progress (paused, all items backing off past
 *  the deadline) or timeout_ms passes (< 0: no limit). drain: no debounce. Takes the lease
 *  (waiting for it up to the deadline). Returns the records left. */
long smh_push_run(struct smh_engine *e, long timeout_ms, int drain,
                  void (*progress)(const struct smh_progress *, void *), void *arg);
/** Take or renew the cache's lease for this process: 1 when it holds it. */
int smh_engine_lease(struct smh_engine *e);
/** Did the last attempts get no answer at all (or can libcurl not be loaded)? */
int smh_engine_unreachable(struct smh_engine *e);
/** Push until the queue is empty (no debounce), the server stops answering, or timeout_ms.
 *  It waits only while requests make progress: once no request has been answered for
 *  smh_stall_ms, it records the server as not answering (smh_silent_set) and returns, the work
 *  left queued. */
void smh_engine_drain_wait(struct smh_engine *e, long timeout_ms);
/** Make the push runs of e follow the drain_wait rule (stop waiting on a silent server). */
void smh_engine_stall_rule(struct smh_engine *e);

/* ---- the server not answering (lease.c): kv SMC_KV_SILENT, shared by every process --------
 * Set by a process that stopped waiting on requests nobody answered; cleared by any answer.
 * While set, no process waits on the server at all (not at start, not at exit), pushes and
 * hydration hold back, and the lease holder only probes: one pull, its first request the probe,
 * at times backing off from SMH_SILENT_PROBE_MIN_MS to SMH_SILENT_PROBE_MAX_MS. */
#define SMH_SILENT_PROBE_MIN_MS 5000
#define SMH_SILENT_PROBE_MAX_MS 60000
#define SMH_STALL_MIN_MS        2000 /* the shortest wait for a sign of progress */
/** 1 when the server is recorded as not answering (*probe_at, if not NULL: when a push may try
 *  again: never, only the holder's probe asks), else 0. */
int smh_silent(struct smc *c, uint64_t *probe_at);
/** 1 when recorded as not answering, with the probes claimed since (*probes, if not NULL). */
int smh_silent_info(struct smc *c, unsigned long long *probes);
/** The lease holder's probe: 1 when its backoff is over (claimed and counted: the caller sends
 *  exactly one request, a pull, whose answer clears the record), else 0. */
int smh_silent_probe(struct smc *c);
/** Record that the server does not answer (again: the next probe backs off further). */
void smh_silent_set(struct smc *c);
/** The server answered: clear the record (a cheap read when there is none). */
void smh_silent_clear(struct smc *c);
/** How long a waiting process waits for a sign of progress: max(SMH_STALL_MIN_MS, 3 x the recent
 *  median request latency recorded in the cache). */
long smh_stall_ms(struct smc *c);
/* ---- what the engine recorded, for the CLI (report.c) ---------------------------------------- */
struct smh_report {
    char paused[256];        /* why the queue is paused (the server refuses the key), or "" */
    char url[600], tag[160]; /* the bound remote, or "" */
    char last_poisoned[256]; /* why the latest file was poisoned, or "" */
    int pulled;              /* a pull succeeded once: last_pull_ms is set */
    uint64_t last_pull_ms;
    int has_watermark; /* the next pull is a delta pull from watermark_ms */
    uint64_t watermark_ms;
    uint64_t duplicates;              /* remote documents the latest pull ignored as older */
    uint64_t unsafe;                  /* remote documents pulls skip now (unsafe, see the log) */
    uint64_t shared;                  /* documents more than one file here is bound to now */
    uint64_t held;                    /* queued removals of a document another file is bound to */
    char creds_error[PATH_MAX + 128]; /* why a process could not use the credentials, or "" */
    int silent;                       /* the server is recorded as not answering */
    unsigned long long silent_probes;
};
void smh_report_read(struct smc *c, struct smh_report *r);
/** 1 (and why, cut to n) when the queue is paused, else 0. */
int smh_report_paused(struct smc *c, char *why, size_t n);
/** 1 when a pull watermark is recorded (a delta pull can start from it), 0 when the next pull
 *  must be a full one. */
int smh_report_watermark(struct smc *c);

/** Stop pushing for good and give the lease up (process exit). Workers are not joined. */
void smh_engine_quit(struct smh_engine *e);
/** End the push run in progress as soon as it can (at its next pass, without waiting for the
 *  uploads in flight). Lock-free: safe from a signal handler. */
void smh_engine_yield(struct smh_engine *e);
/** Compare the tree with the entries and queue what was never recorded. Returns the number of
 *  changes found, or -errno. */
long smh_scan(struct smh_engine *e);
/** Queue a fresh write of every poisoned file. */
long smh_retry_poisoned(struct smh_engine *e);

/* ---- pull (pull.c) --------------------------------------------------------------------------- */

struct smh_pull_opts {
    struct smc *cache;
    const char *tree, *tmp; /* the cache's tree and tmp directories */
    const char *base_url, *key, *tag;
    int full;             /* list everything (finds deletions); else stop at the watermark */
    const char *filepath; /* only this filepath ("/a/b.md") or directory ("/a/") */
    long timeout_ms;      /* per request */
    long retry_ms;        /* retry failed pages (429, 5xx, drops) for up to this long */
    void (*progress)(int page, int pages, void *arg);
    void *arg;
    void (*log)(const char *msg);
};

struct smh_pull_result {
    long applied; /* files the pull wrote, moved or gave a sibling (not those it found the same) */
    long kept, removed, duplicates, unsafe;
    int unreachable, auth;
    char error[160];
};

/** One pull. 0, or -EIO (res->error says why; res->unreachable: no answer at all). */
long smh_pull(struct smh_engine *e, const struct smh_pull_opts *o, struct smh_pull_result *res);

/* ---- the background thread in a host process (bg.c) ----------------------------------------- */

/** At process exit: hand the lease on, or wait (bounded) for the queue to drain. Takes no lock,
 *  allocates nothing and uses no LMDB (the thread does the work): safe from a signal handler. */
void smh_at_exit(void);
/** In a fork child: forget the parent's thread. */
void smh_atfork_child(void);

#endif
