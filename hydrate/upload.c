/* upload.c: a local binary file through the file endpoint (binary.h), idempotent without a
 * customId. Order: find an earlier attempt (a filepath listing, by marker), else upload; only
 * then delete what the file's document was before. A crash or a lost answer at any point
 * leaves at most one document with this entry's marker and these bytes, which the retry adopts;
 * the ones with its marker and other bytes (attempts of older versions), and a text document
 * of the entry's customId (a text create whose answer was lost before the file turned binary),
 * are deleted. Before an upload is sent, kv SMC_KV_UPLOAD_ATTEMPT + custom_id names its filepath
 * until the outcome is known: a file removed, or turned text, while an attempt's answer was never
 * heard has that attempt's document found and deleted too (smh_bin_delete_attempts). An attempt
 * the service applies after every listing here looked (its client dead or given up) is found by
 * the next pull that lists it (stray.c). */
#include "engine_int.h"

#include "binary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STALE_MAX  8  /* earlier uploads of this entry one pass deletes (the rest: the next) */
#define LIST_PAGES 10 /* documents at one filepath: pages of 100 looked at */

struct earlier {
    const char *key, *custom_id, *keep; /* keep: a document of the entry's that stays */
    char prefix[64], marker[96];
    char id[64];               /* the attempt with these bytes, or "" */
    char stale[STALE_MAX][64]; /* the entry's attempts with other bytes */
    int nstale;
};

static int seen(void *arg, const struct smh_doc *d)
{
    struct earlier *x = arg;
    size_t pl = strlen(x->prefix);
    if (strcmp(d->filepath, x->key) != 0 || strcmp(d->id, x->keep) == 0)
        return 0; /* (listings can be stale: the filepath is checked here) */
    if (x->custom_id[0] && strcmp(d->custom_id, x->custom_id) == 0) {
        /* the entry's text document, made by a create whose answer was lost (a committed one
         * is the entry's remote_id, deleted by the caller) */
        if (x->nstale < STALE_MAX)
            snprintf(x->stale[x->nstale++], sizeof x->stale[0], "%s", d->id);
        return 0;
    }
    if (strncmp(d->upload, x->prefix, pl) != 0)
        return 0;
    if (!x->id[0] && strcmp(d->upload, x->marker) == 0)
        snprintf(x->id, sizeof x->id, "%s", d->id);
    else if (x->nstale < STALE_MAX && strcmp(d->id, x->id) != 0)
        snprintf(x->stale[x->nstale++], sizeof x->stale[0], "%s", d->id);
    return 0;
}

/* Find the documents at key carrying a marker of custom_id or custom_id itself, but keep: into x
 * (x->marker: the one adopted). */
static int earlier_at(struct smh_call *k, const char *key, const char *custom_id, uint64_t hash,
                      const char *keep, struct earlier *x)
{
    memset(x, 0, sizeof *x);
    x->key = key;
    x->custom_id = custom_id;
    x->keep = keep;
    snprintf(x->prefix, sizeof x->prefix, "%s.", custom_id);
    snprintf(x->marker, sizeof x->marker, "%s.%016llx", custom_id, (unsigned long long)hash);
    struct smh_list_info li;
    for (int page = 1; page <= LIST_PAGES; page++) {
        int o = smh_api_list(k, key, 0, page, SMH_LIST_LIMIT, seen, x, &li);
        if (o != SMH_OK)
            return o;
        if (li.items == 0 || page >= li.total_pages)
            break;
    }
    return SMH_OK;
}

/* Delete id (already gone counts as done). */
static int gone(struct smh_call *k, const char *id)
{
    int o = smh_api_delete(k, id);
    return o == SMH_GONE ? SMH_OK : o;
}

int smh_push_binary(struct smh_engine *e, struct smh_call *k, const char *key,
                    const struct smc_entry *ent, const char *bytes, size_t len,
                    struct smc_pushed *p, char id[64])
{
    struct earlier x;
    int o = earlier_at(k, key, ent->custom_id, smc_hash64(bytes, len), "", &x);
    if (o != SMH_OK)
        return o;
    if (x.id[0]) {
        snprintf(id, 64, "%s", x.id); /* an earlier attempt reached the service: that one */
    } else {
        /* before it is sent: see smh_bin_delete_attempts */
        smc_kv_set_str(e->c, SMC_KV_UPLOAD_ATTEMPT, ent->custom_id, key);
        o = smh_api_upload(k, key, bytes, len, x.marker, id);
        if (o != SMH_OK)
            return o;
    }
    /* answered with another file's document: not bound to it, and nothing of its own deleted */
    if (strcmp(id, ent->remote_id) != 0 && smh_not_its_own(e, k, id, key, 1))
        return SMH_REJECT;
    /* what the file's document was (text, or an older upload), and the entry's other attempts */
    if (ent->remote_id[0] && strcmp(ent->remote_id, id) != 0)
        o = gone(k, ent->remote_id); /* (on failure retried: the listing finds this upload again) */
    for (int i = 0; i < x.nstale && o == SMH_OK; i++)
        if (strcmp(x.stale[i], id) != 0)
            o = gone(k, x.stale[i]);
    if (o == SMH_OK) /* the outcome is known: committed with the entry next */
        smc_kv_unset(e->c, SMC_KV_UPLOAD_ATTEMPT, ent->custom_id);
    if (o != SMH_OK)
        return o;
    p->remote_id = id;
    p->set_flags = SMC_E_BINARY;
    p->clear_flags = SMC_E_LOCALONLY | SMC_E_POISONED | SMC_E_FETCH | SMC_E_NOTFETCHED;
    return SMH_OK;
}

int smh_bin_delete_attempts(struct smh_engine *e, struct smh_call *k, const char *custom_id,
                            const char *keep)
{
    char key[4200];
    int o = SMH_OK;
    if (smc_kv_get_str(e->c, SMC_KV_UPLOAD_ATTEMPT, custom_id, key, sizeof key) == 0) {
        struct earlier x;
        o = earlier_at(k, key, custom_id, 0, keep, &x); /* (hash 0: every attempt is stale) */
        for (int i = 0; i < x.nstale && o == SMH_OK; i++)
            o = gone(k, x.stale[i]);
        if (o == SMH_OK)
            smc_kv_unset(e->c, SMC_KV_UPLOAD_ATTEMPT, custom_id);
    }
    return o;
}
