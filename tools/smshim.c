/* smshim.c: the command-line tool: the commands' table, `smshim run` (a command with the shim
 * loaded) and `smshim sync`. The other commands have a file each (status.c, login.c, grep.c,
 * logs.c); what they share is cli.c. */
#include "cli.h"
#include "../cache/cache.h"
#include "../hydrate/hydrate.h"
#include "../hydrate/http.h"
#include "../hydrate/budget.h"
#include "ns.h"

#include <dlfcn.h>
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

static const char usage[] =
    "usage: smshim run [--prefix P] [--cache DIR] [--tag TAG] [--ns] -- CMD [ARGS...]\n"
    "       smshim status [--prefix P] [--cache DIR] [--json | --list]\n"
    "       smshim sync [--prefix P] [--cache DIR] [--tag TAG] [--retry-poisoned] [--full]\n"
    "       smshim grep [--prefix P] [--cache DIR] [--tag TAG] [--json] [-q] QUERY [PATH]\n"
    "       smshim login [--url URL] [--stdin] | logout | whoami [--json]\n"
    "       smshim logs [--cache DIR] [-f] [-n LINES]\n"
    "       smshim --help | --version        (smshim COMMAND --help: its options)\n"
    "\n"
    "Runs CMD with libsmshim.so preloaded: paths under the prefix (default /sm) are a virtual\n"
    "directory kept in the cache (default $XDG_CACHE_HOME/smshim or ~/.cache/smshim), synced\n"
    "with a Supermemory container when there is an API key. See smshim(1).\n"
    "\n"
    "Environment: SMSHIM_PREFIX, SMSHIM_CACHE, SMSHIM_TAG, SMSHIM_LOG=LEVEL[:FILE],\n"
    "SMSHIM_PULL_TIMEOUT, SMSHIM_SYNC_TIMEOUT, SMSHIM_EXIT_TIMEOUT, SMSHIM_PULL_INTERVAL,\n"
    "SMSHIM_SUD, SMSHIM_ALLOW_INSECURE, SUPERMEMORY_API_KEY, SUPERMEMORY_BASE_URL\n"
    "(SUPERMEMORY_API_URL); without a key in the environment, the credentials file\n"
    "$XDG_CONFIG_HOME/supermemoryfs/credentials.json (~/.config/...), as `smfs login` and\n"
    "`smshim login` write it.\n";

static const char run_help[] =
    "usage: smshim run [--prefix P] [--cache DIR] [--tag TAG] [--ns] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD with libsmshim.so preloaded and returns its exit status. With an API key it first\n"
    "pulls the container (bounded by SMSHIM_PULL_TIMEOUT), and pushes what is left after CMD\n"
    "(up to SMSHIM_EXIT_TIMEOUT).\n"
    "\n"
    "  --prefix P   the virtual directory (SMSHIM_PREFIX, default /sm)\n"
    "  --cache DIR  the cache (SMSHIM_CACHE)\n"
    "  --tag TAG    the container tag (SMSHIM_TAG, default smshim)\n"
    "  --ns         in a private mount namespace with the tree at the prefix (chosen by itself\n"
    "               for a static CMD)\n"
    "\n"
    "Environment: SMSHIM_PREFIX, SMSHIM_CACHE, SMSHIM_TAG, SMSHIM_LOG, SMSHIM_SUD,\n"
    "SMSHIM_PULL_TIMEOUT (s, default 10), SMSHIM_EXIT_TIMEOUT (s, default 10),\n"
    "SMSHIM_PULL_INTERVAL, SMSHIM_ALLOW_INSECURE, SUPERMEMORY_API_KEY, SUPERMEMORY_BASE_URL,\n"
    "XDG_CONFIG_HOME / HOME (the credentials file), LD_PRELOAD (kept, after the library).\n";

