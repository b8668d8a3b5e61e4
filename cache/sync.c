/* sync.c: what the sync engine needs from the cache: leases and process liveness, queue batches,
 * and the commit of a push's outcome. */
#include "cache_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEASE_VAL_MAX 96 /* a lease's value: a pid and three uint64 */
#define PID_SUB_MAX   16 /* a pid in decimal */

/* ---- leases ---------------------------------------------------------------------------------- */

static uint64_t proc_start(int pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    /* a descriptor of the library's: never a number the host may be reusing meanwhile */
    int fd = sm_lib_openat(AT_FDCWD, p, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    sm_lib_close(fd);
    buf[n > 0 ? n : 0] = '\0';
    char *s = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!s)
        return 0;
    unsigned long long v = 0;
    /* fields after ")": state(3) ... starttime is field 22 */
    int field = 2;
    for (char *q = s + 1; *q && field < 22; q++)
        if (*q == ' ')
            field++, s = q;
    if (sscanf(s, " %llu", &v) != 1)
        return 0;
    return v;
}

uint64_t smc_self_start(void)
{
    return proc_start(getpid());
}

int smc_pid_alive(int pid, uint64_t start)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 0;
    return start == 0 || proc_start(pid) == start;
}

/* A lease's value, "<pid> <start> <expires_ms>[ <due_ms>]" (schema.h): 1 parsed, 0 not a
 * lease. */
static int lease_parse(const MDB_val *v, struct smc_lease *l)
{
    char cur[LEASE_VAL_MAX];
    if (v->mv_size >= sizeof cur)
        return 0;
    memcpy(cur, v->mv_data, v->mv_size);
    cur[v->mv_size] = '\0';
    uint64_t n[4];
    if (smc_kv_parse_nums(cur, n, 4) < 3 || n[0] > INT_MAX)
        return 0;
    l->pid = (int)n[0];
    l->start = n[1];
    l->expires_ms = n[2];
    l->due_ms = n[3]; /* (0 when absent) */
    return 1;
}

int smc_lease_take(struct smc *c, const char *name, int pid, uint64_t start, uint64_t now_ms,
                   uint64_t ttl_ms)
{
    MDB_txn *t;
    struct smc_key at;
    MDB_val v;
    struct smc_lease h;
    char mine[LEASE_VAL_MAX];
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if ((rc = smc_rec_find(t, c->kv, name, &at, &v)) < 0)
        return smc_txn_end(t, rc, 0);
    if (rc == 1 && lease_parse(&v, &h) && h.pid != pid &&
        (h.due_ms > now_ms || (h.expires_ms > now_ms && smc_pid_alive(h.pid, h.start)))) {
        mdb_txn_abort(t);
        return 0; /* held by another */
    }
    snprintf(mine, sizeof mine, "%d %llu %llu", pid, (unsigned long long)start,
             (unsigned long long)(now_ms + ttl_ms));
    rc = smc_rec_put_at(t, c->kv, &at, name, mine, strlen(mine));
    return smc_txn_end(t, rc, 1);
}

int smc_lease_drop(struct smc *c, const char *name, int pid)
{
    MDB_txn *t;
    struct smc_key at;
    MDB_val v;
    struct smc_lease h;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if (smc_rec_find(t, c->kv, name, &at, &v) == 1 && lease_parse(&v, &h) && h.pid == pid)
        smc_rec_del_at(t, c->kv, &at);
    return smc_txn_end(t, 0, 0);
}

int smc_lease_due(struct smc *c, const char *name, int pid, uint64_t due_ms)
{
    MDB_txn *t;
    struct smc_key at;
    MDB_val v;
    struct smc_lease h;
    char val[LEASE_VAL_MAX];
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if (smc_rec_find(t, c->kv, name, &at, &v) != 1 || !lease_parse(&v, &h) || h.pid != pid) {
        mdb_txn_abort(t);
        return 0;
    }
    if (h.due_ms >= due_ms) {
        mdb_txn_abort(t);
        return 1;
    }
    snprintf(val, sizeof val, "%d %llu %llu %llu", h.pid, (unsigned long long)h.start,
             (unsigned long long)h.expires_ms, (unsigned long long)due_ms);
    rc = smc_rec_put_at(t, c->kv, &at, name, val, strlen(val));
    rc = smc_txn_end(t, rc, 1);
    return rc < 0 ? rc : 1;
}

