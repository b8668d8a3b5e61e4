/* fetch.c: remote binary documents into the tree (binary.h). A pull hands each listed document
 * to smh_bin_on_doc first: a binary one that is done gets its transcription sibling (its content)
 * at once and its bytes marked to be fetched (SMC_E_FETCH, in the same transaction that checks
 * dirty_since); a failed one gets its error sibling. After the pull, smh_bin_fetch fetches each
 * marked document's url over the pull's connection (its timeouts, its deadline,
 * SMH_BIN_FETCH_MAX): the url the listing gave (kept in kv SMC_KV_FETCH_URL + key), else, or when that
 * one fails (a url may expire), the one a fresh GET of the document gives; the bytes are applied
 * with smc_apply_remote, which finds everything beneath the tree and never overwrites a pending
 * local change.
 *
 * Every fetch holds a slot of the cache's request budget (budget.h) like any other request: the
 * pull's own fetcher the slot its pull holds, each other one a read slot taken for it when the
 * pass starts, only when free then (never waited for while the pull holds one): a pass runs
 * with as many fetchers as it got slots, the others' requests and other processes' counted. */
#include "binary.h"
#include "budget.h"
#include "keyset.h"

#include "../cache/cache.h"
#include "sm_real.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The listing's url of a document to fetch is kept as a hint (kv SMC_KV_FETCH_URL + key).
 * A fetch that failed backs off (kv SMC_KV_FETCH_RETRY + key), in the cache like every other
 * retry state, so no
 * process fetches it again before its time: RETRY_FIRST_MS after the first failure, doubling up
 * to RETRY_MAX_MS. A newer version of the document (a listing with a newer updatedAt) is tried
 * at once; a fetch that is over (written, too large, gone, kept local) forgets it. */
#define RETRY_FIRST_MS (60 * 1000)
#define RETRY_MAX_MS   (60 * 60 * 1000)
/* Fetches at once at most (the pull's connection and FETCHERS - 1 more, each in a thread of its
 * own and holding a read slot of the budget): the share of the cache's 8 requests that pulls and
 * hydration may use. */
#define FETCHERS 4

/* The pull's log, called by one fetcher at a time. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static void say(void (*log)(const char *), const char *msg)
{
    if (!log)
        return;
    pthread_mutex_lock(&log_mu);
    log(msg);
    pthread_mutex_unlock(&log_mu);
}

/* Write a sibling of d's file (i: smc_sibling_name's index) holding text. 1 when the file changed. */
static int sibling(struct smc *c, const char *tree, const char *tmp, const struct smh_doc *d, int i,
                   const char *text, size_t len)
{
    char name[4200];
    if (smc_sibling_name(d->filepath, i, name, sizeof name) != 0)
        return 0; /* a name too long for a sibling: the file has none */
    struct smc_remote r = {name, "", (uint64_t)d->updated_ms, text, len, smc_hash64(text, len)};
    return smc_apply_remote_as(c, tree, tmp, &r, SMC_E_SIBLING) == SMC_APPLIED;
}

/* A backoff record's numbers (kv SMC_KV_FETCH_RETRY): 0, or -1 when they are not one. */
static int retry_of(const uint64_t v[3], int got, struct smh_fetch_retry *r)
{
    if (got != 3 || v[0] == 0 || v[0] > LONG_MAX)
        return -1;
    r->failures = (long)v[0];
    r->next_ms = v[1];
    r->updated_ms = (int64_t)v[2];
    return 0;
}

/* key's backoff (0), or -1 when it has none. */
static int retry_get(struct smc *c, const char *key, struct smh_fetch_retry *r)
{
    uint64_t v[3];
    return retry_of(v, smc_kv_get_nums(c, SMC_KV_FETCH_RETRY, key, v, 3), r);
}

static int retry_seen(void *arg, const char *key, const uint64_t *v, int got)
{
    struct smh_fetch_retry r;
    if (retry_of(v, got, &r) == 0)
        smh_ks_put(arg, key);
    return 0;
}

int smh_bin_backing_off(struct smc *c, struct smh_keyset *keys)
{
    return smc_kv_each_nums(c, SMC_KV_FETCH_RETRY, 3, retry_seen, keys);
}

static void retry_forget(struct smc *c, const char *key)
{
    smc_kv_unset(c, SMC_KV_FETCH_RETRY, key);
}

