/* cache.h: the smc_ API over a cache's LMDB environment. The cache is passive: it never touches
 * the network; the shim records changes into it and the sync engine drains it.
 *
 * Functions return 0 (or a count) on success and -errno on failure; LMDB codes are mapped once,
 * in smc_errno(). Every function may be called from any thread (the environment is opened with
 * MDB_NOTLS); an smc handle must not be used after fork (see smc_abandon).
 *
 * Recording a change (smc_note_*) appends it to the cache's journal (journal.c); every reader of
 * the cache's state below (entries, queue, kv) first folds what is pending, so it sees every
 * change recorded before it was called, in the order they were recorded.
 */
#ifndef SMC_CACHE_H
#define SMC_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "schema.h"

struct smc;

/** Open (creating if needed) the environment in directory `meta_dir`. Commits are not flushed to
 *  disk (MDB_NOSYNC): a killed process never corrupts it; smc_flush() makes it durable.
 *  @return 0 and *out, or -EPROTO (another schema), -errno. */
int smc_open(const char *meta_dir, struct smc **out);
/** Open the cache at meta_dir to record changes: the journal is mapped now, so a process's first
 *  change costs an open and an mmap; LMDB is loaded and the environment opened at the first
 *  transaction that needs it (smc_env_ensure), in whichever thread asks first, and on_env
 *  (or NULL) runs once after that, in the same thread. 0 and *out, or -errno. */
int smc_open_journal(const char *meta_dir, void (*on_env)(struct smc *c), struct smc **out);
/** Is c's environment open (after smc_open, or once smc_env_ensure succeeded)? */
int smc_env_ready(struct smc *c);
/** Open c's environment now if it is not yet: 0, or the opening's -errno (every time after it
 *  failed once). */
int smc_env_ensure(struct smc *c);
/** Close the environment (process exit or end of use). */
void smc_close(struct smc *c);
/** In a fork child: forget the inherited handle without touching it (LMDB: "not after fork"). */
void smc_abandon(struct smc *c);
/** Flush committed transactions to disk. */
int smc_flush(struct smc *c);
/* ---- the cache directory's layout (layout.c) ---- */

enum smc_part {
    SMC_TREE, /* the materialised namespace (0755) */
    SMC_META, /* the LMDB environment (0700) */
    SMC_TMP,  /* staging for files the sync engine writes, renamed into the tree (0700) */
};
/** <cache>/<part><rest> into out (rest: NULL, or "/a/b"). 0 or -ENAMETOOLONG. */
int smc_layout_path(const char *cache, enum smc_part part, const char *rest, char *out,
                    size_t size);
/** Create the cache directory (and missing parents, 0700) and its parts with their modes.
 *  0 or -errno. Allocates nothing and takes no lock. */
int smc_layout_ensure(const char *cache);
/** mkdirat(dirfd, path, mode), then exactly mode whatever the umask took: 0 or -errno
 *  (-EEXIST when it was there: left as it is). */
int smc_mkdirat_exact(int dirfd, const char *path, mode_t mode);
/** fd (of the cache's, with its stat st) to exactly mode when a umask made it narrower and it is
 *  the caller's. */
void smc_fd_exact(int fd, const struct stat *st, mode_t mode);
/** flock(fd, op) of a file of the cache's, waited again when a signal interrupts the wait (a
 *  program's handler installed without SA_RESTART runs on the thread that waits): 0 or -1 with
 *  errno, never EINTR. */
int smc_flock(int fd, int op);
/** dir/name created as an empty file of exactly mode unless it exists: 0 or -errno. */
int smc_file_exact(const char *dir, const char *name, mode_t mode);

/* ---- the tree, for the sync engine (beneath.c): nothing outside it, no link followed ---- */

struct stat;
/** A descriptor (the shim's own, O_PATH) on the directory holding key's last component, walked
 *  beneath tree without following any symbolic link; *leaf points at that component in key.
 *  mkdirs: create missing directories (0755). -ENOTDIR when a link or a file is in the way,
 *  -ENOENT when a directory is missing, -EINVAL for "." or ".." components. */
int smc_tree_dir(const char *tree, const char *key, int mkdirs, const char **leaf);
/** Tests: 1 makes smc_tree_dir walk component by component only (no openat2); returns the
 *  previous setting. */