struct lease_each {
    size_t skip;
    smc_lease_fn fn;
    void *arg;
};

static int lease_one(void *arg, const char *name, const char *val)
{
    struct lease_each *e = arg;
    struct smc_lease l;
    MDB_val v = {strlen(val), (void *)val};
    return lease_parse(&v, &l) ? e->fn(e->arg, name + e->skip, &l) : 0;
}

int smc_lease_each(struct smc *c, const char *prefix, smc_lease_fn fn, void *arg)
{
    struct lease_each e = {strlen(prefix), fn, arg};
    return smc_kv_each(c, prefix, lease_one, &e);
}

/* ---- the participants: kv SMC_KV_PROC "<pid>" = its start time ------------------------------ */

int smc_proc_mark(struct smc *c, int pid, int on)
{
    char sub[PID_SUB_MAX];
    snprintf(sub, sizeof sub, "%d", pid);
    return on ? smc_kv_set_u64(c, SMC_KV_PROC, sub, smc_self_start())
              : smc_kv_unset(c, SMC_KV_PROC, sub);
}

static int other_alive(void *arg, const char *sub, const uint64_t *v, int got)
{
    (void)got;
    int *self = arg, pid = atoi(sub);
    if (pid != *self && smc_pid_alive(pid, v[0])) {
        *self = 0; /* found */
        return 1;
    }
    return 0;
}

int smc_proc_other_alive(struct smc *c, int self)
{
    int s = self;
    smc_kv_each_nums(c, SMC_KV_PROC, 1, other_alive, &s);
    return s != self;
}

/* ---- the queue, as the pusher sees it ------------------------------------------------------- */

struct batch {
    struct smc_qitem **v;
    size_t n, max;
};

static int batch_add(void *arg, uint64_t seq, const struct smc_qrec *q, const char *from,
                     const char *to)
{
    struct batch *b = arg;
    size_t fl = strlen(from) + 1, tl = strlen(to) + 1;
    struct smc_qitem *it = malloc(sizeof *it + fl + tl);
    if (!it)
        return -ENOMEM;
    it->seq = seq;
    it->op = q->op;
    it->enq_ns = q->enq_ns;
    memcpy(it->remote_id, q->remote_id, sizeof it->remote_id);
    memcpy(it->custom_id, q->custom_id, sizeof it->custom_id);
    it->remote_id[sizeof it->remote_id - 1] = '\0';
    it->custom_id[sizeof it->custom_id - 1] = '\0';
    it->from = it->paths;
    memcpy(it->from, from, fl);
    it->to = it->paths + fl;
    memcpy(it->to, to, tl);
    b->v[b->n++] = it;
    return b->n >= b->max ? 1 : 0;
}

int smc_queue_batch(struct smc *c, size_t max, struct smc_qitem ***out, size_t *n)
{
    struct batch b = {calloc(max ? max : 1, sizeof(struct smc_qitem *)), 0, max};
    *out = NULL;
    *n = 0;
    if (!b.v)
        return -ENOMEM;
    int rc = max ? smc_queue_each(c, batch_add, &b) : 0;
    if (rc < 0) {
        smc_queue_batch_free(b.v, b.n);
        return rc;
    }
    *out = b.v;
    *n = b.n;
    return 0;
}

