/* smshim.c: the command-line tool: run a command with the shim loaded, show what a cache holds. */
#include "smshim.h"
#include "../cache/cache.h"
#include "../hydrate/hydrate.h"
#include "../hydrate/http.h"
#include "ns.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the settings rules and the escaping rule, shared with the library (one copy of each) */
#define SM_SETTINGS_ONLY
#include "../shim/config.c"

static const char usage[] =
    "usage: smshim run [--prefix P] [--cache DIR] [--tag TAG] [--ns] -- CMD [ARGS...]\n"
    "       smshim status [--cache DIR] [--json | --list]\n"
    "       smshim sync [--cache DIR] [--retry-poisoned] [--full]\n"
    "       smshim --help | --version\n"
    "\n"
    "Runs CMD with libsmshim.so preloaded: paths under the prefix (default /sm) are a virtual\n"
    "directory kept in the cache (default $XDG_CACHE_HOME/smshim or ~/.cache/smshim).\n"
    "--ns (chosen by itself for a static CMD): in a private mount namespace with the tree there.\n"
    "\n"
    "Environment: SMSHIM_PREFIX, SMSHIM_CACHE, SMSHIM_TAG, SMSHIM_LOG=LEVEL[:FILE],\n"
    "SUPERMEMORY_API_KEY, SUPERMEMORY_BASE_URL.\n";

/* Text from the server, the cache, a file name or a setting, made safe to print (sm_escape): E
 * for the terminal, J inside a JSON string. Each call takes the next of a few buffers, so that
 * one printf can hold several. */
static const char *esc_buf(const char *s, int json)
{
    static char bufs[6][4 * PATH_MAX + 8];
    static unsigned next;
    char *b = bufs[next++ % 6];
    return sm_escape(b, sizeof bufs[0], s, json);
}
#define E(s) esc_buf((s), 0)
#define J(s) esc_buf((s), 1)

static void die(const char *fmt, const char *arg)
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

/* The prefix and the cache, decided as the library decides them (sm_settings_resolve): refused
 * settings end the command with their reason. */
static void settings(struct sm_settings *st, int flags)
{
    if (sm_settings_resolve(env_get, flags, st) != 0) {
        fprintf(stderr, "smshim: refused: %s\n", E(st->why));
        exit(2);
    }
    if (st->warn[0])
        fprintf(stderr, "smshim: warning: %s\n", E(st->warn));
}

/* libsmshim.so next to this executable (build/), or in ../lib/smshim/ (installed). */
static int find_lib(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    const char *cands[] = {"%s/libsmshim.so", "%s/../lib/smshim/libsmshim.so"};
    for (size_t i = 0; i < 2; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, cands[i], exe);
        if (access(p, R_OK) == 0 && realpath(p, out) && strlen(out) < size)
            return 0;
    }
    return -1;
}

/* Find cmd in PATH (as execvp will). */
static int which(const char *cmd, char *out, size_t size)
{
    if (strchr(cmd, '/')) {
        snprintf(out, size, "%s", cmd);
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    for (const char *p = path;; p++) {
        const char *z = strchrnul(p, ':');
        snprintf(out, size, "%.*s/%s", (int)(z - p), z == p ? "." : p, cmd);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 0;
        if (!*z)
            return -1;
        p = z;
    }
}

/* Can this kernel (and sandbox) do Syscall User Dispatch? Tried in a child, which exits. */
static int sud_available(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        static char sel;
        int rc = prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1 /* ON */, 0UL, 0UL, &sel);
        _exit(rc == 0 ? 0 : 1);
    }
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Programs that make raw system calls are reached only through syscall user dispatch: say so
 * when it cannot be armed. */
static void check_sud(const char *cmd)
{
    const char *v = getenv(SMSHIM_ENV_SUD);
    const char *base = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
    int want =
        (v && strcmp(v, "1") == 0) || (!(v && strcmp(v, "0") == 0) && strcmp(base, "bun") == 0);
    if (want && !sud_available())
        fprintf(
            stderr,
            "smshim: warning: this kernel or sandbox refuses syscall user dispatch (Linux 5.11+ "
            "needed): %s's raw system calls will not see the virtual directory\n",
            E(cmd));
}