int smc_beneath_walk_only(int on);
/** Has openat2 answered here (the kernel has it and no sandbox refuses it)? */
int smc_beneath_fast_seen(void);
/** How many smc_tree_dir answers openat2 gave. */
unsigned long long smc_beneath_fast_count(void);
/** lstat of key beneath tree (no link followed on the way). 0 or -errno. */
int smc_tree_stat(const char *tree, const char *key, struct stat *st);
/** Open leaf in dfd for reading: never following a link, never blocking, a regular file only
 *  and, when want is given, the same inode as *want. A descriptor of the shim's, or -errno. */
int smc_tree_open_file(int dfd, const char *leaf, const struct stat *want);

/** A visitor of smc_tree_walk: key ("/a/b") and lstat of one entry; non-zero stops the walk. */
typedef int (*smc_walk_fn)(void *arg, const char *key, const struct stat *st);
/** Visit every entry below key ("/" or "": the whole tree) beneath tree, a directory before what
 *  it holds, following no symbolic link and with no path length limit; what cannot be read is
 *  left out. 0, fn's non-zero value, or -errno (key is not a directory beneath tree, or
 *  -ENOMEM). */
int smc_tree_walk(const char *tree, const char *key, smc_walk_fn fn, void *arg);

/** The map each process asks for: address space only; the file grows as it is used. */
#define SMC_MAPSIZE ((size_t)16 << 30)
/** The size of the map this process got: smaller than SMC_MAPSIZE when the address space is
 *  limited (ulimit -v); the environment then holds less before MDB_MAP_FULL (-ENOSPC). */
size_t smc_map_size(struct smc *c);
/** Close c's environment and open it again, into the same c (other threads keep their
 *  pointer): LMDB's descriptors get new numbers. The caller holds the gate's exclusive side
 *  (lmdb_dl.h: no transaction is open in the process). 0, or -errno: then every transaction
 *  of c fails with -EIO. */
int smc_reopen(struct smc *c);
/** Is fd one of the descriptors c's environment holds (on data.mdb or lock.mdb)? */
int smc_env_holds(struct smc *c, int fd);

/* ---- files that could not be recorded (unrecorded.c): kept outside LMDB ---------------------- */
/** key could not be recorded (err: ENOSPC, the map is full; EOVERFLOW, no free probe): it is
 *  listed until a scan records it. 0 or -errno. */
int smc_unrecorded_add(struct smc *c, const char *key, int err);
/** How many files are listed as unrecorded, the last one added and its errno. */
int smc_unrecorded_get(struct smc *c, unsigned long long *n, char *last, size_t lastn, int *err);
/** A scan's end: keys now recorded, or no longer regular files beneath tree, leave the list.
 *  Returns how many left, or -errno. Call with no transaction open. */
long smc_unrecorded_sweep(struct smc *c, const char *tree);
/** Identity of the environment's lock file (LMDB keeps its locks there). */
void smc_lock_ident(struct smc *c, uint64_t *dev, uint64_t *ino);
/** Take LMDB's advisory locks again after the process closed another descriptor on the lock
 *  file (closing any descriptor on a file drops the process's POSIX locks on it). */
void smc_relock(struct smc *c);
/** Map an LMDB or errno code to -errno. */
int smc_errno(int rc);

/** Record a create/write/truncate of the file `key`: the entry becomes dirty (if it was clean)
 *  and a SMC_Q_WRITE record is queued, in one transaction. A file already dirty costs one read. */
int smc_note_write(struct smc *c, const char *key, uint64_t now_ns);
/** A write recorded in the journal: which journal (its epoch; 0: none) and where. */
struct smc_wtok {
    uint64_t epoch, pos;
};
/** smc_note_write, and *tok: where its record lies when it went to the journal, zeros when it did
 *  not (recorded in a transaction, folded at once, or not recorded: the file dirty already). */
int smc_note_write_tok(struct smc *c, const char *key, uint64_t now_ns, struct smc_wtok *tok);
/** 1 when no fold has read tok's record yet (no lock, no system call). Another write of the same
 *  key recorded now would be folded by the same fold, right after it, and change nothing that
 *  it does not (an entry already dirty stays as it is): a caller may leave it unrecorded. */
