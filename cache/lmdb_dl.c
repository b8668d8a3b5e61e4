/* lmdb_dl.c: see lmdb_dl.h. */
#include "lmdb_dl.h"
#include "sm_real.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

struct smc_lmdb_fns smc_lmdb;
static pthread_once_t once = PTHREAD_ONCE_INIT; /* liblmdb is looked up once per process */
static int load_rc = -ENOSYS;                   /* its outcome: 0, or -ENOSYS (written once) */

static void load(void)
{
    void *h = sm_dlopen_own("liblmdb.so.0", RTLD_NOW | RTLD_LOCAL, NULL, 0); /* (sm_real.h) */
    if (!h)
        return;
    int missing = 0;
#define SMC_LMDB_SYM(n)                                                                            \
    if (!(smc_lmdb.n = (__typeof__(smc_lmdb.n))dlsym(h, "mdb_" #n)))                               \
        missing = 1;
    SMC_LMDB_FNS(SMC_LMDB_SYM)
#undef SMC_LMDB_SYM
    load_rc = missing ? -ENOSYS : 0;
}

int smc_lmdb_load(void)
{
    pthread_once(&once, load);
    return load_rc;
}

/* ---- the gate (lmdb_dl.h) --------------------------------------------------------------------- */

#ifdef SMC_LMDB_DLOPEN
#include <time.h>

static pthread_rwlock_t gate = PTHREAD_RWLOCK_INITIALIZER; /* glibc's default: readers first */
static __thread int gate_held;                             /* this thread's shared holds */
static __thread int gate_closer; /* this thread holds the exclusive side (its reopen) */

void smc_gate_enter(void)
{
    if (gate_closer)
        return; /* the reopen's own transactions */
    pthread_rwlock_rdlock(&gate);
    gate_held++;
}

void smc_gate_leave(void)
{
    if (gate_closer)
        return;
    if (gate_held > 0) /* (a read transaction may end in another thread than it began in) */
        gate_held--;
    pthread_rwlock_unlock(&gate);
}

int smc_gate_close(void)
{
    if (gate_held > 0)
        return -EBUSY;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    if (pthread_rwlock_timedwrlock(&gate, &ts) != 0)
        return -EBUSY;
    gate_closer = 1;
    return 0;
}

void smc_gate_open(void)
{
    gate_closer = 0;
    pthread_rwlock_unlock(&gate);
}

void smc_gate_atfork_child(void)
{
    pthread_rwlock_t fresh = PTHREAD_RWLOCK_INITIALIZER;
    gate = fresh;
    gate_held = 0;
    gate_closer = 0;
}

int smc_gate_commit(MDB_txn *t)
{
    int rc = smc_lmdb.txn_commit(t);
    smc_gate_leave();
    return rc;
}

void smc_gate_abort(MDB_txn *t)
{
    smc_lmdb.txn_abort(t);
    smc_gate_leave();
}
#else
void smc_gate_enter(void)
{
}
void smc_gate_leave(void)
{
}
int smc_gate_close(void)
{
    return 0;
}
void smc_gate_open(void)
{
}
void smc_gate_atfork_child(void)
{
}
#endif
