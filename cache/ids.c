/* ids.c: the document -> files index (SMC_DB_IDS). Every entry bound to a document (a remote id
 * in its record) is listed under that id, in the same write transaction that writes or removes
 * the entry: every writer of the entries database goes through smc_entry_store and
 * smc_entry_drop. So the sync engine tells in one read whether a document is bound to exactly
 * the file it is about to act for; a document two files are bound to (a server that answered a
 * create with another file's document) is acted on for neither. Key: the id; value: the names,
 * each NUL-terminated. */
#include "cache_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int id_key(const char *id, MDB_val *k)
{
    size_t n = strnlen(id, SMC_ID_MAX + 1);
    if (n == 0 || n > SMC_ID_MAX)
        return -EINVAL;
    k->mv_size = n;
    k->mv_data = (void *)id;
    return 0;
}

/* The next name of a list (p, end): NULL at its end. */
static const char *next_name(const char **p, const char *end)
{
    if (*p >= end)
        return NULL;
    const char *s = *p;
    const char *z = memchr(s, '\0', (size_t)(end - s));
    *p = z ? z + 1 : end;
    return s;
}

static int same_name(const char *s, const char *end, const char *name, size_t nl)
{
    return (size_t)(end - s) > nl && memcmp(s, name, nl) == 0 && s[nl] == '\0';
}

