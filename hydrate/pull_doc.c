/* pull_doc.c: what a pull does with each document it lists: the newest of a filepath wins, a
 * remote rename moves a clean file, a document goes to the cache through smc_apply_remote (never
 * over a pending local change) or the binary path, and a document too large is skipped; then
 * each page's progress and promise (apply_page). */
#include "pull_int.h"

#include "../cache/cache.h"
#include "binary.h"
#include "content.h"
#include "stray.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The files bound to the document id (cache/ids.c): how many, the first into key (n bytes). */
static int bound(struct pull *p, const char *id, char *key, size_t n)
{
    int rc = smc_doc_others(p->c, id, NULL, key, n);
    return rc < 0 ? 0 : rc;
}

void smh_pull_skip(struct pull *p, const char *id, const char *why)
{
    p->bad++;
    uint64_t h = smc_hash64(why, strlen(why));
    struct smh_kv *kv = smh_ks_get(&p->skipped, id);
    if (!p->record && (!kv || kv->a != h)) {
        /* a new skip, or for another reason: said once, and kept (a listing of the ids only
         * notes what it would skip: its pull says it) */
        if (p->log)
            p->log(why);
        smh_pairs_add(&p->skips, why, id);
    }
    if (kv || (kv = smh_ks_put(&p->skipped, id))) {
        kv->a = h;
        kv->b = SMH_SKIP_NOW;
    }
}

/* The document id was taken (applied, kept, moved): it is skipped no more. */
static void taken(struct pull *p, const char *id)
{
    struct smh_kv *kv = p->record ? NULL : smh_ks_get(&p->skipped, id);
    if (kv && kv->b != SMH_SKIP_NOW)
        kv->b = SMH_SKIP_GONE;
}

/* A document listed at another filepath than the file bound to it (old): renamed remotely. A
 * clean file follows it (moved in the tree, its old name gone: *moved); one with a local change
 * keeps its name and content, and its next push moves the document back (jobs.c). 1: the
 * document is not applied (that local change wins). */
static int follow_rename(struct pull *p, const struct smh_doc *d, const char *old, int *moved)
{
    *moved = 0;
    if (!old || strcmp(old, d->filepath) == 0)
        return 0;
    int m = smc_move_remote(p->c, p->tree, old, d->filepath, d->id);
    if (m == SMC_MOVE_KEPT)
        return 1;
    if (m == SMC_MOVE_NONE) {
        /* a binary document whose bytes are not here (to be fetched, or too large): its entry
         * and siblings follow it all the same, and its fetch starts afresh at the new name */
        m = smc_move_unfetched(p->c, p->tree, old, d->filepath, d->id);
        if (m == SMC_MOVE_DONE)
            smh_bin_forget(p->c, old);
    }
    *moved = m == SMC_MOVE_DONE;
    return 0;
}

/* The filepath this pull took the document of known (its kv in p->ids) at, or NULL. */
static const char *placed_at(const struct pull *p, const struct smh_kv *known)
{
    return known && known->a > 0 && known->a <= p->nplaced ? p->placed[known->a - 1] : NULL;
}

/* This pull takes the document of known at fp (a later listing of it elsewhere is checked
 * against it). */
static void place(struct pull *p, struct smh_kv *known, const char *fp)
{
    if (!known)
        return;
    if (known->a > 0 && known->a <= p->nplaced) {
        char *c = strdup(fp);
        if (c) {
            free(p->placed[known->a - 1]);
            p->placed[known->a - 1] = c;
        }
        return;
    }
    if (p->nplaced == p->capplaced) {
        size_t cap = p->capplaced ? p->capplaced * 2 : 64;
        char **v = realloc(p->placed, cap * sizeof *v);
        if (!v)
            return;
        p->placed = v;
        p->capplaced = cap;
    }
    char *c = strdup(fp);
    if (c) {
        p->placed[p->nplaced++] = c;
        known->a = p->nplaced;
    }
}

