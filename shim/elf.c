/* elf.c: what the loader of a program about to be exec'd needs from the shim, read from the
 * file's ELF headers and dynamic section. The one reading the exec wrappers (exec.c) and `smshim
 * run` (tools/ns.c, tools/smshim.c) share:
 *   - SM_ELF_STATIC: an ELF64 file with no PT_INTERP; no preload reaches it.
 *   - SM_ELF_PREFIX: its loader has to look under the prefix, which it cannot see without the
 *     audit module (shim/audit.c): a DT_RPATH or DT_RUNPATH entry lies under the prefix, or a
 *     DT_NEEDED path does; or the file could not be read in full, or is run by something this
 *     reading does not follow (binfmt_misc), where the module is added to be safe. A script is
 *     read through its interpreter, as the kernel runs it (an interpreter under the prefix
 *     answers SM_ELF_PREFIX).
 * A program that needs neither (/bin/true, git, python3) starts without the module: a dlopen of
 * a path under the prefix is rewritten by the library's own dlopen (shim/open.c).
 * A few preads on a file the exec reads anyway (opened O_NONBLOCK: a FIFO named as a program
 * must not block the exec, which the kernel refuses); no malloc, no lock (vfork children run it). */
#include "sm_real.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define ELF_PAGE     4096
#define ELF_DYN_MAX  4096 /* entries of a dynamic section read in all (real ones hold < 100) */
#define ELF_NEST_MAX 4    /* interpreters of interpreters, as the kernel nests them */

/* One entry of a list (n bytes): does it name the prefix or a path below it? An absolute one
 * spelt in a way this reading does not follow (an empty component, "." or ".."), and a relative
 * one with a ".." (it may climb into the prefix's real path), are taken as naming it: that only
 * adds the audit module. An empty entry is the cwd (glibc), which the kernel has in the tree when
 * it lies under the prefix; another relative one lies below the cwd likewise, and one that starts
 * with $ORIGIN (or another of the loader's tokens) below the object's own directory. */
static int entry_under(const char *p, size_t n, const char *prefix, size_t plen)
{
    if (n > 0 && p[0] == '$')
        return 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t c = j - i; /* the component [i, j) */
        if ((c == 2 && p[i] == '.' && p[i + 1] == '.') ||
            (p[0] == '/' && ((c == 0 && i > 0 && j < n) || (c == 1 && p[i] == '.'))))
            return 1;
        i = j + 1;
    }
    return n >= plen && p[0] == '/' && memcmp(p, prefix, plen) == 0 &&
           (n == plen || p[plen] == '/');
}

/* The next entry of the list at *p (up to end or its NUL), split as the loader splits that
 * list (any byte of seps ends an entry): its start, with its length in *n, and *p past it; NULL
 * at the end. Empty entries are entries. */
static const char *list_next(const char **p, const char *end, const char *seps, size_t *n)
{
    const char *s = *p, *e = s;
    if (s >= end || !*s)
        return NULL;
    while (e < end && *e && !strchr(seps, *e))
        e++;
    *n = (size_t)(e - s);
    *p = (e < end && *e) ? e + 1 : e;
    return s;
}

int sm_list_under(const char *list, size_t n, const char *prefix, size_t plen, const char *seps)
{
    const char *p = list, *e;
    size_t l;
    while ((e = list_next(&p, list + n, seps, &l)))
        if (entry_under(e, l, prefix, plen))
            return 1;
    return 0;
}

/* A string of the dynamic string table at file offset off, read through a window of the file
 * (win, refilled when the string does not lie in it). NULL when it cannot be read in full. */
struct strwin {
    char b[ELF_PAGE];
    uint64_t base, len;
};

static const char *str_at(int fd, struct strwin *w, uint64_t off)
{
    for (int pass = 0; pass < 2; pass++) {
        if (off >= w->base && off < w->base + w->len) {
            const char *s = w->b + (off - w->base);
            if (memchr(s, '\0', (size_t)(w->base + w->len - off)))
                return s;
        }
        if (pass)
            break;
        ssize_t r = pread(fd, w->b, sizeof w->b, (off_t)off);
        w->base = off;
        w->len = r > 0 ? (uint64_t)r : 0;
    }
    return NULL;
}

/* The file offset of the virtual address va, from the PT_LOAD headers (UINT64_MAX: none). */
static uint64_t va_off(const Elf64_Phdr *ph, int n, uint64_t va)
{
    for (int i = 0; i < n; i++)
        if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr && va < ph[i].p_vaddr + ph[i].p_filesz)
            return va - ph[i].p_vaddr + ph[i].p_offset;
    return UINT64_MAX;
}

