/* pull_pages.c: the pages of one listing, several at once (see pull_pages.h).
 *
 * The caller's thread asks pages 0 and 1 itself: the first answer says how many pages there
 * are, the second that the listing moves on (one that repeats itself costs no page fetched
 * ahead). Then up to nfetch fetcher threads, each with a connection of its own (libcurl handles
 * are never shared), take the next page number, fetch it whole (splitting a page too large for
 * an answer) and leave it in its window slot; the caller's thread applies the pages in page
 * order as they arrive, so the order of the listing (the newest document of a filepath first)
 * is kept. A page is handed out
 * only while it is fewer than SMH_PULL_WINDOW pages ahead of the next one to apply: memory holds
 * at most that many pages, never the container.
 *
 * Bounds: every request ends by the deadline (each connection's timeout is cut to what is left);
 * no page past the smallest promise an answer made (totalPages) or past an empty page is handed
 * out; a page that fails, or apply saying done or failed, stops the handing out, and the pages
 * fetched past that point are dropped unapplied. The caller's thread joins every fetcher before
 * it returns (each ends with its request, by the deadline).
 *
 * Lock: lst.mu guards the window, next, limit, applied and quit; it is never held during a
 * request or an apply. */
#include "pull_pages.h"

#include "clock.h"
#include "http.h"
#include "sm_real.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 500  /* a failed request is asked again after this, doubling ... */
#define BACKOFF_MAX_MS 8000 /* ... up to this (a longer Retry-After is honoured) */

int smh_pull_slots(struct smh_engine *e)
{
    (void)e; /* one place where a cache-wide request budget can cut this */
    return SMH_PULL_INFLIGHT;
}

void smh_page_free(struct smh_page *pg)
{
    for (size_t i = 0; i < pg->n; i++)
        smh_doc_free(&pg->v[i].d);
    free(pg->v);
    pg->v = NULL;
    pg->n = pg->cap = 0;
}

static struct smh_item *item_add(struct smh_page *pg)
{
    if (pg->n == pg->cap) {
        size_t cap = pg->cap ? pg->cap * 2 : 16;
        struct smh_item *v = realloc(pg->v, cap * sizeof *v);
        if (!v)
            return NULL;
        pg->v = v;
        pg->cap = cap;
    }
    struct smh_item *it = &pg->v[pg->n++];
    memset(it, 0, sizeof *it);
    return it;
}

struct collect {
    struct smh_page *pg;
    uint64_t watermark;
};

/* A listed document, copied into the page (its content too). */
static int collect_doc(void *arg, const struct smh_doc *d)
{
    struct collect *c = arg;
    struct smh_item *it = item_add(c->pg);
    if (!it)
        return 1;
    it->d = *d;
    it->d.meta = NULL;
    it->d.content = NULL;
    if (d->content) {
        it->d.content = malloc(d->content_len + 1);
        if (!it->d.content) {
            c->pg->n--;
            return 1;
        }
        memcpy(it->d.content, d->content, d->content_len + 1);
    }
    if (c->watermark && d->updated_ms > 0 && (uint64_t)d->updated_ms <= c->watermark)
        c->pg->stopped = 1; /* sorted newest first: what follows is already here */
    return 0;
}

/* Drop the items of a request that did not succeed (the same documents come again). */
static void page_truncate(struct smh_page *pg, size_t n)
{
    while (pg->n > n)
        smh_doc_free(&pg->v[--pg->n].d);
}

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
        o->d.meta = NULL;
        o->got = 1;
    }
    return 0;
}

/* The one document at position `page` (limit 1) was too large for a listing: list it without
 * content, then fetch it alone; one larger than a document may be is an oversized item. */
