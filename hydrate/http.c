/* http.c: the client's connections and its one request function, over libcurl (loaded by
 * http_load.c; where the key may go: http_url.c). */
#include "http_int.h"
#include "budget.h"
#include "clock.h"
#include "csock.h"
#include "sm_real.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

void smh_resp_free(struct smh_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

/* ---- the connection ------------------------------------------------------------------------- */

struct smh_conn {
    CURL *h;
    int ctl; /* the handle's guard (csock.c), or -1 */
    char base[SMH_URL_MAX + 1];
    char auth[SMH_KEY_MAX + 32]; /* "Authorization: Bearer <key>": this page is never dumped */
    struct curl_slist hdr[4];    /* the request headers, pointing into this page (no copies) */
    char refused[300];           /* why nothing is sent, or "" */
    int no_proxy;                /* cleartext to loopback: never through a proxy */
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

/* a request connects within this, or within its own timeout when that is shorter */
#define CONNECT_MAX_MS 10000

uint64_t smh_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SMH_MS_PER_S + (uint64_t)ts.tv_nsec / SMH_NS_PER_MS;
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
    c->h = smh_cu.init();
    if (!c->h) {
        munmap(c, CONN_BYTES);
        return NULL;
    }
    c->ctl = smh_csock_ctl_new();
    snprintf(c->base, sizeof c->base, "%s", base_url);
    size_t bl = strlen(c->base);
    while (bl > 0 && c->base[bl - 1] == '/')
        c->base[--bl] = '\0';
    /* a key that is not one, or a URL too long for c->base, is refused (never sent, never cut):
     * the URL is judged as given */
    if (key && *key && !smh_key_usable(key, c->refused, sizeof c->refused)) {
        /* (refused says why) */
    } else if (key && *key && !smh_key_allowed(base_url, c->refused, sizeof c->refused)) {
        if (!c->refused[0])
            snprintf(c->refused, sizeof c->refused, "the API key is not sent to this URL");
    } else if (key && *key) {
        snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", key);
    }
    c->no_proxy = smh_url_kind(c->base) == 2;
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
    n->h = smh_cu.init();
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

/* ---- a handle given up --------------------------------------------------------------------------
 * A handle one of whose sockets went to the program (csock.c) still names that number, and the
 * numbers of its other sockets, which the owner closed and which may be anyone's by now: its
 * cleanup would send a TLS close_notify there and close them. So it is freed in a thread that
 * gives itself a table of descriptors of its own (unshare(CLONE_FILES)) and puts a placeholder
 * at each of those numbers there (one end of a socket pair whose other end is closed: a send
 * fails, a read sees the end): libcurl's last writes and closes reach only the placeholders, in
 * a table that ends with the thread. The owner waits for it (the cleanup makes no request).
 * Where unshare is refused, or the numbers are not all known, the handle is left as it is (its
 * memory, a few kilobytes, lost), as before. */
void (*smh_http_log)(const char *msg);

/* The requests of this process in flight now, and whether new ones may start (smh_http_close):
 * a request counts itself, then looks at closed; smh_http_close sets closed, then counts (both
 * seq_cst), so a request it does not count is one that sees it closed and is not sent. */
static int http_inflight, http_closed;
static pid_t http_pid; /* the process they are about: a child of a raw fork (no atfork handler)
                        * starts them again at its first look */

static void http_own(void)
{
    pid_t me = getpid(), was = __atomic_load_n(&http_pid, __ATOMIC_ACQUIRE);
    if (was != me &&
        __atomic_compare_exchange_n(&http_pid, &was, me, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        smh_http_atfork_child();
}

void smh_http_close(void)
{
    http_own();
    __atomic_store_n(&http_closed, 1, __ATOMIC_SEQ_CST);
}

int smh_http_closed(void)
{
    http_own();
    return __atomic_load_n(&http_closed, __ATOMIC_SEQ_CST);
}

int smh_http_inflight(void)
{
    http_own();
    return __atomic_load_n(&http_inflight, __ATOMIC_SEQ_CST);
}

void smh_http_atfork_child(void)
{
    /* the parent's requests are its threads', which are not here */
    __atomic_store_n(&http_inflight, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&http_closed, 0, __ATOMIC_SEQ_CST);
}

struct drop {
    CURL *h;
    int fds[16], n;
    int freed;
};

static void *drop_main(void *arg)
{
    struct drop *d = arg;
    int sv[2];
    if (SM_REAL(unshare)(CLONE_FILES) != 0)
        return NULL;
    sm_own_table = 1;
    if (SM_REAL(socketpair)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    int peer = sv[1];
    SM_REAL(close)(peer); /* the placeholder's reads see the end, its writes fail */
    for (int i = 0; i < d->n; i++)
        if (d->fds[i] != sv[0] && SM_REAL(dup2)(sv[0], d->fds[i]) < 0)
            return NULL; /* a number that cannot hold a placeholder: leave the handle */
    smh_cu.cleanup(d->h);
    d->freed = 1;
    return NULL;
}

/* The owner (inside smh_csock_enter's hold) drops handle h, given up. */
static void drop_given_up(int ctl, CURL *h)
{
    struct drop d = {.h = h};
    pthread_t t;
    d.n = smh_csock_gone(ctl, d.fds, (int)(sizeof d.fds / sizeof *d.fds));
    if (d.n >= 0 && h && sm_thread_start(&t, NULL, drop_main, &d) == 0)
        pthread_join(t, NULL);
    void (*log)(const char *) = __atomic_load_n(&smh_http_log, __ATOMIC_ACQUIRE);
    if (log)
        log(d.freed ? "a connection given up to the program's dup2: its handle is freed"
                    : "a connection given up to the program's dup2: its handle is left as it is");
}

void smh_conn_free(struct smh_conn *c)
{
    if (!c)
        return;
    /* a handle given up (a socket of it went to the program) is never called again here */
    if (smh_csock_enter(c->ctl))
        drop_given_up(c->ctl, c->h);
    else if (c->h)
        smh_cu.cleanup(c->h);
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
static int perform_now(struct smh_conn *c, const char *method, const char *url,
                       struct curl_slist *hdr, const char *body, size_t len, struct reader *rd,
                       long redirects, int fresh, size_t max, struct smh_resp *out, long timeout);

static int perform(struct smh_conn *c, const char *method, const char *url, struct curl_slist *hdr,
                   const char *body, size_t len, struct reader *rd, long redirects, int fresh,
                   size_t max, struct smh_resp *out)
{
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
    http_own();
    __atomic_add_fetch(&http_inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&http_closed, __ATOMIC_SEQ_CST)) {
        __atomic_sub_fetch(&http_inflight, 1, __ATOMIC_SEQ_CST);
        out->curl = CURLE_ABORTED_BY_CALLBACK; /* the process is ending: nothing more is sent */
        return 0;
    }
    /* the slots of the cache's request budget this process holds stay taken until this
     * request's deadline, even past the process's end (recorded before it is sent) */
    smh_budget_sending(timeout);
    int rc = perform_now(c, method, url, hdr, body, len, rd, redirects, fresh, max, out, timeout);
    __atomic_sub_fetch(&http_inflight, 1, __ATOMIC_SEQ_CST);
    return rc;
}

static int perform_now(struct smh_conn *c, const char *method, const char *url,
                       struct curl_slist *hdr, const char *body, size_t len, struct reader *rd,
                       long redirects, int fresh, size_t max, struct smh_resp *out, long timeout)
{
    struct sink s = {.retry_after = -1, .max = max};
    /* the handle is the owner's until smh_csock_leave; one given up meanwhile (a socket of it
     * went to the program) is freed where it can reach nothing of the program's, and replaced */
    if (smh_csock_enter(c->ctl)) {
        drop_given_up(c->ctl, c->h);
        c->h = smh_cu.init();
    }
    if (!c->h) {
        smh_csock_leave(c->ctl);
        out->curl = CURLE_OUT_OF_MEMORY;
        return 0;
    }
    smh_cu.reset(c->h);
    smh_cu.setopt(c->h, CURLOPT_URL, url);
    /* its sockets are the library's (placed high) and can be given up to the program's dup2 */
    void *ctl = (void *)(intptr_t)c->ctl;
    smh_cu.setopt(c->h, CURLOPT_OPENSOCKETFUNCTION, smh_csock_open);
    smh_cu.setopt(c->h, CURLOPT_OPENSOCKETDATA, ctl);
    smh_cu.setopt(c->h, CURLOPT_CLOSESOCKETFUNCTION, smh_csock_close);
    smh_cu.setopt(c->h, CURLOPT_CLOSESOCKETDATA, ctl);
    struct watch w = {.ctl = c->ctl, .stall_ms = c->stall_ms, .moved_ms = smh_mono_ms()};
    smh_cu.setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
    smh_cu.setopt(c->h, CURLOPT_XFERINFODATA, &w);
    smh_cu.setopt(c->h, CURLOPT_NOPROGRESS, 0L);
    smh_cu.setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (redirects > 0) {
        smh_cu.setopt(c->h, CURLOPT_FOLLOWLOCATION, 1L);
        smh_cu.setopt(c->h, CURLOPT_MAXREDIRS, redirects);
        smh_cu.setopt(c->h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (c->no_proxy)
        smh_cu.setopt(c->h, CURLOPT_PROXY, "");
    if (fresh) /* libcurl sends a request again by itself when a reused connection dies */
        smh_cu.setopt(c->h, CURLOPT_FRESH_CONNECT, 1L);
    smh_cu.setopt(c->h, CURLOPT_HTTPHEADER, hdr);
    smh_cu.setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        smh_cu.setopt(c->h, CURLOPT_POSTFIELDS, body);
        smh_cu.setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (rd) {
        curl_off_t total = 0;
        for (int i = 0; i < rd->n; i++)
            total += (curl_off_t)rd->v[i].n;
        smh_cu.setopt(c->h, CURLOPT_POST, 1L);
        smh_cu.setopt(c->h, CURLOPT_READFUNCTION, on_read);
        smh_cu.setopt(c->h, CURLOPT_READDATA, rd);
        smh_cu.setopt(c->h, CURLOPT_SEEKFUNCTION, on_seek);
        smh_cu.setopt(c->h, CURLOPT_SEEKDATA, rd);
        smh_cu.setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, total);
    } else if (strcmp(method, "GET") == 0) {
        smh_cu.setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    smh_cu.setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    smh_cu.setopt(c->h, CURLOPT_WRITEDATA, &s);
    smh_cu.setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    smh_cu.setopt(c->h, CURLOPT_HEADERDATA, &s);
    smh_cu.setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    smh_cu.setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS,
                  timeout < CONNECT_MAX_MS ? timeout : (long)CONNECT_MAX_MS);
    smh_cu.setopt(c->h, CURLOPT_TIMEOUT_MS, timeout);
    smh_cu.setopt(c->h, CURLOPT_ACCEPT_ENCODING, "");
    /* an announced length past the limit ends the transfer before the body */
    smh_cu.setopt(c->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    CURLcode rc = smh_cu.perform(c->h);
    smh_cu.setopt(c->h, CURLOPT_NOPROGRESS, 1L); /* w ends with this call */
    out->stalled = rc == CURLE_ABORTED_BY_CALLBACK && w.stalled;
    if (out->stalled)
        rc = CURLE_OPERATION_TIMEDOUT; /* no answer, as a timeout is */
    out->curl = (int)rc;
    out->retry_after = s.retry_after;
    out->too_large = s.too_large || rc == CURLE_FILESIZE_EXCEEDED;
    if (rc == CURLE_OK || out->too_large) /* cut off: an answer came, too large */
        smh_cu.getinfo(c->h, CURLINFO_RESPONSE_CODE, &out->status);
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
    int kind = smh_url_kind(url);
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
    return smh_cu.strerror_ ? smh_cu.strerror_((CURLcode)code) : "transport error";
}
