/* test_cache.c: the LMDB schema and the change recorder, in a temporary environment. */
#include "../runner.h"
#include "../../cache/cache.h"

#include <lmdb.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct smc *open_tmp(void)
{
    char meta[PATH_MAX];
    struct smc *c = NULL;
    snprintf(meta, sizeof meta, "%s/meta", sm_test_tmpdir());
    ASSERT_EQ_INT(smc_open(meta, &c), 0);
    return c;
}

struct qlog {
    int n;
    char ops[64];
    char paths[64][128];
};

static int qvisit(void *arg, uint64_t seq, const struct smc_qrec *q, const char *from,
                  const char *to)
{
    struct qlog *l = arg;
    (void)seq;
    if (l->n < 64) {
        l->ops[l->n] = "?WDRSX"[q->op & 7];
        snprintf(l->paths[l->n], sizeof l->paths[0], "%s>%s", from, to);
        l->n++;
    }
    return 0;
}

SM_TEST(cache_note_write_dirty_once)
{
    struct smc *c = open_tmp();
    struct smc_entry e;
    struct smc_counts n;
    ASSERT_EQ_INT(smc_entry_get(c, "/a.md", &e), -ENOENT);
    ASSERT_EQ_INT(smc_note_write(c, "/a.md", 100), 0);
    ASSERT_EQ_INT(smc_note_write(c, "/a.md", 200), 0); /* already dirty: no second record */
    ASSERT_EQ_INT(smc_entry_get(c, "/a.md", &e), 0);
    ASSERT_EQ_INT(e.dirty_since_ns, 100);
    ASSERT_EQ_INT(strlen(e.custom_id), 22);
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.entries, 1);
    ASSERT_EQ_INT(n.dirty, 1);
    ASSERT_EQ_INT(n.queued, 1);
    smc_close(c);
    return 0;
}

SM_TEST(cache_unlink_and_rename)
{
    struct smc *c = open_tmp();
    struct smc_entry e;
    struct qlog l = {0};
    ASSERT_EQ_INT(smc_note_unlink(c, "/none", 1), 0); /* no entry: nothing queued */
    ASSERT_EQ_INT(smc_note_write(c, "/a", 1), 0);
    ASSERT_EQ_INT(smc_note_write(c, "/b", 2), 0);
    ASSERT_EQ_INT(smc_note_rename(c, "/a", "/c", 0, 3), 0);
    ASSERT_EQ_INT(smc_entry_get(c, "/a", &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, "/c", &e), 0);
    ASSERT_EQ_INT(e.dirty_since_ns, 1);
    ASSERT_EQ_INT(smc_note_rename(c, "/c", "/b", 0, 4), 0); /* replaces /b */
    ASSERT_EQ_INT(smc_note_unlink(c, "/b", 5), 0);
    ASSERT_EQ_INT(smc_queue_each(c, qvisit, &l), 0);
    ASSERT_EQ_INT(l.n, 6);
    ASSERT_EQ_STR(l.ops, "WWRDRD");
    ASSERT_EQ_STR(l.paths[2], "/a>/c");
    ASSERT_EQ_STR(l.paths[3], "/b>");
    ASSERT_EQ_STR(l.paths[4], "/c>/b");
    ASSERT_EQ_STR(l.paths[5], "/b>");
    smc_close(c);
    return 0;
}

SM_TEST(cache_rename_dir)
{
    struct smc *c = open_tmp();
    struct smc_entry e;
    ASSERT_EQ_INT(smc_note_write(c, "/d/x", 1), 0);
    ASSERT_EQ_INT(smc_note_write(c, "/d/sub/y", 1), 0);
    ASSERT_EQ_INT(smc_note_write(c, "/dd", 1), 0); /* not below /d */
    ASSERT_EQ_INT(smc_note_rename(c, "/d", "/e", 1, 2), 0);
    ASSERT_EQ_INT(smc_entry_get(c, "/e/x", &e), 0);
    ASSERT_EQ_INT(smc_entry_get(c, "/e/sub/y", &e), 0);
    ASSERT_EQ_INT(smc_entry_get(c, "/d/x", &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, "/dd", &e), 0);
    ASSERT_EQ_INT(smc_note_rename(c, "/e", NULL, 1, 3), 0); /* moved out of the prefix */
    ASSERT_EQ_INT(smc_entry_get(c, "/e/x", &e), -ENOENT);
    struct smc_counts n;
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.entries, 1);
    smc_close(c);
    return 0;
}

