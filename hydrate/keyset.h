/* keyset.h: a small open-addressing map from a path to two numbers, for the pusher's in-memory
 * bookkeeping (keys blocked in this pass, per-key backoff). Not thread-safe. */
#ifndef SMH_KEYSET_H
#define SMH_KEYSET_H

#include <stdint.h>
#include <stddef.h>

struct smh_kv {
    char *key; /* NULL: empty slot */
    uint64_t a, b;
};

struct smh_keyset {
    struct smh_kv *v;
    size_t cap, n;
};

/** Find key; NULL if absent. */
struct smh_kv *smh_ks_get(struct smh_keyset *s, const char *key);
/** Find or add key (a = b = 0 when new); NULL when out of memory. */
struct smh_kv *smh_ks_put(struct smh_keyset *s, const char *key);
void smh_ks_del(struct smh_keyset *s, const char *key);
void smh_ks_clear(struct smh_keyset *s);
void smh_ks_free(struct smh_keyset *s);

/* A growing list of (cache key, remote id) pairs, collected from the entries before the requests
 * they lead to (a pull's gone-scan, the fetches after a pull). Not thread-safe to grow. */
struct smh_pairs {
    char **keys, **ids;
    size_t n, cap;
};

/** Append copies of key and id. -1 when the list cannot grow (the caller stops collecting); a
 *  pair that cannot be copied is left out. */
int smh_pairs_add(struct smh_pairs *l, const char *key, const char *id);
void smh_pairs_free(struct smh_pairs *l);

#endif
