/* journal.c: the record journal, a log of local changes shared by every process of a cache
 * (<cache>/meta/journal, mapped MAP_SHARED), so recording a change costs a memory copy under a
 * process-shared mutex instead of an LMDB write transaction on the caller's thread.
 *
 * Shape. A ring of SMC_J_CAP bytes of records, addressed by 64-bit positions that only grow
 * (a record at position p lies at p % SMC_J_CAP; one never wraps: a pad record fills the end).
 * The header holds the tail (where the next record goes), the published head (below it every
 * record is folded), two guard slots and the journal's epoch (a random number chosen when the
 * file is made).
 *
 * Invariants.
 *  - LMDB's state is the fold of the journal's records up to the position stored in LMDB itself
 *    (kv SMC_KV_JPOS: epoch and position), in order: every write transaction folds the records
 *    it finds before it does its own work (smc_txn), so one total order of changes holds, the
 *    order in which records were appended (under the mutex) and transactions committed (under
 *    LMDB's writer lock), and a fold is committed, or aborted, with the transaction it is in.
 *    The one transaction that folds less than every record is an early fold's (SMC_TXN_NOFOLD),
 *    which folds the oldest ones and does nothing else: the order is the same.
 *  - The published head never passes what LMDB holds: it is set from the committed position at
 *    the start of a fold (one transaction late), and writers never write below head + SMC_J_CAP,
 *    so no record that is not folded and committed is ever overwritten.
 *  - A record is complete once the tail passes it: records are written, then the tail is moved,
 *    both under the mutex. A writer killed while holding it leaves the tail where it was (the
 *    robust mutex's next owner makes it consistent) and its half-written bytes unreached.
 *  - The dirty_since guard. A write-open is appended before the open. The sync engine changes a
 *    file in the tree only inside a write transaction that first guards the file's keys (writes
 *    their hashes into the guard slots and folds up to the tail, under the mutex) and clears the
 *    guard after the change. A writer reads the guard slots in the same critical section as its
 *    append: either its record is below the tail the guard folded (then the engine sees the key
 *    dirty and leaves the file alone), or its append came later and it sees the guard, and then
 *    waits for the engine's transaction to end (it takes LMDB's writer lock once) before it
 *    opens the file. A stale guard left by a dead process only sends writers of that hash the
 *    slow way.
 *
 * Lock order: LMDB's writer lock, then the journal mutex (held only for a copy or a read of the
 * header, never across a call into LMDB or a system call). A process killed with the journal
 * never folded leaves its records for the next writer transaction of any process; a journal that
 * is lost (the machine crashed before the page cache reached the disk) is what the scan finds. */
#include "cache_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMC_J_MAGIC   0x4c4e524a4d53ull /* "SMJRNL" */
#define SMC_J_VERSION 1
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

static uint64_t align8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

/* Lock the header's mutex; a dead owner's state is consistent as it stands (see the invariant on
 * the tail). */
static void j_lock(struct smc_jhdr *h)
{
    if (pthread_mutex_lock(&h->mu) == EOWNERDEAD)
        pthread_mutex_consistent(&h->mu);
}

static void j_unlock(struct smc_jhdr *h)
{
    pthread_mutex_unlock(&h->mu);
}

void smc_journal_lock(struct smc *c)
{
    j_lock(c->journal->h);
}

void smc_journal_unlock(struct smc *c)
{
    j_unlock(c->journal->h);
}

