/* pull.c: from the remote into the cache. A full pull lists the whole container (finding remote
 * deletions); a delta pull lists by updatedAt, newest first, and stops at the watermark. A miss
 * under the prefix asks for one filepath (and the directory of that name) instead.
 * Every document goes through smc_apply_remote, which never overwrites a pending local change
 * (pull_doc.c).
 *
 * The first pull fetches up to smh_pull_slots() pages at once (pull_pages.c) and applies them in
 * page order, holding a few pages, never the container. Page numbers drift while documents
 * change remotely (a change moves its document to the head of the listing, a deletion moves
 * every later one up a place), so it ends with a delta pull from the newest updatedAt of its
 * first page: what changed while it was paged. When anything did (a document newer than that,
 * or a count that moved), positions may have been skipped: the container's ids are listed again
 * without content, what this pull has not seen is fetched alone, and its deletions are found
 * from that listing, then a delta again (DRIFT_ROUNDS such listings at most: a document skipped
 * by both listings of a container that kept changing comes with the next listing of the ids).
 *
 * Bounds (the remote is untrusted): a pull ends by its deadline (every request's timeout is cut
 * to what is left, on every connection); it asks for no page beyond what the first answer
 * promised (totalPages), and stops at an empty page (the listing ended) or at a page that lists
 * nothing new (no progress), whichever page it is and however many are in flight. A page larger
 * than an answer may be (SMH_ANSWER_LIST) is asked again with a tenth of the limit, down to one
 * document per page; a document too large even for that is listed without content and fetched
 * alone (up to SMH_ANSWER_DOC), or skipped and logged when it is larger still. Deletions are
 * looked for only after a listing that had every page: a page that failed ends the pull first. */
#include "pull_int.h"

#include "clock.h"

#include "../cache/cache.h"
#include "api.h"
#include "budget.h"
#include "binary.h"
#include "content.h"
#include "keyset.h"
#include "pull_pages.h"
#include "stray.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE SMH_LIST_LIMIT
/* the deadline of a pull whose caller gives none (retry_ms 0: a host process's sync thread) */
#define PULL_BOUND_MS (5 * 60 * 1000)
/* listings of the ids again after a first pull while the container keeps changing (each one
 * costs as many requests as the pull's own listing, without content) */
#define DRIFT_ROUNDS 1
/* the listing of a delta's head that failed is asked again after this, or after the Retry-After
 * when that is longer */
#define HEAD_RETRY_MS 500

struct gone_ctx {
    struct pull *p;
    struct smh_pairs l;
};

static int find_gone(void *arg, const char *key, const struct smc_entry *e)
{
    struct gone_ctx *g = arg;
    if (!(e->flags & SMC_E_REMOTE) || e->dirty_since_ns || smh_ks_get(&g->p->seen, key))
        return 0;
    return smh_pairs_add(&g->l, key, e->remote_id) < 0;
}

/* The pages of one listing, from the first, in pages of lim (1, 10 or 100) documents, by up to
 * slots requests at once: until the watermark (a delta), the end, or the deadline. content: with
 * the documents' content (they are applied), else only their ids and filepaths are recorded
 * (p->record). *first: what the first answer said. The outcome; k->err says why. */
static int list_pages(struct pull *p, struct smh_call *k, const struct smh_pull_opts *o,
                      int content, int lim, int slots, uint64_t deadline,
                      struct smh_list_info *first)
{
    struct smh_pager g = {.fp = o->filepath,
                          .content = content,
                          .lim = lim,
                          .watermark = p->full ? 0 : p->watermark,
                          .deadline = deadline,
                          .retry_ms = o->retry_ms,
                          .bound_s =
                              (o->retry_ms > 0 ? o->retry_ms : PULL_BOUND_MS) / SMH_MS_PER_S};
    struct apply_ctx a = {p, o};
    p->lim = lim;
    p->promised = -1;
    p->counts_moved = 0;
    return smh_pages_run(k, &g, slots, smh_pull_apply_page, &a, first);
}

/* The head of the listing (one page, no content): how many documents are newer than the
 * watermark, and the container's count. */
struct head {
    uint64_t watermark, newest;
    struct smh_keyset *ids; /* documents this pull listed already (id -> newest updatedAt) */
    int newer, done;
};

