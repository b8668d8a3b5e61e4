/* cache_int.h: what the files of cache/ share (the handle's layout); not for other modules. */
#ifndef SMC_CACHE_INT_H
#define SMC_CACHE_INT_H

#include <lmdb.h>

#include "lmdb_dl.h"
#include <sys/types.h>

#include "cache.h"
#include "sm_real.h"

#define SMC_MAPSIZE ((size_t)16 << 30) /* address space only; the file grows as it is used */

struct smc {
    MDB_env *env;
    MDB_dbi entries; /* SMC_DB_ENTRIES */
    MDB_dbi queue;   /* SMC_DB_QUEUE */
    MDB_dbi kv;      /* SMC_DB_KV */
    int lock_fd;     /* LMDB's descriptor on lock.mdb (-1 if not found) */
    dev_t lock_dev;  /* identity of lock.mdb, to recognise other descriptors on it */
    ino_t lock_ino;
};

/** Queue a record inside the write transaction t. */
int smc_queue_put(struct smc *c, MDB_txn *t, enum smc_qop op, const char *from, const char *to,
                  const struct smc_entry *e, uint64_t now_ns);
/** A fresh idempotency key (22 characters of [A-Za-z0-9]). */
void smc_custom_id(char out[48]);

#endif
