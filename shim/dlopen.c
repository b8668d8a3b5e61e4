/* dlopen.c: dlopen of a shared object stored under the prefix (a venv's C extension, a plugin).
 * The loader opens files itself, past every wrapper: a virtual path is rewritten into the tree
 * here, and any other call is a tail call, so the loader still sees the program's own return
 * address (it picks the caller's namespace and RUNPATH from it).
 *
 * A process started without the loader's audit module (exec.c adds it only to a program whose
 * loader must look under the prefix at start) still loads such an object's dependencies: those
 * its DT_RPATH (when it has no DT_RUNPATH) or DT_RUNPATH find under the prefix are loaded first,
 * by their tree paths, depth first, and matched by the loader by their sonames when it maps the
 * object; a name already loaded, or found first in a list entry outside the prefix, is left to
 * the loader. The extra references are dropped once the object is loaded (or has failed to).
 * With the module the same searches are its own (shim/audit.c), and this preload finds them done. */
#include "shim.h"

#include <elf.h>
#include <link.h>
#include <stdlib.h>

#define DL_DEPTH 8     /* dependencies of dependencies, under the prefix */
#define DL_NAMES 16384 /* bytes of DT_NEEDED names kept for one object */

struct dl_obj {
    char rpath[PATH_MAX], runpath[PATH_MAX]; /* "" when absent */
    int has_runpath, prefix_needed;          /* a DT_NEEDED path under the prefix */
    size_t nlen;                             /* used bytes of names */
    char names[DL_NAMES];                    /* the DT_NEEDED names, each with its NUL */
};

static int dl_collect(void *arg, int tag, const char *s)
{
    struct dl_obj *o = arg;
    size_t l = strlen(s);
    if (tag == DT_NEEDED) {
        o->prefix_needed |= s[0] == '/' && sm_maybe(s);
        if (o->nlen + l + 1 <= sizeof o->names) {
            memcpy(o->names + o->nlen, s, l + 1);
            o->nlen += l + 1;
        }
    } else if (l < PATH_MAX) {
        memcpy(tag == DT_RPATH ? o->rpath : o->runpath, s, l + 1);
        o->has_runpath |= tag == DT_RUNPATH;
    }
    return 0;
}

static void *dl_virtual(const char *path, int flags, int depth);

/* The dependency name of an object, searched in list as the loader would: the first entry that
 * holds it answers. Under the prefix it is loaded now (its handle into *h); 1 when an entry
 * answered, 0 when none did. */
static int dl_dep_in(const char *list, const char *name, int flags, int depth, void **h)
{
    char vpath[PATH_MAX];
    for (const char *p = list; *p;) {
        size_t t = strcspn(p, ":");
        if (t && !memchr(p, '$', t) &&
            snprintf(vpath, sizeof vpath, "%.*s/%s", (int)t, p, name) < (int)sizeof vpath) {
            if (sm_list_under(p, t, sm_cfg.prefix, sm_cfg.plen, SM_SEPS_RUNPATH)) {
                struct sm_res r;
                struct stat st;
                if (sm_resolve(AT_FDCWD, vpath, SM_RES_ABS | SM_RES_FOLLOW, &r) == 0 &&
                    SM_REAL(stat)(r.path, &st) == 0 && S_ISREG(st.st_mode)) {
                    *h = dl_virtual(vpath, flags, depth + 1);
                    return 1;
                }
            } else if (SM_REAL(access)(vpath, F_OK) == 0) {
                return 1; /* the loader finds it there itself */
            }
        }
        p += t;
        while (*p == ':')
            p++;
    }
    return 0;
}

/* Load the dependencies of the object at tpath (a tree path) that only a search under the
 * prefix finds; their handles into held (up to max), the count returned. */
static int dl_deps(const char *tpath, int flags, int depth, void **held, int max)
{
    if (depth >= DL_DEPTH)
        return 0;
    struct dl_obj *o = calloc(1, sizeof *o);
    if (!o)
        return 0;
    int n = 0;
    /* DT_RPATH counts only when there is no DT_RUNPATH (the loader's rule) */
    const char *list =
        sm_elf_names(tpath, dl_collect, o) == 0 ? (o->has_runpath ? o->runpath : o->rpath) : NULL;
    if (list && (o->prefix_needed ||
                 sm_list_under(list, strlen(list), sm_cfg.prefix, sm_cfg.plen, SM_SEPS_RUNPATH))) {
        for (size_t i = 0; i < o->nlen && n < max; i += strlen(o->names + i) + 1) {
            const char *name = o->names + i;
            void *h = NULL;
            if (strchr(name, '/')) {
                if (sm_maybe(name))
                    h = dl_virtual(name, flags, depth + 1);
            } else if ((h = SM_REAL(dlopen)(name, RTLD_LAZY | RTLD_NOLOAD))) {
                dlclose(h); /* already loaded: the loader matches it */
                h = NULL;
            } else {
                dl_dep_in(list, name, flags, depth, &h);
            }
            if (h)
                held[n++] = h;
        }
    }
    free(o);
    return n;
}

