/* dir.c: directory listings. A virtual directory is a real directory in the tree, so opendir
 * returns glibc's own DIR on a real fd and readdir, getdents, fts and fdopendir need no help
 * there. The functions that take a path and open it inside glibc are wrapped here; so are
 * readdir and scandir, for one listing only: the process's own descriptors (/proc/self/fd and
 * fdinfo), where the shim's are left out (procfd.c). */
#include "shim.h"

#include <ftw.h>
#include <glob.h>
#include <stdlib.h>

SM_EXPORT DIR *opendir(const char *path)
{
    if (SM_LIKELY(!sm_maybe_cwd(path)))
        return SM_REAL(opendir)(path);
    int saved = errno;
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_FOLLOW, &r);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    if (r.kind == SM_PASS)
        return SM_REAL(opendir)(r.path);
    int fd = SM_REAL(openat)(r.fd, r.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        SM_REAL(close)(fd);
        errno = e;
        return NULL;
    }
    errno = saved;
    return d;
}

/* ---- readdir: the process's own descriptors ------------------------------------------------ */

/* An entry that may be one of the shim's descriptors (sm_procfd_entry) is looked at closer: when
 * the directory is the process's fd or fdinfo directory, it and the next such entries are
 * skipped. errno is the caller's until the real readdir that ends the listing, which sets it
 * (or not) as the kernel answered. */
#define SM_READDIR(fn, ent)                                                                        \
    SM_EXPORT struct ent *fn(DIR *d)                                                               \
    {                                                                                              \
        struct ent *e = SM_REAL(fn)(d);                                                            \
        if (SM_LIKELY(!e) || SM_LIKELY(!sm_procfd_entry(e->d_type, e->d_name)) ||                  \
            SM_UNLIKELY(sm_in_lib) || !sm_procfd_dir(dirfd(d)))                                    \
            return e;                                                                              \
        while (e && sm_procfd_entry(e->d_type, e->d_name))                                         \
            e = SM_REAL(fn)(d);                                                                    \
        return e;                                                                                  \
    }
SM_READDIR(readdir, dirent)
SM_READDIR(readdir64, dirent64)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#define SM_READDIR_R(fn, ent)                                                                      \
    SM_EXPORT int fn(DIR *d, struct ent *buf, struct ent **res)                                    \
    {                                                                                              \
        int rc = SM_REAL(fn)(d, buf, res);                                                         \
        if (SM_LIKELY(rc != 0 || !*res) ||                                                         \
            SM_LIKELY(!sm_procfd_entry((*res)->d_type, (*res)->d_name)) ||                         \
            SM_UNLIKELY(sm_in_lib) || !sm_procfd_dir(dirfd(d)))                                    \
            return rc;                                                                             \
        while (rc == 0 && *res && sm_procfd_entry((*res)->d_type, (*res)->d_name))                 \
            rc = SM_REAL(fn)(d, buf, res);                                                         \
        return rc;                                                                                 \
    }
SM_READDIR_R(readdir_r, dirent)
SM_READDIR_R(readdir64_r, dirent64)
#pragma GCC diagnostic pop

/* ---- scandir ----------------------------------------------------------------------------------- */

typedef int (*sm_dfilter)(const struct dirent *);
typedef int (*sm_dcompar)(const struct dirent **, const struct dirent **);

/* glibc's scandir reads the directory inside itself: every entry passes a filter of the shim's
 * first, which leaves out the shim's descriptors when the directory is the process's fd or
 * fdinfo directory (asked once, at the first entry that may be one), then the caller's. */
struct scan_ctx {
    int dirfd;
    const char *path;
    sm_dfilter filter;
    int verdict; /* -1: not asked yet */
    struct scan_ctx *prev;
};
static __thread struct scan_ctx *scan_top; /* this thread's innermost scandir (a filter may nest) */

static int scan_filter(const struct dirent *e)
{
    struct scan_ctx *c = scan_top;
    if (SM_UNLIKELY(sm_procfd_entry(e->d_type, e->d_name))) {
        if (c->verdict < 0)
            c->verdict = sm_procfd_dir_at(c->dirfd, c->path);
        if (c->verdict)
            return 0;
    }
    return c->filter ? c->filter(e) : 1;
}

