/* config.c: the constructor and the settings. A process that never touches the prefix should pay
 * nothing for the shim, so the settings come in two steps:
 *
 *  - At start (the constructor) only what needs no system call: the variables the shim reads
 *    are copied once from the environment (sm_env_get; the host may change or overwrite its
 *    environment later), and the rules of settings.c that need no file system decide the prefix
 *    and the lexical form of the cache (sm_settings_prefix, sm_settings_cache_lexical). A refusal decided there is printed
 *    at once. Everything the constructor writes lies on one page for an ordinary environment.
 *  - At the first call that needs them (sm_w()): the whole decision of settings.c, which asks
 *    the file system for the cache's canonical form, and what follows from it (the tree, this
 *    library's path, the strings children receive, the sync settings). A refusal found there (a
 *    cache that reaches into the prefix through a symbolic link) is printed then.
 *
 * The whole decision is made at start instead when it needs the file system anyway or is asked
 * to speak: a relative SMSHIM_CACHE (relative to the directory the process started in), the
 * fallback cache, SMSHIM_LOG (its warnings and the log file) and SMSHIM_TREE_FD; and by SUD's
 * arming (sud.c), before any call can trap.
 *
 * The first use may come from any thread at once, from a signal handler that interrupted the
 * thread already making it, and from a vfork child sharing this memory (which may be killed
 * halfway). So the first use takes no lock and never waits on another caller: each caller that
 * finds nothing published takes a slot of its own (an atomic counter), computes the whole
 * decision there from the copied environment, and publishes the slot with one compare-and-swap
 * of sm_cfg.w. The first to publish wins; a loser's slot is never read, and it returns the
 * winner's. Readers load sm_cfg.w with acquire and read a slot no one writes again. A caller
 * interrupted halfway (signal, vfork child killed) leaves only an unpublished slot behind. Only
 * when more than SLOTS callers compute at once does one wait (it yields until one of them
 * publishes); each of them computes without waiting on anything but the loader's lock
 * (dladdr). The computation allocates nothing: its system calls are readlink (realpath of a
 * path under 1 KiB uses its stack), a stat of the part of the cache that exists, and for the
 * fallback cache mkdir and stat. */
#include "shim.h"
#include "settings.h"
#include "smshim.h"
#include "../cache/cache.h"
#include "../hydrate/creds.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

extern char **environ;

/* log.c: the line that says why the settings were refused */
void sm_log_refused(const char *why);

/* getenv through environ itself: a host program may export its own getenv (bash does, and its
 * table is empty before its main runs), so the shim never calls getenv by name. This is the
 * environment as it is now (exec's PATH); the settings come from sm_env_get. */
