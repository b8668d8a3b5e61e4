/* test_cache.c: the LMDB schema and the change recorder, in a temporary environment. */
#include "../runner.h"
#include "../../cache/cache.h"

#include <lmdb.h>
#include <limits.h>
#include <sys/stat.h>

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
        l->ops[l->n] = "?WDRS"[q->op & 7];
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
