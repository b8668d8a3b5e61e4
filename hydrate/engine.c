/* engine.c: the push queue: from the durable records in LMDB to the remote.
 *
 * DESIGN
 * One process at a time talks to the remote for a cache: the holder of the lease "lease.sync"
 * in LMDB (pid, start time, expiry; renewed every second; taken over when its holder dies or
 * lets it expire). The holder runs this dispatcher and SMH_WORKERS upload workers, so however
 * many processes write into one cache there are never more than 8 uploads in flight for it.
 *
 * Records are hints: a WRITE record says "look at this file", and the worker reads the bytes the
 * file holds when it gets there (so repeated writes coalesce, and a write made while an upload
 * was in flight is pushed again: smc_push_done compares the stat). Records of one path are
 * handled in order and never two at once (a rename touches two paths). Creates carry the
 * customId chosen when the file was first recorded: a create retried after a crash or a lost
 * answer updates the same document instead of making a second one.
 *
 * Failures: 429, 5xx, timeouts and dropped connections back off per path (0.5 s doubling to
 * 60 s, or Retry-After); 401/403 pause the whole queue; another 4xx (not 404) poisons the file
 * (kept, listed by `smshim status`, retried by `smshim sync --retry-poisoned`).
 *
 * Lock order: e->mu is the only lock here; LMDB transactions are never begun while holding it.
 */
#include "hydrate.h"

#include "../cache/cache.h"
#include "api.h"
#include "keyset.h"
#include "sm_real.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMH_WORKERS     8
#define SMH_DEBOUNCE_MS 500
#define SMH_LEASE_TTL   5000
#define SMH_MAX_DOC     (50u << 20)
#define SMH_BATCH       512
#define SMH_REQ_TIMEOUT 30000 /* ms, the longest one request may take */

struct job {
    int used, busy, done;
    uint32_t op;
    char key[PATH_MAX], to[PATH_MAX];
    char remote_id[64], custom_id[48];
    uint64_t seqs[64];
    size_t nseq;
    int outcome;
    long retry_after, defer_ms;
    long status;
    uint64_t started_ms; /* when the worker took it (its request may last SMH_REQ_TIMEOUT) */
    char err[160];
};

struct smh_engine {
    struct smc *c;
    char tree[PATH_MAX];
    char base[512], key[512], tag[128];
    int drain;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job jobs[SMH_WORKERS];
    pthread_t th[SMH_WORKERS];
    int nth, stop;
    struct smh_keyset backoff; /* key -> (until_ms, delay_ms) */
    uint64_t paused_until;
    uint64_t lease_renewed;
    uint64_t start;
    int quit;       /* the process is exiting: stop taking the lease */
    struct smh_progress prog;
};

int smh_bind(struct smc *c, const char *url, const char *tag, char *why, size_t n)
{
    char cur_url[600], cur_tag[160];
    int hu = smc_kv_get(c, "remote.url", cur_url, sizeof cur_url) == 0;
    int ht = smc_kv_get(c, "remote.tag", cur_tag, sizeof cur_tag) == 0;
    if (hu && ht) {
        if (strcmp(cur_url, url) == 0 && strcmp(cur_tag, tag) == 0)
            return 0;
        snprintf(why, n,
                 "this cache syncs with %s (tag %s), not %s (tag %s): use another SMSHIM_CACHE",
                 cur_url, cur_tag, url, tag);
        return -EEXIST;
    }
    int rc = smc_kv_put(c, "remote.url", url);
    if (rc == 0)
        rc = smc_kv_put(c, "remote.tag", tag);
    if (rc < 0)
        snprintf(why, n, "cannot bind the cache: %s", strerror(-rc));
    return rc;
}

/* ---- one job ---------------------------------------------------------------------------------- */

static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n || c == 0)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        if (len == 2 && c < 0xC2)
            return 0;
        if (len == 3) {
            unsigned cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        }
        if (len == 4) {
            unsigned cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) |
                          ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
            if (cp < 0x10000 || cp > 0x10FFFF)
                return 0;
        }
        i += len;
    }
    return 1;
}

static void tree_path(struct smh_engine *e, const char *key, char *out)
{
    snprintf(out, PATH_MAX, "%s%s", e->tree, key);
}

