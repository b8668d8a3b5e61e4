/* config.c: the constructor. It resolves the settings with the rules of settings.c, reads the
 * environment once into sm_cfg and starts nothing. */
#include "shim.h"
#include "settings.h"
#include "smshim.h"
#include "../cache/cache.h"
#include "../hydrate/creds.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- the constructor ----------------------------------------------------------------------- */

struct sm_cfg sm_cfg;
int sm_guard_on; /* set by record.c */

extern char **environ;

/* log.c: the line that says why the settings were refused */
void sm_log_refused(const char *why);

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
    static struct sm_settings st; /* not on the stack of whatever thread loads the library */
    const char *v;

    static int loaded;
    if (loaded++) /* static storage starts zeroed: clear it only when loading again (tests) */
        memset(&sm_cfg, 0, sizeof sm_cfg);
    const char *logspec = sm_getenv(SMSHIM_ENV_LOG);
    int ok = sm_settings_resolve(sm_getenv, logspec && *logspec ? SM_SET_WARN : 0, &st) == 0;
    /* logging first, so that the decision is logged; never into a cache that was refused */
    sm_log_init(logspec, ok ? st.cache : NULL);
    if (!ok) {
        sm_log_refused(st.why); /* the one line the shim prints unasked: enabled stays 0 */
        return;
    }
    if (st.warn[0])
        sm_log(SM_LOG_WARN, "%s", st.warn);
    snprintf(sm_cfg.prefix, sizeof sm_cfg.prefix, "%s", st.prefix);
    sm_cfg.plen = strlen(sm_cfg.prefix);
    snprintf(sm_cfg.cache, sizeof sm_cfg.cache, "%s", st.cache);
    sm_cfg.clen = strlen(sm_cfg.cache);
    smc_layout_path(sm_cfg.cache, SMC_TREE, NULL, sm_cfg.tree, sizeof sm_cfg.tree);
    sm_cfg.tlen = strlen(sm_cfg.tree);

    v = sm_getenv(SMSHIM_ENV_TAG);
    snprintf(sm_cfg.tag, sizeof sm_cfg.tag, "%s", (v && *v) ? v : SMSHIM_DEFAULT_TAG);

    v = sm_getenv(SMSHIM_ENV_KEY);
    snprintf(sm_cfg.key, sizeof sm_cfg.key, "%s", v ? v : "");
    v = sm_getenv(SMSHIM_ENV_BASE_URL);
    if (!v || !*v)
        v = sm_getenv(SMSHIM_ENV_API_URL);
    snprintf(sm_cfg.base_url, sizeof sm_cfg.base_url, "%s", v && *v ? v : SMSHIM_DEFAULT_BASE_URL);
    sm_cfg.url_env = v && *v;
    if (!sm_cfg.key[0]) /* only its name now: nothing is opened before the sync thread starts */
        smh_creds_path(sm_getenv, sm_cfg.creds, sizeof sm_cfg.creds);
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
    v = sm_getenv(SMSHIM_ENV_RUN_NOTES);
    if (v && v[0] == '/')
        snprintf(sm_cfg.env_notes, sizeof sm_cfg.env_notes, "%s=%s", SMSHIM_ENV_RUN_NOTES, v);
    sm_cfg.enabled = 1;
    v = sm_getenv(SMSHIM_ENV_TREE_FD);
    if (v && *v)
        sm_tree_adopt(v);
}

__attribute__((constructor)) static void sm_ctor(void)
{
    /* node's libuv would run fs calls on an io_uring no shim can see */
    if (!sm_getenv("UV_USE_IO_URING"))
        SM_REAL(setenv)("UV_USE_IO_URING", "0", 0);
    sm_config_load();
    if (sm_cfg.enabled)
        sm_fault_init(); /* a bad path pointer gives EFAULT (fault.c) */
    if (sm_sud_init)
        sm_sud_init();
}