static int j_init(struct smc_jhdr *h)
{
    pthread_mutexattr_t a;
    uint64_t epoch = 0;
    if (getrandom(&epoch, sizeof epoch, GRND_NONBLOCK) != (ssize_t)sizeof epoch) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        epoch = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)getpid();
    }
    memset(h, 0, sizeof *h);
    if (pthread_mutexattr_init(&a) != 0)
        return -ENOMEM;
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&h->mu, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0)
        return -rc;
    h->version = SMC_J_VERSION;
    h->cap = (uint32_t)SMC_J_CAP;
    h->epoch = epoch | 1;
    __atomic_store_n(&h->magic, SMC_J_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

int smc_journal_open(struct smc *c, const char *meta_dir)
{
    char p[4200];
    struct stat st;
    size_t size = SMC_J_HDR + SMC_J_CAP;
    if ((size_t)snprintf(p, sizeof p, "%s/journal", meta_dir) >= sizeof p)
        return -ENAMETOOLONG;
    int fd = sm_lib_openat(AT_FDCWD, p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = -EINVAL;
    else if ((size_t)st.st_size < size && ftruncate(fd, (off_t)size) != 0)
        rc = -errno;
    void *m = rc == 0 ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (rc == 0 && m == MAP_FAILED)
        rc = -errno;
    sm_lib_close(fd);
    if (rc < 0)
        return rc;
    struct smc_journal *j = calloc(1, sizeof *j);
    if (!j) {
        munmap(m, size);
        return -ENOMEM;
    }
    j->h = m;
    j->ring = (unsigned char *)m + SMC_J_HDR;
    j->early = SMC_J_EARLY;
    /* called inside the opener's write transaction: LMDB's writer lock makes the first process
     * the only one that can find the header unmade */
    if (__atomic_load_n(&j->h->magic, __ATOMIC_ACQUIRE) != SMC_J_MAGIC ||
        j->h->version != SMC_J_VERSION || j->h->cap != (uint32_t)SMC_J_CAP) {
        if ((rc = j_init(j->h)) < 0) {
            munmap(m, size);
            free(j);
            return rc;
        }
    }
    c->journal = j;
    return 0;
}

void smc_journal_close(struct smc *c)
{
    if (c->journal) {
        munmap(c->journal->h, SMC_J_HDR + SMC_J_CAP);
        free(c->journal);
        c->journal = NULL;
    }
}

static int fold_now(struct smc *c);
static void fold_early(struct smc *c, uint64_t tail);

/* Is key (hash h) under the guard of the sync engine? Under the mutex. */
static int guarded(const struct smc_jhdr *h, uint64_t kh)
{
    return kh && (h->guard[0] == kh || h->guard[1] == kh);
}

int smc_journal_append(struct smc *c, enum smc_qop op, const char *from, const char *to, int is_dir,
                       uint64_t now_ns)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return -ENOSYS;
    size_t fl = from ? strlen(from) : 0, tl = to ? strlen(to) : 0;
    uint64_t len = align8(sizeof(struct smc_jrec) + fl + 1 + tl + 1);
    if (len > SMC_J_REC_MAX)
        return -E2BIG;
    uint64_t hf = from ? smc_hash64(from, fl) : 0, ht = to ? smc_hash64(to, tl) : 0;
    struct smc_jhdr *h = j->h;
    j_lock(h);
    uint64_t pos = h->tail, off = pos % SMC_J_CAP, pad = 0;
    if (off + len > SMC_J_CAP)
        pad = SMC_J_CAP - off; /* a record never wraps */
    if (pos + pad + len - h->head > SMC_J_CAP) {
        j_unlock(h);
        return -ENOSPC; /* full: the caller records in a transaction, which folds it all */
    }
    if (pad) {
        /* only len, op and flags: the room left may be smaller than a header (8 bytes at least,
         * every record being a multiple of 8) */
        struct smc_jrec *pr = (struct smc_jrec *)(j->ring + off);
        pr->len = (uint32_t)pad;
        pr->op = SMC_JOP_PAD;
        pr->flags = 0;
        off = 0;
    }
    struct smc_jrec *r = (struct smc_jrec *)(j->ring + off);
    r->len = (uint32_t)len;
    r->op = (uint16_t)op;
    r->flags =
        (uint16_t)((from ? 0 : SMC_JF_NOFROM) | (to ? 0 : SMC_JF_NOTO) | (is_dir ? SMC_JF_DIR : 0));
    r->now_ns = now_ns;
    r->flen = (uint32_t)fl;
    r->tlen = (uint32_t)tl;
    char *s = (char *)(r + 1);
    memcpy(s, from ? from : "", fl + 1);
    memcpy(s + fl + 1, to ? to : "", tl + 1);
    __atomic_store_n(&h->tail, pos + pad + len, __ATOMIC_RELEASE);
    int slow = guarded(h, hf) || guarded(h, ht);
    uint64_t tail = h->tail, unfolded = tail - h->head;
    j_unlock(h);
    if (!slow) {
        if (__builtin_expect(j->early && unfolded > j->early, 0))
            fold_early(c, tail);
        return 0;
    }
    /* the sync engine is changing this file: wait for its transaction to end (ours folds the
     * record) before the caller goes on to the tree */
    fold_now(c); /* (failing, the record stays for the next transaction to fold) */
    return 0;
}

/* The position LMDB holds (kv SMC_KV_JPOS) for this journal's epoch, in t; 0 when it holds
 * another epoch's (or none): this journal's records are then all unfolded from its head. */
static int jpos_get(struct smc *c, MDB_txn *t, uint64_t epoch, uint64_t *pos)
{
    struct smc_key at;
    MDB_val v;
    uint64_t w[2];
    int rc = smc_rec_find(t, c->kv, SMC_KV_JPOS, &at, &v);
    if (rc < 0)
        return rc;
    if (rc == 1 && v.mv_size == sizeof w) {
        memcpy(w, v.mv_data, sizeof w);
        if (w[0] == epoch) {
            *pos = w[1];
            return 1;
        }
    }
    return 0;
}

/* The record at pos, below end: NULL when the bytes there are not one (a damaged file: what
 * follows is left to the scan). Of a pad record (SMC_JOP_PAD) only len and op may be read: it
 * may be shorter than a header. */
static const struct smc_jrec *rec_at(const struct smc_journal *j, uint64_t pos, uint64_t end)
{
    uint64_t off = pos % SMC_J_CAP;
    const struct smc_jrec *r = (const struct smc_jrec *)(j->ring + off);
    if (r->len < 8 || r->len % 8 || r->len > end - pos || off + r->len > SMC_J_CAP ||
        (r->op != SMC_JOP_PAD && r->len < sizeof *r))
        return NULL;
    return r;
}

/* The names of a change record r: 0 and *from, *to (each NULL where the record says so), or -1
 * when they do not fit in it. */
static int rec_names(const struct smc_jrec *r, const char **from, const char **to)
{
    const char *f = (const char *)(r + 1), *t = f + r->flen + 1;
    if ((uint64_t)r->flen + r->tlen + 2 + sizeof *r > r->len || f[r->flen] || t[r->tlen])
        return -1;
    *from = r->flags & SMC_JF_NOFROM ? NULL : f;
    *to = r->flags & SMC_JF_NOTO ? NULL : t;
    return 0;
}

/* Inside the write transaction t: fold the records from where LMDB's state ends, in order, up to
 * the tail, or to the first record boundary max bytes on. */
static int fold_upto(struct smc *c, MDB_txn *t, uint64_t max)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return 0;
    struct smc_jhdr *h = j->h;
    uint64_t epoch = h->epoch, start;
    int rc = jpos_get(c, t, epoch, &start);
    if (rc < 0)
        return rc;
    j_lock(h);
    if (rc == 1 && start > h->head && start <= h->tail)
        __atomic_store_n(&h->head, start, __ATOMIC_RELEASE); /* committed by an earlier fold */
    if (rc == 0 || start < h->head || start > h->tail)
        start = h->head;
    uint64_t end = h->tail;
    j_unlock(h);
    j->folded = start;
    if (start == end)
        return 0;
    uint64_t pos = start;
    while (pos < end && pos - start < max) {
        const struct smc_jrec *r = rec_at(j, pos, end);
        const char *from, *to;
        if (!r) {
            pos = end; /* the rest is left to the scan */
            break;
        }
        pos += r->len;
        if (r->op == SMC_JOP_PAD || rec_names(r, &from, &to) < 0)
            continue;
        rc = smc_note_apply(c, t, (enum smc_qop)r->op, from, to, (r->flags & SMC_JF_DIR) != 0,
                            r->now_ns);
        /* a record the entries cannot hold (a name too long, no free probe) is refused before
         * anything is written and skipped; a full map or transaction aborts the fold */
        if (rc < 0 && (rc == -ENOSPC || rc == -EAGAIN || rc == -EIO || rc == -ENOMEM))
            return rc;
    }
    end = pos;
    uint64_t w[2] = {epoch, end};
    if ((rc = smc_rec_put(t, c->kv, SMC_KV_JPOS, w, sizeof w)) == 0)
        j->folded = end; /* (write transactions are one at a time: read before t commits) */
    return rc;
}

