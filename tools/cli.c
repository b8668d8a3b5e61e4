/* cli.c: what the smshim commands share (cli.h). */
#include "cli.h"
#include "../cache/cache.h"
#include "../hydrate/budget.h"
#include "../hydrate/creds.h"
#include "../hydrate/hydrate.h"
#include "../hydrate/http.h"
#include "../shim/settings.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *cli_esc(const char *s, int json)
{
    static char bufs[6][4 * PATH_MAX + 8];
    static unsigned next;
    char *b = bufs[next++ % 6];
    return sm_escape(b, sizeof bufs[0], s ? s : "", json);
}

void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "smshim: ");
    fprintf(stderr, fmt, E(arg));
    fputc('\n', stderr);
    exit(2);
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

long cli_seconds(const char *name)
{
    char why[300];
    long ms;
    if (sm_settings_seconds(env_get, name, &ms, why, sizeof why) != 0) {
        fprintf(stderr, "smshim: refused: %s\n", E(why));
        exit(2);
    }
    return ms;
}

void settings(int warn, const char **prefix, const char **cache)
{
    static struct sm_settings st;
    if (sm_settings_resolve(env_get, warn ? SM_SET_WARN : 0, &st) != 0 ||
        sm_settings_seconds_all(env_get, st.why, sizeof st.why) != 0) {
        fprintf(stderr, "smshim: refused: %s\n", E(st.why));
        exit(2);
    }
    if (st.warn[0])
        fprintf(stderr, "smshim: warning: %s\n", E(st.warn));
    *prefix = st.prefix;
    *cache = st.cache;
}

int cli_common_opt(int argc, char **argv, int *i)
{
    static const char *const opt[][2] = {
        {"--prefix", SMSHIM_ENV_PREFIX}, {"--cache", SMSHIM_ENV_CACHE}, {"--tag", SMSHIM_ENV_TAG}};
    for (size_t k = 0; k < sizeof opt / sizeof *opt; k++) {
        size_t n = strlen(opt[k][0]);
        if (strcmp(argv[*i], opt[k][0]) == 0) {
            if (*i + 1 >= argc)
                die("%s needs a value", argv[*i]);
            setenv(opt[k][1], argv[++*i], 1);
            return 1;
        }
        if (strncmp(argv[*i], opt[k][0], n) == 0 && argv[*i][n] == '=') {
            setenv(opt[k][1], argv[*i] + n + 1, 1);
            return 1;
        }
    }
    return 0;
}

int cli_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

const char *cli_creds_path(void)
{
    static char path[PATH_MAX];
    if (!path[0] && smh_creds_path(env_get, path, sizeof path) != 0)
        die("cannot find the credentials file: %s",
            "neither XDG_CONFIG_HOME nor HOME is set to an absolute path");
    return path;
}

int remote_get(struct remote *r)
{
    const char *v = getenv(SMSHIM_ENV_KEY);
    const char *url = getenv(SMSHIM_ENV_BASE_URL);
    memset(r, 0, sizeof *r);
    if (!url || !*url)
        url = getenv(SMSHIM_ENV_API_URL);
    if (v && *v) {
        r->key = v;
        r->source = SMSHIM_ENV_KEY;
    } else {
        char why[PATH_MAX + 128], path[PATH_MAX];
        struct smh_creds c;
        if (smh_creds_path(env_get, path, sizeof path) != 0)
            return 0;
        int rc = smh_creds_read(path, &c, why, sizeof why);
        if (rc < 0)
            die("%s", why);
        if (rc == 0)
            return 0;
        snprintf(r->keybuf, sizeof r->keybuf, "%s", c.key);
        memset(&c.key, 0, sizeof c.key);
        r->key = r->keybuf;
        r->source = cli_creds_path();
        if ((!url || !*url) && c.url[0])
            url = c.url;
        snprintf(r->url, sizeof r->url, "%s", url);
    }
    if (!r->url[0])
        snprintf(r->url, sizeof r->url, "%s", url && *url ? url : SMSHIM_DEFAULT_BASE_URL);
    char why[300];
    if (sm_settings_tag(env_get, r->tag, sizeof r->tag, why, sizeof why) != 0) {
        fprintf(stderr, "smshim: refused: %s\n", E(why));
        exit(2);
    }
    if (!smh_key_usable(r->key, why, sizeof why)) { /* (the reason never holds the key) */
        fprintf(stderr, "smshim: refused: %s (%s)\n", why, E(r->source));
        exit(2);
    }
    return 1;
}

void cli_refuse_unsafe(const char *url)
{
    char why[300];
    if (smh_key_allowed(url, NULL, 0))
        return;
    if (strlen(url) > SMH_URL_MAX) { /* (smh_key_allowed's reason: no URL in it) */
        smh_key_allowed(url, why, sizeof why);
        fprintf(stderr, "smshim: refused: %s\n", why);
        exit(2);
    }
    /* smh_key_allowed's own text, with the URL escaped like every setting the CLI prints */
    fprintf(stderr,
            "smshim: the API key is not sent to %s: only https:// is safe (or http:// to a "
            "loopback host, or anywhere with SMSHIM_ALLOW_INSECURE=1)\n",
            E(url));
    exit(2);
}

const char *cli_unrecorded_why(int err)
{
    return err == ENOSPC      ? "the cache's LMDB map is full"
           : err == EOVERFLOW ? "no record slot is free for their hashed names"
                              : "the cache could not record them";
}

void refuse_unsafe_url(const struct remote *r)
{
    cli_refuse_unsafe(r->url);
}

