/* kv.c: the kv database (schema.h, "the kv database"): its names and their typed accessors. */
#include "cache_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_NUM_MAX 24 /* one decimal uint64 or int64, its sign and a separator */
#define KV_NUMS    8  /* the most numbers one value holds (smc_kv_get_nums) */

/* name followed by sub (NULL: name alone), malloc'd; NULL when out of memory. */
static char *kv_name(const char *name, const char *sub)
{
    size_t n = strlen(name), s = sub ? strlen(sub) : 0;
    char *out = malloc(n + s + 1);
    if (out) {
        memcpy(out, name, n);
        memcpy(out + n, sub ? sub : "", s + 1);
    }
    return out;
}

int smc_kv_get(struct smc *c, const char *name, char *buf, size_t size)
{
    MDB_txn *t;
    struct smc_key at;
    MDB_val v;
    smc_journal_settle(c); /* (failing, a full map: what LMDB holds is read) */
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    rc = smc_rec_find(t, c->kv, name, &at, &v);
    if (rc == 1) {
        size_t n = v.mv_size < size - 1 ? v.mv_size : size - 1;
        memcpy(buf, v.mv_data, n);
        buf[n] = '\0';
    }
    mdb_txn_abort(t);
    return rc < 0 ? rc : rc == 1 ? 0 : -ENOENT;
}

static int kv_write(struct smc *c, const char *name, const char *value)
{
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if (value) {
        rc = smc_rec_put(t, c->kv, name, value, strlen(value));
    } else {
        rc = smc_rec_del(t, c->kv, name);
        if (rc == -ENOENT)
            rc = 0;
    }
    return smc_txn_end(t, rc, 0);
}

int smc_kv_put(struct smc *c, const char *name, const char *value)
{
    return kv_write(c, name, value);
}

int smc_kv_del(struct smc *c, const char *name)
{
    return kv_write(c, name, NULL);
}

/* Grow *buf to hold n bytes and a NUL, and copy them there. 0 or -ENOMEM. */
static int copy_str(char **buf, size_t *cap, const void *s, size_t n)
{
    if (n + 1 > *cap) {
        char *nb = realloc(*buf, n + 1);
        if (!nb)
            return -ENOMEM;
        *buf = nb;
        *cap = n + 1;
    }
    memcpy(*buf, s, n);
    (*buf)[n] = '\0';
    return 0;
}

int smc_kv_each(struct smc *c, const char *prefix, int (*fn)(void *, const char *, const char *),
                void *arg)
{
    MDB_txn *t;
    struct smc_range r;
    const char *s;
    size_t nl, ncap = 0, vcap = 0;
    char *name = NULL, *val = NULL;
    MDB_val v;
    smc_journal_settle(c); /* (failing, a full map: what LMDB holds is read) */
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    if ((rc = smc_range_open(t, c->kv, prefix, &r)) < 0) {
        mdb_txn_abort(t);
        return rc;
    }
    while ((rc = smc_range_next(&r, &s, &nl, &v)) == 1) {
        if ((rc = copy_str(&name, &ncap, s, nl)) < 0 ||
            (rc = copy_str(&val, &vcap, v.mv_data, v.mv_size)) < 0 ||
            (rc = fn(arg, name, val)) != 0)
            break;
    }
    smc_range_close(&r);
    mdb_txn_abort(t);
    free(name);
    free(val);
    return rc;
}

/* ---- typed values ---------------------------------------------------------------------------- */

int smc_kv_get_str(struct smc *c, const char *name, const char *sub, char *buf, size_t size)
{
    char *n = kv_name(name, sub);
    int rc = n ? smc_kv_get(c, n, buf, size) : -ENOMEM;
    free(n);
    return rc;
}

int smc_kv_set_str(struct smc *c, const char *name, const char *sub, const char *value)
{
    char *n = kv_name(name, sub);
    int rc = n ? kv_write(c, n, value) : -ENOMEM;
    free(n);
    return rc;
}

int smc_kv_unset(struct smc *c, const char *name, const char *sub)
{
    return smc_kv_set_str(c, name, sub, NULL);
}

