/* exec.c: children keep the shim. Every exec and spawn re-injects LD_PRELOAD (absolute) and the
 * SMSHIM_* settings into the child's environment, and runs programs stored under the prefix: an
 * ELF from its bytes in the tree, a "#!" script through its interpreter with the virtual path as
 * the script argument (so $0 and __file__ name the virtual path), and the dynamic loader run as
 * a program (ldd, ld.so PROGRAM) with its program's tree path.
 *
 * These wrappers run in vfork children (Python's _posixsubprocess, posix_spawn): they take no
 * locks and never malloc; their memory is one region sized to the call (struct arena).
 */
#include "shim.h"
#include "smshim.h"

#include <link.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* Memory for an exec's plan and arrays, which must not come from malloc (vfork children build
 * them): one region sized to the call (exec_need), taken from in order. A spawn, and an exec in
 * a process whose memory is its own, map it (a thread's stack may be 16 KiB, and an environment
 * any size the kernel takes); the exec that succeeds drops the mapping with the image, one that
 * fails or a spawn unmaps it. A vfork child's mapping would stay in its parent's memory once its
 * exec succeeded, one per child: there the region is on the caller's stack (the parent's,
 * where the child runs), made by the wrapper itself (ARENA_INIT: alloca). */
struct arena {
    char *base;
    size_t len, used;
    int mapped;
};

/* This process shares its memory with its parent (a vfork child, a clone with CLONE_VM): a
 * mapping it makes outlives its exec there. Where kcmp cannot tell, taken as shared. */
static int vm_shared(void)
{
    return sm_vm_parents() != 0;
}

static void *arena_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* m: need bytes, mapped (map: always, for a call that returns) or on this frame's stack. A
 * macro: alloca's memory is the calling function's. m.base is NULL when the mapping failed. */
#define ARENA_INIT(m, need, map)                                                                   \
    do {                                                                                           \
        (m).used = 0;                                                                              \
        (m).len = (need);                                                                          \
        (m).mapped = (map) || !vm_shared();                                                        \
        (m).base = (m).mapped ? arena_map((m).len) : __builtin_alloca((m).len);                    \
    } while (0)

static void arena_done(struct arena *m)
{
    if (m->mapped && m->base)
        munmap(m->base, m->len);
    m->base = NULL;
}

/* n bytes of m (16-aligned), or NULL when it is spent */
static void *arena_take(struct arena *m, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!m->base || n > m->len - m->used)
        return NULL;
    void *p = m->base + m->used;
    m->used += n;
    return p;
}

