/* scan.c: the scan for changes nobody recorded, and the retry of poisoned files.
 * The scan compares the tree with the entries; both queue fresh records for the dispatcher. */
#include "engine_int.h"

#include "clock.h"
#include "sm_real.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* One scan: the engine it is for and the changes it found. */
struct scan {
    struct smh_engine *e;
    long found;
};

/* Held for a whole scan: two threads never scan at once. */
static pthread_mutex_t scan_mu = PTHREAD_MUTEX_INITIALIZER;

/* One entry of the tree (smc_tree_walk: beneath it, no link followed, any path length, only the
 * library's own descriptors). */
static int scan_visit(void *arg, const char *key, const struct stat *st)
{
    struct scan *s = arg;
    struct smc_entry ent;
    if (!S_ISREG(st->st_mode))
        return 0;
    int got = smc_entry_get(s->e->c, key, &ent);
    if (got < 0 && got != -ENOENT)
        return 0; /* LMDB trouble is not "unrecorded": the next scan looks again */
    int unrecorded = got == -ENOENT ||
                     (!ent.dirty_since_ns &&
                      (ent.synced_size != (uint64_t)st->st_size ||
                       ent.synced_mtime_ns != smc_mtime_ns(st) || ent.synced_ino != st->st_ino));
    if (unrecorded) {
        int rc = smc_note_write(s->e->c, key, smh_now_ns());
        if (rc == -ENOSPC || rc == -EOVERFLOW)
            smc_unrecorded_add(s->e->c, key, -rc); /* still not recorded: still listed */
        s->found++;
    }
    return 0;
}

static int scan_missing(void *arg, const char *key, const struct smc_entry *ent)
{
    struct scan *s = arg;
    struct stat st;
    /* (a binary document whose bytes are not fetched has no file: nothing was removed) */
    if ((ent->flags & SMC_E_REMOTE) && !(ent->flags & (SMC_E_FETCH | SMC_E_NOTFETCHED)) &&
        smc_tree_stat(s->e->tree, key, &st) == -ENOENT) {
        /* removed without a record (the unlink was never seen): delete the document */
        smc_note_unlink(s->e->c, key, smh_now_ns());
        s->found++;
    } else if (strlen(key) > SMC_KEY_SYNC_MAX && smc_tree_stat(s->e->tree, key, &st) == -ENOENT) {
        /* a file too long to sync is gone: so is its refusal (it has no record to do it) */
        smc_note_unlink(s->e->c, key, smh_now_ns());
    }
    return 0;
}

long smh_scan(struct smh_engine *e)
{
    struct scan s = {e, 0};
    pthread_mutex_lock(&scan_mu);
    smc_tree_walk(e->tree, "/", scan_visit, &s);
    smc_entry_each(e->c, scan_missing, &s);
    smc_unrecorded_sweep(e->c, e->tree); /* the files recorded now (or gone) leave that list */
    pthread_mutex_unlock(&scan_mu);
    return s.found;
}

static int poisoned_visit(void *arg, const char *key, const struct smc_entry *ent)
{
    struct scan *s = arg;
    if ((ent->flags & SMC_E_POISONED) && strlen(key) <= SMC_KEY_SYNC_MAX) {
        struct smc_entry x = *ent;
        x.flags &= ~(uint32_t)SMC_E_POISONED;
        if (!x.dirty_since_ns)
            x.dirty_since_ns = smh_now_ns();
        smc_entry_put(s->e->c, key, &x);
        smc_queue_put_op(s->e->c, SMC_Q_WRITE, key, NULL);
        s->found++;
    }
    return 0;
}

long smh_retry_poisoned(struct smh_engine *e)
{
    /* its count is its own (no shared state): scan_mu is not needed */
    struct scan s = {e, 0};
    smc_entry_each(e->c, poisoned_visit, &s);
    return s.found;
}
