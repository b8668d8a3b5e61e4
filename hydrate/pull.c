/* pull.c: from the remote into the cache. A full pull lists the whole container (finding remote
 * deletions); a delta pull lists by updatedAt, newest first, and stops at the watermark. A miss
 * under the prefix asks for one filepath (and the directory of that name) instead.
 * Every document goes through smc_apply_remote, which never overwrites a pending local change.
 *
 * Bounds (the remote is untrusted): a pull ends by its deadline (every request's timeout is cut
 * to what is left); it asks for no page beyond what the first answer promised (totalPages), and
 * stops at an empty page (the listing ended) or at a page that lists nothing new (no progress).
 * A page larger than an answer may be (SMH_ANSWER_LIST) is asked again with a tenth of the limit,
 * down to one document per page; a document too large even for that is listed without content
 * and fetched alone (up to SMH_ANSWER_DOC), or skipped and logged when it is larger still. */
#include "hydrate.h"

#include "../cache/cache.h"
#include "api.h"
#include "binary.h"
#include "content.h"
#include "keyset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 100
/* the deadline of a pull whose caller gives none (retry_ms 0: a host process's sync thread) */
#define PULL_BOUND_MS (5 * 60 * 1000)

struct pull {
    struct smc *c;
    const char *tree, *tmp;
    int full;
    int record; /* a listing without content: only ids and filepaths are recorded */
    uint64_t watermark, newest;
    int stop;
    struct smh_keyset seen; /* filepaths listed (the newest document of each wins) */
    struct smh_keyset ids;  /* ids listed in this pull */
    struct smh_keyset byid; /* remote id -> index in idkeys: the entry bound to it (built once) */
    char **idkeys;
    size_t nidkeys, capidkeys;
    int byid_built;
    long fresh; /* documents of the current page not listed before in this pull */
    long applied, kept, dups, bad, failed, oversized;
    void (*log)(const char *);
};

static int index_entry(void *arg, const char *key, const struct smc_entry *e)
{
    struct pull *p = arg;
    if (!e->remote_id[0])
        return 0;
    if (p->nidkeys == p->capidkeys) {
        size_t cap = p->capidkeys ? p->capidkeys * 2 : 64;
        char **v = realloc(p->idkeys, cap * sizeof *v);
        if (!v)
            return 1;
        p->idkeys = v;
        p->capidkeys = cap;
    }
    struct smh_kv *kv = smh_ks_put(&p->byid, e->remote_id);
    char *k = strdup(key);
    if (!kv || !k) {
        free(k);
        return 1;
    }
    kv->a = p->nidkeys;
    p->idkeys[p->nidkeys++] = k;
    return 0;
}

/* The key of the entry bound to the document id, or NULL. */
static char **bound_key(struct pull *p, const char *id)
{
    if (!p->byid_built) {
        p->byid_built = 1;
        smc_entry_each(p->c, index_entry, p);
    }
    struct smh_kv *kv = smh_ks_get(&p->byid, id);
    return kv && kv->a < p->nidkeys ? &p->idkeys[kv->a] : NULL;
}

/* A document listed at another filepath than the file bound to it: renamed remotely. A clean
 * file follows it (moved in the tree, its old name gone); one with a local change keeps its name
 * and content, and its next push moves the document back (jobs.c). 1: the document is not
 * applied (that local change wins). */
static int follow_rename(struct pull *p, const struct smh_doc *d)
{
    char **old = bound_key(p, d->id);
    if (!old || strcmp(*old, d->filepath) == 0)
        return 0;
    int m = smc_move_remote(p->c, p->tree, *old, d->filepath, d->id);
    if (m == SMC_MOVE_KEPT)
        return 1;
    if (m == SMC_MOVE_DONE) {
        char *k = strdup(d->filepath);
        if (k) {
            free(*old);
            *old = k;
        }
    }
    return 0;
}