/* A preload cannot reach static or setuid programs: say so before running them. */
static void check_reachable(const char *cmd)
{
    char path[PATH_MAX];
    struct stat st;
    if (which(cmd, path, sizeof path) != 0 || stat(path, &st) != 0)
        return;
    if (st.st_mode & (S_ISUID | S_ISGID)) {
        fprintf(stderr,
                "smshim: warning: %s is setuid/setgid: the loader ignores LD_PRELOAD for it, so "
                "it cannot see the virtual directory\n",
                E(path));
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    Elf64_Ehdr eh;
    int is_static = 0;
    if (read(fd, &eh, sizeof eh) == (ssize_t)sizeof eh &&
        memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64) {
        is_static = 1;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
                (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP)
                is_static = 0;
        }
    }
    close(fd);
    if (is_static)
        fprintf(stderr,
                "smshim: warning: %s is statically linked: no preload can reach it, so it "
                "cannot see the virtual directory\n",
                E(path));
}

/* ---- sync -------------------------------------------------------------------------------- */

struct remote {
    char url[512];
    char tag[160];
    const char *key;
};

/* The remote settings from the environment; 0 when there is no key (local-only). */
static int remote_get(struct remote *r)
{
    const char *v = getenv(SMSHIM_ENV_KEY);
    if (!v || !*v)
        return 0;
    r->key = v;
    v = getenv(SMSHIM_ENV_BASE_URL);
    if (!v || !*v)
        v = getenv(SMSHIM_ENV_API_URL);
    snprintf(r->url, sizeof r->url, "%s", v && *v ? v : SMSHIM_DEFAULT_BASE_URL);
    v = getenv(SMSHIM_ENV_TAG);
    snprintf(r->tag, sizeof r->tag, "%s", v && *v ? v : SMSHIM_DEFAULT_TAG);
    return 1;
}

/* The key is never sent where it is not safe (hydrate/http.c decides): say why and exit 2. */
static void refuse_unsafe_url(const struct remote *r)
{
    char why[400];
    if (!smh_key_allowed(r->url, why, sizeof why)) {
        fprintf(stderr, "smshim: %s\n", why);
        exit(2);
    }
}

/* Open the cache's LMDB environment (creating the layout). */
static struct smc *cache_open(const char *cache)
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

struct push_view {
    int show, tty;
    struct smh_progress last;
};

static void progress_line(const struct smh_progress *p, void *arg)
{
    struct push_view *v = arg;
    static time_t last;
    time_t now = time(NULL);
    v->last = *p;
    if (!v->show)
        return;
    if (v->tty) {
        fprintf(stderr, "\rsmshim: pushed %zu, in flight %zu, queued %zu%s   ", p->done,
                p->in_flight, p->queued, p->paused ? " (paused)" : "");
    } else if (now != last) {
        fprintf(stderr, "smshim: pushed %zu, in flight %zu, queued %zu%s\n", p->done, p->in_flight,
                p->queued, p->paused ? " (paused)" : "");
        last = now;
    }
}

/* Push the cache's queue; returns the records left. */
static long push_all(struct smc *c, const char *cache, const struct remote *r, long timeout_ms,
                     int show, int retry_poisoned, int stall, struct smh_progress *out)
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
    struct push_view v = {.show = show, .tty = isatty(2)};
    long left = smh_push_run(e, timeout_ms, 1, progress_line, &v);
    if (show && v.tty)
        fputc('\n', stderr);
    if (out)
        *out = v.last;
    smh_engine_free(e);
    return left;
}

static void pull_progress(int page, int pages, void *arg)
{
    (void)arg;
    if (isatty(2))
        fprintf(stderr, "\rsmshim: pulling page %d of %d   ", page, pages);
}

static void pull_log(const char *msg)
{
    fprintf(stderr, "smshim: %s\n", E(msg));
}