static const char sync_help[] =
    "usage: smshim sync [--prefix P] [--cache DIR] [--tag TAG] [--retry-poisoned] [--full]\n"
    "\n"
    "Pulls what changed in the container, then pushes every queued change. Exits 1 when\n"
    "something could not be pushed, was refused, or the server could not be reached; 2 on bad\n"
    "settings.\n"
    "\n"
    "  --retry-poisoned  queue again the files the server refused\n"
    "  --full            list the whole container (finds remote deletions the count cannot)\n"
    "  --prefix, --cache, --tag  as for smshim run\n"
    "\n"
    "Environment: SMSHIM_PREFIX, SMSHIM_CACHE, SMSHIM_TAG, SMSHIM_SYNC_TIMEOUT (s, default\n"
    "120), SMSHIM_ALLOW_INSECURE, SUPERMEMORY_API_KEY, SUPERMEMORY_BASE_URL, XDG_CONFIG_HOME /\n"
    "HOME (the credentials file).\n";

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
    if (smns_is_static(path))
        fprintf(stderr,
                "smshim: warning: %s is statically linked: no preload can reach it, so it "
                "cannot see the virtual directory\n",
                E(path));
}

/* When the command ended: the static programs its processes started (noted by the library in
 * the file `notes`, one path a line), once each; the command itself was warned about already. */
static void report_static(const char *notes, const char *cmd)
{
    FILE *f = fopen(notes, "r");
    unlink(notes);
    if (!f)
        return;
    char seen[16][PATH_MAX];
    int ns = 0, more = 0;
    char line[PATH_MAX + 2];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || strcmp(line, cmd) == 0)
            continue;
        int dup = 0;
        for (int i = 0; i < ns && !dup; i++)
            dup = strcmp(seen[i], line) == 0;
        if (dup)
            continue;
        if (ns < 16)
            snprintf(seen[ns++], PATH_MAX, "%s", line);
        else
            more++;
    }
    fclose(f);
    for (int i = 0; i < ns; i++)
        fprintf(stderr,
                "smshim: warning: the command started %s, which is statically linked: no "
                "preload reached it, so it did not see the virtual directory (smshim run --ns "
                "reaches such programs)\n",
                E(seen[i]));
    if (more)
        fprintf(stderr, "smshim: warning: and %d more statically linked programs\n", more);
}

/* ---- sync -------------------------------------------------------------------------------- */

static int cmd_sync(int argc, char **argv)
{
    int retry = 0, full = 0;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(sync_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--retry-poisoned") == 0)
            retry = 1;
        else if (strcmp(argv[i], "--full") == 0)
            full = 1; /* a full listing now: finds remote deletions the count check cannot */
        else if (!cli_common_opt(argc, argv, &i))
            die("sync: unknown option %s (smshim sync --help)", argv[i]);
    }
    const char *prefix, *cache;
    settings(0, &prefix, &cache);
    struct remote r;
    if (!remote_get(&r))
        die("sync: no API key (%s, or `smshim login`): this cache is local-only", SMSHIM_ENV_KEY);
    refuse_unsafe_url(&r);
    char why[400];
    struct smc *c = cache_open(cache);
    if (!c)
        return 1;
    if (smh_bind(c, r.url, r.tag, why, sizeof why) != 0) {
        fprintf(stderr, "smshim: %s\n", E(why));
        smc_close(c);
        return 1;
    }
    long timeout = cli_seconds("SMSHIM_SYNC_TIMEOUT");
    int pulled = pull(c, cache, &r, full, 30000, timeout / 2, 1);
    struct smh_progress prog = {0};
    long left;
    /* a full map takes no lease: no request slot, so no upload could be sent, and waiting for
     * one would only wait out the deadline */
    int slot = smh_budget_take(c, SMH_BUDGET_UPLOAD, 0);
    smh_budget_give(c, slot);
    struct smc_counts n;
    int mapfull = slot == -ENOSPC;
    if (mapfull) {
        smc_counts(c, &n);
        left = (long)n.queued;
        fprintf(stderr, "smshim: the cache's LMDB map is full: nothing can be pushed\n");
    } else {
        left = push_all(c, cache, &r, timeout, 1, retry, 0, &prog);
    }
    smc_counts(c, &n);
    char paused[200] = "";
    int is_paused = smh_report_paused(c, paused, sizeof paused);
    /* not closed: a worker may still be waiting on the server (see smh_engine_free) */
    if (is_paused)
        fprintf(stderr, "smshim: the server refuses the key (%s); the queue is paused\n",
                E(paused));
    if (left > 0)
        fprintf(stderr, "smshim: %ld changes could not be pushed yet%s%s\n", left,
                prog.last_error[0] ? "; last error: " : "", E(prog.last_error));
    struct smh_report rp;
    smh_report_read(c, &rp);
    const char *lastp = n.poisoned ? rp.last_poisoned : "";
    if (n.poisoned)
        fprintf(stderr,
                "smshim: %llu files were refused by the server or are too long to sync (smshim "
                "status --list)%s%s\n",
                (unsigned long long)n.poisoned, lastp[0] ? "; last: " : "", E(lastp));
    unsigned long long unrec = 0;
    char unlast[PATH_MAX];
    int unerr = 0;
    smc_unrecorded_get(c, &unrec, unlast, sizeof unlast, &unerr); /* after push_all's scan */
    if (unrec)
        fprintf(stderr, "smshim: %llu files could not be recorded (%s); last: %s\n", unrec,
                cli_unrecorded_why(unerr), E(unlast));
    return (left > 0 || mapfull || n.poisoned || is_paused || pulled < 0 || unrec) ? 1 : 0;
}

