/* audit.c: libsmshim-audit.so, an rtld-audit module (LD_AUDIT) that lets the dynamic loader
 * find shared libraries under the prefix. The loader opens libraries itself, never through the
 * libc wrappers, and never asks an audit module about an RPATH, RUNPATH or LD_LIBRARY_PATH
 * directory that does not exist on disk (none under the prefix does). So at the first question
 * for every name (la_objsearch with LA_SER_ORIG) this module searches as the loader would:
 *   - a name with a '/' under the prefix (LD_PRELOAD=/sm/x.so, dlopen("/sm/x.so"), a DT_NEEDED
 *     path) becomes its absolute path in the cache's tree;
 *   - a bare name is looked for in the requester's DT_RPATH (when it has no DT_RUNPATH) and the
 *     main program's, then LD_LIBRARY_PATH, then the requester's DT_RUNPATH; the first directory
 *     holding an ELF object of this machine's class answers: under the prefix with its tree
 *     path, elsewhere with the name unchanged (the loader then finds it there itself).
 * Names no list sends under the prefix are answered at once, unchanged.
 *
 * It runs in its own link namespace, before libc is initialised there, in every process the
 * shim starts: so it links nothing (no libc, -nostdlib), makes its few system calls itself and
 * keeps its state in static memory. The settings come from the process's initial environment
 * (/proc/self/environ, what the loader itself read): SMSHIM_PREFIX (default /sm), SMSHIM_CACHE
 * (else $XDG_CACHE_HOME/smshim or $HOME/.cache/smshim) and LD_LIBRARY_PATH, read at the first
 * question. The loader holds its lock around every call, so the static buffers are never used by
 * two threads at once.
 * Limits: $ORIGIN/$LIB/$PLATFORM entries are skipped (the kernel resolves an $ORIGIN of a
 * program started from the prefix to the tree already), and of the chain of loaders only the
 * requester's and the main program's RPATH are searched. */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#define AU_EXPORT __attribute__((visibility("default")))
#define AU_PATH   4096