/* A fetch of key's document (version updated_ms, 0: not known) failed once more. */
static void retry_failed(struct smc *c, const char *key, int64_t updated_ms)
{
    struct smh_fetch_retry r = {0};
    if (retry_get(c, key, &r) != 0)
        r.failures = 0;
    if (updated_ms <= 0)
        updated_ms = r.updated_ms;
    uint64_t wait = RETRY_FIRST_MS;
    for (long i = 1; i < r.failures && wait < RETRY_MAX_MS; i++)
        wait *= 2;
    if (wait > RETRY_MAX_MS)
        wait = RETRY_MAX_MS;
    const uint64_t v[3] = {(uint64_t)r.failures + 1, smc_now_ms() + wait, (uint64_t)updated_ms};
    smc_kv_set_nums(c, SMC_KV_FETCH_RETRY, key, v, 3);
}

void smh_bin_forget(struct smc *c, const char *key)
{
    smc_kv_unset(c, SMC_KV_FETCH_URL, key);
    retry_forget(c, key);
}

/* The hash of the bytes d's upload marker names ("<custom id>.<FNV-1a 64 in hex>"), 0: none. */
static uint64_t upload_hash(const struct smh_doc *d)
{
    const char *dot = strrchr(d->upload, '.');
    char *end;
    if (!dot || strlen(dot + 1) != 16)
        return 0;
    unsigned long long h = strtoull(dot + 1, &end, 16);
    return *end ? 0 : (uint64_t)h;
}

/* The version of d's bytes for smc_mark_fetch: its updatedAt when the text the service extracted
 * from them is not the one its transcription sibling (i) holds, else 0. updatedAt alone moves
 * with every change of the document (a rename, its metadata): new bytes are new extracted text,
 * so a remote rename or metadata edit does not download the bytes again. */
static uint64_t new_bytes_ms(struct smc *c, const struct smh_doc *d, int i)
{
    char name[4200];
    struct smc_entry e;
    if (!d->content || smc_sibling_name(d->filepath, i, name, sizeof name) != 0)
        return 0; /* nothing tells: as it is */
    if (smc_entry_get(c, name, &e) == 0 && (e.flags & SMC_E_SIBLING) &&
        e.synced_hash == smc_hash64(d->content, d->content_len))
        return 0;
    return (uint64_t)d->updated_ms;
}

int smh_bin_on_doc(struct smc *c, const char *tree, const char *tmp, const struct smh_doc *d)
{
    int t = smh_doc_binary(d);
    int other = d->type[0] && strcmp(d->type, "text") != 0; /* binary, of a type not known here */
    if (strcmp(d->status, "failed") == 0 && (t >= 0 || other)) {
        char msg[4600];
        int n = snprintf(msg, sizeof msg,
                         "The service could not process this document (status: failed), so it "
                         "has no content to show.\n\nid: %s\nfilepath: %s\ntype: %s\n",
                         d->id, d->filepath, d->type);
        int changed = sibling(c, tree, tmp, d, SMC_SIBLING_ERROR, msg, n > 0 ? (size_t)n : 0);
        changed |= smc_siblings_drop(c, tree, d->filepath, SMC_SIBLING_ERROR) > 0;
        return changed ? 2 : 1;
    }
    if (t < 0) {
        /* a text document: what a binary one left at its filepath goes */
        struct smc_entry ent;
        if (smc_entry_get(c, d->filepath, &ent) == 0 && (ent.flags & SMC_E_BINARY))
            smc_siblings_drop(c, tree, d->filepath, -1);
        return other; /* a document of a type not known here is not text either */
    }
    if (strcmp(d->status, "done") != 0 || !d->url[0])
        return 1; /* still processing: its url and text come with the pull that sees it done */
    /* marked before its transcription is written: a crash between the two leaves the new
     * bytes marked, never a new transcription beside old bytes that no pull fetches again */
    int marked = smc_mark_fetch(c, tree, d->filepath, d->id, new_bytes_ms(c, d, t),
                                upload_hash(d)) == SMC_APPLIED;
    int changed = d->content && sibling(c, tree, tmp, d, t, d->content, d->content_len);
    changed |= smc_siblings_drop(c, tree, d->filepath, t) > 0;
    struct smh_fetch_retry r;
    int newer = retry_get(c, d->filepath, &r) == 0 && d->updated_ms > r.updated_ms;
    if (newer)
        retry_forget(c, d->filepath); /* a newer version than the one that failed: at once */
    if (marked || newer)              /* a hint: without it the fetch asks for the document first */
        smc_kv_set_num_str(c, SMC_KV_FETCH_URL, d->filepath, d->updated_ms, d->url);
    return changed ? 2 : 1;
}

