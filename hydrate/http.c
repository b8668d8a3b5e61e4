/* http.c: libcurl and cJSON through dlopen, and one request function. */
#include "http.h"
#include "csock.h"
#include "sm_real.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>

struct smh_json smh_json;

static struct {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *init;
    __typeof__(curl_easy_setopt) *setopt;
    __typeof__(curl_easy_perform) *perform;
    __typeof__(curl_easy_getinfo) *getinfo;
    __typeof__(curl_easy_cleanup) *cleanup;
    __typeof__(curl_easy_reset) *reset;
    __typeof__(curl_easy_strerror) *strerror_;
} cu;

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
    void *h = SM_REAL(dlopen)(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(load_why, sizeof load_why, "cannot load %s: %s", name, e ? e : "unknown error");
    }
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
#define C(f, n) cu.f = (__typeof__(cu.f))sym(hc, n, &missing)
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
    if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(load_why, sizeof load_why, "curl_global_init failed");
        return -EIO;
    }
    return 0;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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
            load_retry_ms = mono_ms() + 1000;
    }
    int rc = load_ok ? 0 : load_rc;
    pthread_mutex_unlock(&load_mu);
    return rc;
}

const char *smh_http_load_error(void)
{
    return load_why;
}

void smh_resp_free(struct smh_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

/* ---- where the key may go ------------------------------------------------------------------- */

extern char **environ;
static int allow_insecure; /* SMSHIM_ALLOW_INSECURE=1, read once at start-up */

/* Read at load time, before the host's main runs: through environ itself (a host may export its
 * own getenv), and never later from a thread while the host may be changing its environment. */
__attribute__((constructor)) static void smh_http_env(void)
{
    static const char name[] = "SMSHIM_ALLOW_INSECURE=";
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, sizeof name - 1) == 0)
            allow_insecure = strcmp(*e + sizeof name - 1, "1") == 0;
}

/* Is the host part of an http:// URL's authority a loopback address? Strict: anything that is
 * not plainly "localhost", an IPv4 literal in 127.0.0.0/8 or [::1] (or [::ffff:127.x.y.z]) is
 * not, whatever a resolver or libcurl's lenient parsing might make of it. */
static int loopback_authority(const char *a, size_t n)
{
    char host[256];
    const char *colon;
    if (n == 0 || n >= sizeof host || memchr(a, '@', n) || memchr(a, '\\', n) || memchr(a, '%', n))
        return 0; /* user info, backslashes and escapes: ambiguous between parsers, refused */
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return 0;
        size_t hl = (size_t)(close - a - 1);
        memcpy(host, a + 1, hl);
        host[hl] = '\0';
        colon = close + 1;
    } else {
        const char *c = memchr(a, ':', n);
        size_t hl = c ? (size_t)(c - a) : n;
        memcpy(host, a, hl);
        host[hl] = '\0';
        colon = a + hl;
    }
    /* what follows the host: nothing, or ":" and a port number */
    if (colon < a + n) {
        if (*colon != ':' || colon + 1 == a + n)
            return 0;
        for (const char *p = colon + 1; p < a + n; p++)
            if (*p < '0' || *p > '9')
                return 0;
    }
    if (a[0] == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return 0;
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    }
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    struct in_addr a4;
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* 1: https; 2: http to a loopback host; 3: http elsewhere; 0: anything else */
static int url_kind(const char *url)
{
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return 0;
    if (strncasecmp(url, "https://", 8) == 0)
        return 1;
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    const char *a = url + 7;
    size_t n = strcspn(a, "/?#");
    return loopback_authority(a, n) ? 2 : 3;
}

