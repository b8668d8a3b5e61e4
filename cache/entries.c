/* entries.c: reading the entries database whole, in one read transaction after the journal is
 * folded: every entry in key order (smc_entry_each) and the counts `smshim status` shows. */
#include "cache_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int smc_entry_each(struct smc *c, smc_evisit fn, void *arg)
{
    MDB_txn *t;
    struct smc_range r;
    MDB_val v;
    const char *name;
    size_t nl, cap = 0;
    char *key = NULL;
    smc_journal_settle(c); /* (failing, a full map: what LMDB holds is read) */
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    if ((rc = smc_range_open(t, c->entries, "", &r)) < 0) {
        mdb_txn_abort(t);
        return rc;
    }
    while ((rc = smc_range_next(&r, &name, &nl, &v)) == 1) {
        struct smc_entry e;
        if (v.mv_size < sizeof e)
            continue;
        if (nl + 1 > cap) {
            char *nk = realloc(key, nl + 1);
            if (!nk) {
                rc = -ENOMEM;
                break;
            }
            key = nk;
            cap = nl + 1;
        }
        memcpy(key, name, nl);
        key[nl] = '\0';
        memcpy(&e, v.mv_data, sizeof e);
        if ((rc = fn(arg, key, &e)) != 0)
            break;
    }
    smc_range_close(&r);
    mdb_txn_abort(t);
    free(key);
    return rc;
}

static int count_entry(void *arg, const char *key, const struct smc_entry *e)
{
    struct smc_counts *n = arg;
    (void)key;
    n->entries++;
    n->dirty += e->dirty_since_ns != 0;
    n->remote += (e->flags & SMC_E_REMOTE) != 0;
    n->poisoned += (e->flags & SMC_E_POISONED) != 0;
    n->localonly += (e->flags & SMC_E_LOCALONLY) != 0;
    return 0;
}

int smc_counts(struct smc *c, struct smc_counts *out)
{
    MDB_txn *t;
    MDB_stat st;
    memset(out, 0, sizeof *out);
    int rc = smc_entry_each(c, count_entry, out);
    if (rc < 0)
        return rc;
    if ((rc = smc_txn(c, MDB_RDONLY, &t)) < 0)
        return rc;
    rc = smc_errno(mdb_stat(t, c->queue, &st));
    mdb_txn_abort(t);
    if (rc == 0)
        out->queued = st.ms_entries;
    return rc;
}
