/* cache_int.h: what the files of cache/ share (the handle's layout); not for other modules. */
#ifndef SMC_CACHE_INT_H
#define SMC_CACHE_INT_H

#include <lmdb.h>

#include "lmdb_dl.h"
#include <limits.h>
#include <sys/types.h>

#include "cache.h"
#include "sm_real.h"

/* When the address space is limited (ulimit -v) the map is halved down to this before giving up */
#define SMC_MAPSIZE_MIN ((size_t)64 << 20)
/* Reader slots in lock.mdb: a read transaction holds one while it runs (MDB_NOTLS), and every
 * thread of every process of the cache may run one at once. Sized when the first process opens
 * the environment. */
#define SMC_MAXREADERS 1024
/* a path in the cache directory: the tree's or meta's path, a key and a suffix (a temporary's
 * name), or ENAMETOOLONG */
#define SMC_PATH_BUF 4200
/* unit conversions (not tunables) */
#define SMC_MS_PER_S  1000u
#define SMC_NS_PER_MS 1000000u
#define SMC_NS_PER_S  1000000000u

struct smc {
    MDB_env *env;
    MDB_dbi entries; /* SMC_DB_ENTRIES */
    MDB_dbi queue;   /* SMC_DB_QUEUE */
    MDB_dbi kv;      /* SMC_DB_KV */
    MDB_dbi inodes;  /* SMC_DB_INODES (links.c) */
    MDB_dbi ids;     /* SMC_DB_IDS (ids.c) */
    int lock_fd;     /* LMDB's descriptor on lock.mdb (-1 if not found) */
    dev_t lock_dev;  /* identity of lock.mdb, to recognise other descriptors on it */
    ino_t lock_ino;
    size_t mapsize; /* the map this process got (SMC_MAPSIZE unless the address space is short) */
    char meta[PATH_MAX];         /* the environment's directory (unrecorded.c keeps a file there) */
    struct smc_journal *journal; /* journal.c; NULL until smc_open maps it */
    int dbis_open; /* the handles above name the databases of env (smc_txn folds only then) */
    /* The environment's state: 1 open (smc_open), 0 not yet (smc_open_journal: opened at the
     * first transaction, smc_env_ensure), -1 its opening failed with env_rc. env_mu serialises
     * the opening; on_env runs once after it, in the opening thread. Lock order: env_mu, then
     * the gate, LMDB's writer lock, the journal mutex. */
    int env_state, env_rc;
    pthread_mutex_t env_mu;
    void (*on_env)(struct smc *c);
};

/** mdb_txn_begin on c's environment, as an errno (smc_errno). A full reader table is first
 *  cleared of the slots of processes that died (mdb_reader_check), then tried once more. */
int smc_txn(struct smc *c, unsigned flags, MDB_txn **t);
/** A flag of smc_txn's: the write transaction does not fold the journal. Only the journal's early
 *  fold (journal.c) begins one, to fold a part and do nothing else. */
#define SMC_TXN_NOFOLD 0x80000000u
/** A flag of smc_txn's: the transaction of the environment's own opening (env.c), which must
 *  not wait for that opening. */
#define SMC_TXN_OPENING 0x40000000u
/** End the write transaction t after what it did returned rc: rc < 0 aborts it and returns rc;
 *  otherwise it is committed, and the commit's error (-errno) or ok is returned. */
int smc_txn_end(MDB_txn *t, int rc, int ok);

/* ---- the record journal (journal.c): recorded changes not yet folded into LMDB ---- */

/** Map <meta_dir>/journal (making it on first use: an flock on the file lets one opener make
 *  its header). */
int smc_journal_open(struct smc *c, const char *meta_dir);
void smc_journal_close(struct smc *c);
/** The journal's process-shared mutex (robust: a dead owner's is taken over as it stands). */
void smc_journal_lock(struct smc *c);
void smc_journal_unlock(struct smc *c);
/** Append one change (the arguments of smc_note_apply). 0; -ENOSPC (full) or -E2BIG (too large
 *  a record): the caller records it in a write transaction instead, which folds the journal
 *  first. When the sync engine guards one of its keys, returns only after the engine's
 *  transaction ended. tok (or NULL): where the record lies, when it is in the journal and was
 *  not folded at once (left alone otherwise). */