int smh_key_allowed(const char *base_url, char *why, size_t n)
{
    int kind = url_kind(base_url);
    if (kind == 1 || kind == 2 || (kind == 3 && allow_insecure))
        return 1;
    if (why && n) {
        char shown[201]; /* the URL as given, with its control characters made visible */
        size_t i = 0;
        for (; i < sizeof shown - 1 && base_url[i]; i++)
            shown[i] = (unsigned char)base_url[i] < 0x20 || base_url[i] == 0x7f ? '?' : base_url[i];
        shown[i] = '\0';
        snprintf(why, n,
                 "the API key is not sent to %s: only https:// is safe (or http:// to a "
                 "loopback host, or anywhere with SMSHIM_ALLOW_INSECURE=1)",
                 shown);
    }
    return 0;
}

/* ---- the connection ------------------------------------------------------------------------- */

struct smh_conn {
    CURL *h;
    int ctl; /* the handle's guard (csock.c), or -1 */
    char base[512];
    char auth[600];           /* "Authorization: Bearer <key>": this page is never dumped */
    struct curl_slist hdr[4]; /* the request headers, pointing into this page (no copies) */
    char refused[300];        /* why nothing is sent, or "" */
    int no_proxy;             /* cleartext to loopback: never through a proxy */
    long timeout_ms;
    uint64_t deadline_ms; /* smh_mono_ms clock; 0: none */
    long stall_ms;        /* > 0: a request that moves no byte for this long ends (no answer) */
};

/* The stall limit of the connections the thread stall_thread makes (smh_conn_default_stall);
 * written only by that thread, read by it alone when it makes a connection. */
static long default_stall_ms;
static pthread_t stall_thread;

void smh_conn_default_stall(long ms)
{
    if (!__atomic_load_n(&default_stall_ms, __ATOMIC_ACQUIRE))
        stall_thread = pthread_self(); /* (set once: the first thread to use it keeps it) */
    __atomic_store_n(&default_stall_ms, ms ? ms : -1, __ATOMIC_RELEASE);
}

/* The connection (with its copy of the key) in pages of its own, left out of core dumps. */
#define CONN_BYTES ((sizeof(struct smh_conn) + 4095) & ~(size_t)4095)

uint64_t smh_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct smh_conn *smh_conn_new(const char *base_url, const char *key, long timeout_ms)
{
    if (smh_http_load() != 0)
        return NULL;
    struct smh_conn *c =
        mmap(NULL, CONN_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        return NULL;
    madvise(c, CONN_BYTES, MADV_DONTDUMP); /* best effort: a kernel without it still works */
    c->h = cu.init();
    if (!c->h) {
        munmap(c, CONN_BYTES);
        return NULL;
    }
    c->ctl = smh_csock_ctl_new();
    snprintf(c->base, sizeof c->base, "%s", base_url);
    size_t bl = strlen(c->base);
    while (bl > 0 && c->base[bl - 1] == '/')
        c->base[--bl] = '\0';
    if (key && *key && !smh_key_allowed(c->base, c->refused, sizeof c->refused)) {
        if (!c->refused[0])
            snprintf(c->refused, sizeof c->refused, "the API key is not sent to this URL");
    } else if (key && *key) {
        snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", key);
    }
    c->no_proxy = url_kind(c->base) == 2;
    static const char *const fixed[] = {"Content-Type: application/json",
                                        "Accept: application/json", "Expect:"};
    int nh = 0;
    if (c->auth[0])
        c->hdr[nh++].data = c->auth;
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        c->hdr[nh++].data = (char *)fixed[i];
    for (int i = 0; i < nh; i++)
        c->hdr[i].next = i + 1 < nh ? &c->hdr[i + 1] : NULL;
    c->timeout_ms = timeout_ms;
    long stall = __atomic_load_n(&default_stall_ms, __ATOMIC_ACQUIRE);
    c->stall_ms = stall > 0 && pthread_equal(stall_thread, pthread_self()) ? stall : 0;
    return c;
}

struct smh_conn *smh_conn_like(const struct smh_conn *c)
{
    struct smh_conn *n =
        mmap(NULL, CONN_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (n == MAP_FAILED)
        return NULL;
    madvise(n, CONN_BYTES, MADV_DONTDUMP);
    memcpy(n, c, sizeof *n);
    n->h = cu.init();
    if (!n->h) {
        memset(n, 0, sizeof *n);
        munmap(n, CONN_BYTES);
        return NULL;
    }
    n->ctl = smh_csock_ctl_new();
    /* the header list points into the connection's own page */
    for (int i = 0; i < 4; i++) {
        if (c->hdr[i].data == c->auth)
            n->hdr[i].data = n->auth;
        n->hdr[i].next = c->hdr[i].next ? &n->hdr[c->hdr[i].next - c->hdr] : NULL;
    }
    return n;
}

void smh_conn_free(struct smh_conn *c)
{
    if (!c)
        return;
    /* a handle given up (a socket of it went to the program) is never called again */
    if (!smh_csock_enter(c->ctl) && c->h)
        cu.cleanup(c->h);
    smh_csock_leave(c->ctl);
    smh_csock_ctl_free(c->ctl);
    memset(c, 0, sizeof *c);
    munmap(c, CONN_BYTES);
}

const char *smh_conn_refused(const struct smh_conn *c)
{
    return c && c->refused[0] ? c->refused : NULL;
}

void smh_conn_deadline(struct smh_conn *c, uint64_t at_ms)
{
    c->deadline_ms = at_ms;
}

struct sink {
    char *buf;
    size_t len, cap, max;
    long retry_after;
    int oom, too_large;
};

/* Decoded bytes as they arrive: past the answer's limit the transfer is cut off (returning less
 * than given aborts it), so a small compressed body can never grow into a large one here. */
static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t add = sz * n;
    if (add > s->max || s->len > s->max - add) {
        s->too_large = 1;
        return 0;
    }
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + add + 1)
            cap *= 2;
        if (cap > s->max + 1)
            cap = s->max + 1;
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
        if (end != tmp && v >= 0) /* a server's wish, within reason (an HTTP date is ignored) */
            s->retry_after = v < SMH_RETRY_AFTER_MAX ? v : SMH_RETRY_AFTER_MAX;
    }
    return len;
}

