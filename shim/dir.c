/* dir.c: directory listings. A virtual directory is a real directory in the tree, so opendir
 * returns glibc's own DIR on a real fd and readdir, getdents, fts and fdopendir need no help.
 * Only the functions that take a path and open it inside glibc are wrapped here. */
#include "shim.h"

#include <ftw.h>
#include <glob.h>
#include <stdlib.h>

SM_EXPORT DIR *opendir(const char *path)
{
    if (SM_LIKELY(!sm_maybe(path)))
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

typedef int (*sm_dfilter)(const struct dirent *);
typedef int (*sm_dcompar)(const struct dirent **, const struct dirent **);

SM_EXPORT int scandirat(int dirfd, const char *path, struct dirent ***list, sm_dfilter filter,
                        sm_dcompar compar)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(scandirat)(dirfd, path, list, filter, compar);
    struct sm_res r;
    int rc = sm_resolve(dirfd, path, SM_RES_FOLLOW, &r);
    if (rc < 0)
        return (int)sm_ret(rc);
    return SM_REAL(scandirat)(r.fd, r.path, list, filter, compar);
}
SM_EXPORT int scandirat64(int dirfd, const char *path, struct dirent64 ***list,
                          int (*filter)(const struct dirent64 *),
                          int (*compar)(const struct dirent64 **, const struct dirent64 **))
    __attribute__((alias("scandirat")));
SM_INNER_ALIAS(scandirat);

SM_EXPORT int scandir(const char *path, struct dirent ***list, sm_dfilter filter, sm_dcompar compar)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(scandir)(path, list, filter, compar);
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

SM_EXPORT int nftw(const char *path, __nftw_func_t fn, int nfd, int flags)
{
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(nftw)(path, fn, nfd, flags);
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
    if (SM_LIKELY(!sm_maybe(path)))
        return SM_REAL(ftw)(path, fn, nfd);
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

SM_EXPORT int glob(const char *pat, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
    if (SM_LIKELY(!sm_maybe(pat)) || pat[0] != '/')
        return SM_REAL(glob)(pat, flags, errfunc, g);
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