static int one_by_one(struct smh_call *k, const struct smh_pager *g, int page, struct smh_page *pg,
                      struct smh_list_info *li)
{
    struct one one;
    memset(&one, 0, sizeof one);
    long before = k->malformed;
    int o = smh_api_list(k, g->fp, 0, page, 1, keep_one, &one, li);
    if (o != SMH_OK) {
        if (k->too_large)
            snprintf(k->err, sizeof k->err,
                     "list: one document without its content is larger than the %u MB a page "
                     "may hold",
                     SMH_ANSWER_LIST >> 20);
        return o;
    }
    if (!one.got) {
        pg->vanished += k->malformed - before;
        return SMH_OK;
    }
    const struct smh_doc *m = &one.d;
    if (g->watermark && m->updated_ms > 0 && (uint64_t)m->updated_ms <= g->watermark) {
        struct smh_item *it = item_add(pg); /* where a delta stops: no need of its content */
        if (!it)
            return SMH_RETRY;
        it->d = *m;
        pg->stopped = 1;
        return SMH_OK;
    }
    struct smh_doc d;
    o = smh_api_fetch(k, m->id, m->filepath, &d);
    if (o == SMH_RETRY && k->other_doc) {
        /* answered with another document: nothing of it is written, and its file is not taken
         * for a remote deletion */
        struct smh_item *it = item_add(pg);
        if (!it)
            return SMH_RETRY;
        it->kind = SMH_ITEM_REFUSED;
        it->d = *m;
        return SMH_OK;
    }
    if (o == SMH_OK) {
        struct smh_item *it = item_add(pg);
        if (!it) {
            smh_doc_free(&d);
            return SMH_RETRY;
        }
        it->d = d; /* the page owns its content now */
        free(it->d.meta);
        it->d.meta = NULL;
        return SMH_OK;
    }
    if (o == SMH_GONE) {
        o = SMH_OK; /* deleted since it was listed */
        pg->vanished++;
    } else if (k->too_large) {
        /* larger than any document may be (the service: 50 MB): never written */
        struct smh_item *it = item_add(pg);
        if (!it) {
            smh_doc_free(&d);
            return SMH_RETRY;
        }
        it->kind = SMH_ITEM_OVERSIZED;
        it->d = *m;
        o = SMH_OK;
    }
    smh_doc_free(&d);
    return o;
}

/* Page t, whole: its positions in answers of g->lim documents, or smaller ones past a page too
 * large for an answer; failed requests asked again while g->retry_ms allows. */
static void page_fetch(struct smh_call *k, const struct smh_pager *g, long t, struct smh_page *pg)
{
    memset(pg, 0, sizeof *pg);
    pg->t = t;
    pg->promised = -1;
    pg->first.total_items = -1;
    long long off = (long long)t * g->lim, end = off + g->lim;
    int lim = g->lim, answered = 0;
    long delay = BACKOFF_MIN_MS;
    struct collect col = {pg, g->watermark};
    while (off < end && !(pg->promised >= 0 && off >= pg->promised)) {
        if (smh_mono_ms() >= g->deadline) {
            pg->outcome = SMH_RETRY;
            snprintf(k->err, sizeof k->err, "the pull reached its deadline (%ld s) at page %ld",
                     g->bound_s, t + 1);
            break;
        }
        struct smh_list_info li;
        long long pno = off / lim + 1; /* off is a multiple of lim */
        if (pno > INT_MAX) {
            pg->outcome = SMH_REJECT;
            snprintf(k->err, sizeof k->err, "list: page %lld is past what can be asked", pno);
            break;
        }
        size_t n0 = pg->n;
        long malformed = k->malformed;
        int o = smh_api_list(k, g->fp, g->content, (int)pno, lim, collect_doc, &col, &li);
        if (o == SMH_RETRY && k->too_large) {
            page_truncate(pg, n0);
            if (lim > 1) {
                lim /= 10; /* the same documents again, in smaller pages */
                continue;
            }
            o = one_by_one(k, g, (int)pno, pg, &li);
        }
        if (o != SMH_OK) {
            page_truncate(pg, n0);
            k->malformed = malformed;
            if (o == SMH_RETRY && g->retry_ms > 0 && !k->too_large && !k->stalled) {
                /* 429, 5xx, a dropped connection, a malformed page: the same page again, later
                 * (a wait that would end past the deadline is not begun: the error stands). A
                 * request that moved nothing for the stall time is not asked again: the pull
                 * waits only while something moves. */
                long wait = k->retry_after >= 0 && k->retry_after * (long)SMH_MS_PER_S > delay
                                ? k->retry_after * (long)SMH_MS_PER_S
                                : delay;
                if (smh_mono_ms() + (uint64_t)wait < g->deadline) {
                    struct timespec ts = {wait / (long)SMH_MS_PER_S,
                                          (wait % (long)SMH_MS_PER_S) * (long)SMH_NS_PER_MS};
                    nanosleep(&ts, NULL);
                    delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
                    continue;
                }
            }
            pg->outcome = o;
            break;
        }
        delay = BACKOFF_MIN_MS;
        pg->malformed += k->malformed - malformed;
        if (!answered++)
            pg->first = li;
        /* the first answer's promise bounds the listing; a later answer may only shrink it */
        long long says = li.total_pages * lim;
        if (pg->promised < 0 || says < pg->promised)
            pg->promised = says;
        off += lim;
        if (li.items == 0) {
            pg->ended = 1; /* an empty page: the listing ended, whatever it promised */
            break;
        }
        if (pg->stopped)
            break;
        while (lim < g->lim && off % (lim * 10) == 0)
            lim *= 10; /* past the large documents: back to full pages */
    }
    if (pg->outcome != SMH_OK) {
        snprintf(pg->err, sizeof pg->err, "%s", k->err);
        pg->status = k->status;
        pg->too_large = k->too_large;
    }
}