/* A body sent from pieces as libcurl asks for it (no copy of a large upload's bytes). */
struct reader {
    const struct smh_piece *v;
    int n, i;   /* the pieces; the one being sent */
    size_t off; /* bytes of it sent */
};

static size_t on_read(char *buf, size_t sz, size_t n, void *arg)
{
    struct reader *r = arg;
    size_t want = sz * n, got = 0;
    while (got < want && r->i < r->n) {
        size_t left = r->v[r->i].n - r->off, k = left < want - got ? left : want - got;
        memcpy(buf + got, r->v[r->i].p + r->off, k);
        got += k;
        r->off += k;
        if (r->off == r->v[r->i].n)
            r->i++, r->off = 0;
    }
    return got;
}

/* libcurl rewinds a body it must send again: only to an offset from the start. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct reader *r = arg;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    size_t at = (size_t)offset;
    for (r->i = 0, r->off = 0; r->i < r->n && at >= r->v[r->i].n; r->i++)
        at -= r->v[r->i].n;
    if (r->i == r->n && at > 0)
        return CURL_SEEKFUNC_FAIL;
    r->off = at;
    return CURL_SEEKFUNC_OK;
}

/* What libcurl's progress callback watches during one exchange: the program's dup2 onto one of
 * the handle's sockets (smh_csock_progress), and, with stall_ms > 0, a request that moved no
 * byte either way for stall_ms. libcurl's own low-speed limit cannot be that rule: it averages
 * over the last five seconds, so the request's own body, sent in the first of them, keeps the
 * speed above 0 and a silent server was waited on for 7-9 s whatever stall_ms said. libcurl
 * calls the callback at least once a second while a transfer waits. */