SM_TEST(cache_reopen_persists)
{
    struct smc *c = open_tmp();
    ASSERT_EQ_INT(smc_note_write(c, "/keep", 7), 0);
    smc_close(c);
    c = open_tmp();
    struct smc_entry e;
    ASSERT_EQ_INT(smc_entry_get(c, "/keep", &e), 0);
    ASSERT_EQ_INT(e.dirty_since_ns, 7);
    smc_close(c);
    return 0;
}

SM_TEST(cache_schema_mismatch)
{
    struct smc *c = open_tmp();
    smc_close(c);
    /* rewrite the schema number behind the cache's back */
    char meta[PATH_MAX];
    snprintf(meta, sizeof meta, "%s/meta", sm_test_tmpdir());
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi kv;
    ASSERT_EQ_INT(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ASSERT_EQ_INT(mdb_env_open(env, meta, 0, 0600), 0);
    ASSERT_EQ_INT(mdb_txn_begin(env, NULL, 0, &t), 0);
    ASSERT_EQ_INT(mdb_dbi_open(t, "kv", 0, &kv), 0);
    MDB_val k = {6, "schema"}, v = {2, "99"};
    ASSERT_EQ_INT(mdb_put(t, kv, &k, &v, 0), 0);
    ASSERT_EQ_INT(mdb_txn_commit(t), 0);
    mdb_env_close(env);
    ASSERT_EQ_INT(smc_open(meta, &c), -EPROTO);
    return 0;
}

/* ---- the document -> files index (ids.c) ---------------------------------------------------- */

/* key's entry bound to the document id (as a push's answer or a pull would bind it). */
static void bind_to(struct smc *c, const char *key, const char *id)
{
    struct smc_entry e;
    if (smc_entry_get(c, key, &e) != 0) {
        memset(&e, 0, sizeof e);
        e.version = SMC_ENTRY_V1;
    }
    snprintf(e.remote_id, sizeof e.remote_id, "%s", id);
    e.flags |= SMC_E_REMOTE;
    ASSERT_EQ_INT(smc_entry_put(c, key, &e), 0);
}

SM_TEST(cache_ids_follow_entries)
{
    struct smc *c = open_tmp();
    char other[64];
    ASSERT_EQ_INT(smc_note_write(c, "/a", 1), 0);
    ASSERT_EQ_INT(smc_note_write(c, "/d/b", 1), 0);
    bind_to(c, "/a", "A");
    bind_to(c, "/d/b", "B");
    ASSERT_EQ_INT(smc_doc_others(c, "A", "/a", other, sizeof other), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "A", NULL, other, sizeof other), 1);
    ASSERT_EQ_STR(other, "/a");
    ASSERT_EQ_INT(smc_doc_others(c, "A", "/x", other, sizeof other), 1);
    /* a rename moves the binding, a directory's rename every binding below it */
    ASSERT_EQ_INT(smc_note_rename(c, "/a", "/c", 0, 2), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "A", "/c", NULL, 0), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "A", NULL, other, sizeof other), 1);
    ASSERT_EQ_STR(other, "/c");
    ASSERT_EQ_INT(smc_note_rename(c, "/d", "/e", 1, 3), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "B", "/e/b", NULL, 0), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "B", NULL, other, sizeof other), 1);
    ASSERT_EQ_STR(other, "/e/b");
    /* two files bound to one document: each sees the other */
    bind_to(c, "/e/b", "A");
    ASSERT_EQ_INT(smc_doc_others(c, "B", NULL, NULL, 0), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "A", "/c", other, sizeof other), 1);
    ASSERT_EQ_STR(other, "/e/b");
    ASSERT_EQ_INT(smc_doc_others(c, "A", NULL, NULL, 0), 2);
    uint64_t shared;
    ASSERT_EQ_INT(smc_ids_shared(c, &shared), 0);
    ASSERT_EQ_INT(shared, 1);
    /* a removal unbinds */
    ASSERT_EQ_INT(smc_note_unlink(c, "/e/b", 4), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "A", "/c", NULL, 0), 0);
    ASSERT_EQ_INT(smc_ids_shared(c, &shared), 0);
    ASSERT_EQ_INT(shared, 0);
    ASSERT_EQ_INT(smc_note_unlink(c, "/c", 5), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "A", NULL, NULL, 0), 0);
    smc_close(c);
    return 0;
}

