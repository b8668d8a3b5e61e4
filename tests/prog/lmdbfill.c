/* lmdbfill.c: fill a cache's LMDB environment to its map's end, as a cache that has grown to
 * the map a limited address space allows: opens META with a map of MIB MiB and adds 1 MiB
 * values ("ballast.N" in the main database) until the map is full, then 64 KiB ones, then 4 KiB
 * ones. Prints "full N". Usage: lmdbfill META MIB */
#include <dlfcn.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    void *h = dlopen("liblmdb.so.0", RTLD_NOW);
    if (!h)
        return 3;
#define F(n, t) t = (__typeof__(t))dlsym(h, "mdb_" #n)
    int (*env_create)(MDB_env **);
    int (*env_open)(MDB_env *, const char *, unsigned, mdb_mode_t);
    int (*set_dbs)(MDB_env *, MDB_dbi);
    int (*set_map)(MDB_env *, size_t);
    int (*begin)(MDB_env *, MDB_txn *, unsigned, MDB_txn **);
    int (*commit)(MDB_txn *);
    void (*abort_)(MDB_txn *);
    int (*dbi_open)(MDB_txn *, const char *, unsigned, MDB_dbi *);
    int (*put)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *, unsigned);
    F(env_create, env_create);
    F(env_open, env_open);
    F(env_set_maxdbs, set_dbs);
    F(env_set_mapsize, set_map);
    F(txn_begin, begin);
    F(txn_commit, commit);
    F(txn_abort, abort_);
    F(dbi_open, dbi_open);
    F(put, put);
    MDB_env *env;
    if (env_create(&env) || set_dbs(env, 8) || set_map(env, (size_t)atol(argv[2]) << 20) ||
        env_open(env, argv[1], MDB_NOTLS | MDB_NOSYNC, 0600)) {
        puts("cannot open");
        return 1;
    }
    static char buf[1 << 20];
    memset(buf, 'b', sizeof buf);
    long n = 0;
    for (size_t sz = sizeof buf; sz >= 4096; sz /= 16) {
        for (;;) {
            MDB_txn *t;
            MDB_dbi dbi;
            char k[32];
            if (begin(env, NULL, 0, &t) || dbi_open(t, NULL, 0, &dbi))
                return 1;
            snprintf(k, sizeof k, "ballast.%ld", n);
            MDB_val kv = {strlen(k), k}, vv = {sz, buf};
            int rc = put(t, dbi, &kv, &vv, 0);
            if (rc == 0)
                rc = commit(t);
            else
                abort_(t);
            if (rc != 0)
                break;
            n++;
        }
    }
    printf("full %ld\n", n);
    return 0;
}