SM_EXPORT int scandirat(int dirfd, const char *path, struct dirent ***list, sm_dfilter filter,
                        sm_dcompar compar)
{
    struct sm_res r = {.fd = dirfd, .path = path};
    if (SM_UNLIKELY(sm_maybe_at(dirfd, path))) {
        int rc = sm_resolve(dirfd, path, SM_RES_FOLLOW, &r);
        if (rc < 0)
            return (int)sm_ret(rc);
    } else if (SM_UNLIKELY(sm_in_lib) || !sm_cfg.enabled || !path) {
        return SM_REAL(scandirat)(dirfd, path, list, filter, compar);
    }
    struct scan_ctx c = {
        .dirfd = r.fd, .path = r.path, .filter = filter, .verdict = -1, .prev = scan_top};
    scan_top = &c;
    int rc = SM_REAL(scandirat)(r.fd, r.path, list, scan_filter, compar);
    scan_top = c.prev;
    return rc;
}
SM_EXPORT int scandirat64(int dirfd, const char *path, struct dirent64 ***list,
                          int (*filter)(const struct dirent64 *),
                          int (*compar)(const struct dirent64 **, const struct dirent64 **))
    __attribute__((alias("scandirat")));
SM_INNER_ALIAS(scandirat);

SM_EXPORT int scandir(const char *path, struct dirent ***list, sm_dfilter filter, sm_dcompar compar)
{
    return SM_INNER(scandirat)(AT_FDCWD, path, list, filter, compar);
}
SM_EXPORT int scandir64(const char *path, struct dirent64 ***list,
                        int (*filter)(const struct dirent64 *),
                        int (*compar)(const struct dirent64 **, const struct dirent64 **))
    __attribute__((alias("scandir")));

/* ---- nftw / ftw: glibc walks the tree itself; the callback must see virtual paths ----------- */

struct walk_ctx {
    __nftw_func_t nfn;
    __ftw_func_t fn;
    size_t skip; /* bytes of the tree root to replace by the prefix */
    struct walk_ctx *prev;
};
static __thread struct walk_ctx *walk_top; /* this thread's innermost walk (nftw may nest) */

/* fpath (a tree path) -> virtual path in out; returns the change in length. */
static long walk_untranslate(const char *fpath, char *out)
{
    snprintf(out, PATH_MAX, "%s", fpath);
    size_t before = strlen(out);
    if (sm_untranslate(out, PATH_MAX) <= 0)
        return 0;
    return (long)strlen(out) - (long)before;
}

static int nftw_tramp(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
    char v[PATH_MAX];
    struct FTW f = *ftw;
    f.base = (int)(f.base + walk_untranslate(fpath, v));
    struct walk_ctx *c = walk_top;
    return c->nfn(v, sb, type, &f);
}

static int ftw_tramp(const char *fpath, const struct stat *sb, int type)
{
    char v[PATH_MAX];
    walk_untranslate(fpath, v);
    return walk_top->fn(v, sb, type);
}

/* A walk or a pattern from "/", /proc or /dev may reach the process's fd and fdinfo directories
 * (by name, or through /dev/fd): its callback never sees one of the shim's descriptors there,
 * nor what lies below one (procfd.c). Any other walk goes to glibc as it is. */
static int reaches_fds(const char *p)
{
    if (!p || p[0] != '/')
        return 0;
    while (*p == '/')
        p++;
    return !*p || (strncmp(p, "proc", 4) == 0 && (p[4] == '/' || !p[4])) ||
           (strncmp(p, "dev", 3) == 0 && (p[3] == '/' || !p[3]));
}

static int nftw_hide(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
    if (SM_UNLIKELY(sm_procfd_names_own(fpath)))
        return 0; /* FTW_CONTINUE: for the program the entry is not there */
    return walk_top->nfn(fpath, sb, type, ftw);
}

static int ftw_hide(const char *fpath, const struct stat *sb, int type)
{
    if (SM_UNLIKELY(sm_procfd_names_own(fpath)))
        return 0;
    return walk_top->fn(fpath, sb, type);
}

SM_EXPORT int nftw(const char *path, __nftw_func_t fn, int nfd, int flags)
{
    if (SM_LIKELY(!sm_maybe(path))) {
        if (SM_LIKELY(!reaches_fds(path)) || !sm_cfg.enabled)
            return SM_REAL(nftw)(path, fn, nfd, flags);
        struct walk_ctx c = {.nfn = fn, .prev = walk_top};
        walk_top = &c;
        int rc = SM_REAL(nftw)(path, nftw_hide, nfd, flags);
        walk_top = c.prev;
        return rc;
    }
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &r);
    if (rc < 0)
        return (int)sm_ret(rc);
    if (r.kind == SM_PASS)
        return SM_REAL(nftw)(r.path, fn, nfd, flags);
    struct walk_ctx c = {.nfn = fn, .prev = walk_top};
    walk_top = &c;
    rc = SM_REAL(nftw)(r.path, nftw_tramp, nfd, flags);
    walk_top = c.prev;
    return rc;
}
SM_EXPORT int nftw64(const char *path, __nftw64_func_t fn, int nfd, int flags)
    __attribute__((alias("nftw")));

