/* lmdbprog.h: what the test programs that work on a cache's LMDB environment share: liblmdb
 * loaded with dlopen (as the shim loads it) and the environment opened as the cache opens it. */
#ifndef LMDBPROG_H
#define LMDBPROG_H

#include <dlfcn.h>
#include <lmdb.h>
#include <stdio.h>

struct lmdb {
    int (*env_create)(MDB_env **);
    int (*env_open)(MDB_env *, const char *, unsigned, mdb_mode_t);
    int (*set_dbs)(MDB_env *, MDB_dbi);
    int (*set_map)(MDB_env *, size_t);
    int (*begin)(MDB_env *, MDB_txn *, unsigned, MDB_txn **);
    int (*commit)(MDB_txn *);
    void (*abort_)(MDB_txn *);
    int (*dbi_open)(MDB_txn *, const char *, unsigned, MDB_dbi *);
    int (*put)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *, unsigned);
    int (*get)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *);
    MDB_env *env;
};

/* Load liblmdb and open the environment in meta with a map of map bytes. 0; 3 when liblmdb
 * cannot be loaded; 1 (after printing "cannot open") when the environment cannot be opened. */
static int lmdb_open(struct lmdb *l, const char *meta, size_t map)
{
    void *h = dlopen("liblmdb.so.0", RTLD_NOW);
    if (!h)
        return 3;
#define LMDB_F(field, name) l->field = (__typeof__(l->field))dlsym(h, "mdb_" #name)
    LMDB_F(env_create, env_create);
    LMDB_F(env_open, env_open);
    LMDB_F(set_dbs, env_set_maxdbs);
    LMDB_F(set_map, env_set_mapsize);
    LMDB_F(begin, txn_begin);
    LMDB_F(commit, txn_commit);
    LMDB_F(abort_, txn_abort);
    LMDB_F(dbi_open, dbi_open);
    LMDB_F(put, put);
    LMDB_F(get, get);
#undef LMDB_F
    if (l->env_create(&l->env) || l->set_dbs(l->env, 8) || l->set_map(l->env, map) ||
        l->env_open(l->env, meta, MDB_NOTLS | MDB_NOSYNC, 0600)) {
        puts("cannot open");
        return 1;
    }
    return 0;
}

#endif