const char *sm_getenv(const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* ---- the environment the process started with ---------------------------------------------- */

/* Every variable the settings read (settings.c, creds.c, this file, sud.c). */
static const char *const env_names[] = {
    SMSHIM_ENV_PREFIX, SMSHIM_ENV_CACHE,         "XDG_CACHE_HOME",     "HOME",
    "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",        SMSHIM_ENV_LOG,       SMSHIM_ENV_TAG,
    SMSHIM_ENV_KEY,    SMSHIM_ENV_BASE_URL,      SMSHIM_ENV_API_URL,   SMSHIM_ENV_EXIT_TIMEOUT,
    SMSHIM_ENV_NOWAIT, SMSHIM_ENV_PULL_INTERVAL, SMSHIM_ENV_TREE_FD,   SMSHIM_ENV_RUN_NOTES,
    SMSHIM_ENV_SUD,    "UV_USE_IO_URING",        SMSHIM_ENV_SYNC_OWED,
};
#define ENV_N    (sizeof env_names / sizeof env_names[0])
#define ENV_CAP  (2 * PATH_MAX) /* a longer value is cut (and refused where its length counts) */
#define ENVV_MAX 2048           /* entries of the environment array made at start (below) */
#define HOT_MAX  1280           /* the copies, the prefix and the array, for an ordinary one */
/* room for the copies twice (sm_config_load copies again after the array), the prefix and the
 * array, when they do not fit in the hot block */
#define SPILL_MAX (2 * ENV_N * (ENV_CAP + 1) + PATH_MAX + (ENVV_MAX + 2) * sizeof(char *) + 64)

/* What the constructor writes: the copies, the prefix, then the environment array, packed into a
 * block on the loader's page (SM_HOT) and, past its end, into a spill that an ordinary
 * environment never touches. A string or the array is never split between the two. */
static struct {
    const char *val[ENV_N]; /* NULL: unset */
    size_t used, keep;      /* keep: the environment array ends there (sm_config_load) */
    char hot[HOT_MAX] __attribute__((aligned(8)));
} boot SM_HOT;
static char spill[SPILL_MAX] __attribute__((aligned(8)));
static char boot_why[2 * PATH_MAX]; /* written only when the settings are refused at start */

/* n bytes (8-aligned when `align`) */
SM_START static char *arena_take(size_t n, int align)
{
    size_t u = boot.used;
    if (align)
        u = (u + 7) & ~(size_t)7;
    if (u < HOT_MAX && u + n > HOT_MAX)
        u = HOT_MAX;
    boot.used = u + n;
    return u < HOT_MAX ? boot.hot + u : spill + (u - HOT_MAX);
}

/* One pass over environ: the value of each variable of env_names, copied. No libc call: the
 * constructor touches no code of libc that a program does not touch itself. */
SM_START static void env_capture(void)
{
    for (size_t i = 0; i < ENV_N; i++)
        boot.val[i] = NULL;
    for (char **e = environ; e && *e; e++) {
        const char *s = *e;
        if (s[0] != 'S' && s[0] != 'X' && s[0] != 'H' && s[0] != 'U')
            continue; /* none of the names: most entries stop here */
        for (size_t i = 0; i < ENV_N; i++) {
            const char *n = env_names[i];
            size_t k = 0;
            while (n[k] && s[k] == n[k])
                k++;
            if (n[k] || s[k] != '=' || boot.val[i])
                continue;
            const char *v = s + k + 1;
            size_t l = 0;
            while (l < ENV_CAP && v[l])
                l++;
            char *c = arena_take(l + 1, 0);
            for (size_t j = 0; j < l; j++)
                c[j] = v[j];
            c[l] = '\0';
            boot.val[i] = c;
            break;
        }
    }
}

/** A variable the settings read, as it was when the process started (NULL: unset). */
SM_START const char *sm_env_get(const char *name)
{
    for (size_t i = 0; i < ENV_N; i++)
        if (sm_s_eq(env_names[i], name))
            return boot.val[i];
    return NULL;
}

/* node's libuv would run fs calls on an io_uring no shim can see: UV_USE_IO_URING=0 when unset,
 * before the program's main. setenv would allocate (libc's malloc starting up: a system call and
 * pages); an array of the block above holding the entries and this one is what setenv would
 * have made, and libc's setenv, putenv and unsetenv work on it as on any environment they did
 * not allocate (setenv copies it into one of its own). */
SM_START static void uv_env_set(void)
{
    static char uv[] = "UV_USE_IO_URING=0";
    size_t n = 0;
    while (environ && environ[n])
        n++;
    if (n + 2 > ENVV_MAX) {
        SM_REAL(setenv)("UV_USE_IO_URING", "0", 0);
        return;
    }
    char **v = (char **)(void *)arena_take((n + 2) * sizeof(char *), 1);
    for (size_t i = 0; i < n; i++)
        v[i] = environ[i];
    v[n] = uv;
    v[n + 1] = NULL;
    environ = v;
    boot.keep = boot.used;
}

/* ---- the settings -------------------------------------------------------------------------- */

/* sm_cfg.w before the first use, and when the settings were refused at start */
#define WHERE_NONE                                                                                 \
    {                                                                                              \
        .cache = "", .tree = "", .libpath = "", .env_prefix = "", .env_cache = "", .env_tag = "",  \
        .env_log = "", .env_notes = "", .tag = "", .key = "", .base_url = "", .creds = ""          \
    }
const struct sm_where sm_where_pending = WHERE_NONE;
static const struct sm_where where_off = WHERE_NONE;

struct sm_cfg sm_cfg = {.prefix = "", .w = &sm_where_pending};
int sm_guard_on; /* set by record.c */

/* A slot of the first use (see the head of this file). */
#define SLOTS    4
#define SLOT_BUF (8 * (PATH_MAX + 64))
static struct slot {
    struct sm_where w;
    struct sm_settings st;
    size_t used;
    char buf[SLOT_BUF];
    char bad[3][300]; /* a value refused (its default used): logged once the log is open */
} slots[SLOTS];
static unsigned slots_taken;
static int refusal_said;

/* "fmt..." into the slot's buffer; "" when it does not fit (it always does: SLOT_BUF) */
__attribute__((format(printf, 2, 3))) static const char *slot_put(struct slot *s, const char *fmt,
                                                                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->buf + s->used, SLOT_BUF - s->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= SLOT_BUF - s->used)
        return "";
    const char *p = s->buf + s->used;
    s->used += (size_t)n + 1;
    return p;
}

