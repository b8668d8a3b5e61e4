/* config.c: the constructor. Reads the environment once into sm_cfg; starts nothing. */
#include "shim.h"
#include "smshim.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

struct sm_cfg sm_cfg;
int sm_guard_on; /* set by record.c */

extern char **environ;

/* getenv through environ itself: a host program may export its own getenv (bash does, and its
 * table is empty before its main runs), so the shim never calls getenv by name. */
const char *sm_getenv(const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* Lexically normalise an absolute path into out: collapse "//" and "/.", resolve "..", drop a
 * trailing '/'. Returns 0, or -1 if it is not absolute or does not fit. */
static int norm_abs(const char *in, char *out, size_t size)
{
    size_t n = 0;
    if (in[0] != '/')
        return -1;
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        if (len == 0 || (len == 1 && s[0] == '.'))
            continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            continue;
        }
        if (n + 1 + len + 1 > size)
            return -1;
        out[n++] = '/';
        memcpy(out + n, s, len);
        n += len;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return 0;
}

/* Canonicalise the cache directory: resolve symlinks in the longest part that exists, so that
 * paths the kernel reports (getcwd, /proc/self/fd) compare equal to sm_cfg.tree. */
static void canon_cache(char *path, size_t size)
{
    char head[PATH_MAX], res[PATH_MAX], out[PATH_MAX];
    snprintf(head, sizeof head, "%s", path);
    size_t cut = strlen(head);
    while (cut > 0) {
        head[cut] = '\0';
        if (SM_REAL(realpath)(head, res) != NULL) {
            if (strcmp(res, "/") == 0)
                res[0] = '\0';
            if (snprintf(out, sizeof out, "%s%s", res, path + cut) < (int)sizeof out)
                snprintf(path, size, "%s", out);
            return;
        }
        while (cut > 0 && head[cut - 1] != '/')
            cut--; /* drop the last component ... */
        if (cut > 0)
            cut--; /* ... and its '/' */
    }
}

static void find_libpath(void)
{
    Dl_info info;
    if (dladdr((void *)&find_libpath, &info) && info.dli_fname && info.dli_fname[0]) {
        /* an absolute name is used as is (children only need to find the file); a relative one,
         * which would break in a child started elsewhere, is made absolute */
        if (info.dli_fname[0] == '/' || SM_REAL(realpath)(info.dli_fname, sm_cfg.libpath) == NULL)
            snprintf(sm_cfg.libpath, sizeof sm_cfg.libpath, "%s", info.dli_fname);
    }
}