static int head_doc(void *arg, const struct smh_doc *d)
{
    struct head *h = arg;
    if (d->updated_ms > 0 && (uint64_t)d->updated_ms > h->newest)
        h->newest = (uint64_t)d->updated_ms;
    struct smh_kv *known = smh_ks_get(h->ids, d->id);
    if (h->done || (d->updated_ms > 0 && (uint64_t)d->updated_ms <= h->watermark))
        h->done = 1; /* sorted newest first: the rest is already here */
    else if (!known || (d->updated_ms > 0 && (uint64_t)d->updated_ms > known->b))
        h->newer++; /* (one this pull listed in this version already is not) */
    return 0;
}

/* Documents the container holds that no entry stands for (duplicates, unsafe filepaths, ...),
 * as the last full listing counted them; -1 when never counted. */
static long long offset_get(struct smc *c)
{
    int64_t v;
    return smc_kv_get_i64(c, SMC_KV_PULL_OFFSET, NULL, &v) == 0 ? (long long)v : -1;
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
    struct gone_ctx g = {p, {0}};
    smc_entry_each(o->cache, find_gone, &g);
    for (size_t i = 0; i < g.l.n; i++) {
        struct smh_doc d;
        if (smh_mono_ms() < deadline && smh_api_get(k, g.l.ids[i], &d) == SMH_GONE &&
            smc_remove_remote(o->cache, o->tree, g.l.keys[i], g.l.ids[i]) == 1)
            removed++;
    }
    smh_pairs_free(&g.l);
    return removed;
}

/* After a full listing: what the count check of the next delta pull expects beside the entries. */
static void offset_put(struct pull *p)
{
    long long remote = remote_entries(p->c);
    if (remote < 0)
        return;
    smc_kv_set_i64(p->c, SMC_KV_PULL_OFFSET, NULL, (long long)p->ids.n - remote);
    smc_kv_set_u64(p->c, SMC_KV_PULL_FULL_LAST, NULL, smc_now_ms());
}

/* A delta pull from p->watermark: one page without content says what is newer and how many
 * documents the container holds (*head; *newest: the newest updatedAt it lists); only what is
 * newer is then listed, with its content (nothing newer: this one request). */
static int delta(struct pull *p, struct smh_call *k, const struct smh_pull_opts *o,
                 uint64_t deadline, struct smh_list_info *head, uint64_t *newest)
{
    struct head h = {.watermark = p->watermark, .ids = &p->ids};
    int outcome;
    for (;;) {
        outcome = smh_api_list(k, NULL, 0, 1, PAGE, head_doc, &h, head);
        if (outcome != SMH_RETRY || o->retry_ms <= 0 || k->too_large || k->stalled)
            break;
        long wait = k->retry_after >= 0 && k->retry_after * (long)SMH_MS_PER_S > HEAD_RETRY_MS
                        ? k->retry_after * (long)SMH_MS_PER_S
                        : HEAD_RETRY_MS;
        if (smh_mono_ms() + (uint64_t)wait >= deadline)
            break;
        struct timespec ts = {wait / (long)SMH_MS_PER_S,
                              (wait % (long)SMH_MS_PER_S) * (long)SMH_NS_PER_MS};
        nanosleep(&ts, NULL);
    }
    *newest = h.newest;
    if (outcome == SMH_OK && h.newer > 0) {
        struct smh_list_info dl;
        /* a page that holds them and the first older one, where the delta stops */
        int lim = h.newer < 10 ? 10 : PAGE;
        outcome = list_pages(p, k, o, 1, lim, 1, deadline, &dl);
    }
    return outcome;
}

/* After a listing without content (q): fetch alone, and apply through p, each document it listed
 * that no file stands for. A fetch that fails leaves the document for the next listing; one
 * answered with another document (another id, or another filepath than the listing gave) is
 * refused, logged and counted with the unsafe ones. */
static void fetch_missing(struct pull *p, struct pull *q, struct smh_call *k, uint64_t deadline)
{
    int full = p->full;
    p->full = 1; /* applied whatever the watermark */
    for (size_t i = 0; i < q->missing_at.n && smh_mono_ms() < deadline; i++) {
        const char *id = q->missing_at.ids[i], *fp = q->missing_at.keys[i];
        struct smh_doc d;
        if (smh_ks_get(&p->ids, id))
            continue;
        int o = smh_api_fetch(k, id, fp, &d);
        if (o == SMH_OK) {
            smh_pull_on_doc(p, &d);
        } else if (k->other_doc) {
            char msg[300];
            snprintf(msg, sizeof msg, "skipped document %s: %s", id, k->err);
            smh_pull_skip(p, id, msg);
        }
        smh_doc_free(&d);
    }
    p->full = full;
}

