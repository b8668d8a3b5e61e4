/* push.c: the dispatcher, smh_push_run: from the queue's records to the worker slots.
 * Pass after pass, it collects the finished jobs, reads a batch of records and hands each path
 * that may go now to a free slot. */
#include "engine_int.h"

#include "clock.h"

#include <stdio.h>
#include <string.h>

/* One smh_push_run. */
struct run {
    uint64_t deadline;
    int drain;                 /* a drain run: the server's silent record does not hold it */
    struct smh_keyset blocked; /* paths held back in the current pass */
    long left;                 /* records in the last batch read */
    void (*progress)(const struct smh_progress *, void *);
    void *arg;
};

/* One pass over a batch of records. */
struct pass {
    uint64_t now;
    int cap;           /* slots this holder may use (smh_capacity) */
    int inflight;      /* jobs in flight */
    int assigned;      /* jobs handed out in this pass */
    uint64_t next_due; /* the earliest a held-back path may go (UINT64_MAX: none known) */
};

/* Is a job in flight on key (its path, or a rename's new name)? Under e->mu. */
static int busy_key(struct smh_engine *e, const char *key)
{
    for (int i = 0; i < SMH_WORKERS; i++) {
        struct job *j = &e->jobs[i];
        if (j->used && (strcmp(j->key, key) == 0 || (j->to[0] && strcmp(j->to, key) == 0)))
            return 1;
    }
    return 0;
}

/* Account for the finished jobs and poison the files they gave up on; returns the jobs still
 * in flight. */
static int collect(struct smh_engine *e)
{
    struct job poisoned[SMH_WORKERS];
    int npois = 0, inflight = 0, answered = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < SMH_WORKERS; i++) {
        struct job *j = &e->jobs[i];
        if (j->used && j->done) {
            answered |= j->status != 0;
            if (smh_job_finish(e, j) == SMH_FATE_POISONED)
                poisoned[npois++] = *j; /* marked below, outside the lock (LMDB) */
            j->used = j->done = 0;
        }
        inflight += j->used;
    }
    e->prog.in_flight = (size_t)inflight;
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < npois; i++)
        smh_job_poison(e, &poisoned[i]);
    if (answered)
        smh_silent_clear(e->c); /* the server answers again: nobody holds back any more */
    return inflight;
}

/* Hold a record's paths back for the rest of the pass: their later records wait for it. */
static void block(struct run *r, const char *from, const char *to)
{
    smh_ks_put(&r->blocked, from);
    if (to)
        smh_ks_put(&r->blocked, to);
}

/* A free slot within the capacity, or -1. Under e->mu. */
static int free_slot(struct smh_engine *e, const struct pass *p)
{
    for (int s = 0; s < SMH_WORKERS && p->inflight < p->cap; s++)
        if (!e->jobs[s].used)
            return s;
    return -1;
}

/* Fill job j from record v[i] (to: a rename's new name, or NULL), taking the later writes of
 * the same file along (marked taken). Under e->mu. */
static void assign(struct job *j, struct smc_qitem **v, size_t n, size_t i, const char *to)
{
    struct smc_qitem *q = v[i];
    memset(j, 0, offsetof(struct job, key));
    j->op = q->op;
    snprintf(j->key, sizeof j->key, "%s", q->from);
    snprintf(j->to, sizeof j->to, "%s", to ? to : "");
    memcpy(j->remote_id, q->remote_id, sizeof j->remote_id);
    memcpy(j->custom_id, q->custom_id, sizeof j->custom_id);
    j->nseq = 0;
    j->seqs[j->nseq++] = q->seq;
    if (q->op == SMC_Q_WRITE) /* coalesce the later writes of the same file */
        for (size_t m = i + 1; m < n && j->nseq < SMH_COALESCE; m++) {
            struct smc_qitem *later = v[m];
            if (strcmp(later->from, q->from) != 0 && strcmp(later->to, q->from) != 0)
                continue;
            if (later->op != SMC_Q_WRITE || strcmp(later->from, q->from) != 0)
                break;
            j->seqs[j->nseq++] = later->seq;
            later->from[0] = '\0'; /* taken */
        }
    j->used = 1;
}

/* Hand each record of v whose paths may go now to a free slot. Under e->mu. */
static void dispatch(struct smh_engine *e, struct run *r, struct pass *p, struct smc_qitem **v,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct smc_qitem *q = v[i];
        if (q->from[0] == '\0')
            continue; /* taken into an earlier job of this pass (assign) */
        const char *k2 = q->op == SMC_Q_RENAME ? q->to : NULL;
        if (smh_ks_get(&r->blocked, q->from) || (k2 && smh_ks_get(&r->blocked, k2)))
            continue;
        struct smh_kv *b = smh_ks_get(&e->backoff, k2 ? k2 : q->from);
        int later = b && b->a > p->now;
        if (later && b->a < p->next_due)
            p->next_due = b->a;
        if (later || busy_key(e, q->from) || (k2 && busy_key(e, k2))) {
            block(r, q->from, k2);
            continue;
        }
        int slot = free_slot(e, p);
        if (slot < 0) {
            if (p->inflight < p->cap || p->next_due > p->now + SMH_RECHECK_MS)
                p->next_due = p->now + SMH_RECHECK_MS; /* the abandoned uploads, again soon */
            break;
        }
        assign(&e->jobs[slot], v, n, i, k2);
        block(r, q->from, k2);
        p->assigned++;
        p->inflight++;
    }
}

/* Wait for a worker to finish, or for the next due time when nothing is in flight (at most
 * SMH_IDLE_POLL_MS); else at most SMH_BUSY_POLL_MS. */