int smc_wtok_unread(struct smc *c, const struct smc_wtok *tok);
/** Record writes of the n files keys[] (a directory that arrived from outside), in one
 *  transaction. */
int smc_note_writes(struct smc *c, const char *const *keys, size_t n, uint64_t now_ns);
/** Record the removal of `key`: its entry goes and a SMC_Q_DELETE record carrying the remote
 *  id is queued. No-op for a file that has no entry. */
int smc_note_unlink(struct smc *c, const char *key, uint64_t now_ns);
/** Record a rename. from == NULL: something arrived at `to` from outside the prefix; to == NULL:
 *  `from` left the prefix; is_dir: a whole directory (every entry below moves). */
int smc_note_rename(struct smc *c, const char *from, const char *to, int is_dir, uint64_t now_ns);

/* Hard links: the names of an inode (links.c). The remote has no links: each name is its own
 * document. */
struct smc_ino {
    uint64_t dev, ino;
};
/** `added` is a new name of the file `existing` (inode id): `added` becomes dirty and both
 *  names are in id's record, in one transaction. */
int smc_links_note_link(struct smc *c, const struct smc_ino *id, const char *existing,
                        const char *added, uint64_t now_ns);
/** The names recorded for id, NUL-separated, malloc'd into *out (*len bytes). 0 or -ENOENT. */
int smc_links_names(struct smc *c, const struct smc_ino *id, char **out, size_t *len);
/** A write to the file id whose names are now exactly names[0..n): each becomes dirty and the
 *  record is set to them (removed when fewer than two), in one transaction. */
int smc_links_note_write(struct smc *c, const struct smc_ino *id, const char *const *names,
                         size_t n, uint64_t now_ns);
/** In id's record, the name from becomes to (from == NULL: add to; to == NULL: drop from). */
int smc_links_rename(struct smc *c, const struct smc_ino *id, const char *from, const char *to);

struct smc_counts {
    uint64_t entries;   /* files with sync state */
    uint64_t dirty;     /* entries with a pending local change */
    uint64_t remote;    /* entries known remotely */
    uint64_t poisoned;  /* entries the server refused */
    uint64_t localonly; /* entries that cannot be synced */
    uint64_t queued;    /* push-queue records */
};
int smc_counts(struct smc *c, struct smc_counts *out);

/* ---- which files a document is bound to (ids.c) ---------------------------------------------
 * The sync engine acts on a document for a file only when no other file of the cache is bound
 * to it: a server that gave two files one document makes neither file's change reach it. */
/** How many files other than key (NULL: any file) are bound to the document id, after every
 *  change recorded before the call; the first of them into other (n bytes, or NULL). 0 when
 *  none, or -errno. */
int smc_doc_others(struct smc *c, const char *id, const char *key, char *other, size_t n);
/** How many documents are bound to more than one file now. 0 or -errno. */
int smc_ids_shared(struct smc *c, uint64_t *shared);

/** Read the entry of `key` into *e. 0, or -ENOENT. */
int smc_entry_get(struct smc *c, const char *key, struct smc_entry *e);

/** Visit queue records in order; stop when fn returns non-zero. */
typedef int (*smc_qvisit)(void *arg, uint64_t seq, const struct smc_qrec *q, const char *from,
                          const char *to);
int smc_queue_each(struct smc *c, smc_qvisit fn, void *arg);

/** Visit entries in key order; stop when fn returns non-zero. */
typedef int (*smc_evisit)(void *arg, const char *key, const struct smc_entry *e);
int smc_entry_each(struct smc *c, smc_evisit fn, void *arg);

/* ---- for the sync engine (sync.c) ----------------------------------------------------------- */

/* ---- the kv database (kv.c): the names and formats are in schema.h -------------------------- */

/** The raw value of the name (a string, NUL-terminated, cut to size) in buf: 0, or -ENOENT. */
int smc_kv_get(struct smc *c, const char *name, char *buf, size_t size);
int smc_kv_put(struct smc *c, const char *name, const char *value);
int smc_kv_del(struct smc *c, const char *name); /* 0 also when it was not set */
/** Visit the names that start with prefix (whole name, raw value); stop when fn returns non-zero
 *  (its value is returned). */