SM_TEST(cache_ids_built_from_entries)
{
    struct smc *c = open_tmp();
    ASSERT_EQ_INT(smc_note_write(c, "/a", 1), 0);
    ASSERT_EQ_INT(smc_note_write(c, "/b", 1), 0);
    ASSERT_EQ_INT(smc_note_write(c, "/c", 1), 0);
    bind_to(c, "/a", "A");
    bind_to(c, "/b", "A");
    bind_to(c, "/c", "C");
    smc_close(c);
    /* a cache of the schema before the index: no index, its own schema number */
    char meta[PATH_MAX];
    snprintf(meta, sizeof meta, "%s/meta", sm_test_tmpdir());
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi kv, ids;
    ASSERT_EQ_INT(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ASSERT_EQ_INT(mdb_env_open(env, meta, 0, 0600), 0);
    ASSERT_EQ_INT(mdb_txn_begin(env, NULL, 0, &t), 0);
    ASSERT_EQ_INT(mdb_dbi_open(t, SMC_DB_KV, 0, &kv), 0);
    ASSERT_EQ_INT(mdb_dbi_open(t, SMC_DB_IDS, 0, &ids), 0);
    ASSERT_EQ_INT(mdb_drop(t, ids, 1), 0);
    MDB_val k = {6, "schema"}, v = {1, "2"};
    ASSERT_EQ_INT(mdb_put(t, kv, &k, &v, 0), 0);
    ASSERT_EQ_INT(mdb_txn_commit(t), 0);
    mdb_env_close(env);
    c = open_tmp();
    char other[64];
    ASSERT_EQ_INT(smc_doc_others(c, "A", NULL, NULL, 0), 2);
    ASSERT_EQ_INT(smc_doc_others(c, "A", "/a", other, sizeof other), 1);
    ASSERT_EQ_STR(other, "/b");
    ASSERT_EQ_INT(smc_doc_others(c, "C", "/c", NULL, 0), 0);
    ASSERT_EQ_INT(smc_doc_others(c, "C", NULL, NULL, 0), 1);
    char num[16];
    ASSERT_EQ_INT(smc_kv_get(c, SMC_KV_SCHEMA, num, sizeof num), 0);
    ASSERT_EQ_INT(atoi(num), SMC_SCHEMA);
    smc_close(c);
    return 0;
}

/* ---- names longer than an LMDB key (schema.h, "Keys") ---------------------------------------- */

/* A path of exactly n bytes: root, then components of at most 200 bytes of letter ch. */
static char *long_path(const char *root, size_t n, char ch)
{
    char *p = malloc(n + 1);
    size_t l = strlen(root);
    ASSERT(p && l < n);
    memcpy(p, root, l);
    while (l < n) {
        size_t seg = n - l - 1 < 200 ? n - l - 1 : 200;
        if (seg == 0) { /* one byte left: no empty component, so the last one grows */
            p[l - 1] = ch;
            p[l++] = ch;
            continue;
        }
        p[l++] = '/';
        memset(p + l, ch, seg);
        l += seg;
    }
    p[n] = '\0';
    ASSERT(strlen(p) == n);
    return p;
}

struct seen {
    int n;
    char *keys[32];
};

static int seen_add(void *arg, const char *key, const struct smc_entry *e)
{
    struct seen *s = arg;
    (void)e;
    if (s->n < 32)
        s->keys[s->n] = strdup(key);
    s->n++;
    return 0;
}

static int seen_has(const struct seen *s, const char *key)
{
    int k = 0;
    for (int i = 0; i < s->n && i < 32; i++)
        k += strcmp(s->keys[i], key) == 0;
    return k;
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < s->n && i < 32; i++)
        free(s->keys[i]);
    s->n = 0;
}

