/* note.c: recording local changes. Each change is one write transaction that updates the file's
 * entry and appends a push-queue record together, so the two never disagree. */
#include "cache_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* splitmix64: ids from a per-process seed (one getrandom per process, not per file) mixed with
 * the pid (a fork child does not repeat its parent's ids) and a counter */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void smc_custom_id(char out[48])
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static uint64_t seed, counter;
    uint64_t s = __atomic_load_n(&seed, __ATOMIC_RELAXED);
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
            s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uintptr_t)&s;
        s |= 1;
        __atomic_store_n(&seed, s, __ATOMIC_RELAXED);
    }
    uint64_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    uint64_t a = mix64(s ^ ((uint64_t)getpid() << 32) ^ n), b = mix64(a ^ n);
    for (size_t i = 0; i < 22; i++) {
        uint64_t *w = i < 11 ? &a : &b;
        out[i] = al[*w % (sizeof al - 1)];
        *w /= (sizeof al - 1);
    }
    out[22] = '\0';
}

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
    if ((op == SMC_Q_DELETE || op == SMC_Q_RENAME) && q.remote_id[0])
        return smc_qdoc_add(c, t, q.remote_id, 1);
    return 0;
}

/* Read the entry of key in t; 1 found, 0 not found, -errno. */
static int entry_read(struct smc *c, MDB_txn *t, const char *key, struct smc_entry *e)
{
    struct smc_key at;
    MDB_val v;
    int rc = smc_rec_find(t, c->entries, key, &at, &v);
    if (rc <= 0)
        return rc;
    if (v.mv_size < sizeof *e)
        return -EPROTO;
    memcpy(e, v.mv_data, sizeof *e);
    return 1;
}

static int entry_write(struct smc *c, MDB_txn *t, const char *key, const struct smc_entry *e)
{
    return smc_rec_put(t, c->entries, key, e, sizeof *e);
}

int smc_entry_get(struct smc *c, const char *key, struct smc_entry *e)
{
    MDB_txn *t;
    smc_journal_settle(c); /* (failing, a full map: what LMDB holds is read) */
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    rc = entry_read(c, t, key, e);
    mdb_txn_abort(t);
    return rc < 0 ? rc : rc == 1 ? 0 : -ENOENT;
}

/* Is key longer than a synced filepath may be (SMC_KEY_SYNC_MAX)? */
static int too_long(const char *key)
{
    return strnlen(key, SMC_KEY_SYNC_MAX + 1) > SMC_KEY_SYNC_MAX;
}

/* Inside t: mark key dirty (creating its entry) and queue a write; a key too long to sync is
 * recorded refused instead, with nothing queued. */
static int mark_dirty(struct smc *c, MDB_txn *t, const char *key, uint64_t now_ns)
{
    struct smc_entry e;
    int rc = entry_read(c, t, key, &e);
    if (rc < 0)
        return rc;
    if (too_long(key)) {
        if (rc == 1 && (e.flags & SMC_E_POISONED))
            return 0;
        if (rc == 0) {
            memset(&e, 0, sizeof e);
            e.version = SMC_ENTRY_V1;
            smc_custom_id(e.custom_id);
        }
        e.flags |= SMC_E_POISONED;
        if (!e.dirty_since_ns)
            e.dirty_since_ns = now_ns;
        return entry_write(c, t, key, &e);
    }
    if (rc == 1 && e.dirty_since_ns)
        return 0;
    if (rc == 0) {
        memset(&e, 0, sizeof e);
        e.version = SMC_ENTRY_V1;
        smc_custom_id(e.custom_id);
    }
    e.dirty_since_ns = now_ns;
    if ((rc = entry_write(c, t, key, &e)) < 0)
        return rc;
    return smc_queue_put(c, t, SMC_Q_WRITE, key, NULL, NULL, now_ns);
}

int smc_mark_dirty(struct smc *c, MDB_txn *t, const char *key, uint64_t now_ns)
{
    return mark_dirty(c, t, key, now_ns);
}

/* Inside t: key is gone; queue the deletion of its document. */
static int drop_entry(struct smc *c, MDB_txn *t, const char *key, uint64_t now_ns)
{
    struct smc_entry e;
    int rc = entry_read(c, t, key, &e);
    if (rc <= 0)
        return rc;
    if ((rc = smc_rec_del(t, c->entries, key)) < 0)
        return rc;
    if (too_long(key))
        return 0; /* never pushed: no document to delete */
    return smc_queue_put(c, t, SMC_Q_DELETE, key, NULL, &e, now_ns);
}

