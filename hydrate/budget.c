/* budget.c: one request budget per cache. At most SMH_BUDGET_SLOTS requests are in flight for a
 * cache, whatever their kind and however many processes share it; pull pages and hydration hold
 * at most SMH_BUDGET_READS of them.
 *
 * DESIGN
 * Each slot is a lease in the cache's LMDB, kv SMC_KV_BUDGET "<i>" (schema.h), taken
 * in one write transaction (smc_lease_take): two processes never hold the same slot. Reads take
 * only slots 0 .. SMH_BUDGET_READS-1, so the read limit holds without counting; uploads look from
 * the last slot down and reach the read slots only when theirs are taken. A slot is free when it
 * has no record, or its time is up (SMH_BUDGET_TTL_MS, longer than any request may take) or its
 * process is dead (pid and start time in the process table), and in either case the request it
 * carried can no longer be running at the server: before each request the holder records, in
 * the slot's lease, the request's deadline (its start and its own timeout, smh_budget_sending;
 * written before the request is sent), and a slot is taken until then whatever becomes of its
 * holder. A process that is killed, or exits, with requests in flight does not end them at the
 * server: the server goes on working on what it was sent, and the capacity stays counted while
 * it may be. A request a live process gave up at its timeout is no longer counted either, so the
 * budget bounds the requests this cache has not given up on.
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
/* a request's deadline is recorded this much later than it is, so the requests that start within
 * this of the last one recorded need no LMDB write of their own */
#define SMH_BUDGET_DUE_SLACK_MS 1000
#define SLOT_NAME_MAX           32

void (*smh_budget_log)(const char *msg);

