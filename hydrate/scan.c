/* scan.c: the scan for changes nobody recorded, and the retry of poisoned files.
 * The scan compares the tree with the entries; both queue fresh records for the dispatcher. */
#include "engine_int.h"

#include "clock.h"
#include "sm_real.h"

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>

/* One scan: the engine it is for and the changes it found. */
struct scan {
    struct smh_engine *e;
    long found;
};

/* nftw's callback takes no argument, so the scan in progress is reached through scan_cur.
 * scan_mu is held for a whole scan: scan_cur is set, read (by the callbacks, in the scanning
 * thread) and cleared only under it, so two threads never scan at once. */
static pthread_mutex_t scan_mu = PTHREAD_MUTEX_INITIALIZER;
static struct scan *scan_cur;

static int scan_visit(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    struct scan *s = scan_cur;
    const char *key = p + strlen(s->e->tree);
    struct smc_entry ent;
    int unrecorded = smc_entry_get(s->e->c, key, &ent) != 0 ||
                     (!ent.dirty_since_ns &&
                      (ent.synced_size != (uint64_t)st->st_size ||
                       ent.synced_mtime_ns != smc_mtime_ns(st) || ent.synced_ino != st->st_ino));
    if (unrecorded) {
        smc_note_write(s->e->c, key, smh_now_ns());
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
    }
    return 0;
}

long smh_scan(struct smh_engine *e)
{
    struct scan s = {e, 0};
    pthread_mutex_lock(&scan_mu);
    scan_cur = &s;
    SM_REAL(nftw)(e->tree, scan_visit, SMH_SCAN_FDS, FTW_PHYS);
    smc_entry_each(e->c, scan_missing, &s);
    scan_cur = NULL;
    pthread_mutex_unlock(&scan_mu);
    return s.found;
}

static int poisoned_visit(void *arg, const char *key, const struct smc_entry *ent)
{
    struct scan *s = arg;
    if (ent->flags & SMC_E_POISONED) {
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