/* Read a whole file: malloc'd NUL-terminated content, its stat before reading. 0, -EAGAIN when
 * it changed while being read, -EFBIG, -errno. */
static int read_file(const char *path, char **out, size_t *len, struct stat *st)
{
    int fd = SM_REAL(open)(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        SM_REAL(close)(fd);
        return -EINVAL;
    }
    if ((uint64_t)st->st_size > SMH_MAX_DOC) {
        SM_REAL(close)(fd);
        return -EFBIG;
    }
    size_t n = (size_t)st->st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        SM_REAL(close)(fd);
        return -ENOMEM;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    struct stat after;
    int changed = fstat(fd, &after) != 0 || after.st_size != st->st_size ||
                  smc_mtime_ns(&after) != smc_mtime_ns(st) || got != n;
    SM_REAL(close)(fd);
    if (changed) {
        free(buf);
        return -EAGAIN;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The file's stat now into p->now_* (zeros when gone). */
static void stat_now(struct smh_engine *e, const char *key, struct smc_pushed *p)
{
    char tp[PATH_MAX];
    struct stat st;
    tree_path(e, key, tp);
    if (SM_REAL(lstat)(tp, &st) == 0 && S_ISREG(st.st_mode)) {
        p->now_size = (uint64_t)st.st_size;
        p->now_mtime_ns = smc_mtime_ns(&st);
        p->now_ino = st.st_ino;
    }
}

static int job_write(struct smh_engine *e, struct smh_call *k, struct job *j, const char *key)
{
    char tp[PATH_MAX], id[64] = "";
    struct stat st;
    struct smc_entry ent;
    tree_path(e, key, tp);
    if (smc_entry_get(e->c, key, &ent) != 0) {
        smc_queue_del(e->c, j->seqs, j->nseq); /* never tracked (removed since): nothing to push */
        return SMH_OK;
    }
    if (SM_REAL(lstat)(tp, &st) != 0 || !S_ISREG(st.st_mode)) {
        /* gone (or an open recorded before it failed): an entry never pushed goes too; a
         * pushed one is deleted by its own DELETE record or by the scan */
        if (!(ent.flags & SMC_E_REMOTE))
            smc_note_unlink(e->c, key, (uint64_t)smc_now_ms() * 1000000u);
        smc_queue_del(e->c, j->seqs, j->nseq);
        return SMH_OK;
    }
    if (!ent.dirty_since_ns && ent.synced_size == (uint64_t)st.st_size &&
        ent.synced_mtime_ns == smc_mtime_ns(&st) && ent.synced_ino == st.st_ino) {
        smc_queue_del(e->c, j->seqs, j->nseq);
        return SMH_OK;
    }
    if (!e->drain) {
        uint64_t m = smc_mtime_ns(&st) / 1000000u, now = smc_now_ms();
        if (now < m + SMH_DEBOUNCE_MS) {
            j->defer_ms = (long)(m + SMH_DEBOUNCE_MS - now);
            return SMH_RETRY;
        }
    }
    char *content = NULL;
    size_t len = 0;
    int rc = read_file(tp, &content, &len, &st);
    if (rc == -EAGAIN || rc == -ENOENT) {
        j->defer_ms = 100;
        return SMH_RETRY;
    }
    struct smc_pushed p = {.size = (uint64_t)st.st_size, .mtime_ns = smc_mtime_ns(&st),
                           .ino = st.st_ino, .hash = content ? smc_hash64(content, len) : 0};
    if (rc == 0 && ent.remote_id[0] && p.hash == ent.synced_hash &&
        !(ent.flags & (SMC_E_LOCALONLY | SMC_E_POISONED))) {
        /* the same bytes as the document already holds: nothing to send */
        free(content);
        p.remote_id = NULL;
        stat_now(e, key, &p);
        smc_push_done(e->c, key, ent.custom_id, &p, j->seqs, j->nseq);
        return SMH_OK;
    }
    if (rc < 0 || len == 0 || (len == 1 && content[0] == '\n') ||
        !utf8_ok((const unsigned char *)content, len)) {
        /* the service holds UTF-8 text only, and not "" or "\n": the file stays local */
        free(content);
        p.set_flags = SMC_E_LOCALONLY;
        stat_now(e, key, &p);
        smc_push_done(e->c, key, ent.custom_id, &p, j->seqs, j->nseq);
        return SMH_OK;
    }
    int o = SMH_GONE;
    if (ent.remote_id[0]) {
        struct smh_doc d;
        o = smh_api_get(k, ent.remote_id, &d);
        if (o == SMH_OK && strcmp(d.status, "done") != 0 && strcmp(d.status, "failed") != 0) {
            /* a content PATCH sent while processing may be dropped: wait for "done" */
            free(content);
            j->defer_ms = 300;
            return SMH_RETRY;
        }
        if (o == SMH_OK) {
            o = smh_api_patch(k, ent.remote_id, content, NULL);
            snprintf(id, sizeof id, "%s", ent.remote_id);
        }
    }
    if (o == SMH_GONE) /* never created, or vanished remotely: create (idempotent by customId) */
        o = smh_api_create(k, key, content, ent.custom_id, id);
    free(content);
    if (o != SMH_OK)
        return o;
    p.remote_id = id;
    p.clear_flags = SMC_E_LOCALONLY | SMC_E_POISONED;
    stat_now(e, key, &p);
    smc_push_done(e->c, key, ent.custom_id, &p, j->seqs, j->nseq);
    return SMH_OK;
}

static int job_delete(struct smh_engine *e, struct smh_call *k, struct job *j)
{
    const char *id = j->remote_id[0] ? j->remote_id : j->custom_id;
    int o = id[0] ? smh_api_delete(k, id) : SMH_OK;
    if (o == SMH_GONE)
        o = SMH_OK; /* already gone counts as done */
    if (o == SMH_OK)
        smc_queue_del(e->c, j->seqs, j->nseq);
    return o;
}

static int job_rename(struct smh_engine *e, struct smh_call *k, struct job *j)
{
    struct smc_entry ent;
    if (smc_entry_get(e->c, j->to, &ent) != 0) {
        smc_queue_del(e->c, j->seqs, j->nseq);
        return SMH_OK;
    }
    const char *id = ent.remote_id[0] ? ent.remote_id : j->remote_id;
    if (!id[0])
        return job_write(e, k, j, j->to); /* not created yet: create it under its new name */
    int o = smh_api_patch(k, id, NULL, j->to);
    if (o == SMH_GONE) {
        /* vanished remotely: the file is created again under its new name */
        ent.remote_id[0] = '\0';
        ent.flags &= ~(uint32_t)SMC_E_REMOTE;
        ent.synced_size = ent.synced_mtime_ns = ent.synced_ino = 0;
        smc_entry_put(e->c, j->to, &ent);
        smc_queue_put_op(e->c, SMC_Q_WRITE, j->to, NULL);
        o = SMH_OK;
    }
    if (o == SMH_OK)
        smc_queue_del(e->c, j->seqs, j->nseq);
    return o;
}

static void run_job(struct smh_engine *e, struct smh_conn *conn, struct job *j)
{
    struct smh_call k = {.conn = conn, .tag = e->tag, .retry_after = -1};
    j->defer_ms = 0;
    switch (j->op) {
    case SMC_Q_WRITE: j->outcome = job_write(e, &k, j, j->key); break;
    case SMC_Q_DELETE: j->outcome = job_delete(e, &k, j); break;
    case SMC_Q_RENAME: j->outcome = job_rename(e, &k, j); break;
    default:
        smc_queue_del(e->c, j->seqs, j->nseq);
        j->outcome = SMH_OK;
    }
    j->retry_after = k.retry_after;
    j->status = k.status;
    snprintf(j->err, sizeof j->err, "%s", k.err);
}

static void abandon_inflight(struct smh_engine *e);
static int capacity(struct smh_engine *e, uint64_t now);

struct warg {
    struct smh_engine *e;
    int i;
};

static void *worker_main(void *arg)
{
    struct warg *w = arg;
    struct smh_engine *e = w->e;
    struct job *j = &e->jobs[w->i];
    free(w);
    struct smh_conn *conn = smh_conn_new(e->base, e->key, SMH_REQ_TIMEOUT);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->stop && !(j->used && !j->busy && !j->done))
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->stop)
            break;
        j->busy = 1;
        j->started_ms = smc_now_ms();
        pthread_mutex_unlock(&e->mu);
        if (conn) {
            run_job(e, conn, j);
        } else {
            j->outcome = SMH_RETRY;
            j->retry_after = -1;
            j->defer_ms = 1000;
            snprintf(j->err, sizeof j->err, "libcurl or libcjson cannot be loaded");
        }
        pthread_mutex_lock(&e->mu);
        j->busy = 0;
        j->done = 1;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    smh_conn_free(conn);
    return NULL;
}