static int on_doc(void *arg, const struct smh_doc *d)
{
    struct pull *p = arg;
    char msg[300];
    if (!smh_ks_get(&p->ids, d->id)) {
        smh_ks_put(&p->ids, d->id);
        p->fresh++;
    }
    if (!p->full && p->watermark && d->updated_ms > 0 && (uint64_t)d->updated_ms <= p->watermark) {
        p->stop = 1; /* sorted newest first: the rest is already here */
        return 0;
    }
    if (!d->filepath[0]) {
        p->bad++;
        if (p->log) {
            snprintf(msg, sizeof msg, "skipped document %s: its filepath is unsafe", d->id);
            p->log(msg);
        }
        return 0;
    }
    struct smh_kv *s = smh_ks_get(&p->seen, d->filepath);
    if (s) {
        p->dups++; /* an older document with the same filepath: the newest one won */
        return 0;
    }
    if ((s = smh_ks_put(&p->seen, d->filepath)))
        s->a = 1;
    if (p->record)
        return 0;
    if (d->updated_ms > 0 && (uint64_t)d->updated_ms > p->newest)
        p->newest = (uint64_t)d->updated_ms;
    if (follow_rename(p, d)) {
        p->kept++;
        return 0;
    }
    if (smh_bin_on_doc(p->c, p->tree, p->tmp, d)) {
        p->applied++; /* a binary or failed document: its siblings now, its bytes after the pull */
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
    if (rc == SMC_APPLIED || rc == SMC_SAME)
        p->applied++;
    else if (rc == SMC_KEPT_LOCAL)
        p->kept++;
    else if (rc < 0)
        p->failed++;
    return 0;
}

struct gone_ctx {
    struct pull *p;
    char **keys, **ids;
    size_t n, cap;
};

static int find_gone(void *arg, const char *key, const struct smc_entry *e)
{
    struct gone_ctx *g = arg;
    if (!(e->flags & SMC_E_REMOTE) || e->dirty_since_ns || smh_ks_get(&g->p->seen, key))
        return 0;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 32;
        char **k = realloc(g->keys, cap * sizeof *k),
             **i = k ? realloc(g->ids, cap * sizeof *i) : NULL;
        if (!k || !i) {
            g->keys = k ? k : g->keys;
            return 1;
        }
        g->keys = k;
        g->ids = i;
        g->cap = cap;
    }
    g->keys[g->n] = strdup(key);
    g->ids[g->n] = strdup(e->remote_id);
    if (g->keys[g->n] && g->ids[g->n])
        g->n++;
    return 0;
}

/* The one document at position `page` (limit 1) was too large for a listing: list it without
 * content, then fetch it alone; one larger than a document may be is skipped and logged. */
struct one {
    struct smh_doc d;
    int got;
};

static int keep_one(void *arg, const struct smh_doc *d)
{
    struct one *o = arg;
    if (!o->got) {
        o->d = *d;
        o->d.content = NULL;
        o->got = 1;
    }
    return 0;
}

static int one_by_one(struct smh_call *k, struct pull *p, const char *fp, int page,
                      struct smh_list_info *li)
{
    struct one one;
    memset(&one, 0, sizeof one);
    long before = k->malformed;
    int o = smh_api_list(k, fp, 0, page, 1, keep_one, &one, li);
    if (o != SMH_OK) {
        if (k->too_large)
            snprintf(k->err, sizeof k->err,
                     "list: one document without its content is larger than the %u MB a page "
                     "may hold",
                     SMH_ANSWER_LIST >> 20);
        return o;
    }
    if (!one.got) {
        p->fresh += k->malformed - before;
        return SMH_OK;
    }
    const struct smh_doc *m = &one.d;
    if (!p->full && p->watermark && m->updated_ms > 0 && (uint64_t)m->updated_ms <= p->watermark) {
        p->stop = 1;
        return SMH_OK;
    }
    struct smh_doc d;
    o = smh_api_fetch(k, m->id, &d);
    if (o == SMH_OK) {
        on_doc(p, &d);
    } else if (o == SMH_GONE) {
        o = SMH_OK; /* deleted since it was listed */
        p->fresh++;
    } else if (k->too_large) {
        /* larger than any document may be (the service: 50 MB): never written, said so */
        o = SMH_OK;
        if (!smh_ks_get(&p->ids, m->id)) {
            smh_ks_put(&p->ids, m->id);
            p->fresh++;
        }
        if (m->filepath[0] && !smh_ks_get(&p->seen, m->filepath))
            smh_ks_put(&p->seen, m->filepath); /* a local copy is not a remote deletion */
        p->oversized++;
        if (p->log) {
            char msg[4300];
            snprintf(msg, sizeof msg,
                     "skipped document %s (%.4000s): larger than the %u MB a "
                     "document may hold",
                     m->id, m->filepath, SMH_DOC_MAX >> 20);
            p->log(msg);
        }
    }
    smh_doc_free(&d);
    return o;
}