/* ---- several pages at once ------------------------------------------------------------------- */

struct slot {
    long t;    /* the page it holds or fetches; -1: free */
    int ready; /* fetched: pg holds it */
    struct smh_page pg;
};

struct lst {
    const struct smh_pager *g;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct slot win[SMH_PULL_WINDOW]; /* page t in win[t % SMH_PULL_WINDOW] */
    long next;                        /* the next page to hand out */
    long limit;   /* pages below it may be handed out (LONG_MAX: not known yet) */
    long applied; /* pages before it are applied (or dropped) */
    int quit;     /* hand out nothing more */
};

struct fetcher {
    struct lst *l;
    struct smh_call k;
    pthread_t th;
};

/* After page t: what it says of the pages that may follow (under l->mu). */
static void limit_after(struct lst *l, const struct smh_page *pg)
{
    long lim = l->limit;
    if (pg->outcome != SMH_OK || pg->ended || pg->stopped)
        lim = pg->t + 1;
    else if (pg->promised >= 0) {
        long long pages = (pg->promised + l->g->lim - 1) / l->g->lim;
        if (pages < lim)
            lim = (long)pages;
    }
    if (lim < l->limit)
        l->limit = lim;
}

static void *fetcher_main(void *arg)
{
    struct fetcher *f = arg;
    struct lst *l = f->l;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->quit && l->next < l->limit && l->next >= l->applied + SMH_PULL_WINDOW)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->quit || l->next >= l->limit)
            break;
        long t = l->next++;
        struct slot *s = &l->win[t % SMH_PULL_WINDOW];
        s->t = t;
        s->ready = 0;
        pthread_mutex_unlock(&l->mu);
        struct smh_page pg;
        f->k.malformed = 0;
        page_fetch(&f->k, l->g, t, &pg);
        pthread_mutex_lock(&l->mu);
        s->pg = pg;
        s->ready = 1;
        limit_after(l, &pg);
        pthread_cond_broadcast(&l->cv);
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Apply pg and say what follows: 0 go on, else the listing ends (*outcome set). */
static int apply_one(struct smh_call *k, smh_page_apply apply, void *arg, struct smh_page *pg,
                     int *outcome)
{
    char err[sizeof k->err] = "";
    k->malformed += pg->malformed;
    int a = apply(arg, pg, err, sizeof err);
    if (a < 0) {
        *outcome = SMH_RETRY;
        snprintf(k->err, sizeof k->err, "%s", err);
        return 1;
    }
    if (pg->outcome != SMH_OK) {
        *outcome = pg->outcome;
        snprintf(k->err, sizeof k->err, "%s", pg->err);
        k->status = pg->status;
        k->too_large = pg->too_large;
        return 1;
    }
    return a > 0 || pg->ended || pg->stopped;
}

/* Page t on the caller's connection, with its malformed documents counted in the page only (the
 * caller's count is kept as it was: apply_one adds the page's). */
static void page_fetch_here(struct smh_call *k, const struct smh_pager *g, long t,
                            struct smh_page *pg)
{
    long malformed = k->malformed;
    k->malformed = 0;
    page_fetch(k, g, t, pg);
    k->malformed = malformed;
}

/* Start up to nfetch fetchers, each on a connection like k's; how many started (0: none, the
 * caller fetches alone). */