struct smh_engine *smh_engine_new(const struct smh_opts *o)
{
    struct smh_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->c = o->cache;
    snprintf(e->tree, sizeof e->tree, "%s/tree", o->cache_dir);
    snprintf(e->base, sizeof e->base, "%s", o->base_url);
    snprintf(e->key, sizeof e->key, "%s", o->key);
    snprintf(e->tag, sizeof e->tag, "%s", o->tag);
    e->start = smc_self_start();
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (smh_http_load() != 0)
        return e; /* no workers: smh_push_run reports the queue as stuck */
    for (int i = 0; i < SMH_WORKERS; i++) {
        struct warg *w = malloc(sizeof *w);
        if (!w)
            break;
        w->e = e;
        w->i = i;
        if (sm_thread_start(&e->th[i], NULL, worker_main, w) != 0) {
            free(w);
            break;
        }
        e->nth++;
    }
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
    if (busy)
        abandon_inflight(e);
    smc_lease_drop(e->c, SMH_LEASE, getpid());
    if (busy)
        return;
    smh_ks_free(&e->backoff);
    memset(e->key, 0, sizeof e->key);
    free(e);
}

/* ---- the dispatcher ------------------------------------------------------------------------- */

static int busy_key(struct smh_engine *e, const char *key)
{
    for (int i = 0; i < SMH_WORKERS; i++) {
        struct job *j = &e->jobs[i];
        if (j->used && (strcmp(j->key, key) == 0 || (j->to[0] && strcmp(j->to, key) == 0)))
            return 1;
    }
    return 0;
}