/* The pages of one listing, from the first, in pages of lim (1, 10 or 100) documents: until
 * the watermark (a delta), the end, or the deadline. content: with the documents' content (they
 * are applied), else only their ids and filepaths are recorded (p->record). *first: what the
 * first answer said. The outcome; k->err says why. */
static int list_pages(struct pull *p, struct smh_call *k, const struct smh_pull_opts *o,
                      int content, int lim, uint64_t deadline, struct smh_list_info *first)
{
    int outcome = SMH_OK, npages = 0;
    long long off = 0, promised = -1; /* documents behind us; documents the first answer promised */
    long delay = 500;
    first->total_items = -1;
    while (!p->stop && (promised < 0 || off < promised)) {
        if (smh_mono_ms() >= deadline) {
            outcome = SMH_RETRY;
            snprintf(k->err, sizeof k->err, "the pull reached its deadline (%ld s) after %d pages",
                     (o->retry_ms > 0 ? o->retry_ms : PULL_BOUND_MS) / 1000, npages);
            break;
        }
        struct smh_list_info li;
        int page = (int)(off / lim) + 1; /* off is a multiple of lim */
        long malformed = k->malformed;
        p->fresh = 0;
        outcome = smh_api_list(k, o->filepath, content, page, lim, on_doc, p, &li);
        if (outcome == SMH_RETRY && k->too_large) {
            if (lim > 1) {
                lim /= 10; /* the same documents again, in smaller pages */
                continue;
            }
            outcome = one_by_one(k, p, o->filepath, page, &li);
            if (outcome != SMH_OK && k->too_large)
                break; /* no smaller way to ask */
        }
        if (outcome == SMH_RETRY && o->retry_ms > 0) {
            /* 429, 5xx, a dropped connection, a malformed page: the same page again, later (a
             * wait that would end past the deadline is not begun: the error stands) */
            long wait = k->retry_after >= 0 && k->retry_after * 1000 > delay ? k->retry_after * 1000
                                                                             : delay;
            if (smh_mono_ms() + (uint64_t)wait >= deadline)
                break;
            struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            delay = delay * 2 > 8000 ? 8000 : delay * 2;
            continue;
        }
        if (outcome != SMH_OK)
            break;
        delay = 500;
        if (npages++ == 0)
            *first = li;
        /* the first answer's promise bounds the pull; a later answer may only shrink it */
        long long says = li.total_pages * lim;
        if (promised < 0 || says < promised)
            promised = says;
        if (o->progress)
            o->progress(page, (int)((promised + lim - 1) / lim), o->arg);
        off += lim;
        if (li.items == 0)
            break; /* an empty page: the listing ended, whatever it promised */
        if (!p->stop && p->fresh == 0 && k->malformed == malformed) {
            outcome = SMH_RETRY; /* the same documents again: it would never end */
            snprintf(k->err, sizeof k->err,
                     "list: page %d lists nothing new (the listing makes no progress)", page);
            break;
        }
        while (lim < PAGE && off % (lim * 10) == 0)
            lim *= 10; /* past the large documents: back to full pages */
    }
    return outcome;
}