/** Fill sm_cfg from the environment. Exposed for the unit tests. */
void sm_config_load(void);
void sm_config_load(void)
{
    char raw[PATH_MAX];
    const char *v;

    static int loaded;
    if (loaded++) /* static storage starts zeroed: clear it only when loading again (tests) */
        memset(&sm_cfg, 0, sizeof sm_cfg);
    v = sm_getenv(SMSHIM_ENV_PREFIX);
    if (!v || !*v)
        v = SMSHIM_DEFAULT_PREFIX;
    if (norm_abs(v, sm_cfg.prefix, sizeof sm_cfg.prefix) != 0 || strcmp(sm_cfg.prefix, "/") == 0) {
        sm_log(SM_LOG_ERROR, "%s=%s is not an absolute path below /: shim disabled",
               SMSHIM_ENV_PREFIX, v);
        return;
    }
    sm_cfg.plen = strlen(sm_cfg.prefix);

    v = sm_getenv(SMSHIM_ENV_CACHE);
    if (v && *v) {
        if (v[0] == '/') {
            snprintf(raw, sizeof raw, "%s", v);
        } else {
            char cwd[PATH_MAX];
            if (!SM_REAL(getcwd)(cwd, sizeof cwd))
                return;
            snprintf(raw, sizeof raw, "%s/%s", cwd, v);
        }
    } else if ((v = sm_getenv("XDG_CACHE_HOME")) && v[0] == '/') {
        snprintf(raw, sizeof raw, "%s/smshim", v);
    } else if ((v = sm_getenv("HOME")) && v[0] == '/') {
        snprintf(raw, sizeof raw, "%s/.cache/smshim", v);
    } else {
        snprintf(raw, sizeof raw, "/tmp/smshim-%u", (unsigned)getuid());
    }
    if (norm_abs(raw, sm_cfg.cache, sizeof sm_cfg.cache) != 0)
        return;
    canon_cache(sm_cfg.cache, sizeof sm_cfg.cache);
    sm_cfg.clen = strlen(sm_cfg.cache);
    if (sm_cfg.clen + sizeof("/" SMSHIM_TREE_DIR) > sizeof sm_cfg.tree)
        return;
    snprintf(sm_cfg.tree, sizeof sm_cfg.tree, "%s/%s", sm_cfg.cache, SMSHIM_TREE_DIR);
    sm_cfg.tlen = strlen(sm_cfg.tree);
    if (sm_under_prefix(sm_cfg.tree) >= 0) {
        sm_log(SM_LOG_ERROR, "cache %s lies under the prefix %s: shim disabled", sm_cfg.cache,
               sm_cfg.prefix);
        return;
    }

    sm_log_init(sm_getenv(SMSHIM_ENV_LOG), sm_cfg.cache);

    v = sm_getenv(SMSHIM_ENV_TAG);
    snprintf(sm_cfg.tag, sizeof sm_cfg.tag, "%s", (v && *v) ? v : SMSHIM_DEFAULT_TAG);

    v = sm_getenv(SMSHIM_ENV_KEY);
    snprintf(sm_cfg.key, sizeof sm_cfg.key, "%s", v ? v : "");
    v = sm_getenv(SMSHIM_ENV_BASE_URL);
    if (!v || !*v)
        v = sm_getenv(SMSHIM_ENV_API_URL);
    snprintf(sm_cfg.base_url, sizeof sm_cfg.base_url, "%s",
             v && *v ? v : SMSHIM_DEFAULT_BASE_URL);
    v = sm_getenv(SMSHIM_ENV_EXIT_TIMEOUT);
    sm_cfg.exit_timeout_ms = v && *v ? (long)(strtod(v, NULL) * 1000) : 10000;
    v = sm_getenv(SMSHIM_ENV_PULL_INTERVAL);
    sm_cfg.pull_interval_ms = v && *v ? (long)(strtod(v, NULL) * 1000) : 30000;
    if (sm_cfg.pull_interval_ms < 1000)
        sm_cfg.pull_interval_ms = 1000;
    v = sm_getenv(SMSHIM_ENV_NOWAIT);
    sm_cfg.exit_wait = !(v && strcmp(v, "1") == 0);

    find_libpath();
    snprintf(sm_cfg.env_prefix, sizeof sm_cfg.env_prefix, "%s=%s", SMSHIM_ENV_PREFIX,
             sm_cfg.prefix);
    snprintf(sm_cfg.env_cache, sizeof sm_cfg.env_cache, "%s=%s", SMSHIM_ENV_CACHE, sm_cfg.cache);
    snprintf(sm_cfg.env_tag, sizeof sm_cfg.env_tag, "%s=%s", SMSHIM_ENV_TAG, sm_cfg.tag);
    v = sm_getenv(SMSHIM_ENV_LOG);
    if (v && *v) {
        snprintf(sm_cfg.env_log, sizeof sm_cfg.env_log, "%s=%s", SMSHIM_ENV_LOG, v);
        sm_cfg.have_log = 1;
    }
    sm_cfg.enabled = 1;
}

__attribute__((constructor)) static void sm_ctor(void)
{
    /* node's libuv would run fs calls on an io_uring no shim can see */
    if (!sm_getenv("UV_USE_IO_URING"))
        SM_REAL(setenv)("UV_USE_IO_URING", "0", 0);
    sm_config_load();
    if (sm_sud_init) sm_sud_init();
}