SM_TEST(cache_long_names)
{
    static const size_t lens[] = {300, 500, 501, 511, 512, 600, 4000, 4095};
    enum { N = sizeof lens / sizeof lens[0] };
    char *k[N];
    struct smc *c = open_tmp();
    struct smc_entry e;
    struct smc_counts n;
    struct seen s = {0};
    for (int i = 0; i < N; i++) {
        k[i] = long_path("/l", lens[i], (char)('a' + i));
        ASSERT_EQ_INT(smc_note_write(c, k[i], 10 + (uint64_t)i), 0);
    }
    for (int i = 0; i < N; i++) {
        ASSERT_EQ_INT(smc_entry_get(c, k[i], &e), 0);
        ASSERT_EQ_INT(e.dirty_since_ns, 10 + i);
    }
    ASSERT_EQ_INT(smc_entry_each(c, seen_add, &s), 0);
    ASSERT_EQ_INT(s.n, N);
    for (int i = 0; i < N; i++)
        ASSERT_EQ_INT(seen_has(&s, k[i]), 1);
    seen_free(&s);
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.entries, N);
    ASSERT_EQ_INT(n.queued, N);
    /* the queue records carry the whole path */
    struct smc_qitem **q;
    size_t nq;
    ASSERT_EQ_INT(smc_queue_batch(c, 64, &q, &nq), 0);
    ASSERT_EQ_INT(nq, N);
    for (int i = 0; i < N; i++)
        ASSERT_EQ_STR(q[i]->from, k[i]);
    smc_queue_batch_free(q, nq);
    /* a prefix of a long name is not that name */
    k[N - 1][3000] = '\0';
    ASSERT_EQ_INT(smc_entry_get(c, k[N - 1], &e), -ENOENT);
    k[N - 1][3000] = 'h';
    for (int i = 0; i < N; i++)
        ASSERT_EQ_INT(smc_note_unlink(c, k[i], 100), 0);
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.entries, 0);
    for (int i = 0; i < N; i++)
        free(k[i]);
    smc_close(c);
    return 0;
}

SM_TEST(cache_long_rename_dir)
{
    struct smc *c = open_tmp();
    struct smc_entry e;
    struct seen s = {0};
    char buf[8192];
    /* below a short directory */
    char *a = long_path("/s", 600, 'a'), *b = long_path("/s", 4000, 'b'),
         *other = long_path("/sx", 600, 'c');
    ASSERT_EQ_INT(smc_note_write(c, a, 1), 0);
    ASSERT_EQ_INT(smc_note_write(c, b, 1), 0);
    ASSERT_EQ_INT(smc_note_write(c, other, 1), 0);
    ASSERT_EQ_INT(smc_note_rename(c, "/s", "/t", 1, 2), 0);
    snprintf(buf, sizeof buf, "/t%s", a + 2);
    ASSERT_EQ_INT(smc_entry_get(c, buf, &e), 0);
    snprintf(buf, sizeof buf, "/t%s", b + 2);
    ASSERT_EQ_INT(smc_entry_get(c, buf, &e), 0);
    ASSERT_EQ_INT(smc_entry_get(c, a, &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, b, &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, other, &e), 0);

    /* below a directory whose own path is longer than a key: the range scan starts at its first
     * SMC_KEY_DIRECT bytes, which names outside it share */
    char *d = long_path("/deep", 700, 'd');
    char *twin = strdup(d), *in1, *in2, *out1, *out2;
    twin[690] = 'Z'; /* the same first 690 bytes */
    ASSERT(asprintf(&in1, "%s/f1", d) > 0);
    char *leaf = long_path("", 400, 'e');
    ASSERT(asprintf(&in2, "%s/sub/%s", d, leaf + 1) > 0);
    free(leaf);
    ASSERT(asprintf(&out1, "%s/f1", twin) > 0);
    ASSERT(asprintf(&out2, "%sx/f1", d) > 0); /* starts with d, but not below it */
    const char *all[] = {in1, in2, out1, out2};
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(smc_note_write(c, all[i], 3), 0);
    char *e2 = long_path("/deep2", 705, 'f');
    ASSERT_EQ_INT(smc_note_rename(c, d, e2, 1, 4), 0);
    ASSERT_EQ_INT(smc_entry_get(c, in1, &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, in2, &e), -ENOENT);
    snprintf(buf, sizeof buf, "%s%s", e2, in1 + 700);
    ASSERT_EQ_INT(smc_entry_get(c, buf, &e), 0);
    snprintf(buf, sizeof buf, "%s%s", e2, in2 + 700);
    ASSERT_EQ_INT(smc_entry_get(c, buf, &e), 0);
    ASSERT_EQ_INT(smc_entry_get(c, out1, &e), 0);
    ASSERT_EQ_INT(smc_entry_get(c, out2, &e), 0);
    /* and out of the prefix: every entry below goes, nothing else */
    ASSERT_EQ_INT(smc_note_rename(c, e2, NULL, 1, 5), 0);
    ASSERT_EQ_INT(smc_entry_each(c, seen_add, &s), 0);
    ASSERT_EQ_INT(s.n, 5);
    ASSERT_EQ_INT(seen_has(&s, out1) + seen_has(&s, out2) + seen_has(&s, other), 3);
    seen_free(&s);
    char *owned[] = {a, b, other, d, twin, in1, in2, out1, out2, e2};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        free(owned[i]);
    smc_close(c);
    return 0;
}