struct smc *cache_open(const char *cache)
{
    char meta[PATH_MAX + 16], tree[PATH_MAX + 16];
    struct smc *c = NULL;
    mkdir(cache, 0700);
    smc_layout_path(cache, SMC_TREE, NULL, tree, sizeof tree);
    mkdir(tree, 0755);
    smc_layout_path(cache, SMC_META, NULL, meta, sizeof meta);
    int rc = smc_open(meta, &c);
    if (rc < 0) {
        fprintf(stderr, "smshim: cannot open the cache %s: %s\n", E(meta), strerror(-rc));
        return NULL;
    }
    return c;
}

/* ---- progress ------------------------------------------------------------------------------ */

uint64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void bar_init(struct bar *b, const char *what)
{
    b->tty = isatty(2);
    b->what = what;
    b->t0_ms = cli_now_ms();
    b->drawn = 0;
}

/* "smshim: pulling [#######.............]  12/40 pages   3.1/s  0:09 left" */
void bar_draw(struct bar *b, size_t done, size_t total, const char *unit)
{
    if (!b->tty)
        return;
    double secs = (double)(cli_now_ms() - b->t0_ms) / 1000.0;
    double rate = secs > 0.05 ? (double)done / secs : 0;
    char bar[24], left[32] = "";
    size_t fill = total ? done * 20 / total : 0;
    for (size_t i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    if (rate > 0 && total > done) {
        long s = (long)((double)(total - done) / rate + 0.5);
        snprintf(left, sizeof left, "  %ld:%02ld left", s / 60, s % 60);
    }
    fprintf(stderr, "\r\033[Ksmshim: %s [%s] %zu/%zu %s  %.1f/s%s", b->what, bar, done, total, unit,
            rate, left);
    b->drawn = 1;
}

void bar_end(struct bar *b)
{
    if (b->drawn)
        fputc('\n', stderr);
    b->drawn = 0;
}

struct push_view {
    int show;
    struct bar bar;
    struct smh_progress last;
};

static void progress_line(const struct smh_progress *p, void *arg)
{
    struct push_view *v = arg;
    v->last = *p;
    if (v->show)
        bar_draw(&v->bar, p->done, p->done + p->in_flight + p->queued,
                 p->paused ? "files (paused)" : "files");
}

long push_all(struct smc *c, const char *cache, const struct remote *r, long timeout_ms, int show,
              int retry_poisoned, int stall, struct smh_progress *out)
{
    struct smh_opts o = {c, cache, r->url, r->key, r->tag};
    struct smh_engine *e = smh_engine_new(&o);
    if (!e)
        return -1;
    if (stall)
        smh_engine_stall_rule(e); /* wait only while requests make progress */
    long found = smh_scan(e);
    if (found > 0 && show)
        fprintf(stderr, "smshim: %ld unrecorded changes found in the cache\n", found);
    if (retry_poisoned)
        smh_retry_poisoned(e);
    struct push_view v = {.show = show};
    memset(&v.last, 0, sizeof v.last);
    bar_init(&v.bar, "pushing");
    long left = smh_push_run(e, timeout_ms, 1, progress_line, &v);
    bar_end(&v.bar);
    if (show && !v.bar.tty && v.last.done)
        fprintf(stderr, "smshim: pushed %zu files in %.1f s\n", v.last.done,
                (double)(cli_now_ms() - v.bar.t0_ms) / 1000.0);
    if (out)
        *out = v.last;
    smh_engine_free(e);
    return left;
}

static void pull_progress(int page, int pages, void *arg)
{
    bar_draw(arg, (size_t)page, (size_t)(pages > page ? pages : page), "pages");
}

static void pull_log(const char *msg)
{
    fprintf(stderr, "smshim: %s\n", E(msg));
}

int pull(struct smc *c, const char *cache, const struct remote *r, int full, long timeout_ms,
         long retry_ms, int show)
{
    char tree[PATH_MAX + 16], tmp[PATH_MAX + 16];
    struct bar bar;
    bar_init(&bar, "pulling");
    if (!show)
        bar.tty = 0;
    smc_layout_path(cache, SMC_TREE, NULL, tree, sizeof tree);
    smc_layout_path(cache, SMC_TMP, NULL, tmp, sizeof tmp);
    mkdir(tmp, 0700);
    struct smh_pull_opts o = {.cache = c,
                              .tree = tree,
                              .tmp = tmp,
                              .base_url = r->url,
                              .key = r->key,
                              .tag = r->tag,
                              .full = full,
                              .timeout_ms = timeout_ms,
                              .retry_ms = retry_ms,
                              .progress = pull_progress,
                              .arg = &bar,
                              .log = show ? pull_log : NULL};
    struct smh_pull_result res;
    if (show) /* (and for the uploads after it) */
        __atomic_store_n(&smh_budget_log, pull_log, __ATOMIC_RELEASE);
    long rc = smh_pull(NULL, &o, &res);
    bar_end(&bar);
    if (rc < 0) {
        fprintf(stderr, "smshim: cannot pull from %s: %s%s\n", E(r->url), E(res.error),
                res.unreachable ? " (running on the local cache)" : "");
        if (res.unreachable)
            smh_silent_set(c); /* the next commands do not wait on it */
        return -1;
    }
    smh_silent_clear(c);
    if (show && (res.applied || res.removed || res.kept))
        fprintf(stderr, "smshim: pulled %ld files, removed %ld, kept %ld local changes in %.1f s\n",
                res.applied, res.removed, res.kept, (double)(cli_now_ms() - bar.t0_ms) / 1000.0);
    if (res.duplicates && show)
        fprintf(stderr, "smshim: %ld documents share a filepath with a newer one (ignored)\n",
                res.duplicates);
    return 0;
}
