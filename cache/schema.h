/* schema.h: the LMDB schema of a cache: databases, key encodings and the packed, versioned value
 * structures. Bump SMC_SCHEMA when a layout changes; an old cache is then refused with -EPROTO
 * (never misread). */
#ifndef SMC_SCHEMA_H
#define SMC_SCHEMA_H

#include <stdint.h>

#define SMC_SCHEMA 3
/* The schema before the "ids" database: a cache of it is brought to SMC_SCHEMA at its opening
 * (the index is built from the entries, in the opening's transaction). */
#define SMC_SCHEMA_NO_IDS 2

/* Databases of the environment <cache>/meta:
 *   "entries"  key: the file's remote filepath ("/a/b.md")           value: struct smc_entry
 *   "queue"    key: uint64 sequence number, big-endian (FIFO order)   value: struct smc_qrec + paths
 *   "kv"       key: a setting name (string)                           value: bytes
 *   "inodes"   key: dev and ino (16 bytes)                            value: names, NUL-terminated
 *   "ids"      key: a remote document id (at most SMC_ID_MAX bytes)   value: the names of the
 *              entries bound to it, NUL-terminated (ids.c: kept in every transaction that writes
 *              or removes an entry; one name, or more where a server gave two files one document)
 * Directories and symbolic links have no entry: they are not documents (the tree holds them).
 *
 * Keys (entries and kv; cache/key.c). LMDB's keys hold at most 511 bytes, a path up to PATH_MAX.
 * The key of a name n (no NUL in it) is:
 *   n itself                                          when |n| <= SMC_KEY_DIRECT
 *   n[0..SMC_KEY_DIRECT) NUL hash64(n) probe          otherwise (SMC_KEY_HASHED bytes: hash64 is
 *                                                     smc_hash64, big-endian; probe, a big-endian
 *                                                     uint16, tells apart names whose first
 *                                                     SMC_KEY_DIRECT bytes and hash are the same)
 * and a hashed key's value is n, NUL, then the value proper: the whole name is always readable.
 * Invariant: the key of every name starts with that name's first min(|n|, SMC_KEY_DIRECT) bytes.
 * So the names starting with a prefix p (every entry below a directory: p = "/a/") all have keys
 * starting with p' = p[0..min(|p|, SMC_KEY_DIRECT)): a range scan from p' while keys start with
 * p' visits each of them; when |p| > SMC_KEY_DIRECT it also visits names that share p' but not p,
 * which the whole name in the value filters out (smc_range_next). Key order is name order only
 * among direct keys: a hashed key sorts among the names that share its first SMC_KEY_DIRECT bytes,
 * not at its name's place, and nothing may rely on more than the invariant.
 * A name of SMC_KEY_DIRECT+1 .. SMC_KEY_LEGACY bytes may also be found under its own key
 * (written before long names were hashed); its record stays there. */
#define SMC_KEY_DIRECT 500
#define SMC_KEY_HASHED (SMC_KEY_DIRECT + 1 + 8 + 2)
#define SMC_KEY_LEGACY 511   /* LMDB's largest key (MDB_MAXKEYSIZE) */
#define SMC_NAME_MAX   65536 /* the longest name recorded (the tree's paths have no limit) */
/* The longest key that is synced: a filepath the remote and the engine hold is shorter than
 * PATH_MAX. The tree can hold longer paths (made relative to a directory deep in it); such a
 * file is recorded refused (SMC_E_POISONED, no queue record): `smshim status` lists it and
 * `smshim sync` exits 1, it is never pushed, and its rename to a key that fits records it anew. */
#define SMC_KEY_SYNC_MAX 4095
#define SMC_DB_ENTRIES   "entries"
#define SMC_DB_QUEUE     "queue"
#define SMC_DB_KV        "kv"
#define SMC_DB_INODES    "inodes"
#define SMC_DB_IDS       "ids"
#define SMC_ID_MAX       63 /* the longest remote id an entry holds (remote_id[64]) */

/* ---- the kv database: every name, once --------------------------------------------------------
 * A name is a constant below, or a constant ending in its separator ("." or ":") followed by a
 * subject (a filepath, a document id, a pid, a slot). Each line says who writes the value, who
 * reads it, and its format. Values are read and written through the typed accessors of
 * cache/kv.c (cache.h): a number is decimal text, "nums" are decimal numbers separated by one
 * space, a string is the bytes as given (no NUL). Nobody else formats or parses a value; the
 * cache's own writers inside a transaction (schema, journal, qdoc, fetch.pending) use the same
 * formats. A name that holds a lease (lease.sync, budget.<i>) is written and read only through
 * smc_lease_* (cache/sync.c). */
/* decimal SMC_SCHEMA. Written when the environment is made, checked at every open (env.c): a
 * cache of SMC_SCHEMA_NO_IDS gets its "ids" index built then; any other number is refused. */
