/* status.c: `smshim status`: what a cache holds, or why it cannot be read. */
#include "cli.h"
#include "../cache/cache.h"
#include "../hydrate/creds.h"
#include "../hydrate/hydrate.h"
#include "../hydrate/binary.h"
#include "../hydrate/keyset.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t t_entries, t_files, t_dirs, t_links, t_bytes, t_unreadable;

static int tree_visit(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)p;
    if (f->level == 0)
        return 0;
    t_entries++;
    if (type == FTW_F && S_ISREG(sb->st_mode)) {
        t_files++;
        t_bytes += (uint64_t)sb->st_size;
    } else if (type == FTW_D || type == FTW_DNR) {
        t_dirs++;
        t_unreadable += type == FTW_DNR;
    } else if (type == FTW_SL || type == FTW_SLN) {
        t_links++;
    }
    return 0;
}

static int list_entry(void *arg, const char *key, const struct smc_entry *e)
{
    struct smh_keyset *retry = arg;
    int fetch = (e->flags & SMC_E_FETCH) != 0;
    const char *state = (e->flags & SMC_E_POISONED)       ? "poisoned"
                        : (e->flags & SMC_E_LOCALONLY)    ? "local-only"
                        : e->dirty_since_ns               ? "dirty"
                        : (e->flags & SMC_E_SIBLING)      ? "sibling"
                        : (e->flags & SMC_E_NOTFETCHED)   ? "not-fetched"
                        : fetch && smh_ks_get(retry, key) ? "fetch-retry"
                        : fetch                           ? "fetching"
                        : (e->flags & SMC_E_BINARY)       ? "binary"
                                                          : "clean";
    printf("%-11s %s\n", state, E(key));
    return 0;
}

static const char *num(uint64_t v, char out[32])
{
    snprintf(out, 32, "%llu", (unsigned long long)v);
    return out;
}

static const char status_help[] =
    "usage: smshim status [--prefix P] [--cache DIR] [--json | --list]\n"
    "\n"
    "What the cache holds: files, bytes, dirty and queued changes, the remote it is bound to,\n"
    "the last pull, files the server refused, why the queue is paused, a credentials file that\n"
    "could not be read. Exits 1 when the cache does not exist or cannot be read.\n"
    "\n"
    "  --list       one line per tracked file: clean (text), binary, dirty, poisoned,\n"
    "               local-only (over 50 MB), not-fetched (a remote binary over 20 MiB),\n"
    "               fetching, fetch-retry (its fetch failed: tried again after a backoff),\n"
    "               sibling (a read-only transcription or error file)\n"
    "  --json       one JSON object\n"
    "  --prefix P   the prefix shown (SMSHIM_PREFIX); --cache DIR the cache (SMSHIM_CACHE)\n"
    "\n"
    "Environment: SMSHIM_PREFIX, SMSHIM_CACHE, XDG_CACHE_HOME, SUPERMEMORY_API_KEY and the\n"
    "credentials file (XDG_CONFIG_HOME, HOME) for the mode shown.\n";

static const char *getenv_fn(const char *name)
{
    return getenv(name);
}

/* The cache must exist and be readable: a status of nothing is an error, not zeros. */
static int cache_readable(const char *cache, const char *tree, const char *meta)
{
    const char *const parts[] = {cache, tree, meta};
    for (int k = 0; k < 3; k++) {
        struct stat st;
        if (stat(parts[k], &st) != 0) {
            if (errno == ENOENT && k == 2)
                return 0; /* no change was ever recorded: nothing to count there */
            if (errno == ENOENT && k == 0)
                fprintf(stderr, "smshim: no cache at %s (nothing has used it yet; see --cache)\n",
                        E(cache));
            else
                fprintf(stderr, "smshim: cannot read the cache %s: %s: %s\n", E(cache), E(parts[k]),
                        strerror(errno));
            return -1;
        }
        if (!S_ISDIR(st.st_mode) || access(parts[k], R_OK | X_OK) != 0) {
            fprintf(stderr, "smshim: cannot read the cache %s: %s: %s\n", E(cache), E(parts[k]),
                    S_ISDIR(st.st_mode) ? strerror(errno) : "not a directory");
            return -1;
        }
    }
    return 0;
}

/* What `smshim status` shows. */
struct status {
    const char *cache, *prefix, *mode;
    char cwhy[PATH_MAX + 128]; /* why the credentials file cannot be read, or "" */
    struct smc_counts n;
    struct smh_report rp;
    unsigned long long unrec;
    char unlast[PATH_MAX];
    int unerr;
};

