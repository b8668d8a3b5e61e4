/* budget.c: one request budget per cache. At most SMH_BUDGET_SLOTS requests are in flight for a
 * cache, whatever their kind and however many processes share it; pull pages and hydration hold
 * at most SMH_BUDGET_READS of them.
 *
 * DESIGN
 * Each slot is a lease in the cache's LMDB, kv SMC_KV_BUDGET "<i>" (schema.h), taken
 * in one write transaction (smc_lease_take): two processes never hold the same slot. Reads take
 * only slots 0 .. SMH_BUDGET_READS-1, so the read limit holds without counting; uploads look from
 * the last slot down and reach the read slots only when theirs are taken. A slot is free when it
 * has no record, its time is up (SMH_BUDGET_TTL_MS, longer than any request may take), or its
 * process is dead (pid and start time in the process table): a process that quits or is killed
 * with requests in flight gives its capacity back as soon as those requests can no longer be
 * running, and one still exiting keeps it while its requests may be.
 *
 * A lease names a process, not a thread, so the threads of a process share one table of the
 * slots the process holds (bud.held, under bud.mu): a thread marks a slot there before taking
 * its lease and clears it only after dropping it, so no two threads of a process hold one slot.
 * bud.mu is never held across an LMDB transaction. After fork the child's table starts empty.
 */
#include "budget.h"

#include "../cache/cache.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SMH_BUDGET_TTL_MS  (10 * 60 * 1000) /* a slot a live process never gave back */
#define SMH_BUDGET_POLL_MS 20               /* a taker waiting for a slot looks again this often */
#define SLOT_NAME_MAX      32

static struct {
    pthread_mutex_t mu;
    pid_t pid;                            /* the process the table is about */
    unsigned char held[SMH_BUDGET_SLOTS]; /* this process holds the slot (kind + 1), or 0 */
    uint64_t start;                       /* this process's start time (the leases' identity) */
} bud = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The table, for this process (a fork child's starts empty). Under bud.mu. */
static void table_own(void)
{
    pid_t me = getpid();
    if (bud.pid != me) {
        for (int i = 0; i < SMH_BUDGET_SLOTS; i++)
            bud.held[i] = 0;
        bud.pid = me;
        bud.start = smc_self_start();
    }
}

/* Which slots a live process other than this one holds. */
struct look {
    uint64_t now;
    int busy[SMH_BUDGET_SLOTS]; /* a live process holds it */
};

static int look_one(void *arg, const char *sub, const struct smc_lease *h)
{
    struct look *l = arg;
    int i = atoi(sub);
    if (i < 0 || i >= SMH_BUDGET_SLOTS)
        return 0;
    /* this process's own slots count by its table (a record of its own it does not hold is
     * left from a drop that failed: free) */
    if (h->expires_ms > l->now && h->pid != (int)getpid() && smc_pid_alive(h->pid, h->start))
        l->busy[i] = 1;
    return 0;
}

static void look(struct smc *c, struct look *l)
{
    l->now = smc_now_ms();
    for (int i = 0; i < SMH_BUDGET_SLOTS; i++)
        l->busy[i] = 0;
    smc_lease_each(c, SMC_KV_BUDGET, look_one, l);
}

/* Slot k-th in the order a kind looks at them; -1 past its range. */
static int nth_slot(enum smh_budget_kind k, int n)
{
    if (k == SMH_BUDGET_UPLOAD)
        return n < SMH_BUDGET_SLOTS ? SMH_BUDGET_SLOTS - 1 - n : -1;
    return n < SMH_BUDGET_READS ? n : -1;
}

static int take_once(struct smc *c, enum smh_budget_kind k)
{
    struct look l;
    look(c, &l);
    for (int n = 0;; n++) {
        int i = nth_slot(k, n);
        if (i < 0)
            return -1;
        pthread_mutex_lock(&bud.mu);
        table_own();
        int mine = bud.held[i] != 0;
        if (!mine && !l.busy[i])
            bud.held[i] = (unsigned char)(k + 1); /* marked before its lease is taken */
        uint64_t start = bud.start;
        pthread_mutex_unlock(&bud.mu);
        if (mine || l.busy[i])
            continue;
        char name[SLOT_NAME_MAX];
        snprintf(name, sizeof name, SMC_KV_BUDGET "%d", i);
        int rc = smc_lease_take(c, name, (int)getpid(), start, smc_now_ms(), SMH_BUDGET_TTL_MS);
        if (rc == 1)
            return i;
        pthread_mutex_lock(&bud.mu); /* taken by another process meanwhile */
        bud.held[i] = 0;
        pthread_mutex_unlock(&bud.mu);
        if (rc == -ENOSPC)
            return rc; /* the map is full: no lease can be written, waiting changes nothing */
    }
}

int smh_budget_take(struct smc *c, enum smh_budget_kind k, long wait_ms)
{
    uint64_t until = smc_now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        int i = take_once(c, k);
        if (i >= 0 || i == -ENOSPC || smc_now_ms() >= until)
            return i;
        smh_sleep_ms(SMH_BUDGET_POLL_MS);
    }
}

void smh_budget_give(struct smc *c, int slot)
{
    if (slot < 0 || slot >= SMH_BUDGET_SLOTS)
        return;
    char name[SLOT_NAME_MAX];
    snprintf(name, sizeof name, SMC_KV_BUDGET "%d", slot);
    pthread_mutex_lock(&bud.mu);
    int mine = bud.pid == getpid() && bud.held[slot];
    pthread_mutex_unlock(&bud.mu);
    if (!mine)
        return;
    smc_lease_drop(c, name, (int)getpid()); /* dropped before it is cleared in the table */
    pthread_mutex_lock(&bud.mu);
    bud.held[slot] = 0;
    pthread_mutex_unlock(&bud.mu);
}

int smh_budget_free(struct smc *c, enum smh_budget_kind k)
{
    struct look l;
    int n = 0;
    look(c, &l);
    pthread_mutex_lock(&bud.mu);
    table_own();
    for (int m = 0, i; (i = nth_slot(k, m)) >= 0; m++)
        n += !l.busy[i] && !bud.held[i];
    pthread_mutex_unlock(&bud.mu);
    return n;
}

int smh_budget_held_uploads(void)
{
    int n = 0;
    pthread_mutex_lock(&bud.mu);
    table_own();
    for (int i = 0; i < SMH_BUDGET_SLOTS; i++)
        n += bud.held[i] == SMH_BUDGET_UPLOAD + 1;
    pthread_mutex_unlock(&bud.mu);
    return n;
}
