/* http_load.c: libcurl and cJSON through dlopen (RTLD_LOCAL), once they load; a failure is kept
 * with its reason and tried again at most once a second. */
#include "http_int.h"
#include "clock.h"
#include "sm_real.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* a failed load is tried again after this */
#define LOAD_RETRY_MS 1000

struct smh_json smh_json;

struct smh_curl_fns smh_cu;

/* The libraries are loaded once they load; a failure is kept with its reason (dlerror) and tried
 * again at the next call, at most once a second (load_mu guards the attempt). */
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static int load_ok;            /* 1 once loaded: read without the lock */
static int load_rc = -ENOSYS;  /* the last attempt's result */
static uint64_t load_retry_ms; /* no new attempt before this (monotonic ms) */
static char load_why[256] = "not loaded yet";

static void *sym(void *h, const char *name, int *missing)
{
    void *p = dlsym(h, name);
    if (!p)
        *missing = 1;
    return p;
}

static void *open_lib(const char *name)
{
    char e[200];
    void *h = sm_dlopen_own(name, RTLD_NOW | RTLD_LOCAL, e, sizeof e); /* (sm_real.h) */
    if (!h)
        snprintf(load_why, sizeof load_why, "cannot load %s: %s", name, e);
    return h;
}

static int load(void)
{
    int missing = 0;
    void *hc = open_lib("libcurl.so.4");
    void *hj = hc ? open_lib("libcjson.so.1") : NULL;
    if (!hc || !hj) {
        if (hc)
            dlclose(hc);
        return -ENOENT;
    }
#define C(f, n) smh_cu.f = (__typeof__(smh_cu.f))sym(hc, n, &missing)
    C(global_init, "curl_global_init");
    C(init, "curl_easy_init");
    C(setopt, "curl_easy_setopt");
    C(perform, "curl_easy_perform");
    C(getinfo, "curl_easy_getinfo");
    C(cleanup, "curl_easy_cleanup");
    C(reset, "curl_easy_reset");
    C(strerror_, "curl_easy_strerror");
#undef C
#define J(f, n) smh_json.f = (__typeof__(smh_json.f))sym(hj, n, &missing)
    J(Parse, "cJSON_Parse");
    J(ParseWithLength, "cJSON_ParseWithLength");
    J(ParseWithOpts, "cJSON_ParseWithOpts");
    J(Delete, "cJSON_Delete");
    J(Get, "cJSON_GetObjectItemCaseSensitive");
    J(ArraySize, "cJSON_GetArraySize");
    J(ArrayItem, "cJSON_GetArrayItem");
    J(CreateObject, "cJSON_CreateObject");
    J(CreateArray, "cJSON_CreateArray");
    J(CreateString, "cJSON_CreateString");
    J(AddString, "cJSON_AddStringToObject");
    J(AddNumber, "cJSON_AddNumberToObject");
    J(AddBool, "cJSON_AddBoolToObject");
    J(AddItem, "cJSON_AddItemToObject");
    J(AddToArray, "cJSON_AddItemToArray");
    J(Print, "cJSON_PrintUnformatted");
    J(Free, "cJSON_free");
    J(DelItem, "cJSON_DeleteItemFromObjectCaseSensitive");
#undef J
    if (missing) {
        snprintf(load_why, sizeof load_why, "libcurl.so.4 or libcjson.so.1 lacks a function");
        return -ENOSYS;
    }
    /* OpenSSL frees its global state in an atexit handler; a host process that exits while one
     * of the engine's threads is inside a TLS or lock call would then crash in libcrypto. Ask
     * it not to (OPENSSL_INIT_NO_ATEXIT, OpenSSL 1.1.1b and later): the process's exit frees
     * everything anyway. Must come before the first initialisation (curl_global_init). */
    int (*init_crypto)(uint64_t, const void *) =
        (int (*)(uint64_t, const void *))dlsym(hc, "OPENSSL_init_crypto");
    if (init_crypto)
        init_crypto(0x00080000ull /* OPENSSL_INIT_NO_ATEXIT */, NULL);
    /* once, before any easy handle, from the one thread that gets here (load_mu) */
    if (smh_cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(load_why, sizeof load_why, "curl_global_init failed");
        return -EIO;
    }
    return 0;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SMH_MS_PER_S + (uint64_t)ts.tv_nsec / SMH_NS_PER_MS;
}

int smh_http_load(void)
{
    if (__atomic_load_n(&load_ok, __ATOMIC_ACQUIRE))
        return 0;
    pthread_mutex_lock(&load_mu);
    if (!load_ok && mono_ms() >= load_retry_ms) {
        load_rc = load();
        if (load_rc == 0)
            __atomic_store_n(&load_ok, 1, __ATOMIC_RELEASE);
        else
            load_retry_ms = mono_ms() + LOAD_RETRY_MS;
    }
    int rc = load_ok ? 0 : load_rc;
    pthread_mutex_unlock(&load_mu);
    return rc;
}

const char *smh_http_load_error(void)
{
    return load_why;
}