/* Pull into the cache (full: the whole container). 0, or -1 with a message printed. */
static int pull(struct smc *c, const char *cache, const struct remote *r, int full, long timeout_ms,
                long retry_ms, int quiet)
{
    char tree[PATH_MAX + 16], tmp[PATH_MAX + 16];
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
                              .log = quiet ? NULL : pull_log};
    struct smh_pull_result res;
    long rc = smh_pull(NULL, &o, &res);
    if (isatty(2))
        fputc('\n', stderr);
    if (rc < 0) {
        fprintf(stderr, "smshim: cannot pull from %s: %s%s\n", E(r->url), E(res.error),
                res.unreachable ? " (running on the local cache)" : "");
        if (res.unreachable)
            smh_silent_set(c); /* the next commands do not wait on it */
        return -1;
    }
    smh_silent_clear(c);
    if (!quiet && (res.applied || res.removed || res.kept))
        fprintf(stderr, "smshim: pulled %ld files, removed %ld, kept %ld local changes\n",
                res.applied, res.removed, res.kept);
    if (res.duplicates && !quiet)
        fprintf(stderr, "smshim: %ld documents share a filepath with a newer one (ignored)\n",
                res.duplicates);
    return 0;
}

static int cmd_sync(int argc, char **argv)
{
    int retry = 0, full = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--retry-poisoned") == 0)
            retry = 1;
        else if (strcmp(argv[i], "--full") == 0)
            full = 1; /* a full listing now: finds remote deletions the count check cannot */
        else if (i + 1 < argc && strcmp(argv[i], "--cache") == 0)
            setenv(SMSHIM_ENV_CACHE, argv[++i], 1);
        else
            die("sync: unknown option %s", argv[i]);
    }
    struct sm_settings set;
    settings(&set, 0);
    struct remote r;
    if (!remote_get(&r))
        die("sync: %s is not set: this cache is local-only", SMSHIM_ENV_KEY);
    refuse_unsafe_url(&r);
    const char *cache = set.cache;
    char why[400];
    struct smc *c = cache_open(cache);
    if (!c)
        return 1;
    if (smh_bind(c, r.url, r.tag, why, sizeof why) != 0) {
        fprintf(stderr, "smshim: %s\n", E(why));
        smc_close(c);
        return 1;
    }
    const char *t = getenv("SMSHIM_SYNC_TIMEOUT");
    long timeout = t && *t ? (long)(atof(t) * 1000) : 120000;
    int pulled = pull(c, cache, &r, full, 30000, timeout / 2, 0);
    struct smh_progress prog;
    long left = push_all(c, cache, &r, timeout, 1, retry, 0, &prog);
    struct smc_counts n;
    smc_counts(c, &n);
    char paused[200] = "";
    int is_paused = smc_kv_get(c, "push.paused", paused, sizeof paused) == 0;
    /* not closed: a worker may still be waiting on the server (see smh_engine_free) */
    if (is_paused)
        fprintf(stderr, "smshim: the server refuses the key (%s); the queue is paused\n",
                E(paused));
    if (left > 0)
        fprintf(stderr, "smshim: %ld changes could not be pushed yet%s%s\n", left,
                prog.last_error[0] ? "; last error: " : "", E(prog.last_error));
    if (n.poisoned)
        fprintf(stderr, "smshim: %llu files were refused by the server (smshim status --list)\n",
                (unsigned long long)n.poisoned);
    return (left > 0 || n.poisoned || is_paused || pulled < 0) ? 1 : 0;
}

