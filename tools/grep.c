/* grep.c: `smshim grep QUERY [PATH]`: semantic search over the container (POST /v4/search), as
 * `smfs grep` does it, each result shown where it is in the local file: the line range is found
 * by locating the chunk (verbatim from the document) in the file the cache holds, exactly, else
 * ignoring whitespace; a chunk that cannot be found there has no range. */
#include "cli.h"
#include "../cache/cache.h"
#include "../hydrate/http.h"
#include "../hydrate/search.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GREP_FILE_MAX (64u << 20) /* larger local files are not searched for the range */

static const char grep_help[] =
    "usage: smshim grep [--prefix P] [--cache DIR] [--tag TAG] [--json] [-q] QUERY [PATH]\n"
    "\n"
    "Semantic search over the container (POST /v4/search, hybrid mode), best first, one line per\n"
    "result: PATH:START-END:CHUNK (START alone for one line; an empty range when the chunk is not\n"
    "in the local file), PATH as programs see it under the prefix, the chunk's newlines and\n"
    "control characters escaped. PATH limits the search to a file or a directory; it is a\n"
    "virtual path, absolute (/sm/docs) or relative (to the current directory under the prefix,\n"
    "else to the prefix). Exits 0 with results, 1 with none, 2 on errors (as grep).\n"
    "\n"
    "  --json       one JSON object: {\"query\", \"scope\", \"results\": [{\"path\", "
    "\"filepath\",\n"
    "               \"id\", \"start\", \"end\", \"similarity\", \"chunk\"}]}\n"
    "  -q, --quiet  no header on stderr\n"
    "  --prefix, --cache, --tag  as for smshim run\n"
    "\n"
    "Environment: SMSHIM_PREFIX, SMSHIM_CACHE, SMSHIM_TAG, SUPERMEMORY_API_KEY,\n"
    "SUPERMEMORY_BASE_URL (SUPERMEMORY_API_URL), XDG_CONFIG_HOME / HOME (the credentials file),\n"
    "SMSHIM_ALLOW_INSECURE.\n";

struct hit {
    char *filepath, *chunk, *id;
    double sim;
    long start, end; /* 0: not found locally */
};

struct hits {
    struct hit *v;
    size_t n, cap;
};

static int keep(void *arg, const struct smh_hit *h)
{
    struct hits *hs = arg;
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? hs->cap * 2 : 16;
        struct hit *nv = realloc(hs->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        hs->v = nv;
        hs->cap = cap;
    }
    struct hit *x = &hs->v[hs->n];
    x->filepath = strdup(h->filepath);
    x->chunk = strdup(h->chunk);
    x->id = strdup(h->id);
    x->sim = h->similarity;
    x->start = x->end = 0;
    if (!x->filepath || !x->chunk || !x->id)
        return -1;
    hs->n++;
    return 0;
}

/* The local file's bytes (beneath the tree, no link followed), or NULL. */
static char *read_local(const char *tree, const char *filepath, size_t *len)
{
    const char *leaf;
    int dfd = smc_tree_dir(tree, filepath, 0, &leaf);
    if (dfd < 0)
        return NULL;
    int fd = smc_tree_open_file(dfd, leaf, NULL);
    close(dfd);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size <= GREP_FILE_MAX &&
        (buf = malloc((size_t)st.st_size + 1))) {
        size_t got = 0;
        ssize_t r;
        while (got < (size_t)st.st_size && (r = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
            got += (size_t)r;
        buf[got] = '\0';
        *len = got;
    }
    close(fd);
    return buf;
}

static long line_of(const char *text, size_t off)
{
    long line = 1;
    for (size_t i = 0; i < off; i++)
        line += text[i] == '\n';
    return line;
}

/* text without whitespace, and where each kept byte was (map, when not NULL) */
static size_t squash(const char *s, size_t n, char *out, size_t *map)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) {
            if (map)
                map[k] = i;
            out[k++] = s[i];
        }
    out[k] = '\0';
    return k;
}