/* One document skipped before (kv SMC_KV_PULL_SKIPPED), into p->skipped. */
static int skipped_load(void *arg, const char *name, const char *why)
{
    struct pull *p = arg;
    struct smh_kv *kv = smh_ks_put(&p->skipped, name + strlen(SMC_KV_PULL_SKIPPED));
    if (kv) {
        kv->a = smc_hash64(why, strlen(why));
        kv->b = SMH_SKIP_KEPT;
    }
    return 0;
}

static void pull_free(struct pull *p)
{
    smh_ks_free(&p->seen);
    smh_ks_free(&p->ids);
    smh_ks_free(&p->skipped);
    smh_pairs_free(&p->skips);
    smh_ks_free(&p->missing);
    smh_pairs_free(&p->missing_at);
    for (size_t i = 0; i < p->nplaced; i++)
        free(p->placed[i]);
    free(p->placed);
    p->placed = NULL;
    p->nplaced = p->capplaced = 0;
}

/* The first pull: every document with its content, several pages at once, then what changed
 * while it was paged, and the ids again while positions may have been skipped (the top of this
 * file). *listing: the pull whose listing was whole last (p, or ids): deletions are looked for
 * against it. */
static int first_pull(struct pull *p, struct pull *ids, struct smh_call *k,
                      const struct smh_pull_opts *o, int slots, uint64_t deadline,
                      struct pull **listing)
{
    struct smh_list_info li, head;
    p->full = 1;
    *listing = p;
    int outcome = list_pages(p, k, o, 1, PAGE, slots, deadline, &li);
    /* since: the newest updatedAt of the first page of the listing of a round; a document newer
     * than that changed while it was listed. from: where the round's delta starts (what shares
     * that millisecond is listed again: it may have come after the page). A listing without
     * usable updatedAt has no delta (every pull of it is a first pull). */
    uint64_t since = p->first_newest;
    uint64_t from = since;
    long long count = p->first_total;
    int moved = p->counts_moved;
    for (int round = 0; outcome == SMH_OK && from; round++) {
        uint64_t newest = 0;
        p->full = 0;
        p->watermark = from ? from - 1 : 0;
        p->stop = 0;
        p->track = 1;
        p->since = since;
        p->changed = 0;
        outcome = delta(p, k, o, deadline, &head, &newest);
        p->track = 0;
        p->full = 1;
        if (outcome != SMH_OK || (!p->changed && !moved && head.total_items == count))
            break; /* nothing changed while it was listed: the listing was whole */
        if (round == DRIFT_ROUNDS || smh_mono_ms() >= deadline) {
            if (p->log)
                p->log("the container kept changing while it was listed: a document it skipped "
                       "comes with the next listing of the ids");
            break;
        }
        /* documents came, went or moved to the head while it was paged: the ids again */
        pull_free(ids);
        ids->dups = ids->bad = 0;
        outcome = list_pages(ids, k, o, 0, PAGE, slots, deadline, &li);
        if (outcome != SMH_OK)
            break;
        *listing = ids;
        fetch_missing(p, ids, k, deadline);
        from = newest > from ? newest : from; /* the delta covered what was older */
        since = ids->first_newest;
        count = ids->first_total;
        moved = ids->counts_moved;
    }
    return outcome;
}

/* The pages a listing of the pull may fetch at once: its own slot, and up to smh_pull_slots()
 * - 1 more of the cache's request budget, taken only when free now (never waited for while the
 * pull holds one). extra[] gets them; budget_give_all gives them back. */
static int budget_pages(struct smh_engine *e, struct smc *c, int extra[SMH_PULL_INFLIGHT])
{
    int n = 1, want = smh_pull_slots(e);
    while (n < want && n < SMH_PULL_INFLIGHT &&
           (extra[n - 1] = smh_budget_take(c, SMH_BUDGET_PULL, 0)) >= 0)
        n++;
    return n;
}

