/* lmdbhold.c: hold all but KEEP of a cache's LMDB reader slots, as many processes with read
 * transactions open would. Opens META first (so the reader table has LMDB's default 126 slots),
 * begins read transactions until the table is full, gives KEEP back, prints "held N" and waits
 * for its standard input to close. Usage: lmdbhold META KEEP */
#include <dlfcn.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    void *h = dlopen("liblmdb.so.0", RTLD_NOW);
    if (!h)
        return 3;
    int (*env_create)(MDB_env **) = (int (*)(MDB_env **))dlsym(h, "mdb_env_create");
    int (*env_open)(MDB_env *, const char *, unsigned, mdb_mode_t) =
        (int (*)(MDB_env *, const char *, unsigned, mdb_mode_t))dlsym(h, "mdb_env_open");
    int (*set_dbs)(MDB_env *, MDB_dbi) =
        (int (*)(MDB_env *, MDB_dbi))dlsym(h, "mdb_env_set_maxdbs");
    int (*set_map)(MDB_env *, size_t) = (int (*)(MDB_env *, size_t))dlsym(h, "mdb_env_set_mapsize");
    int (*begin)(MDB_env *, MDB_txn *, unsigned, MDB_txn **) =
        (int (*)(MDB_env *, MDB_txn *, unsigned, MDB_txn **))dlsym(h, "mdb_txn_begin");
    void (*abort_)(MDB_txn *) = (void (*)(MDB_txn *))dlsym(h, "mdb_txn_abort");
    MDB_env *env;
    if (env_create(&env) || set_dbs(env, 8) || set_map(env, (size_t)16 << 30) ||
        env_open(env, argv[1], MDB_NOTLS | MDB_NOSYNC, 0600)) {
        puts("cannot open");
        return 1;
    }
    static MDB_txn *t[4096];
    int n = 0;
    while (n < 4096 && begin(env, NULL, MDB_RDONLY, &t[n]) == 0)
        n++;
    for (int keep = atoi(argv[2]); keep > 0 && n > 0; keep--)
        abort_(t[--n]);
    printf("held %d\n", n);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}
