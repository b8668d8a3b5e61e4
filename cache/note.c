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
    return smc_entry_store_key(c, t, key, e);
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
    if ((rc = smc_entry_drop(c, t, key)) < 0)
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
    if ((rc = smc_entry_drop(c, t, from)) < 0)
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
    /* (a process that has not opened its environment records the change: opening it would
     * cost more than the record) */
    if (!smc_env_ready(c) || smc_journal_pending(c) || smc_txn(c, MDB_RDONLY, &t) < 0)
        return 0;
    int dirty = entry_read(c, t, key, &e) == 1 && e.dirty_since_ns != 0 && smc_journal_folded(c, t);
    mdb_txn_abort(t);
    return dirty;
}

/* A change goes to the journal (journal.c), or, when it is full or the record too large, into a
 * transaction of its own, which folds the journal first: the order of changes is kept. */
static int note_tok(struct smc *c, enum smc_qop op, const char *from, const char *to, int is_dir,
                    uint64_t now_ns, struct smc_wtok *tok)
{
    if (smc_journal_append(c, op, from, to, is_dir, now_ns, tok) == 0)
        return 0;
    IN_WRITE_TXN(c, smc_note_apply(c, t, op, from, to, is_dir, now_ns));
}

static int note(struct smc *c, enum smc_qop op, const char *from, const char *to, int is_dir,
                uint64_t now_ns)
{
    return note_tok(c, op, from, to, is_dir, now_ns, NULL);
}

int smc_note_write_tok(struct smc *c, const char *key, uint64_t now_ns, struct smc_wtok *tok)
{
    tok->epoch = tok->pos = 0;
    if (already_dirty(c, key))
        return 0;
    return note_tok(c, SMC_Q_WRITE, key, NULL, 0, now_ns, tok);
}

int smc_note_write(struct smc *c, const char *key, uint64_t now_ns)
{
    struct smc_wtok tok;
    return smc_note_write_tok(c, key, now_ns, &tok);
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