/* Each DT_NEEDED, DT_RPATH and DT_RUNPATH string of the dynamic section at [off, off + size),
 * in order, to cb (its first nonzero answer ends the walk and is returned). -1 when the section
 * or a string cannot be read. */
#define DYN_CHUNK 256 /* entries of one read: one read for every dynamic section seen */
struct walkmem {
    Elf64_Dyn d[DYN_CHUNK];
    struct strwin w;
};

static int dyn_walk(int fd, const Elf64_Phdr *ph, int nph, uint64_t off, uint64_t size,
                    sm_elf_cb cb, void *arg, struct walkmem *wm)
{
    Elf64_Dyn *d = wm->d;
    uint64_t count = size / sizeof d[0], strtab = 0, have = UINT64_MAX; /* the chunk in d */
    if (count > ELF_DYN_MAX)
        return -1;
    /* two passes: DT_STRTAB may come after the entries that point into it */
    for (int pass = 0; pass < 2; pass++) {
        struct strwin *w = &wm->w;
        w->base = w->len = 0;
        for (uint64_t i = 0; i < count; i += DYN_CHUNK) {
            uint64_t want = count - i < DYN_CHUNK ? count - i : DYN_CHUNK;
            if (have != i) {
                ssize_t r = pread(fd, d, want * sizeof d[0], (off_t)(off + i * sizeof d[0]));
                if (r != (ssize_t)(want * sizeof d[0]))
                    return -1;
                have = i;
            }
            for (uint64_t j = 0; j < want; j++) {
                int64_t tag = d[j].d_tag;
                if (tag == DT_NULL)
                    goto next;
                if (pass == 0) {
                    if (tag == DT_STRTAB)
                        strtab = va_off(ph, nph, d[j].d_un.d_ptr);
                    continue;
                }
                if (tag != DT_RPATH && tag != DT_RUNPATH && tag != DT_NEEDED)
                    continue;
                const char *s = str_at(fd, w, strtab + d[j].d_un.d_val);
                if (!s)
                    return -1;
                int rc = cb(arg, (int)tag, s);
                if (rc)
                    return rc;
            }
        }
    next:
        if (pass == 0 && strtab == UINT64_MAX)
            return -1;
        if (pass == 0 && !strtab)
            return 0; /* no string table: no names */
    }
    return 0;
}

struct under {
    const char *prefix;
    size_t plen;
};

/* a list under the prefix, or a needed path there */
static int names_prefix(void *arg, int tag, const char *s)
{
    const struct under *u = arg;
    if (tag == DT_NEEDED)
        return strncmp(s, u->prefix, u->plen) == 0 && s[u->plen] == '/';
    return sm_list_under(s, strlen(s), u->prefix, u->plen, SM_SEPS_RUNPATH);
}

int sm_shebang_split(const char *b, size_t n, char interp[256], char arg[256])
{
    char buf[256];
    if (n < 2 || b[0] != '#' || b[1] != '!')
        return 0;
    size_t k = n < sizeof buf ? n : sizeof buf - 1; /* the kernel reads no more of the line */
    memcpy(buf, b, k);
    buf[k] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    char *p = buf + 2;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t il = strcspn(p, " \t");
    if (il == 0 || il >= 256)
        return 0;
    memcpy(interp, p, il);
    interp[il] = '\0';
    p += il;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t al = strlen(p);
    while (al > 0 && (p[al - 1] == ' ' || p[al - 1] == '\t' || p[al - 1] == '\r'))
        al--;
    memcpy(arg, p, al);
    arg[al] = '\0';
    return 1;
}

/* The header page of an open file: its program headers and the index of PT_DYNAMIC (-1: none)
 * when it is an ELF64 file whose program headers lie in the page, else 0. */
struct head {
    union {
        Elf64_Ehdr eh;
        char b[ELF_PAGE];
    } u;
    ssize_t n;
    const Elf64_Phdr *ph;
    int nph, dyn, interp;
};

static int head_read(int fd, struct head *h)
{
    h->n = pread(fd, h->u.b, sizeof h->u.b, 0);
    const Elf64_Ehdr *eh = &h->u.eh;
    if (h->n < (ssize_t)sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
        eh->e_phnum == 0 || eh->e_phoff > (uint64_t)h->n ||
        eh->e_phnum > ((uint64_t)h->n - eh->e_phoff) / sizeof(Elf64_Phdr))
        return 0;
    /* the program headers, in every executable seen, right after the header */
    h->ph = (const Elf64_Phdr *)(h->u.b + eh->e_phoff);
    h->nph = eh->e_phnum;
    h->dyn = -1;
    h->interp = 0;
    for (int i = 0; i < h->nph; i++) {
        h->interp |= h->ph[i].p_type == PT_INTERP;
        if (h->ph[i].p_type == PT_DYNAMIC)
            h->dyn = i;
    }
    return 1;
}