/* A relative path the kernel resolves from the cwd to the same file as the prefix does (tpath)
 * goes to the loader as given: it names the object by that string, as on a real directory. */
static int dl_as_given(const char *path, const char *tpath)
{
    struct stat a, b;
    return path[0] != '/' && SM_REAL(stat)(path, &a) == 0 && SM_REAL(stat)(tpath, &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void *dl_virtual(const char *path, int flags, int depth)
{
    struct sm_res r;
    if (sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &r) < 0)
        return NULL;
    void *held[64];
    int n = (flags & RTLD_NOLOAD) ? 0 : dl_deps(r.path, flags, depth, held, 64);
    void *h = SM_REAL(dlopen)(dl_as_given(path, r.path) ? path : r.path, flags);
    while (n > 0)
        dlclose(held[--n]); /* the object holds what it needs */
    return h;
}

/* ---- the names the loader keeps -----------------------------------------------------------
 * The loader names an object by the path it opened it at (its link_map's l_name), which for one
 * under the prefix is its tree path: what dladdr, dladdr1, dl_iterate_phdr, dlinfo's link map,
 * backtrace_symbols and the loader's own messages show. Such a name is replaced by the object's
 * virtual path, as a real directory at the prefix would have the loader name it: at start (the
 * objects the audit module or an $ORIGIN under the prefix found) and after each dlopen of a path
 * under the prefix. Only the name changes: the loader matches a later dlopen of the tree path by
 * the object's file (device and inode) and its other names, and its $ORIGIN was taken at its
 * load. The replacement is made inside dl_iterate_phdr, which holds the lock under which the
 * loader adds and removes objects; the old string is left (an object loaded at start has its
 * name in the loader's own memory), the new one malloc'd as the loader's are (dlclose frees it). */

/* The link map of the object whose name is the string n, in any namespace; NULL. */
static struct link_map *dl_map_named(const char *n)
{
    for (struct r_debug_extended *d = (struct r_debug_extended *)&_r_debug; d;
         d = d->base.r_version >= 2 ? d->r_next : NULL)
        for (struct link_map *m = d->base.r_map; m; m = m->l_next)
            if (m->l_name == n)
                return m;
    return NULL;
}

static int dl_rename_one(struct dl_phdr_info *i, size_t size, void *arg)
{
    (void)size;
    const struct sm_where *w = arg;
    const char *n = i->dlpi_name;
    char v[PATH_MAX];
    if (!n || strncmp(n, w->tree, w->tlen) != 0 || n[w->tlen] != '/' || strlen(n) >= sizeof v)
        return 0;
    strcpy(v, n);
    struct link_map *m;
    char *d;
    if (sm_untranslate(v, sizeof v) == 1 && (m = dl_map_named(n)) && (d = strdup(v)))
        __atomic_store_n(&m->l_name, d, __ATOMIC_RELEASE);
    return 0;
}

static void dl_rename(void)
{
    const struct sm_where *w = sm_w();
    if (w->ok && w->tlen)
        dl_iterate_phdr(dl_rename_one, (void *)w);
}

/* Could a name at start be one in the tree? (no system call: the tree's canonical path is
 * decided only when a name may be in it; no libc call: every process runs this) */
SM_START static int dl_maybe_tree(const char *n)
{
    static const char mark[] = "/tree/";
    for (; n && *n; n++) {
        size_t k = 0;
        while (k < sizeof mark - 1 && n[k] == mark[k])
            k++;
        if (k == sizeof mark - 1)
            return 1;
    }
    return 0;
}

/* At start the loader's list of objects is read without its lock (dl_iterate_phdr's): no other
 * thread can load or unload one before the constructors have run. */
SM_START void sm_dl_names_init(void)
{
    for (struct link_map *m = _r_debug.r_map; m; m = m->l_next)
        if (dl_maybe_tree(m->l_name)) {
            dl_rename();
            return;
        }
}

static __attribute__((noinline)) void *dlopen_virtual(const char *path, int flags)
{
    void *h = dl_virtual(path, flags, 0);
    if (h) {
        int saved = errno;
        dl_rename();
        errno = saved;
    }
    return h;
}

SM_EXPORT void *dlopen(const char *path, int flags)
{
    if (SM_UNLIKELY(path && strchr(path, '/') && sm_maybe(path)))
        return dlopen_virtual(path, flags);
    return SM_REAL(dlopen)(path, flags);
}

/* RTLD_DI_ORIGIN: the directory the loader took an object's $ORIGIN from, at its load (its tree
 * path for an object under the prefix), shown as the virtual path. */
SM_EXPORT int dlinfo(void *h, int request, void *arg)
{
    int rc = SM_REAL(dlinfo)(h, request, arg);
    if (rc == 0 && request == RTLD_DI_ORIGIN && arg && sm_cfg.enabled && !sm_in_lib) {
        int saved = errno;
        sm_untranslate(arg, PATH_MAX); /* the caller's buffer: PATH_MAX, as glibc asks */
        errno = saved;
    }
    return rc;
}
