/* lmdbfill.c: fill a cache's LMDB environment to its map's end, as a cache that has grown to
 * the map a limited address space allows: opens META with a map of MIB MiB and adds 1 MiB
 * values ("ballast.N" in the main database) until the map is full, then 64 KiB ones, then 4 KiB
 * ones. Prints "full N". Usage: lmdbfill META MIB */
#include "lmdbprog.h"

#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct lmdb l;
    int rc = lmdb_open(&l, argv[1], (size_t)atol(argv[2]) << 20);
    if (rc)
        return rc;
    static char buf[1 << 20];
    memset(buf, 'b', sizeof buf);
    long n = 0;
    for (size_t sz = sizeof buf; sz >= 4096; sz /= 16) {
        for (;;) {
            MDB_txn *t;
            MDB_dbi dbi;
            char k[32];
            if (l.begin(l.env, NULL, 0, &t) || l.dbi_open(t, NULL, 0, &dbi))
                return 1;
            snprintf(k, sizeof k, "ballast.%ld", n);
            MDB_val kv = {strlen(k), k}, vv = {sz, buf};
            rc = l.put(t, dbi, &kv, &vv, 0);
            if (rc == 0)
                rc = l.commit(t);
            else
                l.abort_(t);
            if (rc != 0)
                break;
            n++;
        }
    }
    printf("full %ld\n", n);
    return 0;
}