static int fetchers_start(struct smh_call *k, struct lst *l, struct fetcher *fs, int nfetch)
{
    int nth = 0;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    for (int i = 0; i < SMH_PULL_WINDOW; i++)
        l->win[i].t = -1;
    for (int i = 0; i < nfetch; i++) {
        struct fetcher *f = &fs[nth];
        f->l = l;
        f->k = (struct smh_call){.conn = smh_conn_like(k->conn), .tag = k->tag, .retry_after = -1};
        if (!f->k.conn)
            break;
        if (sm_thread_start(&f->th, NULL, fetcher_main, f) != 0) {
            smh_conn_free(f->k.conn);
            break;
        }
        nth++;
    }
    return nth;
}

/* The pages from l->next, one after the other on the caller's connection. */
static void run_alone(struct smh_call *k, struct lst *l, smh_page_apply apply, void *arg,
                      int *outcome)
{
    struct smh_page pg;
    while (l->next < l->limit) {
        page_fetch_here(k, l->g, l->next, &pg);
        limit_after(l, &pg);
        l->next++;
        int done = apply_one(k, apply, arg, &pg, outcome);
        smh_page_free(&pg);
        if (done)
            break;
    }
}

/* The pages from from, fetched by the nth fetchers of fs into the window and applied here in page
 * order; then the fetchers are joined and the pages fetched past the end dropped unapplied. */
static void run_window(struct smh_call *k, struct lst *l, struct fetcher *fs, int nth, long from,
                       smh_page_apply apply, void *arg, int *outcome)
{
    struct smh_page pg;
    pthread_mutex_lock(&l->mu);
    for (long t = from; t < l->limit; t++) {
        struct slot *s = &l->win[t % SMH_PULL_WINDOW];
        while (!(s->t == t && s->ready) && t < l->limit)
            pthread_cond_wait(&l->cv, &l->mu);
        if (t >= l->limit)
            break;
        pg = s->pg;
        s->t = -1;
        s->ready = 0;
        pthread_mutex_unlock(&l->mu);
        int done = apply_one(k, apply, arg, &pg, outcome);
        smh_page_free(&pg);
        pthread_mutex_lock(&l->mu);
        l->applied = t + 1;
        if (done)
            l->quit = 1;
        pthread_cond_broadcast(&l->cv);
        if (done)
            break;
    }
    l->quit = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < nth; i++) {
        pthread_join(fs[i].th, NULL);
        smh_conn_free(fs[i].k.conn);
    }
    /* pages fetched past the end: dropped unapplied */
    for (int i = 0; i < SMH_PULL_WINDOW; i++)
        if (l->win[i].t >= 0 && l->win[i].ready)
            smh_page_free(&l->win[i].pg);
}

int smh_pages_run(struct smh_call *k, const struct smh_pager *g, int nfetch, smh_page_apply apply,
                  void *arg, struct smh_list_info *first)
{
    struct lst l;
    memset(&l, 0, sizeof l);
    l.g = g;
    l.limit = LONG_MAX;
    int outcome = SMH_OK;
    struct smh_page pg;
    page_fetch_here(k, g, 0, &pg);
    *first = pg.first;
    limit_after(&l, &pg);
    int done = apply_one(k, apply, arg, &pg, &outcome);
    smh_page_free(&pg);
    l.applied = l.next = 1;
    /* the second page alone too: a listing that repeats itself, or ends there, costs no page
     * fetched ahead */
    if (!done && l.limit > 1) {
        page_fetch_here(k, g, 1, &pg);
        limit_after(&l, &pg);
        done = apply_one(k, apply, arg, &pg, &outcome);
        smh_page_free(&pg);
        l.applied = l.next = 2;
    }
    if (done || l.limit <= l.next)
        return outcome;

    long from = l.next; /* (fetchers move l.next as soon as they start) */
    struct fetcher *fs = nfetch > 1 ? calloc((size_t)nfetch, sizeof *fs) : NULL;
    int nth = fs ? fetchers_start(k, &l, fs, nfetch) : 0;
    if (nth == 0)
        run_alone(k, &l, apply, arg, &outcome);
    else
        run_window(k, &l, fs, nth, from, apply, arg, &outcome);
    if (fs) {
        pthread_cond_destroy(&l.cv);
        pthread_mutex_destroy(&l.mu);
    }
    free(fs);
    return outcome;
}