static int cmd_run(int argc, char **argv)
{
    int i = 0, force_ns = 0;
    struct smns ns;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 < argc && strcmp(argv[i], "--prefix") == 0)
            setenv(SMSHIM_ENV_PREFIX, argv[++i], 1);
        else if (i + 1 < argc && strcmp(argv[i], "--cache") == 0)
            setenv(SMSHIM_ENV_CACHE, argv[++i], 1);
        else if (i + 1 < argc && strcmp(argv[i], "--tag") == 0)
            setenv(SMSHIM_ENV_TAG, argv[++i], 1);
        else if (strcmp(argv[i], "--ns") == 0)
            force_ns = 1;
        else if (argv[i][0] != '-')
            break;
        else
            die("run: unknown option %s (see smshim --help)", argv[i]);
    }
    if (i >= argc)
        die("run: no command given%s", " (smshim run [options] -- CMD [ARGS...])");
    struct sm_settings set;
    settings(&set, SM_SET_WARN);
    const char *cache = set.cache;
    char lib[PATH_MAX];
    if (find_lib(lib, sizeof lib) != 0)
        die("cannot find libsmshim.so next to %s", "this program");
    /* the command gets the settings in their normal form */
    setenv(SMSHIM_ENV_PREFIX, set.prefix, 1);
    setenv(SMSHIM_ENV_CACHE, cache, 1);

    /* a sanitizer build of smshim (make SAN=...) runs its children with the same runtime,
     * which must come first in LD_PRELOAD */
    char rt[PATH_MAX] = "";
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 128];
    while (maps && !rt[0] && fgets(line, sizeof line, maps)) {
        char *p = strchr(line, '/');
        if (p &&
            (strstr(p, "/libasan.so") || strstr(p, "/libtsan.so") || strstr(p, "/libubsan.so"))) {
            p[strcspn(p, "\n")] = '\0';
            snprintf(rt, sizeof rt, "%s:", p);
        }
    }
    if (maps)
        fclose(maps);
    const char *old = getenv("LD_PRELOAD");
    char pre[3 * PATH_MAX];
    snprintf(pre, sizeof pre, "%s%s%s%s", rt, lib, old && *old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", pre, 1);
    /* the loader's audit module (beside the library) finds shared libraries under the prefix;
     * LD_AUDIT must be set when a process starts, so the command gets it here and every exec
     * under the shim passes it on */
    char aud[2 * PATH_MAX];
    const char *oa = getenv("LD_AUDIT");
    const char *slash = strrchr(lib, '/');
    int al =
        snprintf(aud, sizeof aud, "%.*s/libsmshim-audit.so", slash ? (int)(slash - lib) : 0, lib);
    if (slash && access(aud, R_OK) == 0 && (!oa || !strstr(oa, aud))) {
        snprintf(aud + al, sizeof aud - (size_t)al, "%s%s", oa && *oa ? ":" : "", oa ? oa : "");
        setenv("LD_AUDIT", aud, 1);
    }
    setenv("UV_USE_IO_URING", "0", 0);
    char cmdpath[PATH_MAX];
    if (!smns_decide(&ns, which(argv[i], cmdpath, sizeof cmdpath) == 0 ? cmdpath : NULL, force_ns,
                     set.prefix, cache))
        check_reachable(argv[i]);
    check_sud(argv[i]);

    struct remote r;
    int remote = remote_get(&r);
    if (remote) {
        char why[400];
        refuse_unsafe_url(&r);
        struct smc *c = cache_open(cache);
        if (!c)
            return 1;
        int rc = smh_bind(c, r.url, r.tag, why, sizeof why);
        if (rc != 0) {
            smc_close(c);
            fprintf(stderr, "smshim: %s\n", E(why));
            return 2;
        }
        /* like a mount: the command starts on the container's tree (bounded wait) */
        const char *pt = getenv("SMSHIM_PULL_TIMEOUT");
        char wm[32];
        int full = smc_kv_get(c, "pull.watermark", wm, sizeof wm) != 0;
        long pto = pt && *pt ? (long)(atof(pt) * 1000) : 10000;
        if (smh_silent(c, NULL)) {
            /* another command found the server not answering: no wait until it answers */
            fprintf(stderr,
                    "smshim: %s is not answering (recorded by an earlier command); running on "
                    "the local cache\n",
                    E(r.url));
        } else {
            smh_conn_default_stall(smh_stall_ms(c)); /* wait only while the pull progresses */
            pull(c, cache, &r, full, pto, pto, 1);
        }
        smc_close(c);
        /* the command's processes never wait at exit: this process drains after them */
        setenv(SMSHIM_ENV_NOWAIT, "1", 1);
    }

    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        char why[PATH_MAX + 200];
        if (ns.on && smns_enter(&ns, why, sizeof why) != 0) {
            fprintf(stderr, "smshim: namespace: %s\n", E(why));
            _exit(126);
        }
        /* the command may lie under the prefix (or in a PATH directory there), where only the
         * library can find it: exec through the library's own execvp */
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        int (*xvp)(const char *, char *const[]) =
            h ? (int (*)(const char *, char *const[]))dlsym(h, "execvp") : NULL;
        (xvp ? xvp : execvp)(argv[i], argv + i);
        fprintf(stderr, "smshim: %s: %s\n", E(argv[i]), strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    smns_done(&ns);
    if (remote) {
        const char *t = getenv(SMSHIM_ENV_EXIT_TIMEOUT);
        long timeout = t && *t ? (long)(atof(t) * 1000) : 10000;
        struct smc *c = cache_open(cache);
        struct smc_counts qn;
        if (c && smh_silent(c, NULL) && smc_counts(c, &qn) == 0) {
            /* no wait on a server that is not answering: the changes stay queued */
            if (qn.queued)
                fprintf(stderr,
                        "smshim: %llu changes are still queued (%s is not answering); "
                        "`smshim sync` pushes them\n",
                        (unsigned long long)qn.queued, E(r.url));
        } else if (c) {
            struct smh_progress p;
            long left = push_all(c, cache, &r, timeout, 0, 0, 1, &p);
            if (left > 0)
                fprintf(stderr,
                        "smshim: %ld changes are still queued%s%s; `smshim sync` pushes them\n",
                        left, p.last_error[0] ? ": " : "", E(p.last_error));
            /* not closed: an upload the server never answered may still hold it in a worker
             * (see smh_engine_free); the process ends now */
        }
    }
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* ---- status --------------------------------------------------------------------------------- */

static uint64_t t_entries, t_files, t_dirs, t_links, t_bytes;

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
    } else if (type == FTW_SL || type == FTW_SLN) {
        t_links++;
    }
    return 0;
}