struct kvseen {
    int n;
    size_t lens[8];
    char vals[8][16];
};

static int kv_add(void *arg, const char *name, const char *val)
{
    struct kvseen *s = arg;
    if (s->n < 8) {
        s->lens[s->n] = strlen(name);
        snprintf(s->vals[s->n], sizeof s->vals[0], "%s", val);
    }
    s->n++;
    return 0;
}

SM_TEST(cache_long_kv_names)
{
    struct smc *c = open_tmp();
    char v[32], *n[3];
    static const size_t lens[] = {300, 700, 5000};
    for (int i = 0; i < 3; i++) {
        n[i] = long_path("hydq.", lens[i], 'q');
        snprintf(v, sizeof v, "%d", i);
        ASSERT_EQ_INT(smc_kv_put(c, n[i], v), 0);
    }
    ASSERT_EQ_INT(smc_kv_put(c, "hydd./x", "other"), 0);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(smc_kv_get(c, n[i], v, sizeof v), 0);
        ASSERT_EQ_INT(atoi(v), i);
    }
    struct kvseen s = {0};
    ASSERT_EQ_INT(smc_kv_each(c, "hydq.", kv_add, &s), 0);
    ASSERT_EQ_INT(s.n, 3);
    for (int i = 0; i < 3; i++) {
        int found = 0;
        for (int j = 0; j < 3; j++)
            found += s.lens[j] == lens[i] && atoi(s.vals[j]) == i;
        ASSERT_EQ_INT(found, 1);
    }
    /* a prefix longer than a key: only the names that start with it */
    char *pre = strndup(n[2], 4000);
    memset(&s, 0, sizeof s);
    ASSERT_EQ_INT(smc_kv_each(c, pre, kv_add, &s), 0);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(s.lens[0], 5000);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(smc_kv_del(c, n[i]), 0);
        ASSERT_EQ_INT(smc_kv_get(c, n[i], v, sizeof v), -ENOENT);
    }
    /* longer than any name may be: refused, never dropped in silence */
    char *huge = long_path("hydq.", SMC_NAME_MAX + 1, 'z');
    ASSERT_EQ_INT(smc_kv_put(c, huge, "1"), -ENAMETOOLONG);
    for (int i = 0; i < 3; i++)
        free(n[i]);
    free(pre);
    free(huge);
    smc_close(c);
    return 0;
}

struct numseen {
    int n, got[4];
    uint64_t first[4];
    char sub[4][16];
};

static int nums_add(void *arg, const char *sub, const uint64_t *v, int got)
{
    struct numseen *s = arg;
    if (s->n < 4) {
        snprintf(s->sub[s->n], sizeof s->sub[0], "%s", sub);
        s->got[s->n] = got;
        s->first[s->n] = v[0];
    }
    s->n++;
    return 0;
}

static int lease_add(void *arg, const char *sub, const struct smc_lease *l)
{
    struct numseen *s = arg;
    if (s->n < 4) {
        snprintf(s->sub[s->n], sizeof s->sub[0], "%s", sub);
        s->first[s->n] = (uint64_t)l->pid;
    }
    s->n++;
    return 0;
}

/* The typed kv accessors: each format read back as written, a subject appended to its name,
 * what is not a number read as 0, a value of the wrong form refused. */