/* Handle a finished job (under e->mu). */
static void finish(struct smh_engine *e, struct job *j)
{
    uint64_t now = smc_now_ms();
    const char *key = j->op == SMC_Q_RENAME ? j->to : j->key;
    if (j->outcome == SMH_OK) {
        e->prog.done += j->nseq;
        e->prog.unreachable = 0;
        smh_ks_del(&e->backoff, key);
    } else if (j->outcome == SMH_RETRY) {
        struct smh_kv *b = smh_ks_put(&e->backoff, key);
        uint64_t delay;
        if (j->defer_ms > 0) {
            delay = (uint64_t)j->defer_ms; /* waiting on purpose (debounce, processing) */
        } else {
            delay = b && b->b ? b->b * 2 : 500;
            if (delay > 60000)
                delay = 60000;
            if (j->retry_after >= 0 && (uint64_t)j->retry_after * 1000 > delay)
                delay = (uint64_t)j->retry_after * 1000;
            e->prog.failed++;
            e->prog.unreachable = j->status == 0;
            snprintf(e->prog.last_error, sizeof e->prog.last_error, "%s: %s", key, j->err);
            if (b)
                b->b = delay;
        }
        if (b)
            b->a = now + delay;
    } else if (j->outcome == SMH_AUTH) {
        e->paused_until = now + 60000;
        e->prog.paused = 1;
        snprintf(e->prog.last_error, sizeof e->prog.last_error, "paused: %s", j->err);
    } else { /* SMH_REJECT, or SMH_GONE where it cannot be handled: poison the file */
        e->prog.poisoned++;
        snprintf(e->prog.last_error, sizeof e->prog.last_error, "poisoned %s: %s", key, j->err);
        j->outcome = -1; /* marked outside the lock */
    }
}