int smc_kv_parse_nums(const char *s, uint64_t *v, int n)
{
    int got = 0;
    for (int i = 0; i < n; i++)
        v[i] = 0;
    while (got < n && *s) {
        char *end;
        v[got] = strtoull(s, &end, 10);
        if (end == s)
            break;
        got++;
        s = end;
    }
    return got;
}

int smc_kv_get_nums(struct smc *c, const char *name, const char *sub, uint64_t *v, int n)
{
    char buf[KV_NUMS * KV_NUM_MAX];
    int rc = smc_kv_get_str(c, name, sub, buf, sizeof buf);
    if (rc < 0) {
        for (int i = 0; i < n; i++)
            v[i] = 0;
        return rc;
    }
    return smc_kv_parse_nums(buf, v, n);
}

int smc_kv_set_nums(struct smc *c, const char *name, const char *sub, const uint64_t *v, int n)
{
    char buf[KV_NUMS * KV_NUM_MAX];
    size_t l = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && i < KV_NUMS; i++)
        l += (size_t)snprintf(buf + l, sizeof buf - l, i ? " %" PRIu64 : "%" PRIu64, v[i]);
    return smc_kv_set_str(c, name, sub, buf);
}

int smc_kv_get_u64(struct smc *c, const char *name, const char *sub, uint64_t *v)
{
    int rc = smc_kv_get_nums(c, name, sub, v, 1);
    return rc < 0 ? rc : 0;
}

int smc_kv_set_u64(struct smc *c, const char *name, const char *sub, uint64_t v)
{
    char buf[KV_NUM_MAX];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return smc_kv_set_str(c, name, sub, buf);
}

int smc_kv_get_i64(struct smc *c, const char *name, const char *sub, int64_t *v)
{
    char buf[KV_NUM_MAX];
    int rc = smc_kv_get_str(c, name, sub, buf, sizeof buf);
    *v = rc < 0 ? 0 : strtoll(buf, NULL, 10);
    return rc < 0 ? rc : 0;
}

int smc_kv_set_i64(struct smc *c, const char *name, const char *sub, int64_t v)
{
    char buf[KV_NUM_MAX];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return smc_kv_set_str(c, name, sub, buf);
}

int smc_kv_get_num_str(struct smc *c, const char *name, const char *sub, int64_t *num, char *buf,
                       size_t size)
{
    char *v = malloc(size + KV_NUM_MAX);
    if (!v)
        return -ENOMEM;
    int rc = smc_kv_get_str(c, name, sub, v, size + KV_NUM_MAX);
    char *sp = rc == 0 ? strchr(v, ' ') : NULL;
    if (rc == 0 && !sp)
        rc = -EINVAL;
    if (rc == 0) {
        *num = strtoll(v, NULL, 10);
        snprintf(buf, size, "%s", sp + 1);
    }
    free(v);
    return rc;
}

int smc_kv_set_num_str(struct smc *c, const char *name, const char *sub, int64_t num, const char *s)
{
    size_t n = strlen(s) + KV_NUM_MAX;
    char *v = malloc(n);
    if (!v)
        return -ENOMEM;
    snprintf(v, n, "%" PRId64 " %s", num, s);
    int rc = smc_kv_set_str(c, name, sub, v);
    free(v);
    return rc;
}

struct each_nums {
    size_t skip; /* the prefix's length */
    int n;
    smc_kv_nums_fn fn;
    void *arg;
};

static int each_nums_one(void *arg, const char *name, const char *val)
{
    struct each_nums *e = arg;
    uint64_t v[KV_NUMS];
    int got = smc_kv_parse_nums(val, v, e->n);
    return e->fn(e->arg, name + e->skip, v, got);
}

int smc_kv_each_nums(struct smc *c, const char *prefix, int n, smc_kv_nums_fn fn, void *arg)
{
    struct each_nums e = {strlen(prefix), n < KV_NUMS ? n : KV_NUMS, fn, arg};
    return smc_kv_each(c, prefix, each_nums_one, &e);
}
