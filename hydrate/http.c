/* http.c: libcurl and cJSON through dlopen, and one request function. */
#include "http.h"
#include "sm_real.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct smh_json smh_json;

static struct {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *init;
    __typeof__(curl_easy_setopt) *setopt;
    __typeof__(curl_easy_perform) *perform;
    __typeof__(curl_easy_getinfo) *getinfo;
    __typeof__(curl_easy_cleanup) *cleanup;
    __typeof__(curl_easy_reset) *reset;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    __typeof__(curl_easy_strerror) *strerror_;
} cu;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc = -ENOSYS;

static void *sym(void *h, const char *name, int *missing)
{
    void *p = dlsym(h, name);
    if (!p)
        *missing = 1;
    return p;
}

static void load(void)
{
    int missing = 0;
    void *hc = SM_REAL(dlopen)("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    void *hj = SM_REAL(dlopen)("libcjson.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!hc || !hj) {
        load_rc = -ENOENT;
        return;
    }
#define C(f, n) cu.f = (__typeof__(cu.f))sym(hc, n, &missing)
    C(global_init, "curl_global_init");
    C(init, "curl_easy_init");
    C(setopt, "curl_easy_setopt");
    C(perform, "curl_easy_perform");
    C(getinfo, "curl_easy_getinfo");
    C(cleanup, "curl_easy_cleanup");
    C(reset, "curl_easy_reset");
    C(slist_append, "curl_slist_append");
    C(slist_free_all, "curl_slist_free_all");
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
#undef J
    if (missing) {
        load_rc = -ENOSYS;
        return;
    }
    /* OpenSSL frees its global state in an atexit handler; a host process that exits while one
     * of the engine's threads is inside a TLS or lock call would then crash in libcrypto. Ask
     * it not to (OPENSSL_INIT_NO_ATEXIT, OpenSSL 1.1.1b and later): the process's exit frees
     * everything anyway. Must come before the first initialisation (curl_global_init). */
    int (*init_crypto)(uint64_t, const void *) =
        (int (*)(uint64_t, const void *))dlsym(hc, "OPENSSL_init_crypto");
    if (init_crypto)
        init_crypto(0x00080000ull /* OPENSSL_INIT_NO_ATEXIT */, NULL);
    /* once, before any easy handle, from the one thread that gets here (pthread_once) */
    load_rc = cu.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

int smh_http_load(void)
{
    pthread_once(&load_once, load);
    return load_rc;
}

void smh_resp_free(struct smh_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

struct smh_conn {
    CURL *h;
    char base[512];
    char auth[600];
    long timeout_ms;
};

struct smh_conn *smh_conn_new(const char *base_url, const char *key, long timeout_ms)
{
    if (smh_http_load() != 0)
        return NULL;
    struct smh_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->h = cu.init();
    if (!c->h) {
        free(c);
        return NULL;
    }
    snprintf(c->base, sizeof c->base, "%s", base_url);
    size_t bl = strlen(c->base);
    while (bl > 0 && c->base[bl - 1] == '/')
        c->base[--bl] = '\0';
    snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", key);
    c->timeout_ms = timeout_ms;
    return c;
}

void smh_conn_free(struct smh_conn *c)
{
    if (!c)
        return;
    cu.cleanup(c->h);
    memset(c->auth, 0, sizeof c->auth);
    free(c);
}

struct sink {
    char *buf;
    size_t len, cap;
    long retry_after;
    int oom;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t add = sz * n;
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + add + 1)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) {
            s->oom = 1;
            return 0;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, add);
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = sz * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char tmp[32];
        size_t l = len - 12 < sizeof tmp - 1 ? len - 12 : sizeof tmp - 1;
        memcpy(tmp, p + 12, l);
        tmp[l] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            s->retry_after = v;
    }
    return len;
}

int smh_request(struct smh_conn *c, const char *method, const char *path, const char *body,
                struct smh_resp *out)
{
    char url[1024];
    struct sink s = {.retry_after = -1};
    struct curl_slist *hdr = NULL;
    memset(out, 0, sizeof *out);
    snprintf(url, sizeof url, "%s%s", c->base, path);
    hdr = cu.slist_append(hdr, c->auth);
    hdr = cu.slist_append(hdr, "Content-Type: application/json");
    hdr = cu.slist_append(hdr, "Accept: application/json");
    hdr = cu.slist_append(hdr, "Expect:");
    cu.reset(c->h);
    cu.setopt(c->h, CURLOPT_URL, url);
    cu.setopt(c->h, CURLOPT_HTTPHEADER, hdr);
    cu.setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        cu.setopt(c->h, CURLOPT_POSTFIELDS, body);
        cu.setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else if (strcmp(method, "GET") == 0) {
        cu.setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    cu.setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    cu.setopt(c->h, CURLOPT_WRITEDATA, &s);
    cu.setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    cu.setopt(c->h, CURLOPT_HEADERDATA, &s);
    cu.setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    cu.setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    cu.setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    cu.setopt(c->h, CURLOPT_ACCEPT_ENCODING, "");
    CURLcode rc = cu.perform(c->h);
    cu.slist_free_all(hdr);
    out->curl = (int)rc;
    out->retry_after = s.retry_after;
    if (rc == CURLE_OK)
        cu.getinfo(c->h, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = s.buf;
    out->len = s.len;
    return s.oom ? -ENOMEM : 0;
}

const char *smh_curl_strerror(int code)
{
    return cu.strerror_ ? cu.strerror_((CURLcode)code) : "transport error";
}