static void budget_give_all(struct smc *c, const int extra[SMH_PULL_INFLIGHT], int n)
{
    for (int i = 0; i + 1 < n; i++)
        smh_budget_give(c, extra[i]);
}

/* The listing of a pull, by kind: a miss (one filepath or directory, with content), the first
 * pull (every document, with content), or a delta pull (what changed since the watermark) with
 * its count check. The outcome; *listing: a whole listing of the container when this pull made
 * one (deletions are looked for against it), else NULL. */
static int pull_list(struct smh_engine *e, struct pull *p, struct pull *ids, struct smh_call *k,
                     const struct smh_pull_opts *o, uint64_t deadline, struct pull **listing)
{
    struct smh_list_info li;
    *listing = NULL;
    if (o->filepath) {
        p->full = 0;
        return list_pages(p, k, o, 1, PAGE, 1, deadline, &li);
    }
    if (!p->watermark) {
        int extra[SMH_PULL_INFLIGHT], n = budget_pages(e, o->cache, extra);
        int outcome = first_pull(p, ids, k, o, n, deadline, listing);
        budget_give_all(o->cache, extra, n);
        return outcome;
    }
    /* a delta pull: only what changed (nothing changed: one request) */
    uint64_t newest;
    p->full = 0;
    int outcome = delta(p, k, o, deadline, &li, &newest);
    long long total = li.total_items;
    /* the count check: fewer documents than the entries stand for means a remote deletion (the
     * next full listing finds it otherwise, and `smshim sync --full` at once) */
    long long off = offset_get(o->cache), remote = remote_entries(o->cache);
    int idlist = o->full || (outcome == SMH_OK && total >= 0 && remote >= 0 &&
                             (off < 0 || total < remote + off));
    if (outcome == SMH_OK && idlist) {
        int extra[SMH_PULL_INFLIGHT], n = budget_pages(e, o->cache, extra);
        outcome = list_pages(ids, k, o, 0, PAGE, n, deadline, &li);
        budget_give_all(o->cache, extra, n);
        if (outcome == SMH_OK) {
            fetch_missing(p, ids, k, deadline);
            *listing = ids;
        }
    }
    return outcome;
}

/* A listing succeeded (not a miss): remove what a whole listing lacks and the server says is
 * gone, and record what the next pull starts from (the offset, the duplicates, the watermark,
 * when this pull ended). */
static void pull_record(struct pull *p, struct pull *listing, struct smh_call *k,
                        const struct smh_pull_opts *o, uint64_t deadline,
                        struct smh_pull_result *res)
{
    if (listing) {
        /* a document skipped before that a whole listing lacks is gone: skipped no more */
        for (size_t i = 0; i < p->skipped.cap; i++) {
            struct smh_kv *kv = &p->skipped.v[i];
            if (kv->key && kv->b == SMH_SKIP_KEPT &&
                (!smh_ks_get(&listing->ids, kv->key) ||
                 (listing != p && !smh_ks_get(&listing->skipped, kv->key))))
                kv->b = SMH_SKIP_GONE; /* (a listing of the ids that lists it where it is) */
        }
        res->removed = remove_gone(listing, k, o, deadline);
        offset_put(listing);
        smc_kv_set_u64(o->cache, SMC_KV_PULL_DUPLICATES, NULL, (uint64_t)listing->dups);
    }
    if (p->newest > p->watermark)
        smc_kv_set_u64(o->cache, SMC_KV_PULL_WATERMARK, NULL, p->newest);
    smc_kv_set_u64(o->cache, SMC_KV_PULL_LAST, NULL, smc_now_ms());
}

/* What any pull, failed or not, reports: the documents it skipped (logged, and counted in the
 * cache for `smshim status`) and its counts in res. */
static void pull_report(const struct pull *p, const struct smh_call *k,
                        const struct smh_pull_opts *o, struct smh_pull_result *res)
{
    if (k->malformed && o->log) {
        char msg[120];
        snprintf(msg, sizeof msg, "skipped %ld listed documents with malformed fields",
                 k->malformed);
        o->log(msg);
    }
    /* the documents skipped now: those this pull took or found gone leave the list, those it
     * skipped anew (or for another reason) join it */
    for (size_t i = 0; i < p->skipped.cap; i++)
        if (p->skipped.v[i].key && p->skipped.v[i].b == SMH_SKIP_GONE)
            smc_kv_unset(o->cache, SMC_KV_PULL_SKIPPED, p->skipped.v[i].key);
    for (size_t i = 0; i < p->skips.n; i++)
        smc_kv_set_str(o->cache, SMC_KV_PULL_SKIPPED, p->skips.ids[i], p->skips.keys[i]);
    if (p->oversized)
        smc_kv_set_u64(o->cache, SMC_KV_PULL_OVERSIZED, NULL, (uint64_t)p->oversized);
    res->applied = p->applied;
    res->kept = p->kept;
    res->duplicates = p->dups;
    res->unsafe = p->bad;
}

