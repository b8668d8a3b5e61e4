/* key.c: named records, the LMDB keys of names of any length (schema.h, "Keys"). A name of at
 * most SMC_KEY_DIRECT bytes is its own key; a longer one is keyed by its first SMC_KEY_DIRECT
 * bytes, a NUL, a hash of the whole name and a probe number, and its record's value starts with
 * the whole name. Every read of the entries and kv databases goes through here. */
#include "cache_int.h"

#include <errno.h>
#include <string.h>

#define BASE_LEN (SMC_KEY_DIRECT + 1 + 8) /* a hashed key without its probe number */

static MDB_val key_val(const struct smc_key *at)
{
    MDB_val k = {at->len, (void *)at->b};
    return k;
}

/* A hashed key: only these have a NUL at SMC_KEY_DIRECT (a name never holds a NUL). */
static int is_hashed(const MDB_val *k)
{
    return k->mv_size == SMC_KEY_HASHED && ((const unsigned char *)k->mv_data)[SMC_KEY_DIRECT] == 0;
}

int smc_rec_row(const MDB_val *k, const MDB_val *v, const char **name, size_t *nl, MDB_val *pay)
{
    if (!is_hashed(k)) {
        *name = k->mv_data;
        *nl = k->mv_size;
        *pay = *v;
        return 0;
    }
    const char *s = v->mv_data;
    size_t n = strnlen(s, v->mv_size);
    if (n == v->mv_size || n <= SMC_KEY_DIRECT || memcmp(s, k->mv_data, SMC_KEY_DIRECT) != 0)
        return -EPROTO;
    *name = s;
    *nl = n;
    pay->mv_data = (char *)s + n + 1;
    pay->mv_size = v->mv_size - n - 1;
    return 0;
}

/* The first BASE_LEN bytes of name's hashed key. */
static void hashed_base(const char *name, size_t n, unsigned char *b)
{
    uint64_t h = smc_hash64(name, n);
    memcpy(b, name, SMC_KEY_DIRECT);
    b[SMC_KEY_DIRECT] = 0;
    for (int i = 7; i >= 0; i--, h >>= 8)
        b[SMC_KEY_DIRECT + 1 + i] = (unsigned char)h;
}

/* Among the hashed keys of base (in probe order), name's record, or the first free probe. */
static int find_hashed(MDB_txn *t, MDB_dbi d, const char *name, size_t n, struct smc_key *at,
                       MDB_val *pay)
{
    MDB_cursor *cur;
    MDB_val k = {BASE_LEN, at->b}, v;
    unsigned free_probe = 0, next = 0;
    int rc = mdb_cursor_open(t, d, &cur), found = 0, gap = 0;
    if (rc)
        return smc_errno(rc);
    for (int op = MDB_SET_RANGE; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
        if (k.mv_size != SMC_KEY_HASHED || memcmp(k.mv_data, at->b, BASE_LEN) != 0)
            break;
        const unsigned char *p = (const unsigned char *)k.mv_data + BASE_LEN;
        unsigned probe = (unsigned)p[0] << 8 | p[1];
        const char *s;
        size_t sl;
        MDB_val pv;
        if (!gap && probe != next) {
            free_probe = next; /* probes ascend: next is unused */
            gap = 1;
        }
        next = probe + 1;
        if (smc_rec_row(&k, &v, &s, &sl, &pv) == 0 && sl == n && memcmp(s, name, n) == 0) {
            memcpy(at->b + BASE_LEN, p, 2);
            *pay = pv;
            found = 1;
            break;
        }
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return smc_errno(rc);
    at->len = SMC_KEY_HASHED;
    if (found)
        return 1;
    if (!gap)
        free_probe = next;
    if (free_probe > 0xffff)
        return -EOVERFLOW; /* 65536 names with one hash and one beginning: refused */
    at->b[BASE_LEN] = (unsigned char)(free_probe >> 8);
    at->b[BASE_LEN + 1] = (unsigned char)free_probe;
    return 0;
}

int smc_rec_find(MDB_txn *t, MDB_dbi d, const char *name, struct smc_key *at, MDB_val *pay)
{
    size_t n = strlen(name);
    MDB_val k, v;
    if (n == 0)
        return -EINVAL;
    if (n > SMC_NAME_MAX)
        return -ENAMETOOLONG;
    if (n <= SMC_KEY_DIRECT) {
        memcpy(at->b, name, n);
        at->len = n;
        k = key_val(at);
        int rc = mdb_get(t, d, &k, &v);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc)
            return smc_errno(rc);
        *pay = v;
        return 1;
    }
    hashed_base(name, n, at->b);
    int rc = find_hashed(t, d, name, n, at, pay);
    if (rc != 0 || n > SMC_KEY_LEGACY)
        return rc;
    /* written before long names were hashed: a name of up to LMDB's largest key as is */
    k.mv_size = n;
    k.mv_data = (void *)name;
    int lr = mdb_get(t, d, &k, &v);
    if (lr == MDB_NOTFOUND)
        return 0;
    if (lr)
        return smc_errno(lr);
    at->len = n; /* the caller writes to this key: the record keeps its place */
    memcpy(at->b, name, n);
    *pay = v;
    return 1;
}