int smc_journal_append(struct smc *c, enum smc_qop op, const char *from, const char *to, int is_dir,
                       uint64_t now_ns, struct smc_wtok *tok);
/** Inside the write transaction t: apply every record not folded yet, in order (smc_txn does
 *  this for every write transaction). */
int smc_journal_fold(struct smc *c, MDB_txn *t);
/** Unfolded bytes past which a writer folds a part of the journal itself (journal.c: early
 *  folds; 0: never, the journal is folded when it is full); for the tests. */
void smc_journal_early(struct smc *c, uint64_t bytes);
/** Bytes of records appended and not yet folded and published (a hint: no lock). */
uint64_t smc_journal_unfolded(struct smc *c);
/** The journal could not be folded here (err: -ENOSPC, the map is full): list the files its
 *  records name as unrecorded (once per record and process); the records stay for a process
 *  that has room. */
void smc_journal_unfoldable(struct smc *c, int err);
/** Are there records that may not be folded yet? (A hint: cheap, no lock.) */
int smc_journal_pending(struct smc *c);
/** Fold what is pending in a transaction of its own: what was recorded before the call is in
 *  LMDB after it. */
int smc_journal_settle(struct smc *c);
/** Inside t (read or write): does t's LMDB state hold every record appended so far? */
int smc_journal_folded(struct smc *c, MDB_txn *t);
/** Inside the write transaction t, before the sync engine changes the file at k1 (and k2) in the
 *  tree: guard the keys and fold every record appended before (see journal.c); smc_guard_off
 *  before t ends. */
int smc_guard_on(struct smc *c, MDB_txn *t, const char *k1, const char *k2);
void smc_guard_off(struct smc *c);

/** Inside the write transaction t: one recorded change, as smc_note_rename takes it (op
 *  SMC_Q_WRITE: from was written; SMC_Q_DELETE: from is gone; SMC_Q_RENAME: from (NULL: from
 *  outside) is now to (NULL: left the prefix)). */
int smc_note_apply(struct smc *c, MDB_txn *t, enum smc_qop op, const char *from, const char *to,
                   int is_dir, uint64_t now_ns);

/* A record of op names a document (remote_id) that a pull must leave alone while it is queued:
 * its count is in SMC_KV_QDOC (smc_qdoc_add). */
static inline int smc_qop_names_doc(uint32_t op)
{
    return op == SMC_Q_DELETE || op == SMC_Q_RENAME || op == SMC_Q_STRAY;
}
/** Queue a record inside the write transaction t. */
int smc_queue_put(struct smc *c, MDB_txn *t, enum smc_qop op, const char *from, const char *to,
                  const struct smc_entry *e, uint64_t now_ns);
/** Inside the write transaction t: delta more queued DELETE/RENAME/STRAY records name the document id
 *  (SMC_KV_QDOC). */
int smc_qdoc_add(struct smc *c, MDB_txn *t, const char *id, int delta);
/** Inside t: does a queued DELETE or RENAME record name the document id? 1, 0 or -errno. */
int smc_qdoc_pending(struct smc *c, MDB_txn *t, const char *id);
/** Inside the write transaction t: mark key dirty (creating its entry) and queue a write. */
int smc_mark_dirty(struct smc *c, MDB_txn *t, const char *key, uint64_t now_ns);

/** Inside t: the names below directory from ("/a": "/a/...") of linked files now lie below
 *  to (NULL: they left the prefix) in the inode index (links.c). */
int smc_links_move_dir(struct smc *c, MDB_txn *t, const char *from, const char *to);

/* ---- named records (key.c): the keys of the entries and kv databases (schema.h, "Keys") ---- */

/** Where a name's record is, or goes: a key as smc_rec_find made it. */
struct smc_key {
    size_t len;
    unsigned char b[SMC_KEY_HASHED];
};
/** Find name's record in t. 1: found at *at, *pay its payload (valid until t writes); 0: absent,
 *  *at the key a new record of name gets; -EINVAL (""), -ENAMETOOLONG (over SMC_NAME_MAX),
 *  -EOVERFLOW (no free probe), -errno. */