static int head_walk(int fd, const struct head *h, sm_elf_cb cb, void *arg, struct walkmem *wm)
{
    if (h->dyn < 0)
        return 0;
    const Elf64_Phdr *d = &h->ph[h->dyn];
    return dyn_walk(fd, h->ph, h->nph, d->p_offset, d->p_filesz, cb, arg, wm);
}

/* what a probe reads into (sm_elf_probe_in: the caller's; sm_elf_probe: on the stack) */
struct probemem {
    struct head h;
    struct walkmem wm;
    char interp[256], arg[256];
};
_Static_assert(sizeof(struct probemem) <= SM_ELF_MEM, "SM_ELF_MEM (sm_real.h) is too small");

int sm_elf_probe(const char *path, const char *prefix, size_t plen)
{
    struct probemem m;
    return sm_elf_probe_in(path, prefix, plen, &m);
}

int sm_elf_probe_in(const char *path, const char *prefix, size_t plen, void *mem)
{
    static const int unsure = SM_ELF_PREFIX;
    struct under under = {prefix, plen};
    struct probemem *m = mem;
    struct head *hp = &m->h;
    char *interp = m->interp, *arg = m->arg;
    if (!path) /* an exec of NULL: the kernel's EFAULT */
        return 0;
    for (int nest = 0; nest <= ELF_NEST_MAX; nest++) {
        if (prefix && nest > 0 && sm_list_under(path, strlen(path), prefix, plen, ""))
            return SM_ELF_PREFIX; /* an interpreter under the prefix: the kernel cannot run it */
        int fd = sm_brief_openat(AT_FDCWD, path, O_RDONLY | O_NONBLOCK, 0);
        if (fd < 0) /* the exec fails the same way, unless the file is execute-only */
            return (nest || errno == EACCES || errno == EPERM) ? unsure : 0;
        int rc = unsure; /* another class or layout, or no ELF: the module, to be safe */
        if (head_read(fd, hp)) {
            rc = hp->interp ? 0 : SM_ELF_STATIC;
            if (prefix && hp->interp && head_walk(fd, hp, names_prefix, &under, &m->wm))
                rc = SM_ELF_PREFIX;
        } else if (hp->n > 0 && sm_shebang_split(hp->u.b, (size_t)hp->n, interp, arg)) {
            sm_brief_close(fd);
            path = interp;
            continue;
        }
        sm_brief_close(fd);
        return rc;
    }
    return unsure;
}

/* what sm_elf_names reads into */
struct namesmem {
    struct head h;
    struct walkmem wm;
};