SM_TEST(cache_kv_typed)
{
    struct smc *c = open_tmp();
    char v[64];
    uint64_t u, n[4];
    int64_t i;
    ASSERT_EQ_INT(smc_kv_get_u64(c, SMC_KV_PULL_LAST, NULL, &u), -ENOENT);
    ASSERT_EQ_INT(u, 0);
    ASSERT_EQ_INT(smc_kv_set_u64(c, SMC_KV_PULL_LAST, NULL, UINT64_MAX), 0);
    ASSERT_EQ_INT(smc_kv_get_u64(c, SMC_KV_PULL_LAST, NULL, &u), 0);
    ASSERT(u == UINT64_MAX);
    ASSERT_EQ_INT(smc_kv_set_i64(c, SMC_KV_PULL_OFFSET, NULL, -42), 0);
    ASSERT_EQ_INT(smc_kv_get_i64(c, SMC_KV_PULL_OFFSET, NULL, &i), 0);
    ASSERT_EQ_INT(i, -42);
    ASSERT_EQ_INT(smc_kv_get(c, "pull.offset", v, sizeof v), 0); /* the stored text */
    ASSERT_EQ_STR(v, "-42");
    const uint64_t four[4] = {1, 2, 3, 4};
    ASSERT_EQ_INT(smc_kv_set_nums(c, SMC_KV_SILENT, NULL, four, 4), 0);
    ASSERT_EQ_INT(smc_kv_get(c, "remote.silent", v, sizeof v), 0);
    ASSERT_EQ_STR(v, "1 2 3 4");
    ASSERT_EQ_INT(smc_kv_put(c, "remote.silent", "7 8 9"), 0); /* an older record: 3 numbers */
    ASSERT_EQ_INT(smc_kv_get_nums(c, SMC_KV_SILENT, NULL, n, 4), 3);
    ASSERT_EQ_INT(n[2], 9);
    ASSERT_EQ_INT(n[3], 0);
    ASSERT_EQ_INT(smc_kv_put(c, "pull.watermark", "x"), 0);
    ASSERT_EQ_INT(smc_kv_get_u64(c, SMC_KV_PULL_WATERMARK, NULL, &u), 0);
    ASSERT_EQ_INT(u, 0);
    /* a subject */
    ASSERT_EQ_INT(smc_kv_set_str(c, SMC_KV_UPLOAD_ATTEMPT, "cid", "/a/b.bin"), 0);
    ASSERT_EQ_INT(smc_kv_get(c, "upload.attempt:cid", v, sizeof v), 0);
    ASSERT_EQ_STR(v, "/a/b.bin");
    ASSERT_EQ_INT(smc_kv_unset(c, SMC_KV_UPLOAD_ATTEMPT, "cid"), 0);
    ASSERT_EQ_INT(smc_kv_get_str(c, SMC_KV_UPLOAD_ATTEMPT, "cid", v, sizeof v), -ENOENT);
    ASSERT_EQ_INT(smc_kv_set_num_str(c, SMC_KV_FETCH_URL, "/x", 1234, "https://h/a b"), 0);
    ASSERT_EQ_INT(smc_kv_get_num_str(c, SMC_KV_FETCH_URL, "/x", &i, v, sizeof v), 0);
    ASSERT_EQ_INT(i, 1234);
    ASSERT_EQ_STR(v, "https://h/a b");
    ASSERT_EQ_INT(smc_kv_put(c, "fetch.url:/y", "5"), 0);
    ASSERT_EQ_INT(smc_kv_get_num_str(c, SMC_KV_FETCH_URL, "/y", &i, v, sizeof v), -EINVAL);
    /* visits: the subject, and how many numbers each value held */
    ASSERT_EQ_INT(smc_kv_set_u64(c, SMC_KV_HYDQ, "/q1", 10), 0);
    ASSERT_EQ_INT(smc_kv_put(c, "hydq./q2", ""), 0);
    struct numseen s = {0};
    ASSERT_EQ_INT(smc_kv_each_nums(c, SMC_KV_HYDQ, 1, nums_add, &s), 0);
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_STR(s.sub[0], "/q1");
    ASSERT_EQ_INT(s.got[0], 1);
    ASSERT_EQ_INT(s.first[0], 10);
    ASSERT_EQ_STR(s.sub[1], "/q2");
    ASSERT_EQ_INT(s.got[1], 0);
    /* leases: only well-formed ones are visited */
    ASSERT_EQ_INT(smc_lease_take(c, SMC_KV_BUDGET "3", 77, 5, 1000, 10), 1);
    ASSERT_EQ_INT(smc_kv_put(c, SMC_KV_BUDGET "4", "junk"), 0);
    memset(&s, 0, sizeof s);
    ASSERT_EQ_INT(smc_lease_each(c, SMC_KV_BUDGET, lease_add, &s), 0);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_STR(s.sub[0], "3");
    ASSERT_EQ_INT(s.first[0], 77);
    ASSERT_EQ_INT(smc_lease_drop(c, SMC_KV_BUDGET "3", 78), 0); /* not its holder: kept */
    ASSERT_EQ_INT(smc_kv_get(c, SMC_KV_BUDGET "3", v, sizeof v), 0);
    ASSERT_EQ_STR(v, "77 5 1010");
    ASSERT_EQ_INT(smc_lease_drop(c, SMC_KV_BUDGET "3", 77), 0);
    ASSERT_EQ_INT(smc_kv_get(c, SMC_KV_BUDGET "3", v, sizeof v), -ENOENT);
    /* the participants */
    ASSERT_EQ_INT(smc_proc_other_alive(c, (int)getpid()), 0);
    ASSERT_EQ_INT(smc_proc_mark(c, (int)getpid(), 1), 0);
    ASSERT_EQ_INT(smc_proc_other_alive(c, (int)getpid()), 0);
    ASSERT_EQ_INT(smc_proc_other_alive(c, (int)getpid() + 1), 1);
    ASSERT_EQ_INT(smc_proc_mark(c, (int)getpid(), 0), 0);
    ASSERT_EQ_INT(smc_proc_other_alive(c, (int)getpid() + 1), 0);
    smc_close(c);
    return 0;
}