/* Inside t: the file from is now to (an entry at to, if any, is replaced). */
static int move_entry(struct smc *c, MDB_txn *t, const char *from, const char *to, uint64_t now_ns)
{
    struct smc_entry e;
    int rc = entry_read(c, t, from, &e);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return mark_dirty(c, t, to, now_ns);
    if (too_long(from) || too_long(to)) {
        /* no document can follow: the old one goes, the new name is recorded afresh */
        if ((rc = drop_entry(c, t, from, now_ns)) < 0 || (rc = drop_entry(c, t, to, now_ns)) < 0)
            return rc;
        return mark_dirty(c, t, to, now_ns);
    }
    if ((rc = drop_entry(c, t, to, now_ns)) < 0)
        return rc;
    if ((rc = smc_rec_del(t, c->entries, from)) < 0)
        return rc;
    if ((rc = entry_write(c, t, to, &e)) < 0)
        return rc;
    return smc_queue_put(c, t, SMC_Q_RENAME, from, to, &e, now_ns);
}

/* Names of the entries below directory dir ("/a" -> "/a/..."), malloc'd; count in *n. They are
 * collected first and changed after: an LMDB cursor does not follow changes made around it. */
static int keys_below(struct smc *c, MDB_txn *t, const char *dir, char ***out, size_t *n)
{
    struct smc_range r;
    size_t dl = strlen(dir), cap = 0, nl;
    char **v = NULL, *start = malloc(dl + 2);
    const char *name;
    MDB_val pay;
    *n = 0;
    *out = NULL;
    if (!start)
        return -ENOMEM;
    memcpy(start, dir, dl);
    memcpy(start + dl, "/", 2);
    int rc = smc_range_open(t, c->entries, start, &r);
    if (rc < 0) {
        free(start);
        return rc;
    }
    while ((rc = smc_range_next(&r, &name, &nl, &pay)) == 1) {
        if (nl <= dl + 1)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        char *s = malloc(nl + 1);
        if (!s) {
            rc = -ENOMEM;
            break;
        }
        memcpy(s, name, nl);
        s[nl] = '\0';
        v[(*n)++] = s;
    }
    smc_range_close(&r);
    free(start);
    *out = v;
    return rc < 0 ? rc : 0;
}

static void keys_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Run op in one write transaction. */
#define IN_WRITE_TXN(c, body)                                                                      \
    MDB_txn *t;                                                                                    \
    int rc = smc_txn(c, 0, &t);                                                                    \
    if (rc < 0)                                                                                    \
        return rc;                                                                                 \
    rc = (body);                                                                                   \
    return smc_txn_end(t, rc, 0);

/* Is key's entry already dirty, with every recorded change folded? One read transaction, no
 * writer lock. (Dirty in LMDB is not enough while records wait in the journal: one of them may
 * be the file's removal, which the fold would apply after this write.) */
static int already_dirty(struct smc *c, const char *key)
{
    struct smc_entry e;
    MDB_txn *t;
    if (smc_journal_pending(c) || smc_txn(c, MDB_RDONLY, &t) < 0)
        return 0;
    int dirty = entry_read(c, t, key, &e) == 1 && e.dirty_since_ns != 0 && smc_journal_folded(c, t);
    mdb_txn_abort(t);
    return dirty;
}

/* A change goes to the journal (journal.c), or, when it is full or the record too large, into a
 * transaction of its own, which folds the journal first: the order of changes is kept. */
static int note(struct smc *c, enum smc_qop op, const char *from, const char *to, int is_dir,
                uint64_t now_ns)
{
    if (smc_journal_append(c, op, from, to, is_dir, now_ns) == 0)
        return 0;
    IN_WRITE_TXN(c, smc_note_apply(c, t, op, from, to, is_dir, now_ns));
}

int smc_note_write(struct smc *c, const char *key, uint64_t now_ns)
{
    if (already_dirty(c, key))
        return 0;
    return note(c, SMC_Q_WRITE, key, NULL, 0, now_ns);
}