static void wait_pass(struct smh_engine *e, const struct pass *p)
{
    uint64_t wake = p->now + SMH_BUSY_POLL_MS;
    if (!p->inflight && p->next_due != UINT64_MAX && p->next_due > wake)
        wake = p->next_due < p->now + SMH_IDLE_POLL_MS ? p->next_due : p->now + SMH_IDLE_POLL_MS;
    struct timespec ts = smh_abstime(wake);
    pthread_mutex_lock(&e->mu);
    int any_done = 0;
    for (int i = 0; i < SMH_WORKERS; i++)
        any_done |= e->jobs[i].done;
    if (!any_done)
        pthread_cond_timedwait(&e->cv, &e->mu, &ts);
    pthread_mutex_unlock(&e->mu);
}

/* One pass of the holder of the lease. 1 when the run is over: the queue is empty, the
 * deadline passed, or nothing can progress before it. */
static int pass(struct smh_engine *e, struct run *r, uint64_t now)
{
    struct pass p = {.now = now, .next_due = UINT64_MAX};
    p.inflight = collect(e);
    if (e->stall_rule && p.inflight > 0) {
        /* waiting only while requests make progress */
        uint64_t last = __atomic_load_n(&e->last_answer, __ATOMIC_ACQUIRE);
        if (last < e->wait_from)
            last = e->wait_from;
        if (now > last + (uint64_t)e->stall_ms) {
            e->stalled = 1;
            smh_silent_set(e->c);
            r->deadline = now; /* end_run waits for nothing */
            return 1;
        }
    }
    struct smc_qitem **v = NULL;
    size_t n = 0;
    smc_queue_batch(e->c, SMH_BATCH, &v, &n);
    r->left = (long)n;
    e->prog.queued = n;
    if (r->progress)
        r->progress(&e->prog, r->arg);
    if ((n == 0 && p.inflight == 0) || e->nth == 0) {
        smc_queue_batch_free(v, n);
        return 1;
    }
    int paused = now < e->paused_until;
    p.cap = smh_capacity(e, now); /* read before taking e->mu: LMDB is never used under it */
    uint64_t probe_at;
    if (!r->drain && smh_silent(e->c, &probe_at)) {
        /* recorded as not answering: one probe at a time, when its backoff is over */
        if (now < probe_at || p.inflight > 0)
            paused = 1;
        else
            smh_silent_set(e->c), p.cap = 1;
    }
    smh_ks_clear(&r->blocked);
    pthread_mutex_lock(&e->mu);
    if (!paused)
        dispatch(e, r, &p, v, n);
    e->prog.in_flight = (size_t)p.inflight;
    if (p.assigned)
        pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    smc_queue_batch_free(v, n);

    if (now >= r->deadline)
        return 1;
    if (p.inflight == 0 && paused)
        return 1; /* the key is refused (or the server silent): nothing can progress now */
    if (p.inflight == 0 && p.next_due != UINT64_MAX && p.next_due > r->deadline)
        return 1; /* nothing can progress before the deadline */
    wait_pass(e, &p);
    return 0;
}

/* Let in-flight jobs finish so their outcome is committed, but not past the deadline (a job cut
 * short leaves its records queued: it is sent again later). A job that ends here poisoned is
 * counted, not marked: its records stay queued and the next run sends them again. */
static void end_run(struct smh_engine *e, uint64_t deadline)
{
    pthread_mutex_lock(&e->mu);
    for (;;) {
        int busy = 0;
        for (int i = 0; i < SMH_WORKERS; i++)
            if (e->jobs[i].used && !e->jobs[i].done)
                busy = 1;
        if (!busy || smc_now_ms() >= deadline)
            break;
        struct timespec ts = smh_abstime(smc_now_ms() + SMH_END_POLL_MS);
        pthread_cond_timedwait(&e->cv, &e->mu, &ts);
    }
    for (int i = 0; i < SMH_WORKERS; i++)
        if (e->jobs[i].used && e->jobs[i].done) {
            smh_job_finish(e, &e->jobs[i]);
            e->jobs[i].used = e->jobs[i].done = 0;
        }
    pthread_mutex_unlock(&e->mu);
}

long smh_push_run(struct smh_engine *e, long timeout_ms, int drain,
                  void (*progress)(const struct smh_progress *, void *), void *arg)
{
    struct run r = {.progress = progress, .arg = arg, .drain = drain};
    r.deadline = timeout_ms < 0 ? UINT64_MAX : smc_now_ms() + (uint64_t)timeout_ms;
    if (drain)
        __atomic_store_n(&e->drain, 1, __ATOMIC_RELAXED);
    e->lease_renewed = 0;
    for (;;) {
        uint64_t now = smc_now_ms();
        if (__atomic_load_n(&e->quit, __ATOMIC_ACQUIRE)) {
            smh_ks_free(&r.blocked);
            return r.left;
        }
        if (__atomic_load_n(&e->yield, __ATOMIC_ACQUIRE)) {
            r.deadline = now; /* end_run collects what is done and waits for nothing */
            break;
        }
        if (!smh_lease(e)) {
            if (now >= r.deadline)
                break;
            smh_sleep_ms(SMH_LEASE_POLL_MS);
            continue;
        }
        if (pass(e, &r, now))
            break;
    }
    end_run(e, r.deadline);
    smh_ks_free(&r.blocked);
    smh_latency_save(e);
    if (e->prog.paused)
        smc_kv_set_str(e->c, SMC_KV_PUSH_PAUSED, NULL, e->prog.last_error);
    else
        smc_kv_unset(e->c, SMC_KV_PUSH_PAUSED, NULL);
    struct smc_counts cnt;
    if (smc_counts(e->c, &cnt) == 0)
        r.left = (long)cnt.queued;
    return r.left;
}