/* Raw access to a closed cache's entries, to plant what the cache itself rarely writes. */
static void plant(const void *key, size_t kl, const void *val, size_t vl)
{
    char meta[PATH_MAX];
    snprintf(meta, sizeof meta, "%s/meta", sm_test_tmpdir());
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi d;
    ASSERT_EQ_INT(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ASSERT_EQ_INT(mdb_env_open(env, meta, 0, 0600), 0);
    ASSERT_EQ_INT(mdb_txn_begin(env, NULL, 0, &t), 0);
    ASSERT_EQ_INT(mdb_dbi_open(t, "entries", 0, &d), 0);
    MDB_val k = {kl, (void *)key}, v = {vl, (void *)val};
    ASSERT_EQ_INT(mdb_put(t, d, &k, &v, 0), 0);
    ASSERT_EQ_INT(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

SM_TEST(cache_key_collision_and_legacy)
{
    struct smc *c = open_tmp();
    smc_close(c);
    struct smc_entry e = {.version = SMC_ENTRY_V1};
    /* an entry written as its own key before long names were hashed (505 bytes) */
    char *legacy = long_path("/old", 505, 'o');
    e.dirty_since_ns = 5;
    plant(legacy, strlen(legacy), &e, sizeof e);
    /* y's record where x's key would be: the two names share their first SMC_KEY_DIRECT bytes
     * and (as if) their hash */
    char *x = long_path("/col", 600, 'x'), *y = strdup(x);
    y[599] = 'y';
    unsigned char kb[SMC_KEY_HASHED];
    uint64_t h = smc_hash64(x, strlen(x));
    memcpy(kb, x, SMC_KEY_DIRECT);
    kb[SMC_KEY_DIRECT] = 0;
    for (int i = 7; i >= 0; i--, h >>= 8)
        kb[SMC_KEY_DIRECT + 1 + i] = (unsigned char)h;
    kb[SMC_KEY_HASHED - 2] = kb[SMC_KEY_HASHED - 1] = 0;
    char val[700 + sizeof e];
    e.dirty_since_ns = 7;
    memcpy(val, y, 601);
    memcpy(val + 601, &e, sizeof e);
    plant(kb, sizeof kb, val, 601 + sizeof e);

    c = open_tmp();
    struct smc_entry got;
    struct seen s = {0};
    ASSERT_EQ_INT(smc_entry_get(c, legacy, &got), 0);
    ASSERT_EQ_INT(got.dirty_since_ns, 5);
    ASSERT_EQ_INT(smc_entry_get(c, x, &got), -ENOENT); /* y's record is not x's */
    ASSERT_EQ_INT(smc_note_write(c, x, 9), 0);
    ASSERT_EQ_INT(smc_entry_get(c, x, &got), 0);
    ASSERT_EQ_INT(got.dirty_since_ns, 9);
    ASSERT_EQ_INT(smc_entry_each(c, seen_add, &s), 0);
    ASSERT_EQ_INT(s.n, 3);
    ASSERT_EQ_INT(seen_has(&s, legacy) + seen_has(&s, x) + seen_has(&s, y), 3);
    seen_free(&s);
    ASSERT_EQ_INT(smc_note_unlink(c, x, 10), 0);
    ASSERT_EQ_INT(smc_entry_get(c, x, &got), -ENOENT);
    ASSERT_EQ_INT(smc_entry_each(c, seen_add, &s), 0);
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_INT(seen_has(&s, y), 1);
    seen_free(&s);
    /* the old record moves with its directory and is found at its new name */
    ASSERT_EQ_INT(smc_note_rename(c, "/old", "/new", 1, 11), 0);
    char *moved;
    ASSERT(asprintf(&moved, "/new%s", legacy + 4) > 0);
    ASSERT_EQ_INT(smc_entry_get(c, moved, &got), 0);
    ASSERT_EQ_INT(smc_entry_get(c, legacy, &got), -ENOENT);
    free(legacy);
    free(x);
    free(y);
    free(moved);
    smc_close(c);
    return 0;
}

SM_TEST(cache_pending_doc_count)
{
    struct smc *c = open_tmp();
    struct smc_entry e = {.version = SMC_ENTRY_V1, .flags = SMC_E_REMOTE};
    char v[32];
    snprintf(e.remote_id, sizeof e.remote_id, "doc1");
    ASSERT_EQ_INT(smc_entry_put(c, "/a", &e), 0);
    ASSERT_EQ_INT(smc_kv_get(c, SMC_KV_QDOC "doc1", v, sizeof v), -ENOENT);
    ASSERT_EQ_INT(smc_note_rename(c, "/a", "/b", 0, 1), 0);
    ASSERT_EQ_INT(smc_kv_get(c, SMC_KV_QDOC "doc1", v, sizeof v), 0);
    ASSERT_EQ_STR(v, "1");
    ASSERT_EQ_INT(smc_note_write(c, "/b", 2), 0); /* a write names no document */
    ASSERT_EQ_INT(smc_note_unlink(c, "/b", 3), 0);
    ASSERT_EQ_INT(smc_kv_get(c, SMC_KV_QDOC "doc1", v, sizeof v), 0);
    ASSERT_EQ_STR(v, "2");
    struct smc_qitem **q;
    size_t n;
    ASSERT_EQ_INT(smc_queue_batch(c, 8, &q, &n), 0);
    ASSERT_EQ_INT(n, 3);
    uint64_t first = q[0]->seq, rest[2] = {q[1]->seq, q[2]->seq};
    smc_queue_batch_free(q, n);
    ASSERT_EQ_INT(smc_queue_del(c, &first, 1), 0);
    ASSERT_EQ_INT(smc_kv_get(c, SMC_KV_QDOC "doc1", v, sizeof v), 0);
    ASSERT_EQ_STR(v, "1");
    ASSERT_EQ_INT(smc_queue_del(c, rest, 2), 0);
    ASSERT_EQ_INT(smc_kv_get(c, SMC_KV_QDOC "doc1", v, sizeof v), -ENOENT);
    smc_close(c);
    return 0;
}

SM_TEST(cache_too_long_to_sync)
{
    struct smc *c = open_tmp();
    struct smc_entry e;
    struct smc_counts n;
    char *deep = long_path("/t", SMC_KEY_SYNC_MAX + 100, 'd');
    ASSERT_EQ_INT(smc_note_write(c, deep, 1), 0);
    ASSERT_EQ_INT(smc_entry_get(c, deep, &e), 0);
    ASSERT(e.flags & SMC_E_POISONED); /* refused, listed */
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.queued, 0); /* nothing for the engine to push */
    /* renamed to a key that fits: recorded afresh, pushed */
    ASSERT_EQ_INT(smc_note_rename(c, deep, "/t/short.md", 0, 2), 0);
    ASSERT_EQ_INT(smc_entry_get(c, deep, &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, "/t/short.md", &e), 0);
    ASSERT(!(e.flags & SMC_E_POISONED) && e.dirty_since_ns);
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.queued, 1);
    /* and back: its record goes, the long name is refused again */
    ASSERT_EQ_INT(smc_note_rename(c, "/t/short.md", deep, 0, 3), 0);
    ASSERT_EQ_INT(smc_entry_get(c, deep, &e), 0);
    ASSERT(e.flags & SMC_E_POISONED);
    ASSERT_EQ_INT(smc_note_unlink(c, deep, 4), 0);
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.entries, 0);
    free(deep);
    smc_close(c);
    return 0;
}