void smc_queue_batch_free(struct smc_qitem **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Inside t: remove the records seqs (and their counts in SMC_KV_QDOC). */
static int del_seqs(struct smc *c, MDB_txn *t, const uint64_t *seqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char kb[SMC_QKEY];
        struct smc_qrec q;
        smc_qkey_put(seqs[i], kb);
        MDB_val k = {SMC_QKEY, kb}, v;
        int rc = mdb_get(t, c->queue, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            return smc_errno(rc);
        if (v.mv_size >= sizeof q) {
            memcpy(&q, v.mv_data, sizeof q);
            q.remote_id[sizeof q.remote_id - 1] = '\0';
            if (smc_qop_names_doc(q.op) && q.remote_id[0] &&
                (rc = smc_qdoc_add(c, t, q.remote_id, -1)) < 0)
                return rc;
        }
        if ((rc = mdb_del(t, c->queue, &k, NULL)) != 0)
            return smc_errno(rc);
    }
    return 0;
}

int smc_queue_del(struct smc *c, const uint64_t *seqs, size_t n)
{
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    return smc_txn_end(t, del_seqs(c, t, seqs, n), 0);
}

int smc_queue_put_op(struct smc *c, enum smc_qop op, const char *from, const char *to)
{
    MDB_txn *t;
    uint64_t now = smc_now_ns();
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    return smc_txn_end(t, smc_queue_put(c, t, op, from, to, NULL, now), 0);
}

int smc_queue_put_stray(struct smc *c, const char *key, const char *id, const char *custom_id,
                        int write_first)
{
    MDB_txn *t;
    struct smc_entry e;
    uint64_t now = smc_now_ns();
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if (!write_first && (rc = smc_qdoc_pending(c, t, id)) != 0)
        return smc_txn_end(t, rc < 0 ? rc : 0, 0); /* queued already (or its delete or rename) */
    memset(&e, 0, sizeof e);
    snprintf(e.remote_id, sizeof e.remote_id, "%s", id);
    snprintf(e.custom_id, sizeof e.custom_id, "%s", custom_id);
    if (write_first)
        rc = smc_queue_put(c, t, SMC_Q_WRITE, key, NULL, NULL, now);
    if (rc >= 0)
        rc = smc_queue_put(c, t, SMC_Q_STRAY, key, NULL, &e, now);
    return smc_txn_end(t, rc, 0);
}

int smc_push_done(struct smc *c, const char *key, const char *custom_id, const struct smc_pushed *p,
                  const uint64_t *seqs, size_t nseq)
{
    MDB_txn *t;
    struct smc_key at;
    struct smc_entry e;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if ((rc = del_seqs(c, t, seqs, nseq)) < 0)
        goto fail;
    if ((rc = smc_entry_at(t, c, key, &at, &e)) < 0)
        goto fail;
    if (rc == 1) {
        /* the same file as when the push began (not removed and re-created since) */
        if (!custom_id || strcmp(e.custom_id, custom_id) == 0) {
            if (p->remote_id && p->remote_id[0] && strcmp(p->remote_id, e.remote_id) != 0 &&
                (rc = smc_ids_only(c, t, p->remote_id, key)) != 1) {
                /* another file's document: this file is not bound to it too */
                rc = rc < 0 ? rc : -EEXIST;
                goto fail;
            }
            if (p->remote_id) {
                snprintf(e.remote_id, sizeof e.remote_id, "%s", p->remote_id);
                if (p->remote_id[0])
                    e.flags |= SMC_E_REMOTE;
                else
                    e.flags &= ~(uint32_t)SMC_E_REMOTE;
            }
            e.flags = (e.flags | p->set_flags) & ~p->clear_flags;
            e.synced_size = p->size;
            e.synced_mtime_ns = p->mtime_ns;
            e.synced_ino = p->ino;
            e.synced_hash = p->hash;
            if (p->set_flags & SMC_E_BINARY)
                e.remote_updated_ms = 0; /* an upload: its version is told by the listing that
                                            names its bytes (smc_mark_fetch) */
            int same =
                p->now_size == p->size && p->now_mtime_ns == p->mtime_ns && p->now_ino == p->ino;
            if (same) {
                e.dirty_since_ns = 0;
            } else if (p->now_ino) {
                /* written again while the push was in flight: push again */
                uint64_t now = smc_now_ns();
                if (!e.dirty_since_ns)
                    e.dirty_since_ns = now;
                if ((rc = smc_queue_put(c, t, SMC_Q_WRITE, key, NULL, NULL, now)) < 0)
                    goto fail;
            }
            if ((rc = smc_entry_store(c, t, &at, key, &e)) < 0)
                goto fail;
        }
    }
    return smc_errno(mdb_txn_commit(t));
fail:
    mdb_txn_abort(t);
    return rc;
}

int smc_entry_put(struct smc *c, const char *key, const struct smc_entry *e)
{
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    return smc_txn_end(t, smc_entry_store_key(c, t, key, e), 0);
}