/* The head of the listing (one page, no content): how many documents are newer than the
 * watermark, and the container's count. */
struct head {
    uint64_t watermark;
    int newer, done;
};

static int head_doc(void *arg, const struct smh_doc *d)
{
    struct head *h = arg;
    if (h->done || (d->updated_ms > 0 && (uint64_t)d->updated_ms <= h->watermark))
        h->done = 1; /* sorted newest first: the rest is already here */
    else
        h->newer++;
    return 0;
}

/* Documents the container holds that no entry stands for (duplicates, unsafe filepaths, ...),
 * as the last full listing counted them; -1 when never counted. */
static long long offset_get(struct smc *c)
{
    char v[32];
    return smc_kv_get(c, "pull.offset", v, sizeof v) == 0 ? strtoll(v, NULL, 10) : -1;
}

static long long remote_entries(struct smc *c)
{
    struct smc_counts n;
    return smc_counts(c, &n) == 0 ? (long long)n.remote : -1;
}

/* Remove the clean files a full listing lacks (p->seen) whose GET answers 404 (listings can be
 * stale); past the deadline nothing is asked: those wait for the next full listing. */
static long remove_gone(struct pull *p, struct smh_call *k, const struct smh_pull_opts *o,
                        uint64_t deadline)
{
    long removed = 0;
    struct gone_ctx g = {p, NULL, NULL, 0, 0};
    smc_entry_each(o->cache, find_gone, &g);
    for (size_t i = 0; i < g.n; i++) {
        struct smh_doc d;
        if (smh_mono_ms() < deadline && smh_api_get(k, g.ids[i], &d) == SMH_GONE &&
            smc_remove_remote(o->cache, o->tree, g.keys[i], g.ids[i]) == 1)
            removed++;
        free(g.keys[i]);
        free(g.ids[i]);
    }
    free(g.keys);
    free(g.ids);
    return removed;
}

/* After a full listing: what the count check of the next delta pull expects beside the entries. */
static void offset_put(struct pull *p)
{
    long long remote = remote_entries(p->c);
    char v[32];
    if (remote < 0)
        return;
    snprintf(v, sizeof v, "%lld", (long long)p->ids.n - remote);
    smc_kv_put(p->c, "pull.offset", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)smc_now_ms());
    smc_kv_put(p->c, "pull.full_last", v);
}

