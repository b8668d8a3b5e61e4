/* adopt.c: a file never pushed takes the remote document already at its filepath, so its push
 * updates that document instead of creating a second one there (filepaths are not unique). A
 * create of the file may have reached the server with its answer lost: the entry is marked
 * SMC_E_ADOPTED, and its push deletes the document carrying its customId (jobs.c), so one
 * document stays. */
#include "cache_int.h"

#include <stdio.h>
#include <string.h>

int smc_adopt_remote(struct smc *c, const char *key, const char *remote_id)
{
    struct smc_key at;
    struct smc_entry e;
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if (smc_entry_at(t, c, key, &at, &e) != 1) {
        mdb_txn_abort(t);
        return 0;
    }
    /* only a pending write of a file bound to no document: its bytes win, pushed to this one */
    if (!e.dirty_since_ns || e.remote_id[0] || smc_ids_only(c, t, remote_id, key) != 1 ||
        (e.flags & (SMC_E_SIBLING | SMC_E_LOCALONLY | SMC_E_POISONED | SMC_E_BINARY))) {
        mdb_txn_abort(t);
        return 0;
    }
    snprintf(e.remote_id, sizeof e.remote_id, "%s", remote_id);
    e.flags |= SMC_E_REMOTE | SMC_E_ADOPTED; /* see SMC_E_ADOPTED: the push looks for its create */
    rc = smc_entry_store(c, t, &at, key, &e);
    return smc_txn_end(t, rc, 1);
}
