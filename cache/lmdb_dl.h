/* lmdb_dl.h: liblmdb through dlopen, for the preload (built with -DSMC_LMDB_DLOPEN): a process
 * that never changes anything under the prefix never loads it. Every mdb_* call of cache/ goes
 * through the table below; smc_open() loads it first. The CLI and the tests link liblmdb. */
#ifndef SMC_LMDB_DL_H
#define SMC_LMDB_DL_H

#include <lmdb.h>

/* clang-format off */
#define SMC_LMDB_FNS(X)                                                                          \
    X(env_create) X(env_set_maxdbs) X(env_set_mapsize) X(env_set_maxreaders) X(env_open)         \
    X(env_close) X(env_sync) X(reader_check) X(txn_begin) X(txn_commit) X(txn_abort) X(dbi_open) \
    X(get) X(put) X(del) X(cursor_open) X(cursor_get) X(cursor_close) X(stat) X(env_get_fd)   \
    X(drop)
/* clang-format on */

#define SMC_LMDB_FIELD(n) __typeof__(mdb_##n) *n;
struct smc_lmdb_fns {
    SMC_LMDB_FNS(SMC_LMDB_FIELD)
};
#undef SMC_LMDB_FIELD
extern struct smc_lmdb_fns smc_lmdb;

/** Load liblmdb.so.0 (RTLD_LOCAL) once. 0, or -ENOSYS when it cannot be loaded. */
int smc_lmdb_load(void);

/* The gate: the environment of a process may be closed and opened again (smc_reopen: the host
 * wants the number of one of LMDB's descriptors). Every use of it (a transaction, from its begin
 * in smc_txn to its commit or abort; a flush) holds the gate's shared side, taken before c->env
 * is read; a reopen holds its exclusive side, so no thread uses the old environment during the
 * swap or after it. A thread may hold the shared side more than once (a write transaction inside
 * a read one). Lock order: the gate before LMDB's own writer mutex. In the CLI and the tests
 * (one environment, no reopen) the gate is a no-op. */
void smc_gate_enter(void);
void smc_gate_leave(void);
/** Take the exclusive side, waiting for every transaction of the process to end (at most
 *  5 s). 0, or -EBUSY: this thread holds a transaction (a signal handler interrupted it), or
 *  one did not end in time. */
int smc_gate_close(void);
void smc_gate_open(void);
/** A forked child: no thread of the parent holds the gate here. */
void smc_gate_atfork_child(void);
int smc_gate_commit(MDB_txn *t);
void smc_gate_abort(MDB_txn *t);

#ifdef SMC_LMDB_DLOPEN
#define mdb_env_create         smc_lmdb.env_create
#define mdb_env_set_maxdbs     smc_lmdb.env_set_maxdbs
#define mdb_env_set_mapsize    smc_lmdb.env_set_mapsize
#define mdb_env_set_maxreaders smc_lmdb.env_set_maxreaders
#define mdb_env_open           smc_lmdb.env_open
#define mdb_env_close          smc_lmdb.env_close
#define mdb_env_sync           smc_lmdb.env_sync
#define mdb_reader_check       smc_lmdb.reader_check
#define mdb_txn_begin          smc_lmdb.txn_begin
#define mdb_txn_commit         smc_gate_commit
#define mdb_txn_abort          smc_gate_abort
#define mdb_dbi_open           smc_lmdb.dbi_open
#define mdb_get                smc_lmdb.get
#define mdb_put                smc_lmdb.put
#define mdb_del                smc_lmdb.del
#define mdb_cursor_open        smc_lmdb.cursor_open
#define mdb_cursor_get         smc_lmdb.cursor_get
#define mdb_cursor_close       smc_lmdb.cursor_close
#define mdb_stat               smc_lmdb.stat
#define mdb_env_get_fd         smc_lmdb.env_get_fd
#define mdb_drop               smc_lmdb.drop
#endif

#endif
