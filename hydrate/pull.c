/* pull.c: from the remote into the cache. A full pull lists the whole container (finding remote
 * deletions); a delta pull lists by updatedAt, newest first, and stops at the watermark. A miss
 * under the prefix asks for one filepath (and the directory of that name) instead.
 * Every document goes through smc_apply_remote, which never overwrites a pending local change. */
#include "hydrate.h"

#include "../cache/cache.h"
#include "api.h"
#include "keyset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 100

struct pull {
    struct smc *c;
    const char *tree, *tmp;
    int full;
    uint64_t watermark, newest;
    int stop;
    struct smh_keyset seen; /* filepaths listed (the newest document of each wins) */
    long applied, kept, dups, bad, failed;
    void (*log)(const char *);
};

static int on_doc(void *arg, const struct smh_doc *d)
{
    struct pull *p = arg;
    char msg[300];
    if (!p->full && p->watermark && d->updated_ms > 0 && (uint64_t)d->updated_ms <= p->watermark) {
        p->stop = 1; /* sorted newest first: the rest is already here */
        return 0;
    }
    if (!d->filepath[0]) {
        p->bad++;
        if (p->log) {
            snprintf(msg, sizeof msg, "skipped document %s: its filepath is unsafe", d->id);
            p->log(msg);
        }
        return 0;
    }
    struct smh_kv *s = smh_ks_get(&p->seen, d->filepath);
    if (s) {
        p->dups++; /* an older document with the same filepath: the newest one won */
        return 0;
    }
    if ((s = smh_ks_put(&p->seen, d->filepath)))
        s->a = 1;
    if (d->updated_ms > 0 && (uint64_t)d->updated_ms > p->newest)
        p->newest = (uint64_t)d->updated_ms;
    struct smc_remote r = {d->filepath, d->id, (uint64_t)d->updated_ms, d->content,
                           d->content_len, smc_hash64(d->content, d->content_len)};
    int rc = smc_apply_remote(p->c, p->tree, p->tmp, &r);
    if (rc == SMC_APPLIED || rc == SMC_SAME)
        p->applied++;
    else if (rc == SMC_KEPT_LOCAL)
        p->kept++;
    else if (rc < 0)
        p->failed++;
    return 0;
}

struct gone_ctx {
    struct pull *p;
    char **keys, **ids;
    size_t n, cap;
};

static int find_gone(void *arg, const char *key, const struct smc_entry *e)
{
    struct gone_ctx *g = arg;
    if (!(e->flags & SMC_E_REMOTE) || e->dirty_since_ns || smh_ks_get(&g->p->seen, key))
        return 0;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 32;
        char **k = realloc(g->keys, cap * sizeof *k), **i = k ? realloc(g->ids, cap * sizeof *i) : NULL;
        if (!k || !i) {
            g->keys = k ? k : g->keys;
            return 1;
        }
        g->keys = k;
        g->ids = i;
        g->cap = cap;
    }
    g->keys[g->n] = strdup(key);
    g->ids[g->n] = strdup(e->remote_id);
    if (g->keys[g->n] && g->ids[g->n])
        g->n++;
    return 0;
}

long smh_pull(struct smh_engine *e, const struct smh_pull_opts *o, struct smh_pull_result *res)
{
    struct smh_conn *conn = smh_conn_new(o->base_url, o->key, o->timeout_ms);
    struct smh_call k = {.conn = conn, .tag = o->tag, .retry_after = -1};
    char wm[32];
    struct pull p = {.c = o->cache, .tree = o->tree, .tmp = o->tmp, .full = o->full, .log = o->log};
    (void)e;
    memset(res, 0, sizeof *res);
    if (!conn) {
        snprintf(res->error, sizeof res->error, "libcurl or libcjson cannot be loaded");
        return -ENOSYS;
    }
    if (smc_kv_get(o->cache, "pull.watermark", wm, sizeof wm) == 0)
        p.watermark = strtoull(wm, NULL, 10);
    if (!p.watermark)
        p.full = 1;
    int outcome = SMH_OK, pages = 1;
    uint64_t give_up = smc_now_ms() + (uint64_t)(o->retry_ms > 0 ? o->retry_ms : 0);
    long delay = 500;
    for (int page = 1; page <= pages && !p.stop; page++) {
        outcome = smh_api_list(&k, o->filepath, 1, page, PAGE, on_doc, &p, &pages);
        if (outcome == SMH_RETRY && smc_now_ms() + (uint64_t)delay < give_up) {
            /* 429, 5xx, a dropped connection, a malformed page: the same page again, later */
            long wait = k.retry_after >= 0 && k.retry_after * 1000 > delay ? k.retry_after * 1000
                                                                             : delay;
            struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            delay = delay * 2 > 8000 ? 8000 : delay * 2;
            page--;
            continue;
        }
        if (outcome != SMH_OK)
            break;
        if (o->progress)
            o->progress(page, pages, o->arg);
    }
    long rc = 0;
    if (outcome != SMH_OK) {
        snprintf(res->error, sizeof res->error, "%s", k.err[0] ? k.err : "list failed");
        res->unreachable = k.status == 0;
        res->auth = outcome == SMH_AUTH;
        rc = -EIO;
    } else if (!o->filepath) {
        if (p.full) {
            /* listings can be stale: a clean file goes only when its GET answers 404 */
            struct gone_ctx g = {&p, NULL, NULL, 0, 0};
            smc_entry_each(o->cache, find_gone, &g);
            for (size_t i = 0; i < g.n; i++) {
                struct smh_doc d;
                if (smh_api_get(&k, g.ids[i], &d) == SMH_GONE &&
                    smc_remove_remote(o->cache, o->tree, g.keys[i], g.ids[i]) == 1)
                    res->removed++;
                free(g.keys[i]);
                free(g.ids[i]);
            }
            free(g.keys);
            free(g.ids);
            char dups[32];
            snprintf(dups, sizeof dups, "%ld", p.dups);
            smc_kv_put(o->cache, "pull.duplicates", dups);
        }
        if (p.newest > p.watermark) {
            snprintf(wm, sizeof wm, "%llu", (unsigned long long)p.newest);
            smc_kv_put(o->cache, "pull.watermark", wm);
        }
        snprintf(wm, sizeof wm, "%llu", (unsigned long long)smc_now_ms());
        smc_kv_put(o->cache, "pull.last", wm);
    }
    if (k.malformed && o->log) {
        char msg[120];
        snprintf(msg, sizeof msg, "skipped %ld listed documents with malformed fields", k.malformed);
        o->log(msg);
    }
    char bad[32];
    if (p.bad) {
        snprintf(bad, sizeof bad, "%ld", p.bad);
        smc_kv_put(o->cache, "pull.unsafe", bad);
    }
    res->applied = p.applied;
    res->kept = p.kept;
    res->duplicates = p.dups;
    res->unsafe = p.bad;
    smh_ks_free(&p.seen);
    smh_conn_free(conn);
    return rc;
}