static int names_in(const char *path, sm_elf_cb cb, void *arg, struct namesmem *m)
{
    int fd = sm_brief_openat(AT_FDCWD, path, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int rc = head_read(fd, &m->h) ? head_walk(fd, &m->h, cb, arg, &m->wm) : -1;
    sm_brief_close(fd);
    return rc;
}

int sm_elf_names(const char *path, sm_elf_cb cb, void *arg)
{
    struct namesmem m = {.wm.w.len =
                             0}; /* zeroed whole: cppcheck takes d for read before written */
    return names_in(path, cb, arg, &m);
}

int sm_elf_static(const char *path)
{
    return sm_elf_probe(path, NULL, 0) == SM_ELF_STATIC;
}

/* ---- the static TLS a program's own libraries take ----------------------------------------
 * With an audit module the loader sets the threads' static TLS up before it loads the program's
 * libraries, so their TLS blocks must fit in the surplus it keeps for later ones (512 bytes
 * beyond libc's own, glibc.rtld.optional_static_tls): a library with a large block (rustc's
 * librustc_driver, 24 KB, found through its RUNPATH) fails to load ("cannot allocate memory in
 * static TLS block"). The exec that adds the module asks the surplus for what the program's
 * directly needed libraries found in its own directories take (exec.c). */
struct tls_need {
    const char *ldpath;
    sm_elf_dir_cb dir;
    char origin[PATH_MAX], rpath[PATH_MAX], runpath[PATH_MAX];
    int has_runpath;
    unsigned long sum;
    /* the memory of the reading (none of it on the stack: the exec wrappers run on threads
     * whose stack may be 16 KiB) */
    char d[PATH_MAX], real[PATH_MAX], file[PATH_MAX]; /* tls_in's */
    Elf64_Phdr ph[64];                                /* tls_of's */
    struct namesmem names;                            /* the program's dynamic section */
};
_Static_assert(sizeof(struct tls_need) <= SM_ELF_TLS_MEM,
               "SM_ELF_TLS_MEM (sm_real.h) is too small");

static int tls_lists(void *arg, int tag, const char *s)
{
    struct tls_need *t = arg;
    size_t l = strlen(s);
    if (tag != DT_NEEDED && l < PATH_MAX) {
        memcpy(tag == DT_RPATH ? t->rpath : t->runpath, s, l + 1);
        t->has_runpath |= tag == DT_RUNPATH;
    }
    return 0;
}

/* The PT_TLS block of the ELF file at path (rounded to its alignment); -1 when it is no ELF64
 * file (the search goes on, as the loader's does). Its program headers are read where they lie
 * (a library rewritten after its link, as Rust's are, has them far into the file), into ph. */
static long tls_of(const char *path, Elf64_Phdr ph[64])
{
    Elf64_Ehdr eh;
    int fd = sm_brief_openat(AT_FDCWD, path, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    long sz = -1;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
        memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
        eh.e_phentsize == sizeof ph[0] && eh.e_phnum <= 64) {
        ssize_t want = (ssize_t)(eh.e_phnum * sizeof ph[0]);
        if (pread(fd, ph, (size_t)want, (off_t)eh.e_phoff) == want) {
            sz = 0;
            for (int i = 0; i < eh.e_phnum; i++)
                if (ph[i].p_type == PT_TLS) {
                    uint64_t a = ph[i].p_align ? ph[i].p_align : 1;
                    sz = (long)((ph[i].p_memsz + a - 1) / a * a);
                }
        }
    }
    sm_brief_close(fd);
    return sz;
}

/* name, searched in the list, split as the loader splits it (seps: SM_SEPS_*): 1 (its block
 * added) when an entry holds it */
static int tls_in(struct tls_need *t, const char *list, const char *name, const char *seps)
{
    char *d = t->d, *real = t->real, *file = t->file;
    const char *p = list, *e;
    size_t n;
    if (!list)
        return 0;
    while ((e = list_next(&p, list + strlen(list), seps, &n))) {
        int ok = 0;
        if (n && n < PATH_MAX) {
            if (strncmp(e, "$ORIGIN", 7) == 0 && (n == 7 || e[7] == '/'))
                ok = snprintf(d, PATH_MAX, "%s%.*s", t->origin, (int)(n - 7), e + 7) < PATH_MAX;
            else if (strncmp(e, "${ORIGIN}", 9) == 0 && (n == 9 || e[9] == '/'))
                ok = snprintf(d, PATH_MAX, "%s%.*s", t->origin, (int)(n - 9), e + 9) < PATH_MAX;
            else if (!memchr(e, '$', n))
                ok = snprintf(d, PATH_MAX, "%.*s", (int)n, e) < PATH_MAX;
        }
        if (ok && t->dir(d, real, PATH_MAX) == 0 &&
            snprintf(file, PATH_MAX, "%s/%s", real, name) < PATH_MAX) {
            long sz = tls_of(file, t->ph);
            if (sz >= 0) {
                t->sum += (unsigned long)sz;
                return 1;
            }
        }
    }
    return 0;
}

static int tls_needed(void *arg, int tag, const char *s)
{
    struct tls_need *t = arg;
    if (tag != DT_NEEDED || strchr(s, '/'))
        return 0;
    if (!t->has_runpath && tls_in(t, t->rpath, s, SM_SEPS_RUNPATH))
        return 0;
    if (!tls_in(t, t->ldpath, s, SM_SEPS_LIBPATH))
        tls_in(t, t->runpath, s, SM_SEPS_RUNPATH);
    return 0;
}

unsigned long sm_elf_tls_need(const char *path, const char *ldpath, sm_elf_dir_cb dir, void *mem)
{
    struct tls_need *t = mem;
    t->ldpath = ldpath;
    t->dir = dir;
    t->has_runpath = 0;
    t->sum = 0;
    t->rpath[0] = t->runpath[0] = '\0';
    t->names.wm.w.len = 0;
    const char *slash = strrchr(path, '/');
    size_t ol = slash ? (size_t)(slash - path) : 1;
    if (ol >= sizeof t->origin)
        return 0;
    memcpy(t->origin, slash ? path : ".", ol); /* a relative program: the cwd is the exec's */
    t->origin[ol] = '\0';
    if (names_in(path, tls_lists, t, &t->names) != 0 ||
        names_in(path, tls_needed, t, &t->names) != 0)
        return 0;
    return t->sum;
}