int smh_pull_on_doc(void *arg, const struct smh_doc *d)
{
    struct pull *p = arg;
    char msg[300];
    /* p->ids: id -> the newest updatedAt this pull listed it with */
    struct smh_kv *known = smh_ks_get(&p->ids, d->id);
    int fresh = !known;
    uint64_t updated = d->updated_ms > 0 ? (uint64_t)d->updated_ms : 0;
    uint64_t was = known ? known->b : 0; /* the newest version listed before this one */
    if (fresh)
        known = smh_ks_put(&p->ids, d->id);
    if (fresh || (known && updated > known->b))
        p->fresh++; /* a document, or a version of one, not listed before in this pull */
    if (known && updated > known->b)
        known->b = updated;
    if (!p->full && p->watermark && d->updated_ms > 0 && (uint64_t)d->updated_ms <= p->watermark) {
        p->stop = 1; /* sorted newest first: the rest is already here */
        return 0;
    }
    if (p->track && (fresh || updated > p->since))
        p->changed++;
    if (!d->filepath[0]) {
        snprintf(msg, sizeof msg, "skipped document %s: its filepath is unsafe", d->id);
        smh_pull_skip(p, d->id, msg);
        return 0;
    }
    /* the files bound to it: one document that two files here are bound to (a server that
     * answered a create with another file's document) moves, writes or removes neither */
    char owner[SMH_OWNER_MAX];
    int nbound = bound(p, d->id, owner, sizeof owner);
    if (nbound > 1) {
        char m2[SMH_OWNER_MAX + 200];
        snprintf(m2, sizeof m2,
                 "skipped document %s: %d files here are bound to it (%s, ...; see smshim "
                 "status)",
                 d->id, nbound, owner);
        smh_pull_skip(p, d->id, m2);
        return 0;
    }
    /* one document at two filepaths: a listing names it again elsewhere. Only a newer version
     * of it is a move (a remote rename while the container was listed); the same version, or
     * an older one, at another filepath is a listing that contradicts itself, and it is skipped
     * as unsafe: neither file is moved over the other, nor written or removed for it */
    const char *at = placed_at(p, known);
    if (at && strcmp(at, d->filepath) != 0 && updated <= was) {
        char m2[8400];
        snprintf(m2, sizeof m2,
                 "skipped document %s at %.4000s: the listing gave it at %.4000s too (one "
                 "document, two filepaths)",
                 d->id, d->filepath, at);
        smh_pull_skip(p, d->id, m2);
        return 0;
    }
    place(p, known, d->filepath);
    /* the newest document of a filepath wins: within a listing it comes first; a later listing
     * (a delta, a document fetched alone) brings a newer one only when it changed meanwhile */
    struct smh_kv *s = smh_ks_get(&p->seen, d->filepath);
    if (s && (d->updated_ms <= 0 || (uint64_t)d->updated_ms <= s->b)) {
        if (fresh)
            p->dups++; /* an older document with the same filepath */
        return 0;
    }
    if (s && fresh)
        p->dups++; /* the one listed before is the older */
    if (s || (s = smh_ks_put(&p->seen, d->filepath))) {
        s->a = 1;
        s->b = d->updated_ms > 0 ? (uint64_t)d->updated_ms : 0;
    }
    if (p->record && nbound && strcmp(owner, d->filepath) != 0) {
        smh_pull_skip(p, d->id, "moved"); /* (not taken: a pull with content decides) */
        return 0;
    }
    if (p->record) {
        /* the newest text document of a filepath, and no file stands for it: fetched after
         * the listing (one skipped by a listing that drifted, or never pulled); binary and
         * failed documents are left to the pulls that list them with their fields */
        if (smh_doc_binary(d) < 0 && strcmp(d->status, "failed") != 0 && !nbound &&
            !smh_ks_get(&p->missing, d->id) && smh_ks_put(&p->missing, d->id))
            smh_pairs_add(&p->missing_at, d->filepath, d->id);
        return 0;
    }
    if (d->updated_ms > 0 && (uint64_t)d->updated_ms > p->newest)
        p->newest = (uint64_t)d->updated_ms;
    if (!nbound && smh_stray_seen(p->c, d))
        return 0; /* this cache's, and no file's document: its deletion is queued */
    int moved;
    if (follow_rename(p, d, nbound ? owner : NULL, &moved)) {
        taken(p, d->id);
        p->kept++;
        return 0;
    }
    if (nbound && !moved && strcmp(owner, d->filepath) != 0) {
        /* another file's document (it could not follow it here): this file is not bound to
         * it too, nor written with it */
        char m2[2 * SMH_OWNER_MAX + 200];
        snprintf(m2, sizeof m2,
                 "skipped document %s at %s: it is the document of another file here (%s)", d->id,
                 d->filepath, owner);
        smh_pull_skip(p, d->id, m2);
        return 0;
    }
    /* p->applied counts the files this pull changed: a document the file holds already (the
     * listing brings back what this cache pushed) is not one */
    int bin = smh_bin_on_doc(p->c, p->tree, p->tmp, d);
    if (bin) {
        taken(p, d->id);
        /* a binary or failed document: its siblings now, its bytes after the pull (counted
         * there) */
        p->applied += moved || bin == 2;
        return 0;
    }
    /* the exact bytes the writing machine had, when the document still holds what it pushed */
    char *exact = NULL;
    size_t elen = 0;
    if (!smh_exact_bytes(d, &exact, &elen))
        exact = NULL;
    const char *bytes = exact ? exact : d->content;
    size_t blen = exact ? elen : d->content_len;
    struct smc_remote r = {d->filepath, d->id, (uint64_t)d->updated_ms,
                           bytes,       blen,  smc_hash64(bytes, blen)};
    int rc = smc_apply_remote(p->c, p->tree, p->tmp, &r);
    free(exact);
    if (rc != SMC_UNSAFE && rc != SMC_SHARED && rc >= 0)
        taken(p, d->id);
    if (rc == SMC_APPLIED)
        p->applied++;
    else if (rc == SMC_SAME || rc == SMC_UP_TO_DATE)
        p->applied += moved; /* its bytes were here already, under its old name */
    else if (rc == SMC_KEPT_LOCAL) {
        p->kept++;
        /* a file never pushed at this filepath: its push updates this document */
        smc_adopt_remote(p->c, d->filepath, d->id);
    } else if (rc == SMC_UNSAFE) {
        /* counted with the unsafe filepaths (smshim status) */
        snprintf(msg, sizeof msg,
                 "skipped document %s: its filepath crosses a symbolic link or a file here", d->id);
        smh_pull_skip(p, d->id, msg);
    } else if (rc == SMC_SHARED) {
        snprintf(msg, sizeof msg,
                 "skipped document %s: another file here is bound to it (see smshim status)",
                 d->id);
        smh_pull_skip(p, d->id, msg);
    } else if (rc < 0)
        p->failed++;
    return 0;
}