/* smshim run's options: the index of the command in argv; --ns into *force_ns. */
static int run_args(int argc, char **argv, int *force_ns)
{
    int i = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (cli_is_help(argv[i])) {
            fputs(run_help, stdout);
            exit(0);
        }
        if (cli_common_opt(argc, argv, &i))
            continue;
        else if (strcmp(argv[i], "--ns") == 0)
            *force_ns = 1;
        else if (argv[i][0] != '-')
            break;
        else
            die("run: unknown option %s (see smshim --help)", argv[i]);
    }
    if (i >= argc)
        die("run: no command given%s", " (smshim run [options] -- CMD [ARGS...])");
    return i;
}

/* The command's environment for the library lib: LD_PRELOAD (after a sanitizer's runtime) and
 * UV_USE_IO_URING=0. LD_AUDIT (the loader's audit module) is the library's decision: run_child
 * execs through it, and it adds the module to a program whose loader must look under the
 * prefix (shim/elf.c). */
static void run_preload_env(const char *lib)
{
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
    setenv("UV_USE_IO_URING", "0", 0);
}

/* Before the command, with a remote: the cache bound to it and pulled, like a mount (bounded
 * wait). 0, or the status smshim run exits with. */
static int run_pull_before(const char *cache, const struct remote *r)
{
    char why[400];
    refuse_unsafe_url(r);
    struct smc *c = cache_open(cache);
    if (!c)
        return 1;
    int rc = smh_bind(c, r->url, r->tag, why, sizeof why);
    if (rc != 0) {
        smc_close(c);
        fprintf(stderr, "smshim: %s\n", E(why));
        return 2;
    }
    /* like a mount: the command starts on the container's tree (bounded wait) */
    int full = !smh_report_watermark(c);
    long pto = cli_seconds("SMSHIM_PULL_TIMEOUT");
    if (smh_silent(c, NULL)) {
        /* another command found the server not answering: no wait until it answers */
        fprintf(stderr,
                "smshim: %s is not answering (recorded by an earlier command); running on "
                "the local cache\n",
                E(r->url));
    } else {
        /* wait only while the pull progresses; the first pull shows its progress */
        smh_conn_default_stall(smh_stall_ms(c));
        pull(c, cache, r, full, pto, pto, full);
    }
    smc_close(c);
    /* the command's processes never wait at exit: this process drains after them */
    setenv(SMSHIM_ENV_NOWAIT, "1", 1);
    return 0;
}

/* The file where the command's processes note the static programs they start (shim/exec.c),
 * made in the cache's tmp/ and named in the environment; notes[0] '\0' when there is none. */
static void run_notes_file(const char *cache, const struct smns *ns, char *notes, size_t size)
{
    notes[0] = '\0';
    if (!ns->on && smc_layout_ensure(cache) == 0 &&
        smc_layout_path(cache, SMC_TMP, NULL, notes, PATH_MAX) == 0) {
        size_t nl = strlen(notes);
        snprintf(notes + nl, size - nl, "/run-%d.static", (int)getpid());
        int fd = open(notes, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            close(fd);
            setenv(SMSHIM_ENV_RUN_NOTES, notes, 1);
        } else {
            notes[0] = '\0';
        }
    }
}

