/* journal_fold.c: folding the record journal into LMDB, in order, inside a write transaction, and
 * publishing how far it got (the invariants and the lock order are in journal.c's opening
 * comment). */
#include "journal_int.h"

#include <string.h>

/* The position LMDB holds (kv SMC_KV_JPOS) for this journal's epoch, in t; 0 when it holds
 * another epoch's (or none): this journal's records are then all unfolded from its head. */
static int jpos_get(struct smc *c, MDB_txn *t, uint64_t epoch, uint64_t *pos)
{
    struct smc_key at;
    MDB_val v;
    uint64_t w[2];
    int rc = smc_rec_find(t, c->kv, SMC_KV_JPOS, &at, &v);
    if (rc < 0)
        return rc;
    if (rc == 1 && v.mv_size == sizeof w) {
        memcpy(w, v.mv_data, sizeof w);
        if (w[0] == epoch) {
            *pos = w[1];
            return 1;
        }
    }
    return 0;
}

/* The record at pos, below end: NULL when the bytes there are not one (a damaged file: what
 * follows is left to the scan). Of a pad record (SMC_JOP_PAD) only len and op may be read: it
 * may be shorter than a header. */
static const struct smc_jrec *rec_at(const struct smc_journal *j, uint64_t pos, uint64_t end)
{
    uint64_t off = pos % SMC_J_CAP;
    const struct smc_jrec *r = (const struct smc_jrec *)(j->ring + off);
    if (r->len < 8 || r->len % 8 || r->len > end - pos || off + r->len > SMC_J_CAP ||
        (r->op != SMC_JOP_PAD && r->len < sizeof *r))
        return NULL;
    return r;
}

/* The names of a change record r: 0 and *from, *to (each NULL where the record says so), or -1
 * when they do not fit in it. */
static int rec_names(const struct smc_jrec *r, const char **from, const char **to)
{
    const char *f = (const char *)(r + 1), *t = f + r->flen + 1;
    if ((uint64_t)r->flen + r->tlen + 2 + sizeof *r > r->len || f[r->flen] || t[r->tlen])
        return -1;
    *from = r->flags & SMC_JF_NOFROM ? NULL : f;
    *to = r->flags & SMC_JF_NOTO ? NULL : t;
    return 0;
}

/* Inside the write transaction t: fold the records from where LMDB's state ends, in order, up to
 * the tail, or to the first record boundary max bytes on. */
static int fold_upto(struct smc *c, MDB_txn *t, uint64_t max)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return 0;
    struct smc_jhdr *h = j->h;
    uint64_t epoch = h->epoch, start;
    int rc = jpos_get(c, t, epoch, &start);
    if (rc < 0)
        return rc;
    j_lock(h);
    if (rc == 1 && start > h->head && start <= h->tail)
        __atomic_store_n(&h->head, start, __ATOMIC_RELEASE); /* committed by an earlier fold */
    if (rc == 0 || start < h->head || start > h->tail)
        start = h->head;
    uint64_t end = h->tail;
    if (end > h->reach)
        __atomic_store_n(&h->reach, end, __ATOMIC_RELEASE);
    j_unlock(h);
    j->folded = start;
    if (start == end)
        return 0;
    uint64_t pos = start;
    while (pos < end && pos - start < max) {
        const struct smc_jrec *r = rec_at(j, pos, end);
        const char *from, *to;
        if (!r) {
            pos = end; /* the rest is left to the scan */
            break;
        }
        pos += r->len;
        if (r->op == SMC_JOP_PAD || rec_names(r, &from, &to) < 0)
            continue;
        rc = smc_note_apply(c, t, (enum smc_qop)r->op, from, to, (r->flags & SMC_JF_DIR) != 0,
                            r->now_ns);
        /* a record the entries cannot hold (a name too long, no free probe) is refused before
         * anything is written and skipped; a full map or transaction aborts the fold */
        if (rc < 0 && (rc == -ENOSPC || rc == -EAGAIN || rc == -EIO || rc == -ENOMEM))
            return rc;
    }
    end = pos;
    uint64_t w[2] = {epoch, end};
    if ((rc = smc_rec_put(t, c->kv, SMC_KV_JPOS, w, sizeof w)) == 0)
        j->folded = end; /* (write transactions are one at a time: read before t commits) */
    return rc;
}

int smc_journal_fold(struct smc *c, MDB_txn *t)
{
    return fold_upto(c, t, UINT64_MAX);
}

/* After a transaction that folded up to end committed: publish it (the head never goes back). */
static void publish(struct smc_journal *j, uint64_t end)
{
    j_lock(j->h);
    if (end > j->h->head && end <= j->h->tail)
        __atomic_store_n(&j->h->head, end, __ATOMIC_RELEASE);
    j_unlock(j->h);
}

void smc_journal_unfoldable(struct smc *c, int err)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return;
    j_lock(j->h);
    uint64_t pos = j->h->head, end = j->h->tail;
    j_unlock(j->h);
    if (pos < j->reported)
        pos = j->reported;
    /* the records stay: a process with room folds them; meanwhile their files are listed
     * (cache/unrecorded.c) and the scan that records them takes them off the list */
    while (pos < end) {
        const struct smc_jrec *r = rec_at(j, pos, end);
        const char *from, *to;
        if (!r)
            break;
        pos += r->len;
        if (r->op == SMC_JOP_PAD || rec_names(r, &from, &to) < 0)
            continue;
        if (r->op == SMC_Q_WRITE && from)
            smc_unrecorded_add(c, from, err);
        else if (r->op == SMC_Q_RENAME && to)
            smc_unrecorded_add(c, to, err);
    }
    j->reported = end;
}

int smc_journal_settle(struct smc *c)
{
    return smc_journal_pending(c) ? smc_journal_fold_now(c) : 0;
}

/* A writer's append left more than j->early bytes unfolded (tail: the tail after it). */
void smc_journal_fold_early(struct smc *c, uint64_t tail)
{
    struct smc_journal *j = c->journal;
    MDB_txn *t;
    if (tail < __atomic_load_n(&j->retry_at, __ATOMIC_RELAXED) ||
        __atomic_exchange_n(&j->folding, 1, __ATOMIC_ACQUIRE))
        return; /* another writer of this process is at it */
    int rc = smc_txn(c, SMC_TXN_NOFOLD, &t);
    if (rc == 0 && (rc = fold_upto(c, t, SMC_J_CHUNK)) < 0)
        mdb_txn_abort(t);
    else if (rc == 0) {
        uint64_t end = j->folded;
        if ((rc = smc_errno(mdb_txn_commit(t))) == 0)
            publish(j, end);
    }
    __atomic_store_n(&j->retry_at, rc < 0 ? tail + SMC_J_CHUNK : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&j->folding, 0, __ATOMIC_RELEASE);
}

/* Fold what is pending in a transaction of its own. */
int smc_journal_fold_now(struct smc *c)
{
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t); /* folds */
    if (rc < 0)
        return rc;
    uint64_t end = c->journal->folded;
    if ((rc = smc_errno(mdb_txn_commit(t))) == 0)
        publish(c->journal, end);
    return rc;
}

int smc_journal_folded(struct smc *c, MDB_txn *t)
{
    struct smc_journal *j = c->journal;
    uint64_t pos = 0;
    if (!j)
        return 1;
    int rc = jpos_get(c, t, j->h->epoch, &pos);
    if (rc < 0)
        return 0;
    if (rc == 0)
        pos = 0;
    return __atomic_load_n(&j->h->tail, __ATOMIC_ACQUIRE) == pos;
}