/* Poison outside e->mu (LMDB). */
static void poison(struct smh_engine *e, struct job *j)
{
    struct smc_entry ent;
    const char *key = j->op == SMC_Q_RENAME ? j->to : j->key;
    struct smc_pushed p = {0};
    if (smc_entry_get(e->c, key, &ent) == 0) {
        p.set_flags = SMC_E_POISONED;
        p.size = ent.synced_size;
        p.mtime_ns = ent.synced_mtime_ns;
        p.ino = ent.synced_ino;
        p.now_size = p.size;
        p.now_mtime_ns = p.mtime_ns;
        p.now_ino = p.ino;
        smc_push_done(e->c, key, ent.custom_id, &p, j->seqs, j->nseq);
        /* push_done clears dirty only when the stat matches: keep it dirty */
        if (smc_entry_get(e->c, key, &ent) == 0 && !ent.dirty_since_ns) {
            ent.dirty_since_ns = (uint64_t)smc_now_ms() * 1000000u;
            smc_entry_put(e->c, key, &ent);
        }
    } else {
        smc_queue_del(e->c, j->seqs, j->nseq);
    }
    char why[200];
    snprintf(why, sizeof why, "%s", e->prog.last_error);
    smc_kv_put(e->c, "push.last_poisoned", why);
}

