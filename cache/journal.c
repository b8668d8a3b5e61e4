/* journal.c: the record journal's file and its writers (mapping it, appending a change, the sync
 * engine's guard). The journal is a log of local changes shared by every process of a cache
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
 *  - The reach. A fold raises the header's reach to the tail it starts from, under the mutex,
 *    before it reads a record. A record at or past the reach was read by no fold: any later
 *    record is folded by the same fold or a later one, after it (smc_wtok_unread). The shim's
 *    close of a file it created leaves its second record out while the create's is unread:
 *    the two would be folded together, and the second would change nothing.
 *
 * Lock order: LMDB's writer lock, then the journal mutex (held only for a copy or a read of the
 * header, never across a call into LMDB or a system call). A process killed with the journal
 * never folded leaves its records for the next writer transaction of any process; a journal that
 * is lost (the machine crashed before the page cache reached the disk) is what the scan finds.
 * Folding the records into LMDB is journal_fold.c. */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t align8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
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
    char p[SMC_PATH_BUF];
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
    else if ((smc_fd_exact(fd, &st, 0600), smc_flock(fd, LOCK_EX)) !=
             0) /* one opener makes the header */
        rc = -errno;
    else if ((size_t)st.st_size < size && ftruncate(fd, (off_t)size) != 0)
        rc = -errno;
    void *m = rc == 0 ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (rc == 0 && m == MAP_FAILED)
        rc = -errno;
    if (rc < 0) {
        sm_lib_close(fd);
        return rc;
    }
    struct smc_journal *j = calloc(1, sizeof *j);
    if (!j) {
        munmap(m, size); /* (the last reference to the open file: the flock with it) */
        sm_lib_close(fd);
        return -ENOMEM;
    }
    j->h = m;
    j->ring = (unsigned char *)m + SMC_J_HDR;
    j->early = SMC_J_EARLY;
    /* under the flock: the first opener is the only one that can find the header unmade */
    if (__atomic_load_n(&j->h->magic, __ATOMIC_ACQUIRE) != SMC_J_MAGIC ||
        j->h->version != SMC_J_VERSION || j->h->cap != (uint32_t)SMC_J_CAP) {
        if ((rc = j_init(j->h)) < 0) {
            (void)flock(fd, LOCK_UN);
            sm_lib_close(fd);
            munmap(m, size);
            free(j);
            return rc;
        }
    }
    /* unlocked by hand: the mapping holds the open file, so the close alone would not drop it */
    (void)flock(fd, LOCK_UN);
    sm_lib_close(fd);
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

/* Is key (hash h) under the guard of the sync engine? Under the mutex. */
static int guarded(const struct smc_jhdr *h, uint64_t kh)
{
    return kh && (h->guard[0] == kh || h->guard[1] == kh);
}

int smc_journal_append(struct smc *c, enum smc_qop op, const char *from, const char *to, int is_dir,
                       uint64_t now_ns, struct smc_wtok *tok)
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
    if (tok && !slow) {
        tok->epoch = h->epoch;
        tok->pos = pos + pad;
    }
    if (!slow) {
        if (__builtin_expect(j->early && unfolded > j->early, 0))
            smc_journal_fold_early(c, tail);
        return 0;
    }
    /* the sync engine is changing this file: wait for its transaction to end (ours folds the
     * record) before the caller goes on to the tree */
    smc_journal_fold_now(c); /* (failing, the record stays for the next transaction to fold) */
    return 0;
}

/* The record of tok has been read by no fold: reach (the furthest tail a fold started from,
 * raised under the mutex before the fold reads a record) is not past it. A fold that reads it
 * later reads every record appended after it too. */
int smc_wtok_unread(struct smc *c, const struct smc_wtok *tok)
{
    struct smc_journal *j = c ? c->journal : NULL;
    if (!j || !tok->epoch || __atomic_load_n(&j->h->epoch, __ATOMIC_RELAXED) != tok->epoch)
        return 0;
    return __atomic_load_n(&j->h->reach, __ATOMIC_ACQUIRE) <= tok->pos;
}

int smc_journal_pending(struct smc *c)
{
    struct smc_journal *j = c->journal;
    if (!j)
        return 0;
    return __atomic_load_n(&j->h->tail, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(&j->h->head, __ATOMIC_ACQUIRE);
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