#define SMC_KV_SCHEMA "schema"
/* "qdoc.<remote id>": how many queued SMC_Q_DELETE and SMC_Q_RENAME records name that document
 * (decimal; absent: none). Kept in the transactions that queue and remove those records (note.c,
 * sync.c), so a pull can tell a document whose local removal or rename is not pushed yet: it is
 * not applied or moved until then (the local change wins, as a pending write does). */
#define SMC_KV_QDOC "qdoc."
/* "journal.pos": how far the record journal (cache/journal.c) is folded into this environment:
 * two uint64 in host order (binary, 16 bytes), the journal's epoch and the position below which
 * every record is folded. Written in the transaction that folds; read by every fold. */
#define SMC_KV_JPOS "journal.pos"

/* The sync engine's names (hydrate/), by what they are about. */
/* lease: "<pid> <start> <expires_ms>[ <due_ms>]" (smc_lease_take, smc_lease_drop, smc_lease_due,
 * smc_lease_each): held until expires_ms while its holder lives, and until due_ms in any case. */
#define SMC_KV_LEASE_SYNC "lease.sync" /* the one process that talks to the remote (lease.c) */
#define SMC_KV_BUDGET     "budget." /* "budget.<slot>": a slot of the request budget (budget.c) */
/* "proc.<pid>": a live process of the cache with a sync thread; u64: its start time
 * (smc_self_start). Written and removed by that process's thread (bg.c); read at its exit by
 * every other, to know whether a live process can take the lease over. */
#define SMC_KV_PROC "proc."
/* "hydq.<filepath>": a name a process missed under the prefix, waiting for the lease holder; u64:
 * when it was queued (smc_now_ms). Written by any process's sync thread, read and removed by the
 * lease holder's (bg.c). */
#define SMC_KV_HYDQ "hydq."
/* "hydd.<filepath>": u64, when the lease holder last asked the server for that name (smc_now_ms):
 * not asked again before the negative TTL. Written, read and expired by the lease holder (bg.c). */
#define SMC_KV_HYDD "hydd."
/* string, the bound remote's base URL and tag: written once by the first process that syncs
 * (bind.c), compared by every later one; shown by `smshim status`. */
#define SMC_KV_REMOTE_URL "remote.url"
#define SMC_KV_REMOTE_TAG "remote.tag"
/* nums "<since_ms> <probe_at_ms> <delay_ms> <probes>": the server is not answering (lease.c; a
 * record of 3 numbers has probes 0). Set by the pull that got no answer, cleared by one that got
 * one; read by every process before it waits on the network, and by `smshim status`. */
#define SMC_KV_SILENT "remote.silent"
/* u64, the median latency in ms of the latest answered requests of a lease holder (lease.c):
 * written when it stops pushing, read by every process to size its stall timeout. */
#define SMC_KV_LATENCY "remote.latency"
/* string, why a process could not read the credentials file: set and cleared by the process that
 * read it (creds.c); shown by `smshim status`. */
#define SMC_KV_CREDS_ERROR "creds.error"
/* string, the server's refusal of the key: set (or removed) by the push run that ends (push.c);
 * while set the queue is paused. Read by the exit drain (bg.c), `smshim sync` and status. */
#define SMC_KV_PUSH_PAUSED "push.paused"
/* string, why the latest file was poisoned: written by the push dispatcher (outcome.c); shown by
 * `smshim sync` and status. */
#define SMC_KV_PUSH_POISONED "push.last_poisoned"
/* "upload.attempt:<custom id>": string, the filepath an upload of that entry was sent with, set
 * before it is sent and removed once its outcome is known (upload.c): a later delete of the file
 * finds the documents such an attempt made. */
#define SMC_KV_UPLOAD_ATTEMPT "upload.attempt:"
/* "gone:<custom id>": num_str "<until, smc_now_ms> <filepath>", a file whose removal was pushed
 * while a push of it may still be applied by the service (hydrate/stray.c): a document carrying
 * that custom id (or upload marker) found at filepath by a pull is deleted, not pulled. Removed
 * by the first pull that started after `until`, which has listed all that came before. */
#define SMC_KV_GONE "gone:"
/* The pull (pull.c), all written by the pull that ends: */
/* u64, the newest updatedAt (ms) a pull applied: the next delta pull lists from there; while
 * absent (no pull applied a document yet) the next pull is a full one (bg.c, `smshim run`). */
#define SMC_KV_PULL_WATERMARK "pull.watermark"
/* u64, when the latest pull succeeded (smc_now_ms): a new process does not pull again before the
 * interval is up (bg.c); shown by status. */
#define SMC_KV_PULL_LAST "pull.last"
/* i64, documents the container holds that no entry stands for, as the last full listing counted
 * them: the count check of a delta pull expects them beside the entries. */