int smc_journal_fold(struct smc *c, MDB_txn *t)
{
    return fold_upto(c, t, UINT64_MAX);
}

/* After a transaction that folded up to end committed: publish it (the head never goes back). */
static void publish(struct smc_journal *j, uint64_t end)
{
    j_lock(j->h);
    if (end > j->h->head && end <= j->h->tail)
        __atomic_store_n(&j->h->head, end, __ATOMIC_RELEASE);
    j_unlock(j->h);
}

void smc_journal_unfoldable(struct smc *c, int err)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return;
    j_lock(j->h);
    uint64_t pos = j->h->head, end = j->h->tail;
    j_unlock(j->h);
    if (pos < j->reported)
        pos = j->reported;
    /* the records stay: a process with room folds them; meanwhile their files are listed
     * (cache/unrecorded.c) and the scan that records them takes them off the list */
    while (pos < end) {
        const struct smc_jrec *r = rec_at(j, pos, end);
        const char *from, *to;
        if (!r)
            break;
        pos += r->len;
        if (r->op == SMC_JOP_PAD || rec_names(r, &from, &to) < 0)
            continue;
        if (r->op == SMC_Q_WRITE && from)
            smc_unrecorded_add(c, from, err);
        else if (r->op == SMC_Q_RENAME && to)
            smc_unrecorded_add(c, to, err);
    }
    j->reported = end;
}