/* Where the chunk lies in the file: its first and last lines, or 0 when it is not there. */
static void locate(const char *file, size_t flen, const char *chunk, long *start, long *end)
{
    size_t clen = strlen(chunk);
    *start = *end = 0;
    while (clen && (chunk[clen - 1] == '\n' || chunk[clen - 1] == '\r'))
        clen--; /* a chunk's final newline ends its last line */
    if (!clen)
        return;
    const char *at = memmem(file, flen, chunk, clen);
    if (at) {
        *start = line_of(file, (size_t)(at - file));
        *end = *start + line_of(chunk, clen) - 1;
        return;
    }
    char *sf = malloc(flen + 1), *sc = malloc(clen + 1);
    size_t *map = malloc((flen + 1) * sizeof *map);
    if (sf && sc && map) {
        size_t nf = squash(file, flen, sf, map), nc = squash(chunk, clen, sc, NULL);
        const char *p = nc ? memmem(sf, nf, sc, nc) : NULL;
        if (p) {
            size_t a = map[p - sf], b = map[(size_t)(p - sf) + nc - 1];
            *start = line_of(file, a);
            *end = line_of(file, b);
        }
    }
    free(sf);
    free(sc);
    free(map);
}

/* PATH as a filepath in the container ("" for the whole of it), or exits 2. */
static void scope_of(const char *arg, const char *prefix, const char *tree, char *out, size_t n)
{
    char raw[2 * PATH_MAX], real_tree[PATH_MAX], cwd[PATH_MAX];
    size_t pl = strlen(prefix);
    if (arg[0] == '/') {
        if (strncmp(arg, prefix, pl) == 0 && (arg[pl] == '/' || arg[pl] == '\0'))
            snprintf(raw, sizeof raw, "/%s", arg + pl);
        else if (realpath(tree, real_tree) && strncmp(arg, real_tree, strlen(real_tree)) == 0 &&
                 (arg[strlen(real_tree)] == '/' || arg[strlen(real_tree)] == '\0'))
            snprintf(raw, sizeof raw, "/%s", arg + strlen(real_tree));
        else
            die("grep: %s is not under the prefix", arg);
    } else {
        /* under the shim a cwd inside the prefix is the tree's directory: relative to it */
        size_t tl = 0;
        if (getcwd(cwd, sizeof cwd) && realpath(tree, real_tree) &&
            strncmp(cwd, real_tree, (tl = strlen(real_tree))) == 0 &&
            (cwd[tl] == '/' || cwd[tl] == '\0'))
            snprintf(raw, sizeof raw, "/%s/%s", cwd + tl, arg);
        else
            snprintf(raw, sizeof raw, "/%s", arg);
    }
    /* normal form: no empty, "." or ".." components */
    char norm[2 * PATH_MAX] = "";
    size_t len = 0;
    int dir = raw[strlen(raw) - 1] == '/';
    for (char *save, *c = strtok_r(raw, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (!len)
                die("grep: %s leaves the prefix", arg);
            while (len && norm[--len] != '/')
                ;
            norm[len] = '\0';
            continue;
        }
        len += (size_t)snprintf(norm + len, sizeof norm - len, "/%s", c);
        if (len >= sizeof norm - 1)
            die("grep: %s is too long", arg);
    }
    struct stat st;
    if (len && !dir && smc_tree_stat(tree, norm, &st) == 0 && S_ISDIR(st.st_mode))
        dir = 1;
    if (len >= n - 1)
        die("grep: %s is too long", arg);
    snprintf(out, n, "%s%s", norm, len && dir ? "/" : "");
}

/* smshim grep's arguments: the options into *json and *quiet, QUERY and PATH (NULL: none). */
static void grep_args(int argc, char **argv, int *json, int *quiet, const char **query,
                      const char **path)
{
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(grep_help, stdout);
            exit(0);
        }
        if (strcmp(argv[i], "--") == 0) {
            for (i++; i < argc; i++) {
                if (!*query)
                    *query = argv[i];
                else if (!*path)
                    *path = argv[i];
                else
                    die("grep: too many arguments (smshim grep --help)%s", "");
            }
            break;
        }
        if (strcmp(argv[i], "--json") == 0)
            *json = 1;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
            *quiet = 1;
        else if (cli_common_opt(argc, argv, &i))
            continue;
        else if (argv[i][0] == '-' && argv[i][1])
            die("grep: unknown option %s (smshim grep --help)", argv[i]);
        else if (!*query)
            *query = argv[i];
        else if (!*path)
            *path = argv[i];
        else
            die("grep: too many arguments (smshim grep --help)%s", "");
    }
    if (!*query || !**query)
        die("grep: no query (smshim grep QUERY [PATH])%s", "");
}