int smc_kv_each(struct smc *c, const char *prefix, int (*fn)(void *, const char *, const char *),
                void *arg);
/* Typed accessors. Each names its value by one of schema.h's names and a subject appended to it
 * (sub: NULL for a name that has none). A get returns 0 or -ENOENT (-errno); a value that is not
 * a number reads as 0. */
int smc_kv_get_str(struct smc *c, const char *name, const char *sub, char *buf, size_t size);
int smc_kv_set_str(struct smc *c, const char *name, const char *sub, const char *value);
int smc_kv_unset(struct smc *c, const char *name, const char *sub);
int smc_kv_get_u64(struct smc *c, const char *name, const char *sub, uint64_t *v);
int smc_kv_set_u64(struct smc *c, const char *name, const char *sub, uint64_t v);
int smc_kv_get_i64(struct smc *c, const char *name, const char *sub, int64_t *v);
int smc_kv_set_i64(struct smc *c, const char *name, const char *sub, int64_t v);
/** "nums" (up to 8 numbers): how many of the n asked for the value holds (the rest read as 0),
 *  or -ENOENT. */
int smc_kv_get_nums(struct smc *c, const char *name, const char *sub, uint64_t *v, int n);
int smc_kv_set_nums(struct smc *c, const char *name, const char *sub, const uint64_t *v, int n);
/** The same for a value already read: how many numbers s starts with (up to n). */
int smc_kv_parse_nums(const char *s, uint64_t *v, int n);
/** "<number> <string>": 0, -ENOENT, or -EINVAL when the value is not of that form. */
int smc_kv_get_num_str(struct smc *c, const char *name, const char *sub, int64_t *num, char *buf,
                       size_t size);
int smc_kv_set_num_str(struct smc *c, const char *name, const char *sub, int64_t num,
                       const char *s);
/** Visit the names prefix + sub with their "nums" value (got: how many numbers it held, up to
 *  n); stop when fn returns non-zero. */
typedef int (*smc_kv_nums_fn)(void *arg, const char *sub, const uint64_t *v, int got);
int smc_kv_each_nums(struct smc *c, const char *prefix, int n, smc_kv_nums_fn fn, void *arg);

/** Take or renew the lease `name` for process (pid, start). A lease held by another process is
 *  taken over when it expired or its holder is dead, and its due time (smc_lease_due) has
 *  passed. 1 held, 0 held by another, -errno. A lease taken or renewed has no due time. */
int smc_lease_take(struct smc *c, const char *name, int pid, uint64_t start, uint64_t now_ms,
                   uint64_t ttl_ms);
/** Give the lease up if (pid) holds it. */
int smc_lease_drop(struct smc *c, const char *name, int pid);
/** The lease `name`, if (pid) holds it, stays taken until due_ms at least (smc_now_ms's clock),
 *  whatever becomes of its holder: what the holder started may last until then (a request to
 *  the server, until its timeout). 1 set, 0 not held by pid, -errno. */
int smc_lease_due(struct smc *c, const char *name, int pid, uint64_t due_ms);
/** A lease as it is stored (kv value "<pid> <start> <expires_ms>[ <due_ms>]"). */
struct smc_lease {
    int pid;
    uint64_t start;      /* the holder's start time (smc_self_start) */
    uint64_t expires_ms; /* smc_now_ms's clock */
    uint64_t due_ms;     /* taken until then, its holder alive or not (0: none) */
};
/** Visit the leases whose name starts with prefix (sub: the rest of the name); stop when fn
 *  returns non-zero. */
typedef int (*smc_lease_fn)(void *arg, const char *sub, const struct smc_lease *l);
int smc_lease_each(struct smc *c, const char *prefix, smc_lease_fn fn, void *arg);
/** The process pid (this process: its start time is recorded) joins (on 1) or leaves the cache's
 *  participants (kv SMC_KV_PROC). */
int smc_proc_mark(struct smc *c, int pid, int on);
/** Is a participant other than self alive? */
int smc_proc_other_alive(struct smc *c, int self);
/** Is the process (pid, start) alive? (start: its start time from /proc, 0 to skip the check) */
int smc_pid_alive(int pid, uint64_t start);
/** This process's start time (clock ticks since boot, from /proc/self/stat). */
uint64_t smc_self_start(void);

