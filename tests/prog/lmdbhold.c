/* lmdbhold.c: hold all but KEEP of a cache's LMDB reader slots, as many processes with read
 * transactions open would. Opens META first (so the reader table has LMDB's default 126 slots),
 * begins read transactions until the table is full, gives KEEP back, prints "held N" and waits
 * for its standard input to close. Usage: lmdbhold META KEEP */
#include "lmdbprog.h"

#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct lmdb l;
    int rc = lmdb_open(&l, argv[1], (size_t)16 << 30);
    if (rc)
        return rc;
    static MDB_txn *t[4096];
    int n = 0;
    while (n < 4096 && l.begin(l.env, NULL, MDB_RDONLY, &t[n]) == 0)
        n++;
    for (int keep = atoi(argv[2]); keep > 0 && n > 0; keep--)
        l.abort_(t[--n]);
    printf("held %d\n", n);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}
