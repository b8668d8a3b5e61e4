/* real.c: the table of real libc functions (dlsym RTLD_NEXT), resolved once. The only place
 * that calls dlsym. */
#include "shim.h"

#include <dlfcn.h>
#include <pthread.h>

struct sm_real_tab sm_real_tab;
int sm_real_ready;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void real_resolve(void)
{
#define SM_REAL_RESOLVE(n) sm_real_tab.n = (__typeof__(n) *)dlsym(RTLD_NEXT, #n);
    SM_REAL_LIST(SM_REAL_RESOLVE)
#undef SM_REAL_RESOLVE
    __atomic_store_n(&sm_real_ready, 1, __ATOMIC_RELEASE);
}

/** Resolve the table (idempotent, thread-safe). The constructor calls it first, so the per-call
 *  path never does; a wrapper reached before the constructor (another library's constructor)
 *  resolves it here. */
void sm_real_init(void)
{
    pthread_once(&real_once, real_resolve);
}