/* A document listed, and never written (too large for any answer, or its fetch alone answered
 * with another document): its file is not taken for a remote deletion. */
static void listed_only(struct pull *p, const struct smh_doc *m)
{
    if (!smh_ks_get(&p->ids, m->id)) {
        smh_ks_put(&p->ids, m->id);
        p->fresh++;
    }
    if (m->filepath[0] && !smh_ks_get(&p->seen, m->filepath))
        smh_ks_put(&p->seen, m->filepath); /* a local copy is not a remote deletion */
}

/* A document whose fetch alone was answered with another one (pull_pages.c): refused, counted
 * with the unsafe documents. */
static void refused(struct pull *p, const struct smh_doc *m)
{
    listed_only(p, m);
    char msg[4300];
    snprintf(msg, sizeof msg,
             "skipped document %s (%.4000s): its GET was answered with another document", m->id,
             m->filepath);
    smh_pull_skip(p, m->id, msg);
}

/* A document too large for any answer (pull_pages.c). */
static void oversized(struct pull *p, const struct smh_doc *m)
{
    listed_only(p, m);
    p->oversized++;
    if (p->log) {
        char msg[4300];
        snprintf(msg, sizeof msg,
                 "skipped document %s (%.4000s): larger than the %u MB a document may hold", m->id,
                 m->filepath, SMH_DOC_MAX >> 20);
        p->log(msg);
    }
}

/* One page of a listing, in page order (smh_pages_run): 0 go on, 1 done, -1 no progress. */
int smh_pull_apply_page(void *arg, const struct smh_page *pg, char *err, size_t n)
{
    struct apply_ctx *a = arg;
    struct pull *p = a->p;
    p->fresh = pg->vanished;
    if (pg->outcome == SMH_OK || pg->n) {
        if (pg->t == 0) {
            p->first_total = pg->first.total_items;
            p->first_newest = 0;
            p->promised = -1;
        } else if (pg->first.total_items != p->first_total) {
            p->counts_moved = 1; /* documents came or went while it was paged */
        }
    }
    for (size_t i = 0; i < pg->n && !p->stop; i++) {
        const struct smh_doc *d = &pg->v[i].d;
        if (pg->t == 0 && d->updated_ms > 0 && (uint64_t)d->updated_ms > p->first_newest)
            p->first_newest = (uint64_t)d->updated_ms;
        if (pg->v[i].kind == SMH_ITEM_OVERSIZED)
            oversized(p, d);
        else if (pg->v[i].kind == SMH_ITEM_REFUSED)
            refused(p, d);
        else
            smh_pull_on_doc(p, d);
    }
    if (pg->outcome != SMH_OK)
        return 0; /* its failure ends the listing (smh_pages_run) */
    if (pg->promised >= 0 && (p->promised < 0 || pg->promised < p->promised))
        p->promised = pg->promised;
    if (a->o->progress)
        a->o->progress((int)(pg->t + 1), (int)((p->promised + p->lim - 1) / p->lim), a->o->arg);
    if (pg->ended || p->stop)
        return 1;
    if (p->fresh == 0 && pg->malformed == 0) {
        /* the same documents again: it would never end */
        snprintf(err, n, "list: page %ld lists nothing new (the listing makes no progress)",
                 pg->t + 1);
        return -1;
    }
    return 0;
}