/* One pull. What it guarantees:
 * - it ends by its deadline (o->retry_ms, else PULL_BOUND_MS), retries and waits included, and
 *   its requests hold slots of the cache's request budget (budget.h): one taken before the first
 *   request (none free before the deadline: the pull fails without asking), more only when free
 *   at once, each given back before it returns;
 * - every document goes through smc_apply_remote (or the binary path, smh_bin_on_doc), so a
 *   pending local change is never overwritten;
 * - a file is removed only after a whole listing of the container lacked it and a GET of its
 *   document answered 404 (remove_gone);
 * - what the next pull starts from (watermark, offset, duplicates, pull.last) is recorded only
 *   when the listing succeeded, and not by a miss; the watermark only moves forward;
 * - on failure res->error says why, res->unreachable when no answer came at all, res->auth when
 *   the key was refused. */
long smh_pull(struct smh_engine *e, const struct smh_pull_opts *o, struct smh_pull_result *res)
{
    struct smh_conn *conn = smh_conn_new(o->base_url, o->key, o->timeout_ms);
    struct smh_call k = {.conn = conn, .tag = o->tag, .retry_after = -1};
    struct pull p = {.c = o->cache, .tree = o->tree, .tmp = o->tmp, .full = o->full, .log = o->log};
    struct pull ids = {.c = o->cache, .tree = o->tree, .tmp = o->tmp, .full = 1, .record = 1};
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
    smc_kv_get_u64(o->cache, SMC_KV_PULL_WATERMARK, NULL, &p.watermark); /* 0: none */
    smc_kv_each(o->cache, SMC_KV_PULL_SKIPPED, skipped_load, &p);
    if (p.watermark > smc_now_ms() + SMH_TIME_AHEAD_MS)
        p.watermark = 0; /* a time to come, kept before such times were refused: list it all */
    uint64_t deadline = smh_mono_ms() + (uint64_t)(o->retry_ms > 0 ? o->retry_ms : PULL_BOUND_MS);
    smh_conn_deadline(conn, deadline);
    /* this slot for the requests of the calling thread; pull_list takes one for each extra page
     * fetched at once */
    int slot = smh_budget_take(o->cache, o->filepath ? SMH_BUDGET_HYDRATE : SMH_BUDGET_PULL,
                               (long)(deadline - smh_mono_ms()));
    if (slot < 0) {
        snprintf(res->error, sizeof res->error, "%s",
                 slot == -ENOSPC ? "the cache's LMDB map is full: no request slot can be taken"
                                 : "no request slot came free before the deadline");
        smh_conn_free(conn);
        return -EIO;
    }
    struct pull *listing;
    uint64_t started_ms = smc_now_ms();
    int outcome = pull_list(e, &p, &ids, &k, o, deadline, &listing);
    if (outcome == SMH_OK) /* the bytes of the binary documents it listed */
        p.applied += smh_bin_fetch(o->cache, o->tree, o->tmp, &k, deadline, o->log);
    long rc = 0;
    if (outcome != SMH_OK) {
        snprintf(res->error, sizeof res->error, "%s", k.err[0] ? k.err : "list failed");
        /* (a request the ending process did not send says nothing of the server) */
        res->unreachable = k.status == 0 && !k.too_large && !smh_http_closed();
        res->auth = outcome == SMH_AUTH;
        rc = -EIO;
    } else if (!o->filepath) {
        pull_record(&p, listing, &k, o, deadline, res);
        smh_stray_prune(o->cache, started_ms); /* it listed all that came before it started */
    }
    pull_report(&p, &k, o, res);
    pull_free(&p);
    pull_free(&ids);
    smh_conn_free(conn);
    smh_budget_give(o->cache, slot);
    return rc;
}
