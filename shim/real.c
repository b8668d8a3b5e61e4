/* real.c: the table of real libc functions (dlsym RTLD_NEXT), each resolved on first use (or all
 * at once when syscall dispatch is armed). The only place that calls dlsym. */
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

void sm_real_init(void)
{
    pthread_once(&real_once, real_resolve);
}

/* Two threads may resolve the same entry at once: both store the same pointer. */
void *sm_real_resolve(void **slot, const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    return p;
}