SM_EXPORT int ftw(const char *path, __ftw_func_t fn, int nfd)
{
    if (SM_LIKELY(!sm_maybe(path))) {
        if (SM_LIKELY(!reaches_fds(path)) || !sm_cfg.enabled)
            return SM_REAL(ftw)(path, fn, nfd);
        struct walk_ctx c = {.fn = fn, .prev = walk_top};
        walk_top = &c;
        int rc = SM_REAL(ftw)(path, ftw_hide, nfd);
        walk_top = c.prev;
        return rc;
    }
    struct sm_res r;
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS | SM_RES_FOLLOW, &r);
    if (rc < 0)
        return (int)sm_ret(rc);
    if (r.kind == SM_PASS)
        return SM_REAL(ftw)(r.path, fn, nfd);
    struct walk_ctx c = {.fn = fn, .prev = walk_top};
    walk_top = &c;
    rc = SM_REAL(ftw)(r.path, ftw_tramp, nfd);
    walk_top = c.prev;
    return rc;
}
SM_EXPORT int ftw64(const char *path, __ftw64_func_t fn, int nfd) __attribute__((alias("ftw")));

/* ---- glob: an absolute pattern under the prefix is matched in the tree ---------------------- */

/* The names this call of glob added (from first on) that are the shim's descriptors (or below
 * one) in the process's fd or fdinfo directories are taken out; a match left with none fails
 * as glob fails on no match. */
static int glob_hide(int rc, const char *pat, int flags, glob_t *g, size_t first)
{
    if (rc != 0)
        return rc;
    size_t offs = (flags & GLOB_DOOFFS) ? g->gl_offs : 0, k = first;
    for (size_t i = first; i < g->gl_pathc; i++) {
        char *p = g->gl_pathv[offs + i];
        if (p && SM_UNLIKELY(sm_procfd_names_own(p)))
            free(p);
        else
            g->gl_pathv[offs + k++] = p;
    }
    g->gl_pathc = k;
    g->gl_pathv[offs + k] = NULL;
    if (k > first)
        return 0;
    if (flags & GLOB_NOCHECK) { /* no match: the pattern itself */
        char *np = strdup(pat);
        if (!np)
            return GLOB_NOSPACE;
        g->gl_pathv[offs + k] = np;
        g->gl_pathv[offs + ++g->gl_pathc] = NULL;
        return 0;
    }
    return GLOB_NOMATCH;
}

SM_EXPORT int glob(const char *pat, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
    if (SM_LIKELY(!sm_maybe(pat)) || pat[0] != '/') {
        if (SM_LIKELY(!reaches_fds(pat)) || !sm_cfg.enabled || (flags & GLOB_ALTDIRFUNC))
            return SM_REAL(glob)(pat, flags, errfunc, g);
        size_t first = (flags & GLOB_APPEND) ? g->gl_pathc : 0;
        return glob_hide(SM_REAL(glob)(pat, flags, errfunc, g), pat, flags, g, first);
    }
    /* the pattern's components are resolved like a path ('..' included): magic characters are
     * ordinary characters to the resolver and go through unchanged */
    struct sm_res r;
    if (sm_resolve(AT_FDCWD, pat, SM_RES_ABS, &r) < 0 || r.kind == SM_PASS)
        return SM_REAL(glob)(r.path ? r.path : pat, flags, errfunc, g);
    char tp[PATH_MAX];
    snprintf(tp, sizeof tp, "%s", r.path);
    size_t first = (flags & GLOB_APPEND) ? g->gl_pathc : 0;
    int rc = SM_REAL(glob)(tp, flags, errfunc, g);
    size_t offs = (flags & GLOB_DOOFFS) ? g->gl_offs : 0;
    for (size_t i = first; i < g->gl_pathc; i++) {
        char *p = g->gl_pathv[offs + i];
        char v[PATH_MAX];
        if (!p || snprintf(v, sizeof v, "%s", p) >= (int)sizeof v ||
            sm_untranslate(v, sizeof v) <= 0)
            continue;
        if (strcmp(p, tp) == 0 && (flags & GLOB_NOCHECK)) {
            snprintf(v, sizeof v, "%s", pat); /* NOCHECK returns the pattern itself */
        }
        char *np = strdup(v);
        if (np) {
            free(p);
            g->gl_pathv[offs + i] = np;
        }
    }
    return rc;
}
SM_EXPORT int glob64(const char *pat, int flags, int (*errfunc)(const char *, int), glob64_t *g)
    __attribute__((alias("glob")));