int smc_rec_put_at(MDB_txn *t, MDB_dbi d, const struct smc_key *at, const char *name,
                   const void *pay, size_t len)
{
    MDB_val k = key_val(at), v;
    size_t nl = is_hashed(&k) ? strlen(name) + 1 : 0;
    v.mv_size = nl + len;
    int rc = mdb_put(t, d, &k, &v, MDB_RESERVE);
    if (rc)
        return smc_errno(rc);
    memcpy(v.mv_data, name, nl);
    if (len)
        memcpy((char *)v.mv_data + nl, pay, len);
    return 0;
}

int smc_rec_put(MDB_txn *t, MDB_dbi d, const char *name, const void *pay, size_t len)
{
    struct smc_key at;
    MDB_val old;
    int rc = smc_rec_find(t, d, name, &at, &old);
    return rc < 0 ? rc : smc_rec_put_at(t, d, &at, name, pay, len);
}

int smc_rec_del_at(MDB_txn *t, MDB_dbi d, const struct smc_key *at)
{
    MDB_val k = key_val(at);
    return smc_errno(mdb_del(t, d, &k, NULL));
}

int smc_rec_del(MDB_txn *t, MDB_dbi d, const char *name)
{
    struct smc_key at;
    MDB_val old;
    int rc = smc_rec_find(t, d, name, &at, &old);
    if (rc <= 0)
        return rc < 0 ? rc : -ENOENT;
    return smc_rec_del_at(t, d, &at);
}

int smc_range_open(MDB_txn *t, MDB_dbi d, const char *prefix, struct smc_range *r)
{
    r->prefix = prefix;
    r->pl = strlen(prefix);
    r->kl = r->pl < SMC_KEY_DIRECT ? r->pl : SMC_KEY_DIRECT;
    r->started = 0;
    return smc_errno(mdb_cursor_open(t, d, &r->cur));
}

int smc_range_next(struct smc_range *r, const char **name, size_t *nl, MDB_val *pay)
{
    MDB_val k = {r->kl, (void *)r->prefix}, v;
    for (;;) {
        int op = r->started ? MDB_NEXT : r->kl ? MDB_SET_RANGE : MDB_FIRST;
        int rc = mdb_cursor_get(r->cur, &k, &v, op);
        r->started = 1;
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc)
            return smc_errno(rc);
        /* the key of every name starting with prefix starts with prefix's first kl bytes */
        if (k.mv_size < r->kl || memcmp(k.mv_data, r->prefix, r->kl) != 0)
            return 0;
        /* a key that shares them may still be of a name that does not start with prefix (a
         * long prefix), or be unreadable (a hashed key without its name: never written) */
        if (smc_rec_row(&k, &v, name, nl, pay) == 0 && *nl >= r->pl &&
            memcmp(*name, r->prefix, r->pl) == 0)
            return 1;
    }
}

void smc_range_close(struct smc_range *r)
{
    mdb_cursor_close(r->cur);
}

int smc_entry_at(MDB_txn *t, struct smc *c, const char *key, struct smc_key *at,
                 struct smc_entry *e)
{
    MDB_val v;
    int rc = smc_rec_find(t, c->entries, key, at, &v);
    if (rc != 1)
        return rc;
    if (v.mv_size < sizeof *e)
        return 0;
    memcpy(e, v.mv_data, sizeof *e);
    return 1;
}