static struct {
    pthread_mutex_t mu;
    pid_t pid;                            /* the process the table is about */
    unsigned char held[SMH_BUDGET_SLOTS]; /* this process holds the slot (kind + 1), or 0 */
    uint64_t due[SMH_BUDGET_SLOTS];       /* the deadline recorded in the slot's lease */
    uint64_t start;                       /* this process's start time (the leases' identity) */
    struct smc *c;                        /* the cache of the slots it holds */
} bud = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The table, for this process (a fork child's starts empty). Under bud.mu. */
static void table_own(void)
{
    pid_t me = getpid();
    if (bud.pid != me) {
        for (int i = 0; i < SMH_BUDGET_SLOTS; i++)
            bud.held[i] = 0, bud.due[i] = 0;
        bud.pid = me;
        bud.c = NULL;
        bud.start = smc_self_start();
    }
}

/* Which slots are taken by a live process other than this one, or until the deadline of a
 * request they carried. */
struct look {
    uint64_t now;
    int busy[SMH_BUDGET_SLOTS];    /* taken by another process, or by what it left in flight */
    int own_due[SMH_BUDGET_SLOTS]; /* a record of this process's, taken until its due time (one
                                    * the table does not hold: a drop that failed, or the image
                                    * before an exec) */
    int left;            /* of the busy ones, slots taken only by what a process left in flight */
    uint64_t left_until; /* the last of their deadlines */
};

static int look_one(void *arg, const char *sub, const struct smc_lease *h)
{
    struct look *l = arg;
    int i = atoi(sub);
    if (i < 0 || i >= SMH_BUDGET_SLOTS)
        return 0;
    /* this process's own slots count by its table (a record of its own it does not hold is
     * left from a drop that failed, or from the image before an exec: taken until its due time) */
    if (h->pid == (int)getpid()) {
        l->own_due[i] = h->due_ms > l->now;
    } else if (h->expires_ms > l->now && smc_pid_alive(h->pid, h->start)) {
        l->busy[i] = 1;
    } else if (h->due_ms > l->now) {
        l->busy[i] = 1; /* its holder is gone: what it sent may still be running */
        l->left++;
        if (h->due_ms > l->left_until)
            l->left_until = h->due_ms;
    }
    return 0;
}

static void look(struct smc *c, struct look *l)
{
    l->now = smc_now_ms();
    for (int i = 0; i < SMH_BUDGET_SLOTS; i++)
        l->busy[i] = l->own_due[i] = 0;
    l->left = 0;
    l->left_until = 0;
    smc_lease_each(c, SMC_KV_BUDGET, look_one, l);
}

/* Slot k-th in the order a kind looks at them; -1 past its range. */
static int nth_slot(enum smh_budget_kind k, int n)
{
    if (k == SMH_BUDGET_UPLOAD)
        return n < SMH_BUDGET_SLOTS ? SMH_BUDGET_SLOTS - 1 - n : -1;
    return n < SMH_BUDGET_READS ? n : -1;
}

static int take_once(struct smc *c, enum smh_budget_kind k, struct look *lp)
{
    struct look l;
    look(c, &l);
    *lp = l;
    for (int n = 0;; n++) {
        int i = nth_slot(k, n);
        if (i < 0)
            return -1;
        pthread_mutex_lock(&bud.mu);
        table_own();
        int mine = bud.held[i] != 0, busy = l.busy[i] || l.own_due[i];
        if (!mine && !busy)
            bud.held[i] = (unsigned char)(k + 1); /* marked before its lease is taken */
        uint64_t start = bud.start;
        pthread_mutex_unlock(&bud.mu);
        if (mine || busy)
            continue;
        char name[SLOT_NAME_MAX];
        snprintf(name, sizeof name, SMC_KV_BUDGET "%d", i);
        int rc = smc_lease_take(c, name, (int)getpid(), start, smc_now_ms(), SMH_BUDGET_TTL_MS);
        if (rc == 1) {
            pthread_mutex_lock(&bud.mu);
            bud.due[i] = 0; /* (a lease taken has none) */
            bud.c = c;
            pthread_mutex_unlock(&bud.mu);
            return i;
        }
        pthread_mutex_lock(&bud.mu); /* taken by another process meanwhile */
        bud.held[i] = 0;
        pthread_mutex_unlock(&bud.mu);
        if (rc == -ENOSPC)
            return rc; /* the map is full: no lease can be written, waiting changes nothing */
    }
}

/* Say that a taker waits on what a process left in flight (a pause of up to a request's
 * timeout, which the user would otherwise not understand): once per wait, and once in the
 * process for the same deadline (the upload workers wait in turns, each on its own). */
static void say_left(const struct look *l, int *said)
{
    static uint64_t said_until;
    void (*log)(const char *) = __atomic_load_n(&smh_budget_log, __ATOMIC_ACQUIRE);
    if (*said || !l->left || !log)
        return;
    *said = 1;
    if (__atomic_exchange_n(&said_until, l->left_until, __ATOMIC_ACQ_REL) == l->left_until)
        return;
    char msg[240];
    snprintf(msg, sizeof msg,
             "waiting for %d request slots a process left in flight when it ended: the server may "
             "still be working on those requests, until their timeout (%llu s from now at most)",
             l->left, (unsigned long long)((l->left_until - l->now + 999) / 1000));
    log(msg);
}

int smh_budget_take(struct smc *c, enum smh_budget_kind k, long wait_ms)
{
    uint64_t until = smc_now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
    int said = 0;
    for (;;) {
        struct look l;
        int i = take_once(c, k, &l);
        if (i >= 0 || i == -ENOSPC || smc_now_ms() >= until)
            return i;
        say_left(&l, &said);
        smh_sleep_ms(SMH_BUDGET_POLL_MS);
    }
}

void smh_budget_sending(long timeout_ms)
{
    uint64_t now = smc_now_ms(), due = now + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    int want[SMH_BUDGET_SLOTS], n = 0;
    struct smc *c;
    pthread_mutex_lock(&bud.mu);
    c = bud.pid == getpid() ? bud.c : NULL;
    for (int i = 0; c && i < SMH_BUDGET_SLOTS; i++)
        if (bud.held[i] && bud.due[i] < due)
            want[n++] = i;
    pthread_mutex_unlock(&bud.mu);
    due += SMH_BUDGET_DUE_SLACK_MS;
    for (int m = 0; m < n; m++) {
        char name[SLOT_NAME_MAX];
        snprintf(name, sizeof name, SMC_KV_BUDGET "%d", want[m]);
        if (smc_lease_due(c, name, (int)getpid(), due) != 1)
            continue; /* given back meanwhile (or LMDB trouble: the slot is as it was) */
        pthread_mutex_lock(&bud.mu);
        if (bud.held[want[m]] && bud.due[want[m]] < due)
            bud.due[want[m]] = due;
        pthread_mutex_unlock(&bud.mu);
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

void smh_budget_release_all(void)
{
    int slots[SMH_BUDGET_SLOTS], n = 0;
    struct smc *c;
    pthread_mutex_lock(&bud.mu);
    c = bud.pid == getpid() ? bud.c : NULL;
    for (int i = 0; c && i < SMH_BUDGET_SLOTS; i++)
        if (bud.held[i])
            slots[n++] = i;
    pthread_mutex_unlock(&bud.mu);
    for (int m = 0; m < n; m++)
        smh_budget_give(c, slots[m]);
}

int smh_budget_free(struct smc *c, enum smh_budget_kind k)
{
    struct look l;
    int n = 0;
    look(c, &l);
    pthread_mutex_lock(&bud.mu);
    table_own();
    for (int m = 0, i; (i = nth_slot(k, m)) >= 0; m++)
        n += !l.busy[i] && !l.own_due[i] && !bud.held[i];
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
