/* journal_int.h: what journal.c and journal_fold.c share (the file's layout, its mutex, the folds a
 * writer starts); not for the other files of cache/. The invariants and the lock order are in
 * journal.c's opening comment. */
#ifndef SMC_JOURNAL_INT_H
#define SMC_JOURNAL_INT_H

#include "cache_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#define SMC_J_MAGIC   0x4c4e524a4d53ull /* "SMJRNL" */
#define SMC_J_VERSION 2
#define SMC_J_CAP     ((uint64_t)4 << 20) /* bytes of records */
#define SMC_J_HDR     4096                /* the header's page */
/* a record larger than this is not journaled: it is recorded in a transaction of its own */
#define SMC_J_REC_MAX (SMC_J_CAP / 64)
/* Early folds. In a process with no sync thread nothing else writes to LMDB, and a journal left
 * to fill is folded whole by the writer that finds it full: some 40,000 creates at once, a stall
 * of a few hundred ms every 4 MiB. So a writer whose append leaves more than SMC_J_EARLY bytes
 * unfolded folds the oldest SMC_J_CHUNK bytes of records itself, in a transaction that does
 * nothing else (smc_txn's SMC_TXN_NOFOLD), one writer of the process at a time while the others
 * go on appending. Below the mark an append costs what it did: a copy under the mutex, no
 * system call. A fold that fails (a full map) is tried again a chunk of records later. */
#define SMC_J_EARLY (SMC_J_CAP / 8)
#define SMC_J_CHUNK (SMC_J_CAP / 32)

struct smc_jhdr {
    uint64_t magic;
    uint32_t version;
    uint32_t cap;
    uint64_t epoch;
    pthread_mutex_t mu; /* process-shared, robust: guards tail, head and guard */
    uint64_t tail;      /* position of the next record */
    uint64_t head;      /* records below it are folded and committed (published late) */
    uint64_t guard[2];  /* smc_hash64 of the keys the sync engine is changing; 0: none */
    uint64_t reach;     /* the furthest tail a fold has started from: records at or past it were
                           read by no fold (only grows; a fold that aborts leaves it moved) */
};

/* One record; from and to follow, each NUL-terminated; the whole is padded to 8 bytes. */
struct smc_jrec {
    uint32_t len; /* bytes of the record, padding included */
    uint16_t op;  /* SMC_JOP_* */
    uint16_t flags;
    uint64_t now_ns;
    uint32_t flen, tlen; /* lengths of from and to, without their NULs */
};
#define SMC_JOP_PAD   0xffff
#define SMC_JF_NOFROM 1 /* from is NULL (the file came from outside the prefix) */
#define SMC_JF_NOTO   2 /* to is NULL (the file left the prefix) */
#define SMC_JF_DIR    4

struct smc_journal {
    struct smc_jhdr *h;
    unsigned char *ring;
    uint64_t folded;   /* where the last fold of this process ended (its transaction may abort) */
    uint64_t reported; /* records below it were listed unrecorded by this process */
    uint64_t early;    /* unfolded bytes past which a writer folds a part; 0: never */
    uint64_t retry_at; /* after a failed early fold: no other before the tail reaches it */
    int folding;       /* a writer of this process is folding early */
};

/* Lock the header's mutex; a dead owner's state is consistent as it stands (see the invariant on
 * the tail). */
static inline void j_lock(struct smc_jhdr *h)
{
    if (pthread_mutex_lock(&h->mu) == EOWNERDEAD)
        pthread_mutex_consistent(&h->mu);
}

static inline void j_unlock(struct smc_jhdr *h)
{
    pthread_mutex_unlock(&h->mu);
}

/** Fold what is pending in a transaction of its own (journal_fold.c). */
int smc_journal_fold_now(struct smc *c);
/** A writer's append left more than j->early bytes unfolded (tail: the tail after it); fold the
 *  oldest SMC_J_CHUNK bytes, one writer of the process at a time (journal_fold.c). */
void smc_journal_fold_early(struct smc *c, uint64_t tail);

#endif
