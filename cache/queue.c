/* queue.c: the push queue in LMDB: appending a record (smc_queue_put), the per-document counts of
 * queued deletes and renames (smc_qdoc_*), and walking the queue in order (smc_queue_each). A
 * record is appended in the same write transaction as the entry change it stands for (note.c). */
#include "cache_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kv name of the document id's count (id: at most 63 bytes, as in an entry). */
static void qdoc_name(const char *id, char out[sizeof SMC_KV_QDOC + 64])
{
    snprintf(out, sizeof SMC_KV_QDOC + 64, SMC_KV_QDOC "%.63s", id);
}

int smc_qdoc_add(struct smc *c, MDB_txn *t, const char *id, int delta)
{
    char name[sizeof SMC_KV_QDOC + 64], val[24];
    struct smc_key at;
    MDB_val v;
    long n = 0;
    qdoc_name(id, name);
    int rc = smc_rec_find(t, c->kv, name, &at, &v);
    if (rc < 0)
        return rc;
    if (rc == 1 && v.mv_size < sizeof val) {
        memcpy(val, v.mv_data, v.mv_size);
        val[v.mv_size] = '\0';
        n = strtol(val, NULL, 10);
    }
    n += delta;
    if (n <= 0)
        return rc == 1 ? smc_rec_del_at(t, c->kv, &at) : 0;
    int l = snprintf(val, sizeof val, "%ld", n);
    return smc_rec_put_at(t, c->kv, &at, name, val, (size_t)l);
}

int smc_qdoc_pending(struct smc *c, MDB_txn *t, const char *id)
{
    char name[sizeof SMC_KV_QDOC + 64];
    struct smc_key at;
    MDB_val v;
    if (!id[0])
        return 0;
    qdoc_name(id, name);
    return smc_rec_find(t, c->kv, name, &at, &v);
}

int smc_queue_put(struct smc *c, MDB_txn *t, enum smc_qop op, const char *from, const char *to,
                  const struct smc_entry *e, uint64_t now_ns)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t seq = 1;
    unsigned char kb[SMC_QKEY];
    int rc = mdb_cursor_open(t, c->queue, &cur);
    if (rc)
        return smc_errno(rc);
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == SMC_QKEY)
        seq = smc_qkey_get(&k) + 1;
    mdb_cursor_close(cur);
    smc_qkey_put(seq, kb);

    size_t fl = strlen(from) + 1, tl = (to ? strlen(to) : 0) + 1;
    size_t sz = sizeof(struct smc_qrec) + fl + tl;
    k.mv_size = SMC_QKEY;
    k.mv_data = kb;
    v.mv_size = sz;
    rc = mdb_put(t, c->queue, &k, &v, MDB_RESERVE | MDB_APPEND);
    if (rc)
        return smc_errno(rc);
    struct smc_qrec q;
    memset(&q, 0, sizeof q);
    q.version = SMC_QREC_V1;
    q.op = op;
    q.enq_ns = now_ns;
    if (e) {
        memcpy(q.remote_id, e->remote_id, sizeof q.remote_id);
        memcpy(q.custom_id, e->custom_id, sizeof q.custom_id);
    }
    char *w = v.mv_data;
    memcpy(w, &q, sizeof q);
    memcpy(w + sizeof q, from, fl);
    memcpy(w + sizeof q + fl, to ? to : "", tl);
    q.remote_id[sizeof q.remote_id - 1] = '\0';
    if (smc_qop_names_doc(op) && q.remote_id[0])
        return smc_qdoc_add(c, t, q.remote_id, 1);
    return 0;
}

int smc_queue_each(struct smc *c, smc_qvisit fn, void *arg)
{
    MDB_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    smc_journal_settle(c); /* (failing, a full map: what LMDB holds is read) */
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    if ((rc = smc_errno(mdb_cursor_open(t, c->queue, &cur))) < 0) {
        mdb_txn_abort(t);
        return rc;
    }
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
        struct smc_qrec q;
        if (k.mv_size != SMC_QKEY || v.mv_size < sizeof q + 2)
            continue;
        memcpy(&q, v.mv_data, sizeof q);
        const char *from = (const char *)v.mv_data + sizeof q;
        size_t fl = strnlen(from, v.mv_size - sizeof q);
        if (fl + 1 >= v.mv_size - sizeof q)
            continue;
        const char *to = from + fl + 1;
        if ((rc = fn(arg, smc_qkey_get(&k), &q, from, to)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(t);
    return rc;
}