static int collect(void *arg, const char *key, const struct smc_entry *e)
{
    if (!(e->flags & SMC_E_FETCH))
        return 0;
    return smh_pairs_add(arg, key, e->remote_id) < 0;
}

/* Fetch url as key's document id (updatedAt updated_ms). 1 written, 0 not (done with it: the
 * file held those bytes already, or it is kept as it is), -1 not now. */
static int fetch_url(struct smc *c, const char *tree, const char *tmp, struct smh_call *k,
                     const char *key, const char *id, int64_t updated_ms, const char *url,
                     void (*log)(const char *))
{
    char msg[4400];
    struct smh_resp r;
    if (smh_fetch_url(k->conn, url, SMH_BIN_FETCH_MAX, &r) != 0) {
        smh_resp_free(&r);
        return -1;
    }
    int o = smh_api_outcome(k, &r), done = 0;
    if (r.too_large) {
        smc_fetch_done(c, key, id, 1, (uint64_t)updated_ms); /* listed, never written */
        snprintf(msg, sizeof msg, "not fetched: %.4000s (document %s) is larger than %u MiB", key,
                 id, SMH_BIN_FETCH_MAX >> 20);
        say(log, msg);
    } else if (o == SMH_OK) {
        const char *b = r.body ? r.body : "";
        struct smc_remote rr = {key, id, (uint64_t)updated_ms, b, r.len, smc_hash64(b, r.len)};
        int rc = smc_apply_remote_as(c, tree, tmp, &rr, SMC_E_BINARY);
        done = rc == SMC_APPLIED;
        if (rc != SMC_APPLIED && rc != SMC_SAME)
            smc_fetch_done(c, key, id, 0, (uint64_t)updated_ms); /* a local change or a conflict:
                                                                  it stays as it is */
    } else {
        done = -1;
        snprintf(msg, sizeof msg, "fetching %.4000s: %s", key, k->err);
        say(log, msg);
    }
    smh_resp_free(&r);
    return done;
}

/* Fetch one marked document. 1 written, 0 not (done with it), -1 not now (it stays marked);
 * *updated_ms: the version it tried, when known. */
static int fetch_doc(struct smc *c, const char *tree, const char *tmp, struct smh_call *k,
                     const char *key, const char *id, void (*log)(const char *),
                     int64_t *updated_ms)
{
    struct smh_doc d;
    char url[4200];
    int64_t hinted_ms;
    int hinted = smc_kv_get_num_str(c, SMC_KV_FETCH_URL, key, &hinted_ms, url, sizeof url) == 0;
    smc_kv_unset(c, SMC_KV_FETCH_URL, key);
    if (hinted) { /* the url the listing gave: one request, when it still works */
        *updated_ms = hinted_ms;
        int r = fetch_url(c, tree, tmp, k, key, id, *updated_ms, url, log);
        if (r >= 0)
            return r;
    }
    int o = smh_api_get(k, id, &d);
    smh_doc_free(&d);
    if (o == SMH_OK && d.updated_ms > 0)
        *updated_ms = d.updated_ms;
    if (o == SMH_GONE) {
        smc_remove_remote(c, tree, key, id); /* deleted since it was listed */
        return 0;
    }
    if (o != SMH_OK) {
        if (k->other_doc) { /* refused: nothing of it is written; tried again later */
            char msg[4400];
            snprintf(msg, sizeof msg, "fetching %.4000s: %s", key, k->err);
            say(log, msg);
        }
        return -1;
    }
    if (smh_doc_binary(&d) < 0 || strcmp(d.filepath, key) != 0) {
        smc_fetch_done(c, key, id, 0, (uint64_t)d.updated_ms); /* no longer a binary document
                                                                   here: the pull decides */
        return 0;
    }
    if (strcmp(d.status, "done") != 0 || !d.url[0])
        return -1;
    return fetch_url(c, tree, tmp, k, key, id, d.updated_ms, d.url, log);
}

