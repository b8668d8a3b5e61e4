/* lmdb_dl.c: see lmdb_dl.h. */
#include "lmdb_dl.h"
#include "sm_real.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

struct smc_lmdb_fns smc_lmdb;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc = -ENOSYS;

static void load(void)
{
    void *h = SM_REAL(dlopen)("liblmdb.so.0", RTLD_NOW | RTLD_LOCAL);
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