int smc_rec_find(MDB_txn *t, MDB_dbi d, const char *name, struct smc_key *at, MDB_val *pay);
/** Write name's record at *at (from smc_rec_find on name in the same transaction). */
int smc_rec_put_at(MDB_txn *t, MDB_dbi d, const struct smc_key *at, const char *name,
                   const void *pay, size_t len);
/** Write name's record (found or new). */
int smc_rec_put(MDB_txn *t, MDB_dbi d, const char *name, const void *pay, size_t len);
/** Remove the record at *at, or name's record (-ENOENT when it has none). */
int smc_rec_del_at(MDB_txn *t, MDB_dbi d, const struct smc_key *at);
int smc_rec_del(MDB_txn *t, MDB_dbi d, const char *name);
/** The name (*nl bytes, not NUL-terminated) and payload of the row a cursor gave. 0 or -EPROTO. */
int smc_rec_row(const MDB_val *k, const MDB_val *v, const char **name, size_t *nl, MDB_val *pay);

/* ---- the entries and the document -> files index (ids.c) ---- */

/** Inside the write transaction t: write key's entry e at *at (from smc_rec_find or
 *  smc_entry_at on key in t), its binding in the ids index following it (every entry write
 *  goes through here). */
int smc_entry_store(struct smc *c, MDB_txn *t, const struct smc_key *at, const char *key,
                    const struct smc_entry *e);
int smc_entry_store_key(struct smc *c, MDB_txn *t, const char *key, const struct smc_entry *e);
/** Inside t: remove key's entry (at *at), and its binding. 0, -ENOENT, -errno. */
int smc_entry_drop_at(struct smc *c, MDB_txn *t, const struct smc_key *at, const char *key);
int smc_entry_drop(struct smc *c, MDB_txn *t, const char *key);
/** Inside t: how many files other than key (NULL: any file) are bound to the document id (""
 *  or NULL: 0); the first of them into other (n bytes, or NULL). */
int smc_ids_others(struct smc *c, MDB_txn *t, const char *id, const char *key, char *other,
                   size_t n);
/** Inside t: 1 when no file other than key is bound to id (key may be), 0 when one is. */
int smc_ids_only(struct smc *c, MDB_txn *t, const char *id, const char *key);
/** Inside the write transaction t: the index built afresh from the entries. */
int smc_ids_rebuild(struct smc *c, MDB_txn *t);

/** key's entry in t, copied to *e: 1 found, 0 none (or a record too short to be one: written
 *  over as absent), -errno; *at as smc_rec_find gives it. */
int smc_entry_at(MDB_txn *t, struct smc *c, const char *key, struct smc_key *at,
                 struct smc_entry *e);

/** The records whose name starts with prefix (every one: ""), in key order (see schema.h). */
struct smc_range {
    MDB_cursor *cur;
    const char *prefix; /* the caller's: it outlives the range */
    size_t pl, kl;      /* its length; the bytes of it every such key starts with */
    int started;
};
int smc_range_open(MDB_txn *t, MDB_dbi d, const char *prefix, struct smc_range *r);
/** The next record: 1 and its name (*nl bytes, not NUL-terminated) and payload, 0 at the end,
 *  -errno. */
int smc_range_next(struct smc_range *r, const char **name, size_t *nl, MDB_val *pay);
void smc_range_close(struct smc_range *r);

/* ---- the queue's keys (schema.h): a sequence number, SMC_QKEY bytes big-endian ---- */
#define SMC_QKEY 8
static inline void smc_qkey_put(uint64_t seq, unsigned char kb[SMC_QKEY])
{
    for (int i = SMC_QKEY - 1; i >= 0; i--, seq >>= 8)
        kb[i] = (unsigned char)seq;
}
static inline uint64_t smc_qkey_get(const MDB_val *k)
{
    uint64_t seq = 0;
    for (size_t i = 0; i < SMC_QKEY; i++)
        seq = seq << 8 | ((const unsigned char *)k->mv_data)[i];
    return seq;
}

/** A fresh idempotency key (22 characters of [A-Za-z0-9]). */
void smc_custom_id(char out[48]);

#endif