int smc_note_writes(struct smc *c, const char *const *keys, size_t n, uint64_t now_ns)
{
    for (size_t i = 0; i < n; i++) {
        int rc = note(c, SMC_Q_WRITE, keys[i], NULL, 0, now_ns);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int smc_note_unlink(struct smc *c, const char *key, uint64_t now_ns)
{
    return note(c, SMC_Q_DELETE, key, NULL, 0, now_ns);
}

static int rename_dir(struct smc *c, MDB_txn *t, const char *from, const char *to, uint64_t now_ns)
{
    char **keys = NULL;
    size_t n = 0;
    int rc = keys_below(c, t, from, &keys, &n);
    size_t fl = strlen(from), tl = to ? strlen(to) : 0;
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        if (!to) {
            rc = drop_entry(c, t, keys[i], now_ns);
            continue;
        }
        size_t rest = strlen(keys[i] + fl) + 1;
        char *nk = malloc(tl + rest);
        if (!nk) {
            rc = -ENOMEM;
            break;
        }
        memcpy(nk, to, tl);
        memcpy(nk + tl, keys[i] + fl, rest);
        rc = move_entry(c, t, keys[i], nk, now_ns);
        free(nk);
    }
    keys_free(keys, n);
    if (rc >= 0)
        rc = smc_links_move_dir(c, t, from, to);
    return rc;
}

static int rename_body(struct smc *c, MDB_txn *t, const char *from, const char *to, int is_dir,
                       uint64_t now_ns)
{
    if (is_dir) {
        if (!from)
            return smc_queue_put(c, t, SMC_Q_SCAN, to, NULL, NULL, now_ns);
        return rename_dir(c, t, from, to, now_ns);
    }
    if (!from)
        return mark_dirty(c, t, to, now_ns);
    if (!to)
        return drop_entry(c, t, from, now_ns);
    return move_entry(c, t, from, to, now_ns);
}

int smc_note_rename(struct smc *c, const char *from, const char *to, int is_dir, uint64_t now_ns)
{
    if (!from && !to)
        return 0;
    return note(c, SMC_Q_RENAME, from, to, is_dir, now_ns);
}

int smc_note_apply(struct smc *c, MDB_txn *t, enum smc_qop op, const char *from, const char *to,
                   int is_dir, uint64_t now_ns)
{
    switch (op) {
    case SMC_Q_WRITE: return from ? mark_dirty(c, t, from, now_ns) : -EINVAL;
    case SMC_Q_DELETE: return from ? drop_entry(c, t, from, now_ns) : -EINVAL;
    case SMC_Q_RENAME: return from || to ? rename_body(c, t, from, to, is_dir, now_ns) : 0;
    default: return -EINVAL;
    }
}

/* ---- reading ------------------------------------------------------------------------------ */

int smc_entry_each(struct smc *c, smc_evisit fn, void *arg)
{
    MDB_txn *t;
    struct smc_range r;
    MDB_val v;
    const char *name;
    size_t nl, cap = 0;
    char *key = NULL;
    smc_journal_settle(c); /* (failing, a full map: what LMDB holds is read) */
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    if ((rc = smc_range_open(t, c->entries, "", &r)) < 0) {
        mdb_txn_abort(t);
        return rc;
    }
    while ((rc = smc_range_next(&r, &name, &nl, &v)) == 1) {
        struct smc_entry e;
        if (v.mv_size < sizeof e)
            continue;
        if (nl + 1 > cap) {
            char *nk = realloc(key, nl + 1);
            if (!nk) {
                rc = -ENOMEM;
                break;
            }
            key = nk;
            cap = nl + 1;
        }
        memcpy(key, name, nl);
        key[nl] = '\0';
        memcpy(&e, v.mv_data, sizeof e);
        if ((rc = fn(arg, key, &e)) != 0)
            break;
    }
    smc_range_close(&r);
    mdb_txn_abort(t);
    free(key);
    return rc;
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

static int count_entry(void *arg, const char *key, const struct smc_entry *e)
{
    struct smc_counts *n = arg;
    (void)key;
    n->entries++;
    n->dirty += e->dirty_since_ns != 0;
    n->remote += (e->flags & SMC_E_REMOTE) != 0;
    n->poisoned += (e->flags & SMC_E_POISONED) != 0;
    n->localonly += (e->flags & SMC_E_LOCALONLY) != 0;
    return 0;
}

int smc_counts(struct smc *c, struct smc_counts *out)
{
    MDB_txn *t;
    MDB_stat st;
    memset(out, 0, sizeof *out);
    int rc = smc_entry_each(c, count_entry, out);
    if (rc < 0)
        return rc;
    if ((rc = smc_txn(c, MDB_RDONLY, &t)) < 0)
        return rc;
    rc = smc_errno(mdb_stat(t, c->queue, &st));
    mdb_txn_abort(t);
    if (rc == 0)
        out->queued = st.ms_entries;
    return rc;
}