static long au_sys(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static unsigned long au_len(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

static int au_ncmp(const char *a, const char *b, unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        if (a[i] != b[i] || !a[i])
            return 1;
    return 0;
}

/* append n bytes of s at *w within out[AU_PATH]; 0 when it does not fit */
static int au_put(char *out, unsigned long *w, const char *s, unsigned long n)
{
    if (*w + n + 1 > AU_PATH)
        return 0;
    for (unsigned long i = 0; i < n; i++)
        out[*w + i] = s[i];
    *w += n;
    out[*w] = '\0';
    return 1;
}

/* ---- settings ----------------------------------------------------------------------------------- */

/* The module's state: a few words, then the process's initial environment as read, then the
 * tree's path. At start that is one page or two (an ordinary environment). */
#define AU_ENV 65536
static struct {
    int state;                       /* 0 unread, 1 on, -1 off */
    const char *prefix, *llp, *tree; /* llp: LD_LIBRARY_PATH or NULL */
    unsigned long plen, envlen;
    char env[AU_ENV + AU_PATH];
} au;

static const char *au_getenv(const char *name)
{
    unsigned long n = au_len(name);
    for (unsigned long i = 0; i < au.envlen; i += au_len(au.env + i) + 1)
        if (au_ncmp(au.env + i, name, n) == 0 && au.env[i + n] == '=')
            return au.env + i + n + 1;
    return 0;
}

/* The initial environment, what the loader itself read: /proc/self/environ (the audit namespace
 * has no libc and no loader symbols, so nothing else points at it). A short read is its end:
 * the file answers all it holds up to the count. */
static void au_init(void)
{
    au.state = -1;
    au.prefix = "/sm";
    au.plen = 3;
    long fd = au_sys(SYS_open, (long)"/proc/self/environ", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return;
    unsigned long n = 0;
    while (n < AU_ENV - 1) {
        long want = (long)(AU_ENV - 1 - n);
        long r = au_sys(SYS_read, fd, (long)(au.env + n), want);
        if (r <= 0)
            break;
        n += (unsigned long)r;
        if (r < want)
            break;
    }
    au_sys(SYS_close, fd, 0, 0);
    au.env[n] = '\0';
    au.envlen = n;
    const char *p = au_getenv("SMSHIM_PREFIX");
    if (p && p[0] == '/' && p[1]) {
        au.prefix = p;
        au.plen = au_len(p);
        while (au.plen > 1 && p[au.plen - 1] == '/')
            au.plen--;
    }
    /* the tree's path, after the environment (AU_PATH bytes of room past AU_ENV) */
    char *tree = au.env + n + 1;
    unsigned long w = 0;
    const char *c = au_getenv("SMSHIM_CACHE"), *x;
    if (c && c[0] == '/') {
        if (!au_put(tree, &w, c, au_len(c)))
            return;
    } else if ((x = au_getenv("XDG_CACHE_HOME")) && x[0] == '/') {
        if (!au_put(tree, &w, x, au_len(x)) || !au_put(tree, &w, "/smshim", 7))
            return;
    } else if ((x = au_getenv("HOME")) && x[0] == '/') {
        if (!au_put(tree, &w, x, au_len(x)) || !au_put(tree, &w, "/.cache/smshim", 14))
            return;
    } else {
        return;
    }
    if (!au_put(tree, &w, "/tree", 5))
        return;
    au.tree = tree;
    au.llp = au_getenv("LD_LIBRARY_PATH");
    au.state = 1;
}

/* ---- paths ---------------------------------------------------------------------------------------- */

/* the length of the prefix part if the n bytes at p are the prefix or a path below it, else 0 */
static unsigned long au_under(const char *p, unsigned long n)
{
    if (n < au.plen || au_ncmp(p, au.prefix, au.plen) != 0)
        return 0;
    return (n == au.plen || p[au.plen] == '/') ? au.plen : 0;
}

/* Is path an ELF object this loader could load (of this machine and class)? */
static int au_elf_ok(const char *path)
{
    long fd = au_sys(SYS_open, (long)path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    ElfW(Ehdr) h;
    long r = au_sys(SYS_read, fd, (long)&h, sizeof h);
    au_sys(SYS_close, fd, 0, 0);
    return r == (long)sizeof h && h.e_ident[EI_MAG0] == ELFMAG0 && h.e_ident[EI_MAG1] == ELFMAG1 &&
           h.e_ident[EI_MAG2] == ELFMAG2 && h.e_ident[EI_MAG3] == ELFMAG3 &&
#if defined(__x86_64__)
           h.e_ident[EI_CLASS] == ELFCLASS64 && h.e_machine == EM_X86_64 &&
#endif
           (h.e_type == ET_DYN || h.e_type == ET_EXEC);
}

static char au_out[AU_PATH];

/* dir (n bytes) + "/" + name, under the prefix rewritten into the tree, into au_out */
static int au_join(const char *dir, unsigned long n, const char *name)
{
    unsigned long w = 0, off = au_under(dir, n);
    if (off) {
        if (!au_put(au_out, &w, au.tree, au_len(au.tree)))
            return 0;
        dir += off;
        n -= off;
    }
    return au_put(au_out, &w, dir, n) && au_put(au_out, &w, "/", 1) &&
           au_put(au_out, &w, name, au_len(name));
}

/* Does c end an entry of a list split at the bytes of seps (":" for DT_RPATH and DT_RUNPATH,
 * ":;" for LD_LIBRARY_PATH, as the loader splits each)? */
static int au_sep(char c, const char *seps)
{
    for (; *seps; seps++)
        if (c == *seps)
            return 1;
    return 0;
}

/* Does any entry of the list lie under the prefix? */
static int au_list_here(const char *list, const char *seps)
{
    while (list && *list) {
        const char *e = list;
        while (*e && !au_sep(*e, seps))
            e++;
        if (au_under(list, (unsigned long)(e - list)))
            return 1;
        list = *e ? e + 1 : e;
    }
    return 0;
}

/* Search one list. Returns 1 with the answer (au_out or name) in *ans, 0 when no entry holds it. */
static int au_list_find(const char *list, const char *seps, const char *name, const char **ans)
{
    while (list && *list) {
        const char *e = list;
        int dollar = 0;
        while (*e && !au_sep(*e, seps))
            dollar |= *e++ == '$';
        unsigned long n = (unsigned long)(e - list);
        if (n && !dollar && au_join(list, n, name) && au_elf_ok(au_out)) {
            *ans = au_under(list, n) ? au_out : name;
            return 1;
        }
        list = *e ? e + 1 : e;
    }
    return 0;
}

/* ---- the requester's dynamic section ------------------------------------------------------------ */

struct au_dyn {
    const char *rpath, *runpath;
};

static void au_dyn_of(const struct link_map *m, struct au_dyn *d)
{
    d->rpath = d->runpath = 0;
    if (!m || !m->l_ld)
        return;
    uintptr_t strtab = 0;
    long rp = -1, rup = -1;
    for (const ElfW(Dyn) *e = m->l_ld; e->d_tag != DT_NULL; e++) {
        if (e->d_tag == DT_STRTAB)
            strtab = (uintptr_t)e->d_un.d_ptr;
        else if (e->d_tag == DT_RPATH)
            rp = (long)e->d_un.d_val;
        else if (e->d_tag == DT_RUNPATH)
            rup = (long)e->d_un.d_val;
    }
    if (!strtab)
        return;
    /* the loader relocates the dynamic section's addresses in place once the object is mapped;
     * an address below the load base has not been */
    if (m->l_addr && strtab < (uintptr_t)m->l_addr)
        strtab += (uintptr_t)m->l_addr;
    if (rp >= 0)
        d->rpath = (const char *)(strtab + (uintptr_t)rp);
    if (rup >= 0)
        d->runpath = (const char *)(strtab + (uintptr_t)rup);
}

/* ---- the audit interface ---------------------------------------------------------------------------- */

AU_EXPORT unsigned int la_version(unsigned int version)
{
    (void)version;
    return LAV_CURRENT;
}

AU_EXPORT char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag)
{
    if (flag != LA_SER_ORIG || !name || !name[0])
        return (char *)name;
    if (au.state == 0)
        au_init();
    if (au.state < 0)
        return (char *)name;
    const char *s = name;
    while (*s && *s != '/')
        s++;
    if (*s) {
        unsigned long n = au_len(name), off = au_under(name, n), w = 0;
        if (!off)
            return (char *)name;
        if (!au_put(au_out, &w, au.tree, au_len(au.tree)) ||
            !au_put(au_out, &w, name + off, n - off))
            return (char *)name;
        return au_out;
    }
    const struct link_map *req = cookie ? (const struct link_map *)*cookie : 0, *main = req;
    while (main && main->l_prev)
        main = main->l_prev;
    struct au_dyn rd, md;
    au_dyn_of(req, &rd);
    if (main != req)
        au_dyn_of(main, &md);
    else
        md.rpath = md.runpath = 0;
    const char *r1 = rd.runpath ? 0 : rd.rpath;
    const char *r2 = (rd.runpath || md.runpath) ? 0 : md.rpath;
    if (!au_list_here(r1, ":") && !au_list_here(r2, ":") && !au_list_here(au.llp, ":;") &&
        !au_list_here(rd.runpath, ":"))
        return (char *)name; /* the common case: nothing sends this search under the prefix */
    const char *ans;
    if (au_list_find(r1, ":", name, &ans) || au_list_find(r2, ":", name, &ans) ||
        au_list_find(au.llp, ":;", name, &ans) || au_list_find(rd.runpath, ":", name, &ans))
        return (char *)ans;
    return (char *)name;
}