struct watch {
    int ctl;
    long stall_ms;
    uint64_t moved_ms; /* smh_mono_ms of the last byte seen to move */
    curl_off_t dn, un;
    int stalled;
};

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct watch *w = arg;
    if (smh_csock_progress((void *)(intptr_t)w->ctl, dt, dn, ut, un))
        return 1;
    if (w->stall_ms <= 0)
        return 0;
    uint64_t now = smh_mono_ms();
    if (dn != w->dn || un != w->un) {
        w->dn = dn, w->un = un;
        w->moved_ms = now;
        return 0;
    }
    if (now - w->moved_ms < (uint64_t)w->stall_ms)
        return 0;
    w->stalled = 1;
    return 1;
}

/* One exchange with url. hdr: the request's headers; body: len bytes, or the pieces of rd, or
 * none; redirects: how many to follow (0 for every request that carries the key); fresh: on a
 * new connection. */
static int perform(struct smh_conn *c, const char *method, const char *url, struct curl_slist *hdr,
                   const char *body, size_t len, struct reader *rd, long redirects, int fresh,
                   size_t max, struct smh_resp *out)
{
    struct sink s = {.retry_after = -1, .max = max};
    memset(out, 0, sizeof *out);
    out->retry_after = -1;
    out->max = max;
    if (c->refused[0]) {
        out->refused = 1; /* the key may not go there: nothing is sent at all */
        return 0;
    }
    long timeout = c->timeout_ms;
    if (c->deadline_ms) {
        uint64_t now = smh_mono_ms();
        if (now >= c->deadline_ms) {
            out->curl = CURLE_OPERATION_TIMEDOUT;
            return 0;
        }
        if (c->deadline_ms - now < (uint64_t)timeout)
            timeout = (long)(c->deadline_ms - now);
    }
    /* the handle is the owner's until smh_csock_leave; one given up meanwhile (a socket of it
     * went to the program) is left as it is and replaced */
    if (smh_csock_enter(c->ctl))
        c->h = cu.init();
    if (!c->h) {
        smh_csock_leave(c->ctl);
        out->curl = CURLE_OUT_OF_MEMORY;
        return 0;
    }
    cu.reset(c->h);
    cu.setopt(c->h, CURLOPT_URL, url);
    /* its sockets are the library's (placed high) and can be given up to the program's dup2 */
    void *ctl = (void *)(intptr_t)c->ctl;
    cu.setopt(c->h, CURLOPT_OPENSOCKETFUNCTION, smh_csock_open);
    cu.setopt(c->h, CURLOPT_OPENSOCKETDATA, ctl);
    cu.setopt(c->h, CURLOPT_CLOSESOCKETFUNCTION, smh_csock_close);
    cu.setopt(c->h, CURLOPT_CLOSESOCKETDATA, ctl);
    struct watch w = {.ctl = c->ctl, .stall_ms = c->stall_ms, .moved_ms = smh_mono_ms()};
    cu.setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
    cu.setopt(c->h, CURLOPT_XFERINFODATA, &w);
    cu.setopt(c->h, CURLOPT_NOPROGRESS, 0L);
    cu.setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (redirects > 0) {
        cu.setopt(c->h, CURLOPT_FOLLOWLOCATION, 1L);
        cu.setopt(c->h, CURLOPT_MAXREDIRS, redirects);
        cu.setopt(c->h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (c->no_proxy)
        cu.setopt(c->h, CURLOPT_PROXY, "");
    if (fresh) /* libcurl sends a request again by itself when a reused connection dies */
        cu.setopt(c->h, CURLOPT_FRESH_CONNECT, 1L);
    cu.setopt(c->h, CURLOPT_HTTPHEADER, hdr);
    cu.setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        cu.setopt(c->h, CURLOPT_POSTFIELDS, body);
        cu.setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (rd) {
        curl_off_t total = 0;
        for (int i = 0; i < rd->n; i++)
            total += (curl_off_t)rd->v[i].n;
        cu.setopt(c->h, CURLOPT_POST, 1L);
        cu.setopt(c->h, CURLOPT_READFUNCTION, on_read);
        cu.setopt(c->h, CURLOPT_READDATA, rd);
        cu.setopt(c->h, CURLOPT_SEEKFUNCTION, on_seek);
        cu.setopt(c->h, CURLOPT_SEEKDATA, rd);
        cu.setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, total);
    } else if (strcmp(method, "GET") == 0) {
        cu.setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    cu.setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    cu.setopt(c->h, CURLOPT_WRITEDATA, &s);
    cu.setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    cu.setopt(c->h, CURLOPT_HEADERDATA, &s);
    cu.setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    cu.setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
    cu.setopt(c->h, CURLOPT_TIMEOUT_MS, timeout);
    cu.setopt(c->h, CURLOPT_ACCEPT_ENCODING, "");
    /* an announced length past the limit ends the transfer before the body */
    cu.setopt(c->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    CURLcode rc = cu.perform(c->h);
    cu.setopt(c->h, CURLOPT_NOPROGRESS, 1L); /* w ends with this call */
    out->stalled = rc == CURLE_ABORTED_BY_CALLBACK && w.stalled;
    if (out->stalled)
        rc = CURLE_OPERATION_TIMEDOUT; /* no answer, as a timeout is */
    out->curl = (int)rc;
    out->retry_after = s.retry_after;
    out->too_large = s.too_large || rc == CURLE_FILESIZE_EXCEEDED;
    if (rc == CURLE_OK || out->too_large) /* cut off: an answer came, too large */
        cu.getinfo(c->h, CURLINFO_RESPONSE_CODE, &out->status);
    smh_csock_leave(c->ctl);
    out->body = s.buf;
    out->len = s.len;
    return s.oom ? -ENOMEM : 0;
}

int smh_request(struct smh_conn *c, const char *method, const char *path, const char *body,
                size_t max, struct smh_resp *out)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    return perform(c, method, url, c->hdr, body, body ? strlen(body) : 0, NULL, 0, 0, max, out);
}

int smh_request_body(struct smh_conn *c, const char *method, const char *path, const char *ctype,
                     const struct smh_piece *v, int nv, size_t max, struct smh_resp *out)
{
    struct reader rd = {.v = v, .n = nv};
    char url[1024], ct[200];
    struct curl_slist h[4];
    int n = 0;
    snprintf(url, sizeof url, "%s%s", c->base, path);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    if (c->auth[0])
        h[n++].data = c->auth; /* the key stays in the connection's own page */
    h[n++].data = ct;
    h[n++].data = (char *)"Accept: application/json";
    h[n++].data = (char *)"Expect:";
    for (int i = 0; i < n; i++)
        h[i].next = i + 1 < n ? &h[i + 1] : NULL;
    /* a new connection: a request sent on a reused one that the server closes after taking
     * it would be sent again by libcurl itself, and an upload has no customId to make that
     * harmless */
    return perform(c, method, url, h, NULL, 0, &rd, 0, 1, max, out);
}

/* The length of url's origin (scheme://authority), or 0. */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    return p ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : 0;
}

int smh_url_same_origin(const struct smh_conn *c, const char *url)
{
    size_t a = origin_len(c->base), b = origin_len(url);
    return a && a == b && strncasecmp(c->base, url, a) == 0;
}

int smh_fetch_url(struct smh_conn *c, const char *url, size_t max, struct smh_resp *out)
{
    int kind = url_kind(url);
    memset(out, 0, sizeof *out);
    out->retry_after = -1;
    out->max = max;
    if (kind == 0) {
        out->curl = CURLE_UNSUPPORTED_PROTOCOL; /* not http(s), or control characters in it */
        return 0;
    }
    if (smh_url_same_origin(c, url)) /* the API's own origin: with the key, no redirect */
        return perform(c, "GET", url, c->hdr, NULL, 0, NULL, 0, 0, max, out);
    struct curl_slist h = {.data = (char *)"Accept: */*", .next = NULL};
    return perform(c, "GET", url, &h, NULL, 0, NULL, 3, 0, max, out); /* elsewhere: never the key */
}

const char *smh_curl_strerror(int code)
{
    return cu.strerror_ ? cu.strerror_((CURLcode)code) : "transport error";
}