/* Inside t: name is bound to id (on 1) or no longer (on 0). */
static int ids_change(struct smc *c, MDB_txn *t, const char *id, const char *name, int on)
{
    MDB_val k, v;
    if (id_key(id, &k) < 0)
        return 0; /* not a document id: nothing to index */
    size_t nl = strlen(name);
    int rc = mdb_get(t, c->ids, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return smc_errno(rc);
    const char *old = rc ? NULL : v.mv_data, *end = old ? old + v.mv_size : NULL;
    size_t keep = 0;
    int found = 0;
    for (const char *p = old, *s; old && (s = next_name(&p, end));) {
        if (same_name(s, end, name, nl))
            found = 1;
        else
            keep += (size_t)(p - s);
    }
    if (found == on)
        return 0;
    size_t len = keep + (on ? nl + 1 : 0);
    if (len == 0)
        return smc_errno(mdb_del(t, c->ids, &k, NULL));
    char *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    char *w = buf;
    for (const char *p = old, *s; old && (s = next_name(&p, end));) {
        if (!same_name(s, end, name, nl)) {
            memcpy(w, s, (size_t)(p - s));
            w += p - s;
        }
    }
    if (on)
        memcpy(w, name, nl + 1);
    MDB_val nv = {len, buf};
    rc = smc_errno(mdb_put(t, c->ids, &k, &nv, 0));
    free(buf);
    return rc;
}

/* The entry record at *at, if any: its remote id into id (""), 1 found, 0 none, -errno. */
static int old_id(struct smc *c, MDB_txn *t, const struct smc_key *at, char id[64])
{
    MDB_val k = {at->len, (void *)at->b}, v, pay;
    const char *name;
    size_t nl;
    struct smc_entry e;
    id[0] = '\0';
    int rc = mdb_get(t, c->entries, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return smc_errno(rc);
    if (smc_rec_row(&k, &v, &name, &nl, &pay) < 0 || pay.mv_size < sizeof e)
        return 1;
    memcpy(&e, pay.mv_data, sizeof e);
    memcpy(id, e.remote_id, 64);
    id[63] = '\0';
    return 1;
}

int smc_entry_store(struct smc *c, MDB_txn *t, const struct smc_key *at, const char *key,
                    const struct smc_entry *e)
{
    char was[64], now[64];
    int rc = old_id(c, t, at, was);
    if (rc < 0)
        return rc;
    memcpy(now, e->remote_id, sizeof now);
    now[63] = '\0';
    if (strcmp(was, now) != 0 && ((was[0] && (rc = ids_change(c, t, was, key, 0)) < 0) ||
                                  (now[0] && (rc = ids_change(c, t, now, key, 1)) < 0)))
        return rc;
    return smc_rec_put_at(t, c->entries, at, key, e, sizeof *e);
}

int smc_entry_store_key(struct smc *c, MDB_txn *t, const char *key, const struct smc_entry *e)
{
    struct smc_key at;
    MDB_val v;
    int rc = smc_rec_find(t, c->entries, key, &at, &v);
    return rc < 0 ? rc : smc_entry_store(c, t, &at, key, e);
}

int smc_entry_drop_at(struct smc *c, MDB_txn *t, const struct smc_key *at, const char *key)
{
    char was[64];
    int rc = old_id(c, t, at, was);
    if (rc <= 0)
        return rc < 0 ? rc : -ENOENT;
    if (was[0] && (rc = ids_change(c, t, was, key, 0)) < 0)
        return rc;
    return smc_rec_del_at(t, c->entries, at);
}

int smc_entry_drop(struct smc *c, MDB_txn *t, const char *key)
{
    struct smc_key at;
    MDB_val v;
    int rc = smc_rec_find(t, c->entries, key, &at, &v);
    if (rc <= 0)
        return rc < 0 ? rc : -ENOENT;
    return smc_entry_drop_at(c, t, &at, key);
}

int smc_ids_others(struct smc *c, MDB_txn *t, const char *id, const char *key, char *other,
                   size_t n)
{
    MDB_val k, v;
    if (other && n)
        other[0] = '\0';
    if (!id || id_key(id, &k) < 0)
        return 0;
    int rc = mdb_get(t, c->ids, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return smc_errno(rc);
    const char *end = (const char *)v.mv_data + v.mv_size;
    size_t kl = key ? strlen(key) : 0;
    int count = 0;
    for (const char *p = v.mv_data, *s; (s = next_name(&p, end));) {
        if (key && same_name(s, end, key, kl))
            continue;
        if (!count && other && n) {
            size_t l = strnlen(s, (size_t)(end - s));
            l = l < n - 1 ? l : n - 1;
            memcpy(other, s, l);
            other[l] = '\0';
        }
        count++;
    }
    return count;
}

int smc_ids_only(struct smc *c, MDB_txn *t, const char *id, const char *key)
{
    int rc = smc_ids_others(c, t, id, key, NULL, 0);
    return rc < 0 ? rc : rc == 0;
}

int smc_doc_others(struct smc *c, const char *id, const char *key, char *other, size_t n)
{
    MDB_txn *t;
    if (other && n)
        other[0] = '\0';
    smc_journal_settle(c); /* every change recorded before: a rename moves a binding */
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    rc = smc_ids_others(c, t, id, key, other, n);
    mdb_txn_abort(t);
    return rc;
}

int smc_ids_shared(struct smc *c, uint64_t *shared)
{
    MDB_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    *shared = 0;
    smc_journal_settle(c);
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    if ((rc = smc_errno(mdb_cursor_open(t, c->ids, &cur))) < 0) {
        mdb_txn_abort(t);
        return rc;
    }
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
        const char *end = (const char *)v.mv_data + v.mv_size, *p = v.mv_data;
        int names = 0;
        while (next_name(&p, end))
            names++;
        *shared += names > 1;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(t);
    return rc == MDB_NOTFOUND ? 0 : smc_errno(rc);
}

int smc_ids_rebuild(struct smc *c, MDB_txn *t)
{
    struct smc_range r;
    const char *name;
    size_t nl;
    MDB_val pay;
    int rc = smc_errno(mdb_drop(t, c->ids, 0));
    if (rc < 0 || (rc = smc_range_open(t, c->entries, "", &r)) < 0)
        return rc;
    char *key = NULL;
    size_t cap = 0;
    while ((rc = smc_range_next(&r, &name, &nl, &pay)) == 1) {
        struct smc_entry e;
        if (pay.mv_size < sizeof e)
            continue;
        memcpy(&e, pay.mv_data, sizeof e);
        e.remote_id[sizeof e.remote_id - 1] = '\0';
        if (!e.remote_id[0])
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
        if ((rc = ids_change(c, t, e.remote_id, key, 1)) < 0)
            break;
    }
    smc_range_close(&r);
    free(key);
    return rc < 0 ? rc : 0;
}