/* The mode: a key in the environment, else in the credentials file; a file that cannot be read
 * is shown (and makes the exit status 1), not a reason to show nothing. */
static void status_mode(struct status *st)
{
    char cpath[PATH_MAX];
    const char *ek = getenv(SMSHIM_ENV_KEY);
    st->mode = "local-only";
    if (ek && *ek) {
        st->mode = "remote";
    } else if (smh_creds_path(getenv_fn, cpath, sizeof cpath) == 0) {
        struct smh_creds cr;
        int crc = smh_creds_read(cpath, &cr, st->cwhy, sizeof st->cwhy);
        memset(cr.key, 0, sizeof cr.key);
        if (crc > 0)
            st->mode = "remote";
        else if (crc == 0)
            st->cwhy[0] = '\0';
    }
}

/* Walk the tree and read the environment (with --list: print the files). 0, 1 when the command
 * is done (--list) with *code its exit status, -1 on an error (said). */
static int status_read(struct status *st, const char *tree, const char *meta, int list, int *code)
{
    if (nftw(tree, tree_visit, 32, FTW_PHYS) != 0 || t_unreadable) {
        fprintf(stderr, "smshim: cannot read the cache's tree %s: %s\n", E(tree),
                t_unreadable ? "a directory in it cannot be read" : strerror(errno));
        return -1;
    }
    struct stat mst;
    if (stat(meta, &mst) != 0)
        return 0; /* no change was ever recorded */
    struct smc *c;
    int rc = smc_open(meta, &c);
    if (rc < 0) {
        fprintf(stderr, "smshim: cannot open %s: %s\n", E(meta), strerror(-rc));
        return -1;
    }
    struct smh_keyset retry = {0};
    if (list) /* read before the entries are walked: one transaction at a time */
        smh_bin_backing_off(c, &retry);
    rc = list ? smc_entry_each(c, list_entry, &retry) : smc_counts(c, &st->n);
    smh_ks_free(&retry);
    smh_report_read(c, &st->rp);
    smc_unrecorded_get(c, &st->unrec, st->unlast, sizeof st->unlast, &st->unerr);
    smc_close(c);
    if (list) {
        *code = rc < 0 ? 1 : 0;
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "smshim: cannot read %s: %s\n", E(meta), strerror(-rc));
        return -1;
    }
    return 0;
}

static void status_json(const struct status *st)
{
    const struct smh_report *r = &st->rp;
    char a[32], b[32];
    printf("{\"cache\":\"%s\",\"prefix\":\"%s\",\"mode\":\"%s\",\"entries\":%llu,"
           "\"files\":%llu,\"directories\":%llu,\"symlinks\":%llu,\"bytes\":%llu,"
           "\"tracked\":%llu,\"dirty\":%llu,\"queued\":%llu,\"poisoned\":%llu,"
           "\"not_synced\":%llu,\"base_url\":\"%s\",\"tag\":\"%s\",\"paused\":%s%s%s,"
           "\"last_pull_ms\":%s,\"watermark_ms\":%s,\"duplicates\":%llu,\"unsafe_skipped\":%"
           "llu,\"shared_documents\":%llu,\"held_removals\":%llu,\"credentials_error\":%s%s%s,"
           "\"credentials_file_error\":%s%s%s,"
           "\"server_silent\":%s,\"silent_probes\":%llu,\"unrecorded\":%llu,"
           "\"unrecorded_last\":%s%s%s,\"unrecorded_reason\":%s%s%s}\n",
           J(st->cache), J(st->prefix), st->mode, (unsigned long long)t_entries,
           (unsigned long long)t_files, (unsigned long long)t_dirs, (unsigned long long)t_links,
           (unsigned long long)t_bytes, (unsigned long long)st->n.entries,
           (unsigned long long)st->n.dirty, (unsigned long long)st->n.queued,
           (unsigned long long)st->n.poisoned, (unsigned long long)st->n.localonly, J(r->url),
           J(r->tag), r->paused[0] ? "\"" : "", r->paused[0] ? J(r->paused) : "null",
           r->paused[0] ? "\"" : "", r->pulled ? num(r->last_pull_ms, a) : "null",
           r->has_watermark ? num(r->watermark_ms, b) : "null", (unsigned long long)r->duplicates,
           (unsigned long long)r->unsafe, (unsigned long long)r->shared,
           (unsigned long long)r->held, r->creds_error[0] ? "\"" : "",
           r->creds_error[0] ? J(r->creds_error) : "null", r->creds_error[0] ? "\"" : "",
           st->cwhy[0] ? "\"" : "", st->cwhy[0] ? J(st->cwhy) : "null", st->cwhy[0] ? "\"" : "",
           r->silent ? "true" : "false", r->silent_probes, st->unrec, st->unrec ? "\"" : "",
           st->unrec ? J(st->unlast) : "null", st->unrec ? "\"" : "", st->unrec ? "\"" : "",
           st->unrec ? cli_unrecorded_why(st->unerr) : "null", st->unrec ? "\"" : "");
}