long smh_pull(struct smh_engine *e, const struct smh_pull_opts *o, struct smh_pull_result *res)
{
    struct smh_conn *conn = smh_conn_new(o->base_url, o->key, o->timeout_ms);
    struct smh_call k = {.conn = conn, .tag = o->tag, .retry_after = -1};
    char wm[32];
    struct pull p = {.c = o->cache, .tree = o->tree, .tmp = o->tmp, .full = o->full, .log = o->log};
    struct pull ids = {.c = o->cache, .tree = o->tree, .tmp = o->tmp, .full = 1, .record = 1};
    (void)e;
    memset(res, 0, sizeof *res);
    if (!conn) {
        snprintf(res->error, sizeof res->error, "libcurl or libcjson cannot be loaded");
        return -ENOSYS;
    }
    if (smh_conn_refused(conn)) {
        snprintf(res->error, sizeof res->error, "%s", smh_conn_refused(conn));
        res->auth = 1;
        smh_conn_free(conn);
        return -EIO;
    }
    if (smc_kv_get(o->cache, "pull.watermark", wm, sizeof wm) == 0)
        p.watermark = strtoull(wm, NULL, 10);
    /* the whole pull, retries and waits included, ends by its deadline */
    uint64_t deadline = smh_mono_ms() + (uint64_t)(o->retry_ms > 0 ? o->retry_ms : PULL_BOUND_MS);
    smh_conn_deadline(conn, deadline);
    struct smh_list_info li;
    int outcome, first = !p.watermark && !o->filepath, idlist = 0;
    if (o->filepath || first) {
        /* a miss (one filepath), or the first pull: every document, with its content */
        p.full = first;
        outcome = list_pages(&p, &k, o, 1, PAGE, deadline, &li);
    } else {
        /* a delta pull: one page without content says what is newer than the watermark and
         * how many documents the container holds; only what changed is then listed with its
         * content (nothing changed: this one request) */
        struct head h = {.watermark = p.watermark};
        p.full = 0;
        for (;;) {
            outcome = smh_api_list(&k, NULL, 0, 1, PAGE, head_doc, &h, &li);
            if (outcome != SMH_RETRY || o->retry_ms <= 0 || k.too_large)
                break;
            long wait =
                k.retry_after >= 0 && k.retry_after * 1000 > 500 ? k.retry_after * 1000 : 500;
            if (smh_mono_ms() + (uint64_t)wait >= deadline)
                break;
            struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        long long total = li.total_items;
        if (outcome == SMH_OK && h.newer > 0) {
            struct smh_list_info dl;
            /* a page that holds them and the first older one, where the delta stops */
            int lim = h.newer < 10 ? 10 : PAGE;
            outcome = list_pages(&p, &k, o, 1, lim, deadline, &dl);
        }
        /* the count check: fewer documents than the entries stand for means a remote deletion
         * (the next full listing finds it otherwise, and `smshim sync --full` at once) */
        long long off = offset_get(o->cache), remote = remote_entries(o->cache);
        idlist = o->full || (outcome == SMH_OK && total >= 0 && remote >= 0 &&
                             (off < 0 || total < remote + off));
        if (outcome == SMH_OK && idlist)
            outcome = list_pages(&ids, &k, o, 0, PAGE, deadline, &li);
    }
    if (outcome == SMH_OK) /* the bytes of the binary documents it listed */
        smh_bin_fetch(o->cache, o->tree, o->tmp, &k, deadline, o->log);
    long rc = 0;
    if (outcome != SMH_OK) {
        snprintf(res->error, sizeof res->error, "%s", k.err[0] ? k.err : "list failed");
        res->unreachable = k.status == 0 && !k.too_large;
        res->auth = outcome == SMH_AUTH;
        rc = -EIO;
    } else if (!o->filepath) {
        struct pull *full = first ? &p : idlist ? &ids : NULL;
        if (full) {
            res->removed = remove_gone(full, &k, o, deadline);
            offset_put(full);
            char dups[32];
            snprintf(dups, sizeof dups, "%ld", full->dups);
            smc_kv_put(o->cache, "pull.duplicates", dups);
        }
        if (p.newest > p.watermark) {
            snprintf(wm, sizeof wm, "%llu", (unsigned long long)p.newest);
            smc_kv_put(o->cache, "pull.watermark", wm);
        }
        snprintf(wm, sizeof wm, "%llu", (unsigned long long)smc_now_ms());
        smc_kv_put(o->cache, "pull.last", wm);
    }
    if (k.malformed && o->log) {
        char msg[120];
        snprintf(msg, sizeof msg, "skipped %ld listed documents with malformed fields",
                 k.malformed);
        o->log(msg);
    }
    char bad[32];
    if (p.bad) {
        snprintf(bad, sizeof bad, "%ld", p.bad);
        smc_kv_put(o->cache, "pull.unsafe", bad);
    }
    if (p.oversized) {
        snprintf(bad, sizeof bad, "%ld", p.oversized);
        smc_kv_put(o->cache, "pull.oversized", bad);
    }
    res->applied = p.applied;
    res->kept = p.kept;
    res->duplicates = p.dups;
    res->unsafe = p.bad;
    smh_ks_free(&p.seen);
    smh_ks_free(&p.ids);
    smh_ks_free(&ids.seen);
    smh_ks_free(&ids.ids);
    smh_ks_free(&p.byid);
    for (size_t i = 0; i < p.nidkeys; i++)
        free(p.idkeys[i]);
    free(p.idkeys);
    smh_conn_free(conn);
    return rc;
}
