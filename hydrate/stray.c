/* stray.c: documents this cache made that no file stands for. A push whose answer was lost is
 * retried, and the retry first looks for what the lost attempt made (upload.c, jobs.c). An
 * attempt the service applies only after that look (its client dead, or given up on it) makes a
 * second document at the file's filepath. The next pull that lists it knows it as this cache's
 * by what it carries (the entry's customId, or an upload marker "<customId>.<hash>", api.h;
 * custom ids are chosen per entry at random, so no other cache's document carries one) and by
 * its id, which is no entry's document; it queues the document's deletion (SMC_Q_STRAY). The job
 * deletes it unless it has become a file's document meanwhile (a push that adopted it). */
#include "engine_int.h"

#include "clock.h"
#include "stray.h"

#include <errno.h>
#include <string.h>

int smh_stray_seen(struct smc *c, const struct smh_doc *d)
{
    struct smc_entry e;
    if (!d->upload[0] && !d->custom_id[0])
        return 0; /* (most documents of other clients: no lookup) */
    if (!d->filepath[0] || smc_entry_get(c, d->filepath, &e) != 0 || !e.custom_id[0] ||
        strcmp(e.remote_id, d->id) == 0)
        return 0;
    size_t l = strlen(e.custom_id);
    int marker = strncmp(d->upload, e.custom_id, l) == 0 && d->upload[l] == '.';
    int created = strcmp(d->custom_id, e.custom_id) == 0;
    /* a create of the entry's, lost before the file had any document, is the one its push
     * updates (it is adopted: adopt.c); once the file has another, it is a stray */
    if (!marker && !(created && e.remote_id[0]))
        return 0;
    smc_queue_put_stray(c, d->filepath, d->id, e.custom_id, 0);
    return 1;
}

struct owner {
    const char *id;
    int found;
};

static int owns(void *arg, const char *key, const struct smc_entry *e)
{
    struct owner *o = arg;
    (void)key;
    if (strcmp(e->remote_id, o->id) == 0)
        o->found = 1;
    return o->found;
}

int smh_job_stray(struct smh_engine *e, struct smh_call *k, struct job *j)
{
    struct smc_entry ent;
    int got = smc_entry_get(e->c, j->key, &ent);
    if (got < 0 && got != -ENOENT) {
        j->defer_ms = SMH_REREAD_MS; /* LMDB trouble: never taken for "no file" */
        return SMH_RETRY;
    }
    if (got == 0 && !ent.remote_id[0] && ent.dirty_since_ns &&
        strcmp(ent.custom_id, j->custom_id) == 0 &&
        !(ent.flags & (SMC_E_POISONED | SMC_E_LOCALONLY))) {
        /* the file's push is still to come and may adopt this very document (its earlier
         * attempt): decided after it, by a record queued behind a write of the file */
        if (smc_queue_put_stray(e->c, j->key, j->remote_id, j->custom_id, 1) < 0) {
            j->defer_ms = SMH_REREAD_MS;
            return SMH_RETRY;
        }
        smc_queue_del(e->c, j->seqs, j->nseq);
        return SMH_OK;
    }
    struct owner o = {.id = j->remote_id};
    if (got == 0 && strcmp(ent.remote_id, j->remote_id) == 0)
        o.found = 1;
    else /* (rare: only a stray's job looks) */
        smc_entry_each(e->c, owns, &o);
    int r = o.found ? SMH_OK : smh_api_delete(k, j->remote_id);
    if (r == SMH_GONE || r == SMH_REJECT)
        r = SMH_OK; /* gone already; or refused, which no retry changes: nothing of a file's */
    if (r == SMH_OK)
        smc_queue_del(e->c, j->seqs, j->nseq);
    return r;
}
