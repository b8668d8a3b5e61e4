/* budget.h: the cache's request budget: every request to the remote, from every process of a
 * cache, holds one of its slots while it is in flight (see budget.c). */
#ifndef SMH_BUDGET_H
#define SMH_BUDGET_H

struct smc;

#define SMH_BUDGET_SLOTS 8 /* requests in flight for one cache, across every process on it */
#define SMH_BUDGET_READS 4 /* of which pull pages and hydration may hold at most this many */

/** What a request is for. Uploads may hold any slot; pulls and hydration (the reads) only the
 *  first SMH_BUDGET_READS. */
enum smh_budget_kind {
    SMH_BUDGET_UPLOAD,  /* a create, update or delete (and the GET before an update) */
    SMH_BUDGET_PULL,    /* a page of a pull, or the GETs of its deletion check */
    SMH_BUDGET_HYDRATE, /* a miss asked for by filepath */
};

/** Take a slot for one request of kind k, waiting for one up to wait_ms (0: try once). The slot
 *  number (give it back with smh_budget_give once the request is answered or given up), or -1
 *  when none was free in time. Never call it while holding a slot to wait for another: holding
 *  one, ask with wait_ms 0 (a pull fetching extra pages at once does so for each extra page). */
int smh_budget_take(struct smc *c, enum smh_budget_kind k, long wait_ms);
/** A request of this process with this timeout starts now (http.c, before it is sent): every
 *  slot the process holds stays taken until the request's deadline at least, whatever becomes of
 *  the process (written to the slots' leases when the deadline recorded is earlier). */
void smh_budget_sending(long timeout_ms);
/** Where a taker that waits on slots a dead process's requests hold says so (NULL: nowhere). */
extern void (*smh_budget_log)(const char *msg);
/** Give a slot back (-1 is ignored). */
void smh_budget_give(struct smc *c, int slot);
/** Give back every slot this process holds, whichever thread took it: only once no request of
 *  the process is in flight and none can start (its end, smh_http_close), so none of them is
 *  carrying one; a thread that gives one back later finds it given already. */
void smh_budget_release_all(void);
/** How many slots a request of kind k could take now (the dispatcher's capacity). */
int smh_budget_free(struct smc *c, enum smh_budget_kind k);
/** Slots this process holds for uploads now. */
int smh_budget_held_uploads(void);

#endif