/* Fetch one marked document, and keep its backoff (RETRY_FIRST_MS). As fetch_doc. */
static int fetch_one(struct smc *c, const char *tree, const char *tmp, struct smh_call *k,
                     const char *key, const char *id, void (*log)(const char *))
{
    int64_t updated_ms = 0;
    int r = fetch_doc(c, tree, tmp, k, key, id, log, &updated_ms);
    if (r < 0)
        retry_failed(c, key, updated_ms);
    else
        retry_forget(c, key);
    return r;
}

/* One fetch pass: the marked documents, taken in turn by FETCHERS threads. */
struct pass {
    struct smc *c;
    const char *tree, *tmp, *tag;
    uint64_t deadline;
    void (*log)(const char *);
    struct smh_pairs m;
    pthread_mutex_t mu; /* next, written, left */
    size_t next, left;
    long written;
};

struct fetcher {
    struct pass *p;
    struct smh_conn *conn;
    int slot; /* the budget slot its requests hold (the pull's own for fetcher 0) */
    pthread_t th;
    int started;
};

static void *fetcher_main(void *arg)
{
    struct fetcher *f = arg;
    struct pass *p = f->p;
    struct smh_call k = {.conn = f->conn, .tag = p->tag, .retry_after = -1};
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->m.n ? p->next++ : p->m.n;
        pthread_mutex_unlock(&p->mu);
        if (i == p->m.n)
            break;
        int r = smh_mono_ms() < p->deadline
                    ? fetch_one(p->c, p->tree, p->tmp, &k, p->m.keys[i], p->m.ids[i], p->log)
                    : -1;
        pthread_mutex_lock(&p->mu);
        p->written += r > 0;
        p->left += r < 0;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

long smh_bin_fetch(struct smc *c, const char *tree, const char *tmp, struct smh_call *k,
                   uint64_t deadline, void (*log)(const char *))
{
    char v[8];
    if (smc_kv_get_str(c, SMC_KV_FETCH, NULL, v, sizeof v) != 0)
        return 0;
    /* before looking: a document marked meanwhile sets it again */
    smc_kv_unset(c, SMC_KV_FETCH, NULL);
    struct pass p = {
        .c = c, .tree = tree, .tmp = tmp, .tag = k->tag, .deadline = deadline, .log = log};
    pthread_mutex_init(&p.mu, NULL);
    smc_entry_each(c, collect, &p.m);
    /* those backing off wait for their time (looked up here: not inside smc_entry_each's
     * transaction); the pass after it fetches them */
    uint64_t now = smc_now_ms();
    size_t kept = 0;
    for (size_t i = 0; i < p.m.n; i++) {
        struct smh_fetch_retry r;
        if (retry_get(c, p.m.keys[i], &r) == 0 && r.next_ms > now) {
            free(p.m.keys[i]);
            free(p.m.ids[i]);
            p.left++;
            continue;
        }
        p.m.keys[kept] = p.m.keys[i];
        p.m.ids[kept++] = p.m.ids[i];
    }
    p.m.n = kept;
    struct fetcher f[FETCHERS];
    int want = p.m.n < FETCHERS ? (int)p.m.n : FETCHERS, nf = want > 0;
    /* the others on connections of their own, each with a read slot free now */
    while (nf < want) {
        int slot = smh_budget_take(c, SMH_BUDGET_PULL, 0);
        if (slot < 0)
            break;
        f[nf] = (struct fetcher){.p = &p, .conn = smh_conn_like(k->conn), .slot = slot};
        f[nf].started = f[nf].conn && sm_thread_start(&f[nf].th, NULL, fetcher_main, &f[nf]) == 0;
        nf++;
    }
    f[0] = (struct fetcher){.p = &p, .conn = k->conn, .slot = -1};
    if (nf > 0)
        fetcher_main(&f[0]);
    for (int i = 1; i < nf; i++) {
        if (f[i].started)
            pthread_join(f[i].th, NULL);
        smh_conn_free(f[i].conn);
        smh_budget_give(c, f[i].slot); /* its last request is over */
    }
    smh_pairs_free(&p.m);
    pthread_mutex_destroy(&p.mu);
    if (p.left)
        smc_kv_set_str(c, SMC_KV_FETCH, NULL, "1"); /* the next pull tries them again */
    return p.written;
}