/* In the child: the namespace entered (--ns), then the command exec'd. */
static void __attribute__((noreturn)) run_child(struct smns *ns, const char *lib, char **cmd)
{
    char why[PATH_MAX + 200];
    if (ns->on && smns_enter(ns, why, sizeof why) != 0) {
        fprintf(stderr, "smshim: namespace: %s\n", E(why));
        _exit(126);
    }
    /* the command may lie under the prefix (or in a PATH directory there), where only the
     * library can find it: exec through the library's own execvp */
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    int (*xvp)(const char *, char *const[]) =
        h ? (int (*)(const char *, char *const[]))dlsym(h, "execvp") : NULL;
    (xvp ? xvp : execvp)(cmd[0], cmd);
    fprintf(stderr, "smshim: %s: %s\n", E(cmd[0]), strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
}

/* After the command, with a remote: its changes pushed (bounded), unless the server is recorded
 * as not answering. */
static void run_push_after(const char *cache, const struct remote *r)
{
    long timeout = cli_seconds(SMSHIM_ENV_EXIT_TIMEOUT);
    struct smc *c = cache_open(cache);
    struct smc_counts qn;
    if (c && smh_silent(c, NULL) && smc_counts(c, &qn) == 0) {
        /* no wait on a server that is not answering: the changes stay queued */
        if (qn.queued)
            fprintf(stderr,
                    "smshim: %llu changes are still queued (%s is not answering); "
                    "`smshim sync` pushes them\n",
                    (unsigned long long)qn.queued, E(r->url));
    } else if (c) {
        struct smh_progress p;
        long left = push_all(c, cache, r, timeout, 0, 0, 1, &p);
        if (left > 0)
            fprintf(stderr, "smshim: %ld changes are still queued%s%s; `smshim sync` pushes them\n",
                    left, p.last_error[0] ? ": " : "", E(p.last_error));
        /* not closed: an upload the server never answered may still hold it in a worker
         * (see smh_engine_free); the process ends now */
    }
}

/* smshim run: the settings, the preload, the first pull, the command in a child, the push. */
static int cmd_run(int argc, char **argv)
{
    int force_ns = 0;
    struct smns ns;
    int i = run_args(argc, argv, &force_ns);
    const char *prefix, *cache;
    settings(1, &prefix, &cache);
    char lib[PATH_MAX];
    if (find_lib(lib, sizeof lib) != 0)
        die("cannot find libsmshim.so next to %s", "this program");
    /* the command gets the settings in their normal form */
    setenv(SMSHIM_ENV_PREFIX, prefix, 1);
    setenv(SMSHIM_ENV_CACHE, cache, 1);
    run_preload_env(lib);
    char cmdpath[PATH_MAX] = "";
    if (!smns_decide(&ns, which(argv[i], cmdpath, sizeof cmdpath) == 0 ? cmdpath : NULL, force_ns,
                     prefix, cache))
        check_reachable(argv[i]);
    check_sud(argv[i]);

    struct remote r;
    int remote = remote_get(&r);
    if (remote) {
        int rc = run_pull_before(cache, &r);
        if (rc)
            return rc;
    }
    char notes[PATH_MAX + 64];
    run_notes_file(cache, &ns, notes, sizeof notes);

    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0)
        run_child(&ns, lib, argv + i);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    smns_done(&ns);
    if (notes[0])
        report_static(notes, cmdpath);
    if (remote)
        run_push_after(cache, &r);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"run", cmd_run},     {"status", cmd_status}, {"sync", cmd_sync},     {"grep", cmd_grep},
    {"login", cmd_login}, {"logout", cmd_logout}, {"whoami", cmd_whoami}, {"logs", cmd_logs},
};

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
    for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
        if (strcmp(cmd, commands[k].name) == 0)
            return commands[k].fn(argc - 2, argv + 2);
    fprintf(stderr, "smshim: unknown command '%s'\n%s", E(cmd), usage);
    return 2;
}
