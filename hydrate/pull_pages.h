/* pull_pages.h: the pages of one listing, fetched by up to smh_pull_slots() threads at once and
 * handed to the caller one page at a time, in page order (pull_pages.c). Private to hydrate/. */
#ifndef SMH_PULL_PAGES_H
#define SMH_PULL_PAGES_H

#include "api.h"

#include <stddef.h>
#include <stdint.h>

struct smh_engine;

/* The most list requests one pull has in flight. Pulls and hydration may use this many of the
 * cache's SMH_WORKERS requests; the rest is the uploads'. Read only through smh_pull_slots. */
#define SMH_PULL_INFLIGHT 4
/* Pages a listing holds at once: those in flight and those fetched ahead of the one applied
 * next (a page waits for the pages before it). Its memory is bounded by this many pages. */
#define SMH_PULL_WINDOW (SMH_PULL_INFLIGHT + 2)

/** How many list requests a pull of e (NULL: a pull outside an engine) may have in flight now. */
int smh_pull_slots(struct smh_engine *e);

/** What every page of one listing asks (read-only while the listing runs). */
struct smh_pager {
    const char *fp; /* filepath filter, or NULL */
    int content;    /* with the documents' content */
    int lim;        /* documents a page (1, 10 or 100): page t holds positions [t*lim, t*lim+lim) */
    uint64_t watermark; /* a page stops at its first document not newer than this (0: never) */
    uint64_t deadline;  /* smh_mono_ms clock: no request and no wait past it */
    long retry_ms;      /* > 0: a failed request is asked again, backing off, until the deadline */
    long bound_s;       /* the deadline as a length, for the message that says it was reached */
};

/** One item of a page: a listed document (content malloc'd when asked for), one too large for
 *  any answer (SMH_ITEM_OVERSIZED: only its id and filepath, never written), or one whose fetch
 *  alone was answered with another document (SMH_ITEM_REFUSED: its id and filepath as listed,
 *  never written). */
enum { SMH_ITEM_DOC = 0, SMH_ITEM_OVERSIZED, SMH_ITEM_REFUSED };
struct smh_item {
    int kind;
    struct smh_doc d;
};

/** Page t of a listing: its documents in listing order, and what its answers said. A page larger
 *  than an answer may be is asked as ten pages of a tenth of the limit, down to one document,
 *  which is then listed without content and fetched alone. */
struct smh_page {
    long t;
    int outcome; /* SMH_OK, or why the page could not be had (err, status, too_large) */
    char err[sizeof((struct smh_call *)0)->err];
    long status;
    int too_large;
    struct smh_item *v; /* malloc'd; each item's content too */
    size_t n, cap;
    struct smh_list_info first; /* the page's first answer */
    long long promised;         /* positions the page's answers promised (the smallest); -1 none */
    int ended;                  /* an empty answer: the listing ends in this page */
    int stopped;                /* it reached a document not newer than the watermark */
    long malformed;             /* documents skipped for fields of the wrong type */
    long vanished;              /* documents listed and then gone (404) before their fetch */
};
void smh_page_free(struct smh_page *pg);

/** Apply one page (in page order, on the calling thread of smh_pages_run): 0 go on, 1 the
 *  listing is done, -1 it failed (why in err). */
typedef int (*smh_page_apply)(void *arg, const struct smh_page *pg, char *err, size_t n);

/** The pages of a listing from the first, until the first answer's promise (totalPages, shrunk by
 *  later answers), an empty page, apply saying done or failed, a page that cannot be had, or the
 *  deadline. Pages 0 and 1 are asked one after the other on k's connection (the first answer
 *  says how many there are, the second that the listing moves on); the rest by up to nfetch
 *  threads, each with a connection like k's (nfetch <= 1: one after the other on k's). A page is fetched only while it
 *  is fewer than SMH_PULL_WINDOW pages ahead of the one applied next. SMH_OK, or the outcome of
 *  the failure (k->err, k->status, k->too_large say it). *first: the first answer of page 0;
 *  k->malformed counts the malformed documents of every page. */
int smh_pages_run(struct smh_call *k, const struct smh_pager *g, int nfetch, smh_page_apply apply,
                  void *arg, struct smh_list_info *first);

#endif