static int lease(struct smh_engine *e)
{
    if (__atomic_load_n(&e->quit, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t now = smc_now_ms();
    if (now < e->lease_renewed + 1000)
        return 1;
    int rc = smc_lease_take(e->c, SMH_LEASE, getpid(), e->start, now, SMH_LEASE_TTL);
    if (rc == 1)
        e->lease_renewed = now;
    return rc == 1;
}

long smh_push_run(struct smh_engine *e, long timeout_ms,
                  int drain, void (*progress)(const struct smh_progress *, void *), void *arg)
{
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : smc_now_ms() + (uint64_t)timeout_ms;
    struct smh_keyset blocked = {0};
    long left = 0;
    if (drain)
        e->drain = 1;
    e->lease_renewed = 0;
    for (;;) {
        uint64_t now = smc_now_ms();
        if (__atomic_load_n(&e->quit, __ATOMIC_ACQUIRE))
            return left;
        if (!lease(e)) {
            if (now >= deadline)
                break;
            usleep(100000);
            continue;
        }
        /* collect finished jobs */
        struct job poisoned[SMH_WORKERS];
        int npois = 0, inflight = 0;
        pthread_mutex_lock(&e->mu);
        for (int i = 0; i < SMH_WORKERS; i++) {
            struct job *j = &e->jobs[i];
            if (j->used && j->done) {
                finish(e, j);
                if (j->outcome == -1)
                    poisoned[npois++] = *j;
                j->used = j->done = 0;
            }
            inflight += e->jobs[i].used;
        }
        e->prog.in_flight = (size_t)inflight;
        pthread_mutex_unlock(&e->mu);
        for (int i = 0; i < npois; i++)
            poison(e, &poisoned[i]);

        struct smc_qitem **v = NULL;
        size_t n = 0;
        smc_queue_batch(e->c, SMH_BATCH, &v, &n);
        left = (long)n;
        e->prog.queued = n;
        if (progress)
            progress(&e->prog, arg);
        if ((n == 0 && inflight == 0) || e->nth == 0) {
            smc_queue_batch_free(v, n);
            break;
        }
        int paused = now < e->paused_until;
        int cap = capacity(e, now); /* read before taking e->mu: LMDB is never used under it */
        uint64_t next_due = UINT64_MAX;
        int assigned = 0;
        smh_ks_clear(&blocked);
        pthread_mutex_lock(&e->mu);
        for (size_t i = 0; i < n && !paused; i++) {
            struct smc_qitem *q = v[i];
            const char *k2 = q->op == SMC_Q_RENAME ? q->to : NULL;
            if (smh_ks_get(&blocked, q->from) || (k2 && smh_ks_get(&blocked, k2)))
                continue;
            struct smh_kv *b = smh_ks_get(&e->backoff, k2 ? k2 : q->from);
            int later = b && b->a > now;
            if (later && b->a < next_due)
                next_due = b->a;
            if (later || busy_key(e, q->from) || (k2 && busy_key(e, k2))) {
                smh_ks_put(&blocked, q->from);
                if (k2)
                    smh_ks_put(&blocked, k2);
                continue;
            }
            int slot = -1;
            for (int s = 0; s < SMH_WORKERS && inflight < cap; s++)
                if (!e->jobs[s].used) {
                    slot = s;
                    break;
                }
            if (slot < 0) {
                if (inflight < cap || next_due > now + 1000)
                    next_due = now + 1000; /* look at the abandoned uploads again soon */
                break;
            }
            struct job *j = &e->jobs[slot];
            memset(j, 0, offsetof(struct job, key));
            j->op = q->op;
            snprintf(j->key, sizeof j->key, "%s", q->from);
            snprintf(j->to, sizeof j->to, "%s", k2 ? k2 : "");
            memcpy(j->remote_id, q->remote_id, sizeof j->remote_id);
            memcpy(j->custom_id, q->custom_id, sizeof j->custom_id);
            j->nseq = 0;
            j->seqs[j->nseq++] = q->seq;
            if (q->op == SMC_Q_WRITE) /* coalesce the later writes of the same file */
                for (size_t m = i + 1; m < n && j->nseq < 64; m++) {
                    struct smc_qitem *r = v[m];
                    if (strcmp(r->from, q->from) != 0 && strcmp(r->to, q->from) != 0)
                        continue;
                    if (r->op != SMC_Q_WRITE || strcmp(r->from, q->from) != 0)
                        break;
                    j->seqs[j->nseq++] = r->seq;
                    r->from[0] = '\0'; /* taken */
                }
            smh_ks_put(&blocked, q->from);
            if (k2)
                smh_ks_put(&blocked, k2);
            j->used = 1;
            assigned++;
            inflight++;
        }
        e->prog.in_flight = (size_t)inflight;
        if (assigned)
            pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
        smc_queue_batch_free(v, n);

        if (now >= deadline)
            break;
        if (inflight == 0 && paused)
            break; /* the key is refused: nothing can progress until it changes */
        if (inflight == 0 && next_due != UINT64_MAX && next_due > deadline)
            break; /* nothing can progress before the deadline */
        /* wait for a worker or for the next due time */
        uint64_t wake = now + 50;
        if (!inflight && next_due != UINT64_MAX && next_due > wake)
            wake = next_due < now + 1000 ? next_due : now + 1000;
        struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
        pthread_mutex_lock(&e->mu);
        int any_done = 0;
        for (int i = 0; i < SMH_WORKERS; i++)
            any_done |= e->jobs[i].done;
        if (!any_done)
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        pthread_mutex_unlock(&e->mu);
    }
    /* let in-flight jobs finish so their outcome is committed, but not past the deadline (a
     * job cut short leaves its records queued: it is sent again later) */
    pthread_mutex_lock(&e->mu);
    for (;;) {
        int busy = 0;
        for (int i = 0; i < SMH_WORKERS; i++)
            if (e->jobs[i].used && !e->jobs[i].done)
                busy = 1;
        if (!busy || smc_now_ms() >= deadline)
            break;
        uint64_t wake = smc_now_ms() + 100;
        struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
        pthread_cond_timedwait(&e->cv, &e->mu, &ts);
    }
    for (int i = 0; i < SMH_WORKERS; i++)
        if (e->jobs[i].used && e->jobs[i].done) {
            finish(e, &e->jobs[i]);
            e->jobs[i].used = e->jobs[i].done = 0;
        }
    pthread_mutex_unlock(&e->mu);
    smh_ks_free(&blocked);
    if (e->prog.paused)
        smc_kv_put(e->c, "push.paused", e->prog.last_error);
    else
        smc_kv_del(e->c, "push.paused");
    struct smc_counts cnt;
    if (smc_counts(e->c, &cnt) == 0)
        left = (long)cnt.queued;
    return left;
}

/* Uploads a process leaves in flight when it quits still count against the cache's limit of
 * SMH_WORKERS at the server until they must have ended: the next holder uses fewer slots until
 * then ("lease.abandoned" = "<count> <until_ms>"). */
static void abandon_inflight(struct smh_engine *e)
{
    int n = 0;
    uint64_t until = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < SMH_WORKERS; i++) {
        struct job *j = &e->jobs[i];
        if (j->used && !j->done) {
            n++;
            uint64_t end = (j->started_ms ? j->started_ms : smc_now_ms()) + SMH_REQ_TIMEOUT;
            if (end > until)
                until = end;
        }
    }
    pthread_mutex_unlock(&e->mu);
    if (!n)
        return;
    char cur[64], val[64];
    unsigned cn = 0;
    unsigned long long cu = 0;
    if (smc_kv_get(e->c, "lease.abandoned", cur, sizeof cur) == 0 &&
        sscanf(cur, "%u %llu", &cn, &cu) == 2 && cu > smc_now_ms()) {
        n += (int)cn;
        if (cu > until)
            until = cu;
    }
    snprintf(val, sizeof val, "%d %llu", n, (unsigned long long)until);
    smc_kv_put(e->c, "lease.abandoned", val);
}

/* Slots this holder may use now. */
static int capacity(struct smh_engine *e, uint64_t now)
{
    char cur[64];
    unsigned n = 0;
    unsigned long long until = 0;
    if (smc_kv_get(e->c, "lease.abandoned", cur, sizeof cur) != 0 ||
        sscanf(cur, "%u %llu", &n, &until) != 2)
        return SMH_WORKERS;
    if (until <= now) {
        smc_kv_del(e->c, "lease.abandoned");
        return SMH_WORKERS;
    }
    return n >= SMH_WORKERS ? 0 : SMH_WORKERS - (int)n;
}

int smh_engine_lease(struct smh_engine *e)
{
    return lease(e);
}

int smh_engine_unreachable(struct smh_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int u = e->prog.unreachable || e->nth == 0;
    pthread_mutex_unlock(&e->mu);
    return u;
}

void smh_engine_drain_wait(struct smh_engine *e, long timeout_ms)
{
    uint64_t deadline = smc_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    e->drain = 1; /* the background thread skips the debounce from now on */
    for (;;) {
        struct smc_counts n;
        if (smc_counts(e->c, &n) != 0 || n.queued == 0 || smc_now_ms() >= deadline ||
            smh_engine_unreachable(e))
            return;
        usleep(20000);
    }
}

void smh_engine_quit(struct smh_engine *e)
{
    __atomic_store_n(&e->quit, 1, __ATOMIC_RELEASE);
    abandon_inflight(e);
    smc_lease_drop(e->c, SMH_LEASE, getpid());
}

/* ---- scan: changes nobody recorded ------------------------------------------------------------ */

static struct smh_engine *scan_e;
static long scan_found;

static int scan_visit(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    const char *key = p + strlen(scan_e->tree);
    struct smc_entry ent;
    if (smc_entry_get(scan_e->c, key, &ent) != 0) {
        smc_note_write(scan_e->c, key, (uint64_t)smc_now_ms() * 1000000u);
        scan_found++;
    } else if (!ent.dirty_since_ns &&
               (ent.synced_size != (uint64_t)st->st_size || ent.synced_mtime_ns != smc_mtime_ns(st) ||
                ent.synced_ino != st->st_ino)) {
        smc_note_write(scan_e->c, key, (uint64_t)smc_now_ms() * 1000000u);
        scan_found++;
    }
    return 0;
}

static int scan_missing(void *arg, const char *key, const struct smc_entry *ent)
{
    struct smh_engine *e = arg;
    char tp[PATH_MAX];
    struct stat st;
    tree_path(e, key, tp);
    if ((ent->flags & SMC_E_REMOTE) && SM_REAL(lstat)(tp, &st) != 0 && errno == ENOENT) {
        /* removed without a record (the unlink was never seen): delete the document */
        smc_note_unlink(e->c, key, (uint64_t)smc_now_ms() * 1000000u);
        scan_found++;
    }
    return 0;
}

long smh_scan(struct smh_engine *e)
{
    static pthread_mutex_t scan_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&scan_mu);
    scan_e = e;
    scan_found = 0;
    SM_REAL(nftw)(e->tree, scan_visit, 32, FTW_PHYS);
    smc_entry_each(e->c, scan_missing, e);
    long found = scan_found;
    pthread_mutex_unlock(&scan_mu);
    return found;
}

static int poisoned_visit(void *arg, const char *key, const struct smc_entry *ent)
{
    struct smh_engine *e = arg;
    if (ent->flags & SMC_E_POISONED) {
        struct smc_entry x = *ent;
        x.flags &= ~(uint32_t)SMC_E_POISONED;
        if (!x.dirty_since_ns)
            x.dirty_since_ns = (uint64_t)smc_now_ms() * 1000000u;
        smc_entry_put(e->c, key, &x);
        smc_queue_put_op(e->c, SMC_Q_WRITE, key, NULL);
        scan_found++;
    }
    return 0;
}

long smh_retry_poisoned(struct smh_engine *e)
{
    scan_found = 0;
    smc_entry_each(e->c, poisoned_visit, e);
    return scan_found;
}