static void find_libpath(struct slot *s)
{
    Dl_info info;
    char abs[PATH_MAX];
    s->w.libpath = "";
    if (dladdr((void *)&find_libpath, &info) && info.dli_fname && info.dli_fname[0]) {
        /* an absolute name is used as is (children only need to find the file); a relative one,
         * which would break in a child started elsewhere, is made absolute */
        if (info.dli_fname[0] != '/' && SM_REAL(realpath)(info.dli_fname, abs) != NULL)
            s->w.libpath = slot_put(s, "%s", abs);
        else
            s->w.libpath = slot_put(s, "%s", info.dli_fname);
    }
}

/* Is v a file directly in the cache's tmp/ (where smshim run makes its notes file)? The notes
 * are appended to it: any other file, which a process's environment may name, is never written. */
static int notes_ok(const char *v, const char *cache)
{
    char tmp[PATH_MAX];
    if (smc_layout_path(cache, SMC_TMP, NULL, tmp, sizeof tmp) != 0)
        return 0;
    size_t n = strlen(tmp);
    if (strncmp(v, tmp, n) != 0 || v[n] != '/')
        return 0;
    const char *name = v + n + 1;
    return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* The whole decision, in the slot s (written by this caller only). */
static void slot_fill(struct slot *s)
{
    struct sm_where *w = &s->w;
    const char *v, *log = sm_env_get(SMSHIM_ENV_LOG);
    char p[PATH_MAX];
    s->used = 0;
    *w = (struct sm_where)WHERE_NONE;
    if (sm_settings_resolve(sm_env_get, log && *log ? SM_SET_WARN : 0, &s->st) != 0)
        return; /* refused: ok stays 0, every string "" */
    w->cache = s->st.cache;
    w->clen = strlen(w->cache);
    smc_layout_path(w->cache, SMC_TREE, NULL, p, sizeof p);
    w->tree = slot_put(s, "%s", p);
    w->tlen = strlen(w->tree);
    find_libpath(s);
    w->tag = slot_put(s, "%s", s->st.tag);
    v = sm_env_get(SMSHIM_ENV_KEY);
    w->key = v ? v : "";
    v = sm_env_get(SMSHIM_ENV_BASE_URL);
    if (!v || !*v)
        v = sm_env_get(SMSHIM_ENV_API_URL);
    w->url_env = v && *v;
    w->base_url = w->url_env ? v : SMSHIM_DEFAULT_BASE_URL;
    if (!w->key[0] && smh_creds_path(sm_env_get, p, sizeof p) == 0)
        w->creds = slot_put(s, "%s", p); /* only its name: it is read when sync first starts */
    /* a duration that is not one: its default, and a warning (the settings stand) */
    s->bad[0][0] = s->bad[1][0] = s->bad[2][0] = '\0';
    sm_settings_seconds(sm_env_get, SMSHIM_ENV_EXIT_TIMEOUT, &w->exit_timeout_ms, s->bad[0],
                        sizeof s->bad[0]);
    sm_settings_seconds(sm_env_get, SMSHIM_ENV_PULL_INTERVAL, &w->pull_interval_ms, s->bad[1],
                        sizeof s->bad[1]);
    if (w->pull_interval_ms < 1000)
        w->pull_interval_ms = 1000;
    v = sm_env_get(SMSHIM_ENV_NOWAIT);
    w->exit_wait = !(v && strcmp(v, "1") == 0);
    w->env_prefix = slot_put(s, "%s=%s", SMSHIM_ENV_PREFIX, sm_cfg.prefix);
    w->env_cache = slot_put(s, "%s=%s", SMSHIM_ENV_CACHE, w->cache);
    w->env_tag = slot_put(s, "%s=%s", SMSHIM_ENV_TAG, w->tag);
    if (log && *log)
        w->env_log = slot_put(s, "%s=%s", SMSHIM_ENV_LOG, log);
    v = sm_env_get(SMSHIM_ENV_RUN_NOTES);
    if (v && *v && notes_ok(v, w->cache))
        w->env_notes = slot_put(s, "%s=%s", SMSHIM_ENV_RUN_NOTES, v);
    else if (v && *v)
        snprintf(s->bad[2], sizeof s->bad[2],
                 "%s=%.120s is not a notes file in this cache's %s/: no static program is noted",
                 SMSHIM_ENV_RUN_NOTES, v, SMSHIM_TMP_DIR);
    w->ok = 1;
}

/* The refusal found by the whole decision: the shim stays off, one line says why (once). */
static void refused(const struct slot *s)
{
    __atomic_store_n(&sm_cfg.enabled, 0, __ATOMIC_RELAXED);
    if (!__atomic_exchange_n(&refusal_said, 1, __ATOMIC_ACQ_REL))
        sm_log_refused(s->st.why);
}

/* Take a slot, decide, publish (see the head of this file). *won says whether this caller's
 * slot was published. */
static const struct sm_where *where_decide(int *won)
{
    const struct sm_where *cur = &sm_where_pending;
    unsigned i = __atomic_fetch_add(&slots_taken, 1, __ATOMIC_RELAXED);
    *won = 0;
    if (i >= SLOTS) {
        while ((cur = __atomic_load_n(&sm_cfg.w, __ATOMIC_ACQUIRE)) == &sm_where_pending)
            sched_yield();
        return cur;
    }
    struct slot *s = &slots[i];
    slot_fill(s);
    if (!__atomic_compare_exchange_n(&sm_cfg.w, &cur, &s->w, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return cur;
    *won = 1;
    return &s->w;
}

const struct sm_where *sm_where_slow(void)
{
    int won;
    const struct sm_where *w = where_decide(&won);
    if (won && !w->ok)
        refused((const struct slot *)(const void *)w);
    return w;
}

/* The constructor's part (see the head of this file); `all`: make the whole decision now. */
SM_START static void config_start(int all)
{
    const char *logspec = sm_env_get(SMSHIM_ENV_LOG);
    char buf[PATH_MAX]; /* the prefix, then the cache; only its first bytes are written */
    char *p = NULL;
    size_t pl = 0;
    int r = sm_settings_prefix(sm_env_get, buf, sizeof buf, boot_why, sizeof boot_why);
    if (r == 0) {
        while (buf[pl])
            pl++;
        p = arena_take(pl + 1, 0);
        for (size_t i = 0; i <= pl; i++)
            p[i] = buf[i];
        r = sm_settings_cache_lexical(sm_env_get, p, buf, sizeof buf, boot_why, sizeof boot_why);
    }
    if (r >= 0 && sm_settings_tag(sm_env_get, buf, sizeof buf, boot_why, sizeof boot_why) != 0)
        r = -1; /* (buf: the cache's lexical form is not kept from here) */
    if (r < 0) {
        sm_cfg.w = &where_off;
        sm_log_init(logspec, NULL);
        sm_log_refused(boot_why); /* the one line the shim prints unasked: enabled stays 0 */
        return;
    }
    sm_cfg.prefix = p;
    sm_cfg.plen = pl;
    sm_cfg.enabled = 1;
    if (!all && r == 0 && !(logspec && *logspec) && !sm_env_get(SMSHIM_ENV_TREE_FD))
        return; /* the rest at the first call that needs it */
    int won;
    const struct sm_where *w = where_decide(&won);
    /* logging first, so that the decision is logged; never into a cache that was refused */
    sm_log_init(logspec, w->ok ? w->cache : NULL);
    if (!w->ok) {
        refused((const struct slot *)(const void *)w);
        return;
    }
    const struct slot *s = (const struct slot *)(const void *)w;
    if (s->st.warn[0])
        sm_log(SM_LOG_WARN, "%s", s->st.warn);
    for (int i = 0; i < 3; i++)
        if (s->bad[i][0])
            sm_log(SM_LOG_WARN, "%s", s->bad[i]);
    const char *v = sm_env_get(SMSHIM_ENV_TREE_FD);
    if (v && *v)
        sm_tree_adopt(v);
}

/** Read the settings again from the environment as it is now and decide them all at once.
 *  For the unit tests, which change the environment between loads (single-threaded). */
void sm_config_load(void);
void sm_config_load(void)
{
    memset(slots, 0, sizeof slots);
    slots_taken = 0;
    refusal_said = 0;
    sm_cfg.enabled = 0;
    sm_cfg.prefix = "";
    sm_cfg.plen = 0;
    sm_cfg.w = &sm_where_pending;
    boot.used = boot.keep; /* the environment array made at start may be environ still */
    env_capture();
    config_start(1);
}

/* glibc passes a constructor argc, argv and envp; argv lies above every frame of the main
 * thread (the constructor runs on it when the library is preloaded). */
__attribute__((constructor)) static void sm_ctor(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)envp;
    env_capture();
    if (!sm_env_get("UV_USE_IO_URING"))
        uv_env_set();
    config_start(0);
    if (sm_cfg.enabled) {
        sm_fault_init(); /* a bad path pointer gives EFAULT (fault.c) */
        if (argv)
            sm_stack_note_main((uintptr_t)argv); /* the shim's work knows its stack (stack.c) */
    }
    if (sm_sud_init)
        sm_sud_init();
    if (sm_dl_names_init && sm_cfg.enabled)
        sm_dl_names_init(); /* objects loaded from the tree are named by their virtual paths */
    const char *owed = sm_env_get(SMSHIM_ENV_SYNC_OWED);
    if (sm_sync_take_over && sm_cfg.enabled && owed && owed[0] == '1')
        sm_sync_take_over(); /* the image this one replaced recorded changes (exec.c) */
}