/** A queue record, as the pusher reads it. */
struct smc_qitem {
    uint64_t seq;
    uint32_t op;
    uint64_t enq_ns;
    char remote_id[64];
    char custom_id[48];
    char *from, *to; /* point into the item's own storage */
    char paths[];
};
/** The first `max` records in order (malloc'd array of malloc'd items). */
int smc_queue_batch(struct smc *c, size_t max, struct smc_qitem ***out, size_t *n);
void smc_queue_batch_free(struct smc_qitem **v, size_t n);
int smc_queue_del(struct smc *c, const uint64_t *seqs, size_t n);
int smc_queue_put_op(struct smc *c, enum smc_qop op, const char *from, const char *to);
/** Queue the deletion of document id at key, made by this cache for the entry of custom_id and
 *  not the file's document (SMC_Q_STRAY); nothing when one is queued for id already. With
 *  write_first, a write of key goes before it (and it is queued whatever is queued). */
int smc_queue_put_stray(struct smc *c, const char *key, const char *id, const char *custom_id,
                        int write_first);

/** The outcome of pushing `key`, committed with the removal of its records, in one transaction:
 *  if the entry still belongs to the same create (custom_id), it gets the remote id and the
 *  stat the pushed content had; it is clean again only if the file still has that stat. */
struct smc_pushed {
    const char *remote_id;                    /* NULL: unchanged */
    uint64_t size, mtime_ns, ino;             /* the stat of the bytes that were pushed */
    uint64_t hash;                            /* their FNV-1a 64 */
    uint64_t now_size, now_mtime_ns, now_ino; /* the file's stat now (0,0,0: gone) */
    uint32_t set_flags, clear_flags;
};
/** -EEXIST (nothing committed) when p binds key to a document another file is bound to. */
int smc_push_done(struct smc *c, const char *key, const char *custom_id, const struct smc_pushed *p,
                  const uint64_t *seqs, size_t nseq);
/** A remote document to mirror into the tree. */
struct smc_remote {
    const char *key; /* its filepath (validated by the caller) */
    const char *remote_id;
    uint64_t updated_ms;
    const char *content;
    size_t len;
    uint64_t hash; /* FNV-1a 64 of content */
};
enum smc_apply {
    SMC_APPLIED = 1, /* the file now holds the document */
    SMC_SAME,        /* the file already held it (modulo the trailing newline): entry updated */
    SMC_KEPT_LOCAL,  /* a local change is pending (dirty_since, or an unrecorded edit): kept */
    SMC_UP_TO_DATE,  /* nothing newer */
    SMC_CONFLICT,    /* the name holds what is not a regular file (a directory): not applied */
    SMC_UNSAFE,      /* the path crosses a symbolic link or a file of the tree: not applied */
    SMC_SHARED,      /* another file here is bound to the document: neither file is touched */
};
/** Mirror one document into tree_dir (the tree's absolute path), writing the bytes to a
 *  temporary file in tmp_dir first. The check for a pending local change and the rename into
 *  place happen inside one LMDB write transaction that guards the key (journal.c): the shim
 *  records a write-open before it opens, so a local write either is seen here or happens after
 *  the rename. */
int smc_apply_remote(struct smc *c, const char *tree_dir, const char *tmp_dir,
                     const struct smc_remote *d);
/** The same for a document of another kind: flags SMC_E_BINARY (a binary document's bytes) or
 *  SMC_E_SIBLING (a read-only file beside one: mode 0444, no remote id of its own). */
int smc_apply_remote_as(struct smc *c, const char *tree_dir, const char *tmp_dir,
                        const struct smc_remote *d, uint32_t flags);
/** A full listing lacks the clean file key and a GET of its id said 404: remove the file (if it
 *  is still the pulled version) and its entry. 1 removed, 0 kept (also when another file is
 *  bound to that document), -errno. */
int smc_remove_remote(struct smc *c, const char *tree_dir, const char *key, const char *remote_id);

/** The document remote_id of the clean file `from` is now at the filepath `to` (renamed
 *  remotely): move the file and its entry there, in one LMDB write transaction (a local write
 *  recorded before it is seen; one after it finds the file gone). */