static int list_entry(void *arg, const char *key, const struct smc_entry *e)
{
    (void)arg;
    const char *state = (e->flags & SMC_E_POISONED)    ? "poisoned"
                        : (e->flags & SMC_E_LOCALONLY) ? "not-synced"
                        : e->dirty_since_ns            ? "dirty"
                                                       : "clean";
    printf("%-10s %s\n", state, E(key));
    return 0;
}

/* A number stored in the cache, as a JSON number. */
static const char *num(const char *s, char out[32])
{
    snprintf(out, 32, "%llu", strtoull(s, NULL, 10));
    return out;
}

static int cmd_status(int argc, char **argv)
{
    int json = 0, list = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--cache") == 0)
            setenv(SMSHIM_ENV_CACHE, argv[++i], 1);
        else
            die("status: unknown option %s", argv[i]);
    }
    struct sm_settings set;
    settings(&set, 0);
    const char *cache = set.cache, *prefix = set.prefix;
    char tree[PATH_MAX + 16], meta[PATH_MAX + 16];
    smc_layout_path(cache, SMC_TREE, NULL, tree, sizeof tree);
    smc_layout_path(cache, SMC_META, NULL, meta, sizeof meta);
    struct smc_counts n;
    char paused[256] = "", url[600] = "", tag[160] = "", lastp[256] = "";
    char plast[32] = "", wmark[32] = "", dups[32] = "0", unsafe[32] = "0";
    int silent = 0;
    memset(&n, 0, sizeof n);
    struct stat st;
    if (stat(tree, &st) == 0)
        nftw(tree, tree_visit, 32, FTW_PHYS);
    if (stat(meta, &st) == 0) {
        struct smc *c;
        int rc = smc_open(meta, &c);
        if (rc < 0) {
            fprintf(stderr, "smshim: cannot open %s: %s\n", E(meta), strerror(-rc));
            return 1;
        }
        rc = list ? smc_entry_each(c, list_entry, NULL) : smc_counts(c, &n);
        if (smc_kv_get(c, "push.paused", paused, sizeof paused) != 0)
            paused[0] = '\0';
        if (smc_kv_get(c, "remote.url", url, sizeof url) != 0)
            url[0] = '\0';
        if (smc_kv_get(c, "remote.tag", tag, sizeof tag) != 0)
            tag[0] = '\0';
        if (smc_kv_get(c, "push.last_poisoned", lastp, sizeof lastp) != 0)
            lastp[0] = '\0';
        if (smc_kv_get(c, "pull.last", plast, sizeof plast) != 0)
            plast[0] = '\0';
        if (smc_kv_get(c, "pull.watermark", wmark, sizeof wmark) != 0)
            wmark[0] = '\0';
        if (smc_kv_get(c, "pull.duplicates", dups, sizeof dups) != 0)
            strcpy(dups, "0");
        if (smc_kv_get(c, "pull.unsafe", unsafe, sizeof unsafe) != 0)
            strcpy(unsafe, "0");
        silent = smh_silent(c, NULL);
        smc_close(c);
        if (list)
            return rc < 0 ? 1 : 0;
        if (rc < 0) {
            fprintf(stderr, "smshim: cannot read %s: %s\n", E(meta), strerror(-rc));
            return 1;
        }
    }
    const char *mode = getenv(SMSHIM_ENV_KEY) ? "remote" : "local-only";
    if (json) {
        char a[32], b[32];
        printf("{\"cache\":\"%s\",\"prefix\":\"%s\",\"mode\":\"%s\",\"entries\":%llu,"
               "\"files\":%llu,\"directories\":%llu,\"symlinks\":%llu,\"bytes\":%llu,"
               "\"tracked\":%llu,\"dirty\":%llu,\"queued\":%llu,\"poisoned\":%llu,"
               "\"not_synced\":%llu,\"base_url\":\"%s\",\"tag\":\"%s\",\"paused\":%s%s%s,"
               "\"last_pull_ms\":%s,\"watermark_ms\":%s,\"duplicates\":%llu,\"unsafe_skipped\":%"
               "llu}\n",
               J(cache), J(prefix), mode, (unsigned long long)t_entries,
               (unsigned long long)t_files, (unsigned long long)t_dirs, (unsigned long long)t_links,
               (unsigned long long)t_bytes, (unsigned long long)n.entries,
               (unsigned long long)n.dirty, (unsigned long long)n.queued,
               (unsigned long long)n.poisoned, (unsigned long long)n.localonly, J(url), J(tag),
               paused[0] ? "\"" : "", paused[0] ? J(paused) : "null", paused[0] ? "\"" : "",
               plast[0] ? num(plast, a) : "null", wmark[0] ? num(wmark, b) : "null",
               strtoull(dups, NULL, 10), strtoull(unsafe, NULL, 10));
        return 0;
    }
    printf("cache:        %s\n", E(cache));
    printf("prefix:       %s (%s)\n", E(prefix), mode);
    printf("entries:      %llu (%llu files, %llu directories, %llu symlinks)\n",
           (unsigned long long)t_entries, (unsigned long long)t_files, (unsigned long long)t_dirs,
           (unsigned long long)t_links);
    printf("bytes:        %llu\n", (unsigned long long)t_bytes);
    printf("dirty files:  %llu\n", (unsigned long long)n.dirty);
    printf("queued:       %llu\n", (unsigned long long)n.queued);
    if (url[0])
        printf("remote:       %s (tag %s)\n", E(url), E(tag));
    if (plast[0]) {
        time_t t = (time_t)(strtoull(plast, NULL, 10) / 1000),
               w = (time_t)(strtoull(wmark, NULL, 10) / 1000);
        char a[64], b[64];
        strftime(a, sizeof a, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
        strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S UTC", gmtime(&w));
        printf("last pull:    %s (watermark %s)\n", a, wmark[0] ? b : "none");
    }
    if (strcmp(dups, "0") != 0)
        printf("duplicates:   %s remote documents share a filepath with a newer one (ignored)\n",
               E(dups));
    if (strcmp(unsafe, "0") != 0)
        printf(
            "unsafe:       %s remote documents skipped (their filepath is unsafe; see the log)\n",
            E(unsafe));
    if (n.poisoned)
        printf("poisoned:     %llu (refused by the server; smshim sync --retry-poisoned)%s%s\n",
               (unsigned long long)n.poisoned, lastp[0] ? "\n  last: " : "", E(lastp));
    if (n.localonly)
        printf(
            "not synced:   %llu (not UTF-8 text, or empty: kept locally; smshim status --list)\n",
            (unsigned long long)n.localonly);
    if (paused[0])
        printf("paused:       %s\n", E(paused));
    if (silent)
        printf("server:       not answering (commands do not wait; retried in the background)\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("smshim %s\n", SMSHIM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(argc - 2, argv + 2);
    if (strcmp(cmd, "sync") == 0)
        return cmd_sync(argc - 2, argv + 2);
    fprintf(stderr, "smshim: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