int smc_journal_pending(struct smc *c)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return 0;
    return __atomic_load_n(&j->h->tail, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(&j->h->head, __ATOMIC_ACQUIRE);
}

int smc_journal_settle(struct smc *c)
{
    return smc_journal_pending(c) ? fold_now(c) : 0;
}

/* A writer's append left more than j->early bytes unfolded (tail: the tail after it). */
static void fold_early(struct smc *c, uint64_t tail)
{
    struct smc_journal *j = c->journal;
    MDB_txn *t;
    if (tail < __atomic_load_n(&j->retry_at, __ATOMIC_RELAXED) ||
        __atomic_exchange_n(&j->folding, 1, __ATOMIC_ACQUIRE))
        return; /* another writer of this process is at it */
    int rc = smc_txn(c, SMC_TXN_NOFOLD, &t);
    if (rc == 0 && (rc = fold_upto(c, t, SMC_J_CHUNK)) < 0)
        mdb_txn_abort(t);
    else if (rc == 0) {
        uint64_t end = j->folded;
        if ((rc = smc_errno(mdb_txn_commit(t))) == 0)
            publish(j, end);
    }
    __atomic_store_n(&j->retry_at, rc < 0 ? tail + SMC_J_CHUNK : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&j->folding, 0, __ATOMIC_RELEASE);
}

void smc_journal_early(struct smc *c, uint64_t bytes)
{
    if (c->journal)
        c->journal->early = bytes;
}

uint64_t smc_journal_unfolded(struct smc *c)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return 0;
    return __atomic_load_n(&j->h->tail, __ATOMIC_ACQUIRE) -
           __atomic_load_n(&j->h->head, __ATOMIC_ACQUIRE);
}

/* Fold what is pending in a transaction of its own. */
static int fold_now(struct smc *c)
{
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t); /* folds */
    if (rc < 0)
        return rc;
    uint64_t end = c->journal->folded;
    if ((rc = smc_errno(mdb_txn_commit(t))) == 0)
        publish(c->journal, end);
    return rc;
}

int smc_journal_folded(struct smc *c, MDB_txn *t)
{
    struct smc_journal *j = c->journal;
    uint64_t pos = 0;
    if (!j)
        return 1;
    int rc = jpos_get(c, t, j->h->epoch, &pos);
    if (rc < 0)
        return 0;
    if (rc == 0)
        pos = 0;
    return __atomic_load_n(&j->h->tail, __ATOMIC_ACQUIRE) == pos;
}

int smc_guard_on(struct smc *c, MDB_txn *t, const char *k1, const char *k2)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return 0;
    smc_journal_lock(c);
    j->h->guard[0] = k1 ? smc_hash64(k1, strlen(k1)) : 0;
    j->h->guard[1] = k2 ? smc_hash64(k2, strlen(k2)) : 0;
    smc_journal_unlock(c);
    return smc_journal_fold(c, t); /* every record appended before the guard */
}

void smc_guard_off(struct smc *c)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return;
    smc_journal_lock(c);
    j->h->guard[0] = j->h->guard[1] = 0;
    smc_journal_unlock(c);
}