/* The hits, best first: as PATH:LINES:CHUNK lines (a summary on stderr unless quiet), or one
 * JSON object. */
static void grep_print(const struct hits *hs, int json, int quiet, const char *query,
                       const char *scope, const char *prefix, const char *tag, long skipped)
{
    if (!quiet && !json)
        fprintf(stderr,
                "smshim: %zu semantic matches for \"%s\" in container %s%s%s, best first "
                "(PATH:LINES:CHUNK)\n",
                hs->n, E(query), E(tag), scope[0] ? " under " : "", E(scope));
    if (skipped && !quiet)
        fprintf(stderr, "smshim: %ld results were unusable (malformed, or an unsafe filepath)\n",
                skipped);
    if (json) {
        printf("{\"query\":\"%s\",\"scope\":%s%s%s,\"results\":[", J(query), scope[0] ? "\"" : "",
               scope[0] ? J(scope) : "null", scope[0] ? "\"" : "");
    }
    for (size_t i = 0; i < hs->n; i++) {
        const struct hit *h = &hs->v[i];
        char vpath[2 * PATH_MAX], range[48] = "";
        snprintf(vpath, sizeof vpath, "%s%s", prefix, h->filepath);
        if (json) {
            char a[24] = "null", b[24] = "null";
            if (h->start) {
                snprintf(a, sizeof a, "%ld", h->start);
                snprintf(b, sizeof b, "%ld", h->end);
            }
            printf("%s{\"path\":\"%s\",\"filepath\":\"%s\",\"id\":\"%s\",\"start\":%s,\"end\":%s,"
                   "\"similarity\":%.6g,\"chunk\":\"%s\"}",
                   i ? "," : "", J(vpath), J(h->filepath), J(h->id), a, b, h->sim, J(h->chunk));
            continue;
        }
        if (h->start && h->end > h->start)
            snprintf(range, sizeof range, "%ld-%ld", h->start, h->end);
        else if (h->start)
            snprintf(range, sizeof range, "%ld", h->start);
        printf("%s:%s:%s\n", E(vpath), range, E(h->chunk));
    }
    if (json)
        printf("]}\n");
}

/* smshim grep: the arguments, the scope, one search request, each hit's lines found in the local
 * file, the output. */
int cmd_grep(int argc, char **argv)
{
    int json = 0, quiet = 0;
    const char *query = NULL, *path = NULL;
    grep_args(argc, argv, &json, &quiet, &query, &path);
    const char *prefix, *cache;
    settings(0, &prefix, &cache);
    char tree[PATH_MAX + 16], scope[2 * PATH_MAX];
    smc_layout_path(cache, SMC_TREE, NULL, tree, sizeof tree);
    scope[0] = '\0';
    if (path)
        scope_of(path, prefix, tree, scope, sizeof scope);
    struct remote r;
    if (!remote_get(&r))
        die("grep: no API key (%s, or `smshim login`): search needs the server", SMSHIM_ENV_KEY);
    refuse_unsafe_url(&r);
    struct smh_conn *conn = smh_conn_new(r.url, r.key, 30000);
    memset(r.keybuf, 0, sizeof r.keybuf);
    if (!conn)
        die("cannot load libcurl and cJSON (libcurl.so.4, libcjson.so.1)%s", "");
    struct smh_call k = {.conn = conn, .tag = r.tag};
    struct hits hs = {0};
    long skipped = 0;
    int o = smh_api_search(&k, query, scope[0] ? scope : NULL, keep, &hs, &skipped);
    smh_conn_free(conn);
    if (o != SMH_OK) {
        fprintf(stderr, "smshim: grep: search failed at %s: %s\n", E(r.url), E(k.err));
        return 2;
    }
    for (size_t i = 0; i < hs.n; i++) {
        size_t flen;
        char *file = read_local(tree, hs.v[i].filepath, &flen);
        if (file)
            locate(file, flen, hs.v[i].chunk, &hs.v[i].start, &hs.v[i].end);
        free(file);
    }
    grep_print(&hs, json, quiet, query, scope, prefix, r.tag, skipped);
    size_t n = hs.n;
    for (size_t i = 0; i < hs.n; i++) {
        free(hs.v[i].filepath);
        free(hs.v[i].chunk);
        free(hs.v[i].id);
    }
    free(hs.v);
    return fflush(stdout) != 0 ? 2 : n ? 0 : 1;
}