static int has_name(const char *entry, const char *name, size_t n)
{
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static int is_shim_lib(const char *tok, size_t n)
{
    static const char base[] = "libsmshim.so";
    size_t b = sizeof base - 1;
    const char *lib = sm_w()->libpath;
    if (n == strlen(lib) && memcmp(tok, lib, n) == 0)
        return 1;
    return n >= b && memcmp(tok + n - b, base, b) == 0 && (n == b || tok[n - b - 1] == '/');
}

/* "LD_AUDIT=<the loader's audit module>[:<the caller's modules>]" into out (size bytes) for a
 * child whose loader must look under the prefix (want: sm_elf_probe, or LD_PRELOAD or
 * LD_LIBRARY_PATH there): the module (shim/audit.c) lies beside this library. It costs a process
 * 0.05-0.1 ms at start, so no other child gets it; a caller's own LD_AUDIT is handed on as it is
 * (one that names the module, set by the user or by an earlier exec, keeps it). 0 (nothing to
 * add) when it is not wanted, not there, or already listed. */
static int audit_env(const char *cur, int want, char *out, size_t size)
{
    static const char mod[] = "libsmshim-audit.so";
    const char *lib = sm_w()->libpath, *slash = strrchr(lib, '/');
    if (!want || !slash)
        return 0;
    size_t dl = (size_t)(slash + 1 - lib);
    size_t cl = cur ? strlen(cur) : 0;
    if (9 + dl + sizeof mod + 1 + cl > size)
        return 0;
    memcpy(out, "LD_AUDIT=", 9);
    memcpy(out + 9, lib, dl);
    memcpy(out + 9 + dl, mod, sizeof mod);
    if (cur && strstr(cur, mod))
        return 0;
    if (SM_REAL(access)(out + 9, R_OK) != 0)
        return 0;
    if (cl) {
        size_t w = 9 + dl + sizeof mod - 1;
        out[w] = ':';
        memcpy(out + w + 1, cur, cl + 1);
    }
    return 1;
}

/* ---- the tree across exec after a privilege drop ---------------------------------------------
 * A process that changed its ids cannot open <cache>/tree again, nor can its children: the
 * exec hands them the tree fd (already high, in the shim's range) with close-on-exec cleared for
 * the exec only, named with its dev/ino in SMSHIM_TREE_FD for the child's constructor to check
 * and adopt. Without such a change nothing is handed on. */
static char tree_env[96];

/* Before an exec: the fd to hand on (close-on-exec cleared), or -1. */
static int tree_pass_begin(void)
{
    int fd = __atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE);
    struct stat st;
    if (!__atomic_load_n(&sm_privs_changed, __ATOMIC_ACQUIRE) || fd < 0 ||
        SM_REAL(fstat)(fd, &st) != 0)
        return -1;
    snprintf(tree_env, sizeof tree_env, "%s=%d:%lu:%lu", SMSHIM_ENV_TREE_FD, fd,
             (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    if (SM_REAL(fcntl)(fd, F_SETFD, 0) != 0)
        return -1;
    return fd;
}

/* After an exec that failed (or a spawn, in the parent): close-on-exec again. */
static void tree_pass_end(int fd)
{
    if (fd >= 0)
        SM_REAL(fcntl)(fd, F_SETFD, FD_CLOEXEC);
}

/* ---- the static TLS the audit module leaves ------------------------------------------------
 * With an audit module the loader sets up the threads' static TLS before it loads the program's
 * libraries, which must then fit in the surplus glibc keeps (glibc.rtld.optional_static_tls, 512
 * bytes by default): a child that gets the module also gets, in GLIBC_TUNABLES, a surplus that
 * holds the TLS of the libraries its own directories provide (elf.c: sm_elf_tls_need) with room
 * to spare, never less than a value already set there. The surplus is taken from every thread's
 * stack, so it is asked only for what the program's libraries take. */
#define TLS_TUNABLE     "glibc.rtld.optional_static_tls"
#define TLS_SPARE       4096 /* the libraries those need in turn (LLVM's: 96 bytes) */
#define TLS_DEFAULT_MAX 1024 /* what the default surplus holds anyway */

/* A directory of a library search, as the child's loader will open it: one under the prefix
 * as written is its path in the tree, as the audit module joins it (audit.c: au_join); any other
 * is the kernel's. No resolution: its buffers would not fit a 16 KiB stack. */
static int tls_dir(const char *d, char *out, size_t size)
{
    long off = sm_under_prefix(d);
    if (off >= 0)
        return sm_tree_path(d + off, out, size) == 0 ? 0 : -1;
    return snprintf(out, size, "%s", d) < (int)size ? 0 : -1;
}

/* The static TLS the libraries of the program prog take (sm_elf_tls_need), with ldp the child's
 * LD_LIBRARY_PATH. Its memory (tens of KiB) is an arena of its own, taken only by an exec that
 * gives the module: mapped, or on this frame's stack, as the exec's own arena is (mapped). */
static unsigned long tls_need(const char *prog, const char *ldp, int mapped)
{
    struct arena t;
    ARENA_INIT(t, SM_ELF_TLS_MEM, mapped);
    void *mem = arena_take(&t, SM_ELF_TLS_MEM);
    unsigned long need = mem ? sm_elf_tls_need(prog, ldp, tls_dir, mem) : 0;
    arena_done(&t);
    return need;
}

/* The value of tunable name (n bytes) in the GLIBC_TUNABLES value tun, or 0 */
static unsigned long tunable_value(const char *tun, const char *name, size_t n)
{
    if (!tun)
        return 0;
    for (const char *p = tun; *p;) {
        size_t l = strcspn(p, ":");
        if (l > n && strncmp(p, name, n) == 0 && p[n] == '=')
            return strtoul(p + n + 1, NULL, 10);
        p += l;
        while (*p == ':')
            p++;
    }
    return 0;
}

/* "GLIBC_TUNABLES=" with tun's tunables (NULL: none) but TLS_TUNABLE, then TLS_TUNABLE=want,
 * into out (size bytes: 16 + strlen(tun) + 64). */
static void tunables_value(char *out, size_t size, const char *tun, unsigned long want)
{
    size_t n = sizeof TLS_TUNABLE - 1, w = 15;
    memcpy(out, "GLIBC_TUNABLES=", 15);
    for (const char *p = tun ? tun : ""; *p;) {
        size_t l = strcspn(p, ":");
        if (!(l > n && strncmp(p, TLS_TUNABLE, n) == 0 && p[n] == '=') && w + l + 1 < size) {
            memcpy(out + w, p, l);
            w += l;
            out[w++] = ':';
        }
        p += l;
        while (*p == ':')
            p++;
    }
    snprintf(out + w, size - w, "%s=%lu", TLS_TUNABLE, want);
}

/* str: "LD_PRELOAD=" and the value pre (the caller's LD_PRELOAD, NULL: none) with this library
 * (libpath, absolute) in it. The caller's order is kept (a sanitizer runtime must stay first);
 * our entry takes the place of the first libsmshim.so, or goes first when there is none. str
 * holds 11 + strlen(libpath) + 1 + strlen(pre) + 1 bytes. */
static void preload_value(char *str, const char *pre, const char *libpath)
{
    char *w = str;
    size_t ll = strlen(libpath);
    int placed = 0;
    memcpy(w, "LD_PRELOAD=", 11);
    w += 11;
    for (const char *p = pre ? pre : ""; *p;) {
        size_t t = strcspn(p, ": ");
        if (t && (!is_shim_lib(p, t) || !placed)) {
            if (w > str + 11)
                *w++ = ':';
            if (is_shim_lib(p, t)) {
                memcpy(w, libpath, ll);
                w += ll;
                placed = 1;
            } else {
                memcpy(w, p, t);
                w += t;
            }
        }
        p += t;
        while (*p == ':' || *p == ' ')
            p++;
    }
    *w = '\0';
    if (!placed) {
        size_t cur = (size_t)(w - (str + 11));
        memmove(str + 11 + ll + (cur ? 1 : 0), str + 11, cur + 1);
        memcpy(str + 11, libpath, ll);
        if (cur)
            str[11 + ll] = ':';
    }
}

/* What env_build makes of envp: its variables (n), the caller's LD_PRELOAD, LD_AUDIT,
 * LD_LIBRARY_PATH and GLIBC_TUNABLES values, and the sizes of the strings it writes (alen of
 * them LD_AUDIT's, tlen GLIBC_TUNABLES'). 0 when the shim adds nothing (off, or its settings
 * unknown). */
struct env_shape {
    size_t n, alen, tlen, strsz;
    const char *pre, *aud, *ldp, *tun;
    int want;
};

static int env_shape(char *const envp[], struct env_shape *e)
{
    *e = (struct env_shape){0};
    if (!sm_cfg.enabled)
        return 0;
    const struct sm_where *cw = sm_w();
    if (!cw->ok || !cw->libpath[0])
        return 0;
    if (envp)
        for (; envp[e->n]; e->n++) {
            const char *v = envp[e->n];
            if (has_name(v, "LD_PRELOAD", 10))
                e->pre = v + 11;
            else if (has_name(v, "LD_AUDIT", 8))
                e->aud = v + 9;
            else if (has_name(v, "GLIBC_TUNABLES", 14))
                e->tun = v + 15;
            else if (has_name(v, "LD_LIBRARY_PATH", 15))
                e->want |= sm_list_under(e->ldp = v + 16, strlen(v + 16), sm_cfg.prefix,
                                         sm_cfg.plen, SM_SEPS_LIBPATH);
        }
    e->want |= e->pre &&
               sm_list_under(e->pre, strlen(e->pre), sm_cfg.prefix, sm_cfg.plen, SM_SEPS_PRELOAD);
    size_t plen = e->pre ? strlen(e->pre) : 0;
    e->alen = 9 + strlen(cw->libpath) + 20 + (e->aud ? strlen(e->aud) + 1 : 0) + 1;
    e->tlen = 16 + (e->tun ? strlen(e->tun) : 0) + 64;
    e->strsz = 12 + strlen(cw->libpath) + 1 + plen + 1 + e->alen + e->tlen;
    return 1;
}

/* the bytes env_build takes of an arena for envp */
static size_t env_need(char *const envp[])
{
    struct env_shape e;
    return env_shape(envp, &e) ? (e.n + 13) * sizeof(char *) + e.strsz + 16 : 0;
}

/* The environment a child receives: envp plus our settings where missing, LD_PRELOAD with this
 * library's absolute path first, LD_AUDIT with the loader's audit module when the program needs
 * it (elf: sm_elf_probe's answer for the program; or LD_PRELOAD or LD_LIBRARY_PATH under the
 * prefix), and, for an exec that
 * replaces this image (replaces), SMSHIM_SYNC_OWED when it ends a sync thread with work. Its
 * arrays come from m (env_need bytes); falls back to envp itself if m is short. */
static char *const *env_build(char *const envp[], struct arena *m, int tree_fd, int replaces,
                              int elf, const char *prog)
{
    struct env_shape sh;
    if (!env_shape(envp, &sh))
        return envp;
    const struct sm_where *cw = sm_w();
    size_t n = sh.n, strsz = sh.strsz, alen = sh.alen, tlen = sh.tlen;
    const char *pre = sh.pre, *aud = sh.aud, *ldp = sh.ldp, *tun = sh.tun;
    int want = sh.want | ((elf & SM_ELF_PREFIX) != 0);
    char **out = arena_take(m, (n + 13) * sizeof(char *) + strsz);
    if (!out)
        return envp;
    char *str = (char *)(out + n + 13);
    preload_value(str, pre, cw->libpath);

    char *audit = str + strsz - alen, *tunables = audit - tlen;
    int add_audit = audit_env(aud, want, audit, alen);
    /* the child's loader runs the module: the static TLS its program's libraries take */
    int add_tls = 0;
    if (prog && (add_audit || (aud && strstr(aud, "libsmshim-audit.so")))) {
        unsigned long need = tls_need(prog, ldp, m->mapped);
        unsigned long have = tunable_value(tun, TLS_TUNABLE, sizeof TLS_TUNABLE - 1);
        if (need > TLS_DEFAULT_MAX && need + TLS_SPARE > have) {
            tunables_value(tunables, tlen, tun, need + TLS_SPARE);
            add_tls = 1;
        }
    }

    int have_prefix = 0, have_cache = 0, have_tag = 0, have_log = 0, have_uv = 0, have_sud = 0;
    int have_notes = 0;
    const char *sud = sm_sud_env();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = envp[i];
        if (has_name(e, "LD_PRELOAD", 10) || (add_audit && has_name(e, "LD_AUDIT", 8)) ||
            (add_tls && has_name(e, "GLIBC_TUNABLES", 14)))
            continue;
        if (has_name(e, SMSHIM_ENV_TREE_FD, sizeof SMSHIM_ENV_TREE_FD - 1) ||
            has_name(e, SMSHIM_ENV_SYNC_OWED, sizeof SMSHIM_ENV_SYNC_OWED - 1))
            continue; /* handed on only by this exec, below */
        have_prefix |= has_name(e, SMSHIM_ENV_PREFIX, sizeof SMSHIM_ENV_PREFIX - 1);
        have_cache |= has_name(e, SMSHIM_ENV_CACHE, sizeof SMSHIM_ENV_CACHE - 1);
        have_tag |= has_name(e, SMSHIM_ENV_TAG, sizeof SMSHIM_ENV_TAG - 1);
        have_log |= has_name(e, SMSHIM_ENV_LOG, sizeof SMSHIM_ENV_LOG - 1);
        have_uv |= has_name(e, "UV_USE_IO_URING", 15);
        have_sud |= has_name(e, SMSHIM_ENV_SUD, sizeof SMSHIM_ENV_SUD - 1);
        have_notes |= has_name(e, SMSHIM_ENV_RUN_NOTES, sizeof SMSHIM_ENV_RUN_NOTES - 1);
        out[k++] = (char *)e;
    }
    out[k++] = str;
    if (add_audit)
        out[k++] = audit;
    if (add_tls)
        out[k++] = tunables;
    if (!have_prefix)
        out[k++] = (char *)cw->env_prefix;
    if (!have_cache)
        out[k++] = (char *)cw->env_cache;
    if (!have_tag)
        out[k++] = (char *)cw->env_tag;
    if (!have_log && cw->env_log[0])
        out[k++] = (char *)cw->env_log;
    if (!have_notes && cw->env_notes[0])
        out[k++] = (char *)cw->env_notes;
    if (!have_uv)
        out[k++] = (char *)"UV_USE_IO_URING=0";
    if (!have_sud && sud)
        out[k++] = (char *)sud; /* SUD does not survive exec: the child arms itself again */
    if (tree_fd >= 0)
        out[k++] = tree_env;
    if (replaces && sm_sync_owed()) /* the exec ends the sync thread: the new image pushes */
        out[k++] = (char *)SMSHIM_ENV_SYNC_OWED "=1";
    out[k] = NULL;
    return out;
}

/* If the file at tpath starts with "#!", split the line into interpreter and optional argument
 * (sm_shebang_split, as the kernel does). 1 if it is a script, 0 if not. */
static int shebang(const char *tpath, char interp[256], char arg[256])
{
    char buf[256];
    int fd = sm_brief_openat(AT_FDCWD, tpath, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    sm_brief_close(fd);
    return n > 0 && sm_shebang_split(buf, (size_t)n, interp, arg);
}

/* What to exec for `path`: fills target (the real file) and, for a script stored under the
 * prefix, argv2 (interpreter, argument, virtual path, argv[1..]). An interpreter that is itself
 * a script under the prefix is run through its own interpreter in turn, as the kernel nests
 * them (up to SM_INTERP_DEPTH; the kernel answers ELOOP past its own limit). 0 or -errno. */
#define SM_INTERP_DEPTH 4
struct plan {
    struct sm_res r;
    struct sm_res ir[SM_INTERP_DEPTH]; /* the interpreters, outermost last */
    struct sm_res pr;                  /* the program the dynamic loader run as one is to load */
    char *const *argv;
    const char *target;
    const char *elf; /* the ELF whose loader's needs decide the audit module (exec_elf) */
    char interp[SM_INTERP_DEPTH][256], arg[SM_INTERP_DEPTH][256];
};

/* The arena an exec of argv with envp needs: its plan, an interpreter's argv or the dynamic
 * loader's (one of them), the ELF reading, the environment (plan_retry takes the argv and the
 * environment again, after the first exec failed). */
static size_t exec_need(char *const argv[], char *const envp[])
{
    size_t argc = 0;
    while (argv && argv[argc])
        argc++;
    return sizeof(struct plan) + 16 + (argc + 2 * SM_INTERP_DEPTH + 3) * sizeof(char *) + 16 +
           SM_ELF_MEM + 16 + env_need(envp);
}

/* The interpreters of the script at cur (a real path, or one relative to the cwd) as the kernel
 * nests them, each under the prefix resolved into the tree; path is the script's name as the
 * caller gave it (the script argument). With `need`, only a script whose first interpreter lies
 * under the prefix is planned (the kernel ran it and did not find that interpreter); -ENOENT
 * otherwise. */
static int plan_interp(struct plan *pl, struct arena *m, const char *cur, const char *path,
                       char *const argv[], int need)
{
    int lv = 0, rc;
    while (lv < SM_INTERP_DEPTH && shebang(cur, pl->interp[lv], pl->arg[lv])) {
        rc = sm_resolve(AT_FDCWD, pl->interp[lv], SM_RES_ABS | SM_RES_FOLLOW, &pl->ir[lv]);
        if (rc < 0)
            return rc;
        cur = pl->ir[lv].path;
        if (pl->ir[lv++].kind != SM_TREE)
            break; /* a real interpreter: the kernel runs it, and whatever it names */
    }
    if (lv == 0 || (need && pl->ir[0].kind != SM_TREE))
        return need ? -ENOENT : 0;
    size_t argc = 0;
    while (argv && argv[argc])
        argc++;
    char **a = arena_take(m, (argc + 2 * SM_INTERP_DEPTH + 2) * sizeof(char *));
    if (!a)
        return -ENOMEM;
    size_t k = 0;
    for (int i = lv - 1; i >= 0; i--) {
        a[k++] = pl->interp[i];
        if (pl->arg[i][0])
            a[k++] = pl->arg[i];
    }
    a[k++] = (char *)path;
    for (size_t i = 1; i < argc; i++)
        a[k++] = argv[i];
    a[k] = NULL;
    pl->argv = a;
    pl->elf = pl->target = pl->ir[lv - 1].path;
    return 0;
}

/* The name of this process's dynamic loader (its program's PT_INTERP, in memory: no system
 * call), or NULL. */
static const char *own_interp(void)
{
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    size_t n = getauxval(AT_PHNUM);
    uintptr_t bias = 0;
    for (size_t i = 0; ph && i < n; i++)
        if (ph[i].p_type == PT_PHDR)
            bias = (uintptr_t)ph - ph[i].p_vaddr;
    for (size_t i = 0; ph && i < n; i++)
        if (ph[i].p_type == PT_INTERP)
            return (const char *)(bias + ph[i].p_vaddr);
    return NULL;
}

/* The dynamic loader's options that take a value (glibc's rtld), each a separate argument */
static int loader_opt_arg(const char *a)
{
    static const char *const with[] = {
        "--library-path",         "--inhibit-rpath",    "--audit", "--preload", "--argv0",
        "--glibc-hwcaps-prepend", "--glibc-hwcaps-mask"};
    for (size_t i = 0; i < sizeof with / sizeof *with; i++)
        if (strcmp(a, with[i]) == 0)
            return 1;
    return 0;
}

/* The dynamic loader run as a program (ldd runs it with --verify, then to list a program's
 * libraries; `ld.so PROGRAM ARGS`) opens its program itself, past every wrapper: a program named
 * under the prefix is handed to it by its tree path, and by its name as given as its argv[0]
 * (--argv0, unless the caller gave one), and the program's own needs decide the audit module.
 * The loader is told by its name: the basename of this process's own loader. 0 or -errno. */
static int plan_loader(struct plan *pl, struct arena *m, char *const argv[])
{
    const char *own = own_interp(), *t = strrchr(pl->target, '/');
    const char *ob = own ? strrchr(own, '/') : NULL;
    if (!argv || !argv[0] || !ob || strcmp(t ? t + 1 : pl->target, ob + 1) != 0)
        return 0;
    size_t i = 1, argc;
    int named = 0;
    while (argv[i] && strncmp(argv[i], "--", 2) == 0) {
        if (loader_opt_arg(argv[i])) {
            named |= strcmp(argv[i], "--argv0") == 0;
            if (!argv[++i])
                return 0;
        }
        i++;
    }
    if (!argv[i])
        return 0;
    pl->elf = argv[i];
    if (!sm_maybe(argv[i]) ||
        sm_resolve(AT_FDCWD, argv[i], SM_RES_ABS | SM_RES_FOLLOW, &pl->pr) < 0)
        return 0; /* the loader answers for it */
    pl->elf = pl->pr.path;
    if (pl->pr.kind != SM_TREE)
        return 0;
    for (argc = i; argv[argc]; argc++)
        ;
    char **a = arena_take(m, (argc + 3) * sizeof(char *));
    if (!a)
        return -ENOMEM;
    size_t k = 0;
    for (size_t j = 0; j < i; j++)
        a[k++] = argv[j];
    if (!named) {
        a[k++] = (char *)"--argv0";
        a[k++] = argv[i];
    }
    a[k++] = (char *)pl->pr.path;
    for (size_t j = i + 1; j < argc; j++)
        a[k++] = argv[j];
    a[k] = NULL;
    pl->argv = a;
    return 0;
}

static int plan_path(struct plan *pl, struct arena *m, const char *path, char *const argv[])
{
    if (!sm_maybe(path))
        return 0;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &pl->r);
    if (rc < 0)
        return rc;
    pl->elf = pl->target = pl->r.path;
    if (pl->r.kind != SM_TREE)
        return 0; /* not under the prefix, or relative and resolved by the kernel in the tree */
    if (SM_REAL(faccessat)(AT_FDCWD, pl->r.path, X_OK, AT_EACCESS) != 0)
        return -errno;
    return plan_interp(pl, m, pl->r.path, path, argv, 0);
}

static int plan_exec(struct plan *pl, struct arena *m, const char *path, char *const argv[])
{
    pl->argv = argv;
    pl->elf = pl->target = path;
    int rc = plan_path(pl, m, path, argv);
    if (rc == 0 && pl->argv == argv && sm_cfg.enabled && sm_probe(path) >= 0)
        rc = plan_loader(pl, m, argv); /* not a script: maybe the dynamic loader (a path that is not
                                       readable memory is the kernel's EFAULT) */
    return rc;
}

/* The kernel answered ENOENT for a file it could run: a script it found (outside the prefix, or
 * named relative to a directory in the tree) whose interpreter lies under the prefix, which the
 * kernel cannot see. Plan it through that interpreter; -ENOENT for anything else. Costs nothing
 * on an exec that works. */
static int plan_retry(struct plan *pl, struct arena *m, const char *path, char *const argv[])
{
    if (!sm_cfg.enabled || pl->argv != argv)
        return -ENOENT; /* already planned through an interpreter */
    if (SM_REAL(faccessat)(AT_FDCWD, pl->target, X_OK, AT_EACCESS) != 0)
        return -ENOENT;
    return plan_interp(pl, m, pl->target, path, argv, 1);
}

/* A static program is one no preload reaches: unless the kernel itself shows the tree at the
 * prefix (smshim run --ns), it sees nothing there. Logged, and noted in the file smshim run names
 * (SMSHIM_RUN_NOTES; appended, never created here), which it reports when its command ends.
 * A static program costs two stats more than the reading every exec does (exec_elf). No malloc
 * and no lock (vfork children run it). */
static void note_static(const char *path, int elf)
{
    if (!(elf & SM_ELF_STATIC))
        return;
    const struct sm_where *cw = sm_w();
    struct stat a, b;
    if (!cw->ok)
        return;
    if (SM_REAL(stat)(sm_cfg.prefix, &a) == 0 && SM_REAL(stat)(cw->tree, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return; /* the tree is mounted at the prefix: the program sees it */
    sm_log(SM_LOG_WARN,
           "exec of %s: statically linked, no preload reaches it: it sees nothing "
           "under %s",
           path, sm_cfg.prefix);
    const char *notes = cw->env_notes[0] ? strchr(cw->env_notes, '=') + 1 : NULL;
    if (!notes)
        return;
    char line[PATH_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", path);
    if (n <= 0 || n >= (int)sizeof line)
        return;
    int fd = sm_brief_openat(AT_FDCWD, notes, O_WRONLY | O_APPEND | O_NOFOLLOW, 0);
    if (fd < 0)
        return;
    int h = sm_fsize_begin();
    (void)!write(fd, line, (size_t)n); /* O_APPEND: whole lines from concurrent processes */
    sm_fsize_end(h);
    sm_brief_close(fd);
}

/* What the loader of the program at target needs (sm_elf_probe): an open and a few preads,
 * read into SM_ELF_MEM bytes of m (spent again once it answers). */
static int exec_elf(struct arena *m, const char *target)
{
    if (!sm_cfg.enabled)
        return 0;
    size_t at = m->used;
    void *mem = arena_take(m, SM_ELF_MEM);
    int rc = mem ? sm_elf_probe_in(target, sm_cfg.prefix, sm_cfg.plen, mem) : SM_ELF_PREFIX;
    m->used = at;
    return rc;
}

/* The exec, in the arena m (at least exec_need(argv, envp) bytes): 0 or -errno. */
static int exec_in(struct arena *m, const char *path, char *const argv[], char *const envp[])
{
    size_t start = m->used;
    struct plan *pl = arena_take(m, sizeof *pl);
    if (!pl)
        return -ENOMEM;
    size_t planned = m->used;
    int tfd = tree_pass_begin();
    int rc = plan_exec(pl, m, path, argv);
    if (rc == 0) {
        int elf = exec_elf(m, pl->elf);
        note_static(path, elf);
        SM_REAL(execve)(pl->target, pl->argv, env_build(envp, m, tfd, 1, elf, pl->elf));
        rc = -errno;
        m->used = planned; /* that environment is spent: the retry makes its own */
        if (rc == -ENOENT && plan_retry(pl, m, path, argv) == 0) {
            elf = exec_elf(m, pl->elf);
            SM_REAL(execve)(pl->target, pl->argv, env_build(envp, m, tfd, 1, elf, pl->elf));
            rc = -errno;
        }
    }
    tree_pass_end(tfd);
    m->used = start; /* all of it is spent: execvp's next candidate takes it again */
    return rc;
}

SM_ROOMY(int, sm_execve_core, (const char *path, char *const argv[], char *const envp[]))
{
    SM_OPAQUE(path);
    if (!path)
        return -EFAULT; /* the kernel's answer, without handing libc a NULL it declares nonnull */
    struct arena m;
    ARENA_INIT(m, exec_need(argv, envp), 0);
    int rc = m.base ? exec_in(&m, path, argv, envp) : -ENOMEM;
    arena_done(&m);
    return rc;
}

SM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    return (int)sm_ret(sm_execve_core(path, argv, envp));
}

SM_EXPORT int execv(const char *path, char *const argv[])
{
    return (int)sm_ret(sm_execve_core(path, argv, environ));
}

SM_ROOMY(int, sm_fexecve_core, (int fd, char *const argv[], char *const envp[]))
{
    char self[32];
    struct arena m;
    ARENA_INIT(m, SM_ELF_MEM + 16 + env_need(envp), 0);
    if (!m.base)
        return -ENOMEM;
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    int tfd = tree_pass_begin();
    char *const *env = env_build(envp, &m, tfd, 1, exec_elf(&m, self), self);
    SM_REAL(fexecve)(fd, argv, env);
    int e = errno;
    tree_pass_end(tfd);
    arena_done(&m);
    return -e;
}

SM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    return (int)sm_ret(sm_fexecve_core(fd, argv, envp));
}

/* execvp's fallback for a file the kernel cannot run: hand it to /bin/sh (m: exec_sh_need). */
static int exec_sh(struct arena *m, const char *file, char *const argv[], char *const envp[])
{
    size_t argc = 0;
    while (argv && argv[argc])
        argc++;
    char **a = arena_take(m, (argc + 3) * sizeof(char *));
    if (!a)
        return -ENOMEM;
    a[0] = (char *)"/bin/sh";
    a[1] = (char *)file;
    for (size_t i = 1; i < argc; i++)
        a[i + 1] = argv[i];
    a[argc > 0 ? argc + 1 : 2] = NULL;
    return exec_in(m, "/bin/sh", a, envp);
}

/* the arena of an execvp: an exec of argv, then perhaps one of /bin/sh with one more argument */
static size_t exec_sh_need(char *const argv[], char *const envp[])
{
    size_t argc = 0;
    while (argv && argv[argc])
        argc++;
    return exec_need(argv, envp) + (argc + 3) * sizeof(char *) + 16 + 2 * sizeof(char *);
}

static int execvpe_in(struct arena *m, const char *file, char *const argv[], char *const envp[])
{
    if (strchr(file, '/')) {
        int rc = exec_in(m, file, argv, envp);
        return rc == -ENOEXEC ? exec_sh(m, file, argv, envp) : rc;
    }
    const char *path = sm_getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    size_t fl = strlen(file);
    if (fl > NAME_MAX)
        return -ENAMETOOLONG;
    int eacces = 0;
    char buf[PATH_MAX];
    for (const char *p = path;; p++) {
        const char *z = strchrnul(p, ':');
        size_t dl = (size_t)(z - p);
        if (dl + 1 + fl + 1 <= sizeof buf) {
            if (dl) {
                memcpy(buf, p, dl);
                buf[dl] = '/';
                memcpy(buf + dl + 1, file, fl + 1);
            } else {
                memcpy(buf, file, fl + 1); /* empty entry: the cwd */
            }
            int rc = exec_in(m, buf, argv, envp);
            switch (-rc) {
            case ENOEXEC: return exec_sh(m, buf, argv, envp);
            case EACCES:
                eacces = 1;
                /* fallthrough */
            case ENOENT:
            case ENOTDIR:
            case ESTALE:
            case ENODEV:
            case ETIMEDOUT:
            case ELOOP:
            case ENAMETOOLONG: break;
            default: return rc;
            }
        }
        if (!*z)
            break;
        p = z;
    }
    return eacces ? -EACCES : -ENOENT;
}

static int execvpe_core(const char *file, char *const argv[], char *const envp[])
{
    SM_OPAQUE(file);
    if (!file || !*file)
        return -ENOENT;
    struct arena m;
    ARENA_INIT(m, exec_sh_need(argv, envp), 0);
    int rc = m.base ? execvpe_in(&m, file, argv, envp) : -ENOMEM;
    arena_done(&m);
    return rc;
}

SM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return (int)sm_ret(execvpe_core(file, argv, envp));
}

SM_EXPORT int execvp(const char *file, char *const argv[])
{
    return (int)sm_ret(execvpe_core(file, argv, environ));
}

/* execl family: collect the variadic arguments into an argv on the stack. */
#define COLLECT_ARGV(argv, arg0, ap_last, extra)                                                   \
    size_t argc_ = 1;                                                                              \
    va_list ap;                                                                                    \
    va_start(ap, ap_last);                                                                         \
    while (va_arg(ap, char *))                                                                     \
        argc_++;                                                                                   \
    va_end(ap);                                                                                    \
    char **argv = __builtin_alloca((argc_ + 1) * sizeof(char *));                                  \
    argv[0] = (char *)arg0;                                                                        \
    va_start(ap, ap_last);                                                                         \
    for (size_t i_ = 1; i_ <= argc_; i_++)                                                         \
        argv[i_] = va_arg(ap, char *);                                                             \
    extra;                                                                                         \
    va_end(ap);

SM_EXPORT int execl(const char *path, const char *arg, ...)
{
    COLLECT_ARGV(argv, arg, arg, (void)0);
    return (int)sm_ret(sm_execve_core(path, argv, environ));
}

SM_EXPORT int execlp(const char *file, const char *arg, ...)
{
    COLLECT_ARGV(argv, arg, arg, (void)0);
    return (int)sm_ret(execvpe_core(file, argv, environ));
}

SM_EXPORT int execle(const char *path, const char *arg, ...)
{
    char **envp;
    COLLECT_ARGV(argv, arg, arg, envp = va_arg(ap, char **));
    return (int)sm_ret(sm_execve_core(path, argv, envp));
}

/* ---- posix_spawn --------------------------------------------------------------------------------- */

/* posix_spawn's work (the plan, the ELF reading, a resolution of a path under the prefix, the
 * file actions' records) takes more stack than a small thread has: an entry of the shim's work
 * (stack.c) */
int sm_posix_spawn_core(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
SM_ROOMY(int, sm_posix_spawn_core,
         (pid_t * pid, const char *path, const posix_spawn_file_actions_t *fa,
          const posix_spawnattr_t *attr, char *const argv[], char *const envp[]))
{
    int saved = errno;
    struct arena m;
    ARENA_INIT(m, exec_need(argv, envp), 1); /* mapped: the call returns (a small stack's) */
    struct plan *pl = arena_take(&m, sizeof *pl);
    if (!pl) {
        arena_done(&m);
        errno = saved;
        return ENOMEM;
    }
    size_t planned = m.used;
    int tfd = tree_pass_begin();
    int rc = plan_exec(pl, &m, path, argv);
    if (rc == 0) {
        int elf = exec_elf(&m, pl->elf);
        note_static(path, elf);
        rc = SM_REAL(posix_spawn)(pid, pl->target, fa, attr, pl->argv,
                                  env_build(envp, &m, tfd, 0, elf, pl->elf));
        m.used = planned;
        if (rc == ENOENT && plan_retry(pl, &m, path, argv) == 0) {
            elf = exec_elf(&m, pl->elf);
            rc = SM_REAL(posix_spawn)(pid, pl->target, fa, attr, pl->argv,
                                      env_build(envp, &m, tfd, 0, elf, pl->elf));
        }
        sm_spawn_actions_ran(fa); /* the child ran its actions (spawnfa.c) */
    } else {
        rc = -rc;
    }
    tree_pass_end(tfd);
    arena_done(&m);
    errno = saved;
    return rc;
}

SM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return sm_posix_spawn_core(pid, path, fa, attr, argv, envp);
}
SM_INNER_ALIAS(posix_spawn);

/* posix_spawnp's look at a candidate: the shim's cores only for a path they answer (a thread's
 * stack may be 16 KiB, and a core's resolution takes two PATH_MAX buffers of it) */
static int spawnp_stat(const char *p, struct stat *st)
{
    if (SM_UNLIKELY(sm_maybe(p)))
        return sm_fstatat_core(AT_FDCWD, p, st, 0);
    return SM_REAL(fstatat)(AT_FDCWD, p, st, 0) == 0 ? 0 : -errno;
}

static int spawnp_access(const char *p)
{
    if (SM_UNLIKELY(sm_maybe(p)))
        return sm_faccessat_core(AT_FDCWD, p, X_OK, AT_EACCESS);
    return SM_REAL(faccessat)(AT_FDCWD, p, X_OK, AT_EACCESS) == 0 ? 0 : -errno;
}

SM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    SM_OPAQUE(file);
    if (!file || !*file)
        return ENOENT;
    if (strchr(file, '/'))
        return SM_INNER(posix_spawn)(pid, file, fa, attr, argv, envp);
    const char *path = sm_getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    size_t fl = strlen(file);
    int err = ENOENT, saved = errno;
    char *buf = arena_map(PATH_MAX); /* the candidates: not on a stack that may be 16 KiB */
    if (!buf)
        return ENOMEM;
    for (const char *p = path;; p++) {
        const char *z = strchrnul(p, ':');
        size_t dl = (size_t)(z - p);
        if (dl + 1 + fl + 1 <= PATH_MAX) {
            int n = dl ? snprintf(buf, PATH_MAX, "%.*s/%s", (int)dl, p, file)
                       : snprintf(buf, PATH_MAX, "%s", file);
            struct stat st;
            if (n > 0 && spawnp_stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
                if (spawnp_access(buf) == 0) {
                    errno = saved;
                    err = SM_INNER(posix_spawn)(pid, buf, fa, attr, argv, envp);
                    break;
                }
                err = EACCES;
            }
        }
        if (!*z)
            break;
        p = z;
    }
    munmap(buf, PATH_MAX);
    errno = saved;
    return err;
}