#define SMC_KV_PULL_OFFSET "pull.offset"
/* u64, when the last full listing was taken (smc_now_ms); kept for diagnosis (no reader). */
#define SMC_KV_PULL_FULL_LAST "pull.full_last"
/* u64 counts of the latest pull: remote documents that share a filepath with a newer one
 * (written by a full listing), and too large to hold (written when not 0). The first is shown
 * by status; oversized is kept for diagnosis. */
#define SMC_KV_PULL_DUPLICATES "pull.duplicates"
/* "pull.skipped:<remote id>": string, why pulls skip that document as unsafe (an unsafe
 * filepath, another file here bound to it, an answer that contradicts itself): the line that
 * was logged. Set by the pull that skips it first (or for another reason: each is logged once);
 * removed by the pull that takes it, or whose whole listing lacks it. Counted by status. */
#define SMC_KV_PULL_SKIPPED   "pull.skipped:"
#define SMC_KV_PULL_OVERSIZED "pull.oversized"
/* Binary documents (fetch.c; sibling.c in the cache): */
/* "1" when some entry may carry SMC_E_FETCH: set in the transaction that marks one (sibling.c)
 * and by a fetch pass that left some; removed by the fetch pass before it looks. */
#define SMC_KV_FETCH "fetch.pending"
/* "fetch.url:<filepath>": "<updatedAt ms> <url>" as the listing gave them (smc_kv_*_num_str): a
 * hint, taken (read and removed) by the fetch of that document. */
#define SMC_KV_FETCH_URL "fetch.url:"
/* "fetch.retry:<filepath>": nums "<failures> <next try, smc_now_ms> <updatedAt of the version
 * that failed, 0: not known>": the backoff of a failed fetch (fetch.c); read by status --list. */
#define SMC_KV_FETCH_RETRY "fetch.retry:"

/** One regular file's sync state. An entry exists from the first local change (or the first
 *  pull) of the file until its remote document is gone. */
struct smc_entry {
    uint32_t version;        /* SMC_ENTRY_V1 */
    uint32_t flags;          /* SMC_E_* */
    uint64_t dirty_since_ns; /* first local change not yet pushed; 0 when clean */
    uint64_t synced_size;    /* local stat when the file last matched the remote */
    uint64_t synced_mtime_ns;
    uint64_t synced_ino;
    uint64_t remote_updated_ms; /* the remote document's updatedAt */
    uint64_t synced_hash;       /* FNV-1a 64 of the bytes last pushed or pulled (0: none) */
    char remote_id[64];         /* the remote document id; "" until a create is answered */
    char custom_id[48];         /* idempotency key of the create, chosen when first queued */
};
#define SMC_ENTRY_V1 1

#define SMC_E_REMOTE     0x1  /* a remote document exists (remote_id is set) */
#define SMC_E_POISONED   0x2  /* the server refused this file for good; kept, not retried */
#define SMC_E_LOCALONLY  0x4  /* content the service cannot hold (over 50 MB): never pushed */
#define SMC_E_BINARY     0x8  /* its document is a binary one (an upload; its bytes at a url) */
#define SMC_E_SIBLING    0x10 /* a read-only file the engine writes beside a binary document */
#define SMC_E_FETCH      0x20 /* a binary document whose bytes are still to be fetched */
#define SMC_E_NOTFETCHED 0x40 /* a binary document too large to fetch: listed, no file */
/* bound, never pushed, to a document found at its filepath (adopt.c): a create it may have sent
 * before (its answer lost) made a document of its customId, which its push deletes */
#define SMC_E_ADOPTED 0x80

/** A push-queue record: something changed at `from` (and `to`). The pusher compares the tree
 *  with the entries to decide what to send; records are hints that never carry content. */
struct smc_qrec {
    uint32_t version;   /* SMC_QREC_V1 */
    uint32_t op;        /* SMC_Q_* */
    uint64_t enq_ns;    /* when queued */
    char remote_id[64]; /* SMC_Q_DELETE, _STRAY: the document to delete ("" if never created) */
    char custom_id[48]; /* SMC_Q_DELETE, _STRAY: the create's idempotency key */
    /* followed by: from (NUL-terminated), to (NUL-terminated, "" unless SMC_Q_RENAME) */
};
#define SMC_QREC_V1 1

enum smc_qop {
    SMC_Q_WRITE = 1,  /* the file `from` was created or its content changed */
    SMC_Q_DELETE = 2, /* the file `from` was removed */
    SMC_Q_RENAME = 3, /* the file `from` is now `to` (same document) */
    SMC_Q_SCAN = 4,   /* compare the subtree `from` with the entries (a directory came or went) */
    /* the document remote_id at `from` was made by this cache for the entry of custom_id (a
     * retried push's earlier attempt the service applied late) and is not the file's document:
     * deleted, unless it became the file's document meanwhile (hydrate/stray.c) */
    SMC_Q_STRAY = 5,
};

#endif
