/* stray.c: documents this cache made that no file stands for. A push whose answer was lost is
 * retried, and the retry first looks for what the lost attempt made (upload.c, jobs.c). An
 * attempt the service applies only after that look (its client dead, or given up on it) makes a
 * second document at the file's filepath. The next pull that lists it knows it as this cache's
 * by what it carries (the entry's customId, or an upload marker "<customId>.<hash>", api.h;
 * custom ids are chosen per entry at random, so no other cache's document carries one) and by
 * its id, which is no entry's document; it queues the document's deletion (SMC_Q_STRAY). The job
 * deletes it unless it has become a file's document meanwhile (a push that adopted it). A file
 * whose removal is pushed is remembered for STRAY_GRACE_MS by its custom id (SMC_KV_GONE): a push
 * of it applied that late would otherwise make a document no entry knows, which a pull takes
 * for a remote file, and the removed file would come back. */
#include "engine_int.h"

#include "clock.h"
#include "stray.h"

#include "keyset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long after a removal is pushed a push of the removed file may still be applied by the
 * service: far longer than any request lives (its client gave up on it long before). */
#define STRAY_GRACE_MS (10 * 60 * 1000)

/* The custom id a document carries: its customId, or its upload marker's "<custom id>." part. */
static int carried_id(const struct smh_doc *d, char out[64])
{
    if (d->custom_id[0])
        return snprintf(out, 64, "%s", d->custom_id) < 64;
    const char *dot = strchr(d->upload, '.');
    if (!dot || dot == d->upload || (size_t)(dot - d->upload) >= 64)
        return 0;
    memcpy(out, d->upload, (size_t)(dot - d->upload));
    out[dot - d->upload] = '\0';
    return 1;
}

/* Was the removal of the file at filepath, whose entry had custom id cid, pushed (SMC_KV_GONE)? */
static int removed(struct smc *c, const char *cid, const char *filepath)
{
    char path[4200];
    int64_t until;
    return smc_kv_get_num_str(c, SMC_KV_GONE, cid, &until, path, sizeof path) == 0 &&
           strcmp(path, filepath) == 0;
}

void smh_stray_gone(struct smc *c, const char *key, const char *custom_id)
{
    if (custom_id[0])
        smc_kv_set_num_str(c, SMC_KV_GONE, custom_id, (int64_t)(smc_now_ms() + STRAY_GRACE_MS),
                           key);
}

struct expiry {
    uint64_t before; /* smc_now_ms */
    struct smh_pairs l;
};

static int expired(void *arg, const char *sub, const uint64_t *v, int got)
{
    struct expiry *x = arg;
    if (got >= 1 && v[0] < x->before)
        return smh_pairs_add(&x->l, sub, "") < 0;
    return 0;
}

void smh_stray_prune(struct smc *c, uint64_t pull_started_ms)
{
    struct expiry x = {.before = pull_started_ms};
    smc_kv_each_nums(c, SMC_KV_GONE, 1, expired, &x);
    for (size_t i = 0; i < x.l.n; i++)
        smc_kv_unset(c, SMC_KV_GONE, x.l.keys[i]);
    smh_pairs_free(&x.l);
}

int smh_stray_seen(struct smc *c, const struct smh_doc *d)
{
    struct smc_entry e;
    char cid[64];
    if (!d->filepath[0] || !carried_id(d, cid))
        return 0; /* (most documents of other clients: no lookup) */
    int got = smc_entry_get(c, d->filepath, &e);
    if (got == 0 && strcmp(e.remote_id, d->id) == 0)
        return 0; /* the file's own */
    if (got == 0 && strcmp(e.custom_id, cid) == 0) {
        /* a create of the entry's, lost before the file had any document, is the one its
         * push updates (it is adopted: adopt.c); once the file has another, it is a stray */
        if (d->custom_id[0] && !e.remote_id[0])
            return 0;
    } else if ((got != 0 && got != -ENOENT) || !removed(c, cid, d->filepath)) {
        return 0; /* no document of this cache's */
    }
    /* this cache's and not the file's document, or a push of a file since removed, applied late */
    smc_queue_put_stray(c, d->filepath, d->id, cid, 0);
    return 1;
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
    int owners = smc_doc_others(e->c, j->remote_id, NULL, NULL, 0);
    if (owners < 0) {
        j->defer_ms = SMH_REREAD_MS; /* LMDB trouble: never taken for "no file" */
        return SMH_RETRY;
    }
    int r = owners ? SMH_OK : smh_api_delete(k, j->remote_id);
    if (r == SMH_GONE || r == SMH_REJECT)
        r = SMH_OK; /* gone already; or refused, which no retry changes: nothing of a file's */
    if (r == SMH_OK)
        smc_queue_del(e->c, j->seqs, j->nseq);
    return r;
}
