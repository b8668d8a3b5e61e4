/* keyset.c: see keyset.h. Linear probing, tombstone-free deletion by re-insertion. */
#include "keyset.h"

#include "../cache/cache.h"

#include <stdlib.h>
#include <string.h>

#define KS_MIN_CAP 64 /* slots of a new set (a power of two; it doubles at half full) */

static struct smh_kv *slot(struct smh_keyset *s, const char *key)
{
    size_t i = smc_hash64(key, strlen(key)) & (s->cap - 1);
    while (s->v[i].key && strcmp(s->v[i].key, key) != 0)
        i = (i + 1) & (s->cap - 1);
    return &s->v[i];
}

struct smh_kv *smh_ks_get(struct smh_keyset *s, const char *key)
{
    if (!s->cap)
        return NULL;
    struct smh_kv *e = slot(s, key);
    return e->key ? e : NULL;
}

static int grow(struct smh_keyset *s)
{
    size_t cap = s->cap ? s->cap * 2 : KS_MIN_CAP;
    struct smh_kv *old = s->v;
    size_t ocap = s->cap;
    s->v = calloc(cap, sizeof *s->v);
    if (!s->v) {
        s->v = old;
        return -1;
    }
    s->cap = cap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *slot(s, old[i].key) = old[i];
    free(old);
    return 0;
}

struct smh_kv *smh_ks_put(struct smh_keyset *s, const char *key)
{
    if ((s->n + 1) * 2 > s->cap && grow(s) != 0)
        return NULL;
    struct smh_kv *e = slot(s, key);
    if (!e->key) {
        e->key = strdup(key);
        if (!e->key)
            return NULL;
        e->a = e->b = 0;
        s->n++;
    }
    return e;
}

void smh_ks_del(struct smh_keyset *s, const char *key)
{
    if (!s->cap)
        return;
    struct smh_kv *e = slot(s, key);
    if (!e->key)
        return;
    free(e->key);
    e->key = NULL;
    s->n--;
    /* re-insert the cluster that follows, so probing stays correct */
    size_t i = (size_t)(e - s->v);
    for (i = (i + 1) & (s->cap - 1); s->v[i].key; i = (i + 1) & (s->cap - 1)) {
        struct smh_kv t = s->v[i];
        s->v[i].key = NULL;
        *slot(s, t.key) = t;
    }
}

void smh_ks_clear(struct smh_keyset *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->v[i].key);
        s->v[i].key = NULL;
    }
    s->n = 0;
}

void smh_ks_free(struct smh_keyset *s)
{
    smh_ks_clear(s);
    free(s->v);
    s->v = NULL;
    s->cap = 0;
}

int smh_pairs_add(struct smh_pairs *l, const char *key, const char *id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **k = realloc(l->keys, cap * sizeof *k);
        if (!k)
            return -1;
        l->keys = k;
        char **i = realloc(l->ids, cap * sizeof *i);
        if (!i)
            return -1;
        l->ids = i;
        l->cap = cap;
    }
    l->keys[l->n] = strdup(key);
    l->ids[l->n] = strdup(id);
    if (l->keys[l->n] && l->ids[l->n])
        l->n++;
    else
        free(l->keys[l->n]), free(l->ids[l->n]);
    return 0;
}

void smh_pairs_free(struct smh_pairs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->ids[i]);
    }
    free(l->keys);
    free(l->ids);
    *l = (struct smh_pairs){0};
}
