/* schema.h: the LMDB schema of a cache: databases, key encodings and the packed, versioned value
 * structures. Bump SMC_SCHEMA when a layout changes; an old cache is then refused with -EPROTO
 * (never misread). */
#ifndef SMC_SCHEMA_H
#define SMC_SCHEMA_H

#include <stdint.h>

#define SMC_SCHEMA 2

/* Databases of the environment <cache>/meta:
 *   "entries"  key: the file's remote filepath ("/a/b.md")           value: struct smc_entry
 *   "queue"    key: uint64 sequence number, big-endian (FIFO order)   value: struct smc_qrec + paths
 *   "kv"       key: a setting name (string)                           value: bytes
 *   "inodes"   key: dev and ino (16 bytes)                            value: names, NUL-terminated
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

/* kv names */
#define SMC_KV_SCHEMA "schema" /* decimal SMC_SCHEMA */
/* "qdoc.<remote id>": how many queued SMC_Q_DELETE and SMC_Q_RENAME records name that document
 * (decimal; absent: none). Kept in the transactions that queue and remove those records, so a
 * pull can tell a document whose local removal or rename is not pushed yet: it is not applied
 * or moved until then (the local change wins, as a pending write does). */
#define SMC_KV_QDOC "qdoc."
/* "journal.pos": how far the record journal (cache/journal.c) is folded into this environment:
 * two uint64 in host order, the journal's epoch and the position below which every record is
 * folded. Written in the transaction that folds. */
#define SMC_KV_JPOS "journal.pos"

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

/** A push-queue record: something changed at `from` (and `to`). The pusher compares the tree
 *  with the entries to decide what to send; records are hints that never carry content. */
struct smc_qrec {
    uint32_t version;   /* SMC_QREC_V1 */
    uint32_t op;        /* SMC_Q_* */
    uint64_t enq_ns;    /* when queued */
    char remote_id[64]; /* SMC_Q_DELETE: the document to delete ("" if never created) */
    char custom_id[48]; /* SMC_Q_DELETE: the create's idempotency key */
    /* followed by: from (NUL-terminated), to (NUL-terminated, "" unless SMC_Q_RENAME) */
};
#define SMC_QREC_V1 1

enum smc_qop {
    SMC_Q_WRITE = 1,  /* the file `from` was created or its content changed */
    SMC_Q_DELETE = 2, /* the file `from` was removed */
    SMC_Q_RENAME = 3, /* the file `from` is now `to` (same document) */
    SMC_Q_SCAN = 4,   /* compare the subtree `from` with the entries (a directory came or went) */
};

#endif
