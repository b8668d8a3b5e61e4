/* pull_int.h: what pull.c (the listings of a pull) and pull_doc.c (applying what they list)
 * share: a pull's state and the two callbacks a listing calls; not for other files. */
#ifndef SMH_PULL_INT_H
#define SMH_PULL_INT_H

#include "hydrate.h"

#include "api.h"
#include "keyset.h"
#include "pull_pages.h"

#include <stddef.h>
#include <stdint.h>

struct pull {
    struct smc *c;
    const char *tree, *tmp;
    int full;
    int record; /* a listing without content: only ids and filepaths are recorded */
    uint64_t watermark, newest;
    int stop;
    struct smh_keyset seen; /* filepath -> (1, updatedAt) of the newest document listed there */
    struct smh_keyset ids;  /* ids listed in this pull: a, 1 + the index in placed of the
                             * filepath it was taken at (0: none); b, its newest updatedAt */
    char **placed;
    size_t nplaced, capplaced;
    /* documents skipped as unsafe (kv SMC_KV_PULL_SKIPPED): id -> a, the hash of why; b, what
     * this pull did with it (SMH_SKIP_*). Read when the pull starts, written when it ends. */
    struct smh_keyset skipped;
    struct smh_pairs skips;    /* (why, id) of the skips this pull made anew or for a new reason */
    struct smh_keyset missing; /* a listing without content: ids no entry is bound to */
    struct smh_pairs missing_at; /* the same, each with the filepath the listing gave it */
    long fresh;                  /* documents of the current page not listed before in this pull */
    long applied, kept, dups, bad, failed, oversized;
    /* the listing in progress (apply_page): its page size, the smallest promise (positions), the
     * newest updatedAt of its first page, its first count and whether a later one differed */
    int lim;
    long long promised, first_total;
    uint64_t first_newest;
    int counts_moved;
    /* a delta after a listing: documents changed since since (their ids new, or newer) */
    int track;
    uint64_t since;
    long changed;
    void (*log)(const char *);
};

#define SMH_SKIP_KEPT 0 /* skipped before, not listed (yet) by this pull */
#define SMH_SKIP_GONE 1 /* skipped before, taken by this pull */
#define SMH_SKIP_NOW  2 /* skipped by this pull */
/* the longest filepath of a file a log line names */
#define SMH_OWNER_MAX 4200

struct apply_ctx {
    struct pull *p;
    const struct smh_pull_opts *o;
};

/** One listed document into the cache (arg: the struct pull): always 0, what happened is counted
 *  in the pull. */
int smh_pull_on_doc(void *arg, const struct smh_doc *d);
/** The document id is skipped as unsafe (why: the log line): counted; said (logged) and kept in
 *  the cache when it was not skipped before, or for another reason. */
void smh_pull_skip(struct pull *p, const char *id, const char *why);
/** One page of a listing, in page order (smh_pages_run; arg: a struct apply_ctx): 0 go on,
 *  1 done, -1 no progress. */
int smh_pull_apply_page(void *arg, const struct smh_page *pg, char *err, size_t n);

#endif