enum smc_move {
    SMC_MOVE_NONE = 0, /* not moved: `from` is not that document's file (or not its only one),
                        * or `to` is taken */
    SMC_MOVE_DONE,     /* moved: `from` is gone */
    SMC_MOVE_KEPT,     /* a local change is pending at `from`: it keeps its name and content */
};
int smc_move_remote(struct smc *c, const char *tree_dir, const char *from, const char *to,
                    const char *remote_id);

/* ---- binary documents (sibling.c) ------------------------------------------------------------ */

/** The read-only siblings of a binary document's file, by smfs's names: "<key>.<type>-
 *  transcription.md" for the types image, pdf, video, audio, webpage (i 0..4), and
 *  "<key>.smfs-error.txt" (i SMC_SIBLING_ERROR) for a document the service failed to process.
 *  Written with smc_apply_remote (flags SMC_E_SIBLING, remote_id ""); never pushed. */
#define SMC_SIBLINGS      6
#define SMC_SIBLING_ERROR 5
/** Sibling i's name for key into out. 0, or -ENAMETOOLONG (no such sibling). */
int smc_sibling_name(const char *key, int i, char *out, size_t n);
/** Remove key's siblings but sibling keep (-1: none kept): each file (if it is still what the
 *  engine wrote) and its entry. The count removed. */
int smc_siblings_drop(struct smc *c, const char *tree_dir, const char *key, int keep);
/** key's siblings follow it from `from` to `to` (one that cannot, goes). The count moved. */
int smc_siblings_move(struct smc *c, const char *tree_dir, const char *from, const char *to);
/** The binary document remote_id, version updated_ms (its updatedAt; 0: not known), is at key:
 *  mark its bytes to be fetched (SMC_E_FETCH), in one transaction. hash: the FNV-1a 64 of the
 *  bytes the document says it holds (its upload marker; 0: none), which spares the fetch of the
 *  cache's own upload. SMC_APPLIED (marked), SMC_UP_TO_DATE (that version's bytes are here, or
 *  too large and known, or already marked), SMC_KEPT_LOCAL (a pending local change, or
 *  local-only bytes), SMC_SHARED (another file is bound to that document), or -errno. */
int smc_mark_fetch(struct smc *c, const char *tree_dir, const char *key, const char *remote_id,
                   uint64_t updated_ms, uint64_t hash);
/** The fetch of key's document remote_id (version updated_ms, 0: not known) is over without its
 *  bytes: not_fetched 1 marks it SMC_E_NOTFETCHED (too large: listed, never fetched); 0 only
 *  clears SMC_E_FETCH. That version is not marked again. */
int smc_fetch_done(struct smc *c, const char *key, const char *remote_id, int not_fetched,
                   uint64_t updated_ms);

/** The document remote_id, whose bytes are not here (SMC_E_FETCH or SMC_E_NOTFETCHED: no file
 *  at `from`), is now at the filepath `to`: its entry moves there, in one transaction, and its
 *  siblings follow. SMC_MOVE_DONE, SMC_MOVE_NONE (not that entry, a local change, a file at
 *  either name, `to` taken), or -errno. */
int smc_move_unfetched(struct smc *c, const char *tree_dir, const char *from, const char *to,
                       const char *remote_id);

/** A remote text document remote_id is at key, where a file with a pending write was never
 *  pushed (no remote id): bind the entry to it, so its push updates that document with the
 *  local bytes instead of creating a second one (adopt.c). 1 bound, 0 not (also when another
 *  file is bound to it), -errno. */
int smc_adopt_remote(struct smc *c, const char *key, const char *remote_id);

/** Wall-clock milliseconds (the unit of leases, watermarks and the engine's timers). */
uint64_t smc_now_ms(void);
/** Wall-clock nanoseconds (the unit of an entry's dirty_since_ns and a queue record's enq_ns). */
uint64_t smc_now_ns(void);
struct stat;
/** A stat's mtime in nanoseconds (the unit of an entry's synced_mtime_ns). */
uint64_t smc_mtime_ns(const struct stat *st);

/** FNV-1a 64 of n bytes (never 0: 0 means "no hash" in an entry). */
uint64_t smc_hash64(const char *s, size_t n);

/** Write an entry as is (scan, tests). */
int smc_entry_put(struct smc *c, const char *key, const struct smc_entry *e);

#endif