static void status_text(const struct status *st)
{
    const struct smh_report *r = &st->rp;
    printf("cache:        %s\n", E(st->cache));
    printf("prefix:       %s (%s)\n", E(st->prefix), st->mode);
    printf("entries:      %llu (%llu files, %llu directories, %llu symlinks)\n",
           (unsigned long long)t_entries, (unsigned long long)t_files, (unsigned long long)t_dirs,
           (unsigned long long)t_links);
    printf("bytes:        %llu\n", (unsigned long long)t_bytes);
    printf("dirty files:  %llu\n", (unsigned long long)st->n.dirty);
    printf("queued:       %llu\n", (unsigned long long)st->n.queued);
    if (r->url[0])
        printf("remote:       %s (tag %s)\n", E(r->url), E(r->tag));
    if (r->pulled) {
        time_t t = (time_t)(r->last_pull_ms / 1000), w = (time_t)(r->watermark_ms / 1000);
        char a[64], b[64];
        strftime(a, sizeof a, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
        strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S UTC", gmtime(&w));
        printf("last pull:    %s (watermark %s)\n", a, r->has_watermark ? b : "none");
    }
    if (r->duplicates)
        printf("duplicates:   %llu remote documents share a filepath with a newer one (ignored)\n",
               (unsigned long long)r->duplicates);
    if (r->unsafe)
        printf("unsafe:       %llu remote documents skipped (unsafe filepath, or another file's "
               "document; see the log)\n",
               (unsigned long long)r->unsafe);
    if (r->shared)
        printf("shared:       %llu documents are each bound to more than one file here: neither "
               "file's change is sent to them, nor theirs pulled\n",
               (unsigned long long)r->shared);
    if (r->held)
        printf("held:         %llu removals wait: their document is another file's here (sent "
               "once no file here is bound to it)\n",
               (unsigned long long)r->held);
    if (st->n.poisoned)
        printf("poisoned:     %llu (refused by the server; smshim sync --retry-poisoned)%s%s\n",
               (unsigned long long)st->n.poisoned, r->last_poisoned[0] ? "\n  last: " : "",
               E(r->last_poisoned));
    if (st->n.localonly)
        printf(
            "local-only:   %llu (over the service's 50 MB: kept locally; smshim status --list)\n",
            (unsigned long long)st->n.localonly);
    if (st->unrec)
        printf("unrecorded:   %llu (%s: the next scan records them, smshim sync)\n  last: %s\n",
               st->unrec, cli_unrecorded_why(st->unerr), E(st->unlast));
    if (r->paused[0])
        printf("paused:       %s\n", E(r->paused));
    if (r->silent)
        printf("server:       not answering (commands do not wait; retried in the background, "
               "%llu probes so far)\n",
               r->silent_probes);
    if (r->creds_error[0])
        printf("credentials:  a process could not use them: %s\n", E(r->creds_error));
    if (st->cwhy[0]) {
        printf("credentials:  %s\n", E(st->cwhy));
        fprintf(stderr, "smshim: %s\n", E(st->cwhy));
    }
}

int cmd_status(int argc, char **argv)
{
    int json = 0, list = 0;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(status_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (!cli_common_opt(argc, argv, &i))
            die("status: unknown option %s (smshim status --help)", argv[i]);
    }
    static struct status st;
    settings(0, &st.prefix, &st.cache);
    char tree[PATH_MAX + 16], meta[PATH_MAX + 16];
    smc_layout_path(st.cache, SMC_TREE, NULL, tree, sizeof tree);
    smc_layout_path(st.cache, SMC_META, NULL, meta, sizeof meta);
    status_mode(&st);
    if (cache_readable(st.cache, tree, meta) != 0)
        return 1;
    int code = 0, rc = status_read(&st, tree, meta, list, &code);
    if (rc != 0)
        return rc < 0 ? 1 : code;
    if (json)
        status_json(&st);
    else
        status_text(&st);
    return st.cwhy[0] ? 1 : 0;
}
