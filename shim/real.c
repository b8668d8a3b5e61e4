/* real.c: the table of libc's own functions (sm_real.h), each resolved on first use with
 * dlsym(RTLD_NEXT) (or all at once when syscall dispatch is armed), and the start of the
 * library's own threads. The only place that calls dlsym. Linked into the library, the CLI and
 * the test runner alike. */
#include "sm_real.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct sm_real_tab sm_real_tab;
__thread int sm_in_lib;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void real_resolve(void)
{
#define SM_REAL_RESOLVE(n)                                                                       \
    __atomic_store_n(&sm_real_tab.n, (__typeof__(n) *)dlsym(RTLD_NEXT, #n), __ATOMIC_RELEASE);
    SM_REAL_LIST(SM_REAL_RESOLVE)
#undef SM_REAL_RESOLVE
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

struct lib_start {
    void *(*fn)(void *);
    void *arg;
};

static void *lib_thread(void *p)
{
    struct lib_start s = *(struct lib_start *)p;
    free(p);
    sm_in_lib = 1;
    return s.fn(s.arg);
}

int sm_thread_start(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    struct lib_start *s = malloc(sizeof *s);
    if (!s)
        return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    sigset_t all, old;
    sigfillset(&all);
    SM_REAL(pthread_sigmask)(SIG_BLOCK, &all, &old); /* the new thread inherits a full mask */
    int rc = SM_REAL(pthread_create)(t, attr, lib_thread, s);
    SM_REAL(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        free(s);
    return rc;
}
