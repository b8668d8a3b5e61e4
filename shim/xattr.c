/* xattr.c: extended attributes. Under the prefix they are the real attributes of the entry in
 * the cache's tree, whatever form names it (an absolute virtual path, a path relative to a cwd
 * in the tree, the l* forms, a raw call): the same inode, so the f* forms on a descriptor (which
 * the kernel answers without the shim) agree with them. The cache's filesystem decides what is
 * supported (ENOTSUP where it keeps none). Attributes are local only: they are not recorded as
 * changes and never synced (the remote holds text only). Paths that leave the prefix go to libc
 * as resolved. */
#include "shim.h"

SM_ROOMY(long, sm_xattr_core,
         (int op, int follow, const char *path, const char *name, void *value, size_t size,
          int flags))
{
    struct sm_res r;
    /* the calls take no dirfd: a virtual path comes back as the entry's absolute tree path */
    int rc = sm_resolve(AT_FDCWD, path, SM_RES_ABS, &r);
    if (rc < 0)
        return rc;
    const char *p = r.path;
    long v;
    switch (op) {
    case 'g':
        v = follow ? SM_REAL(getxattr)(p, name, value, size)
                   : SM_REAL(lgetxattr)(p, name, value, size);
        break;
    case 'l':
        v = follow ? SM_REAL(listxattr)(p, value, size) : SM_REAL(llistxattr)(p, value, size);
        break;
    case 's':
        v = follow ? SM_REAL(setxattr)(p, name, value, size, flags)
                   : SM_REAL(lsetxattr)(p, name, value, size, flags);
        break;
    default: v = follow ? SM_REAL(removexattr)(p, name) : SM_REAL(lremovexattr)(p, name); break;
    }
    return v < 0 ? -errno : v;
}

#define XATTR(name, args, op, follow, value, size, flags)                                          \
    if (SM_LIKELY(!sm_maybe(path)))                                                                \
        return SM_REAL(name) args;                                                                 \
    SM_CALL(sm_xattr_core(op, follow, path, xname, value, size, flags))

SM_EXPORT ssize_t getxattr(const char *path, const char *xname, void *v, size_t n)
{
    XATTR(getxattr, (path, xname, v, n), 'g', 1, v, n, 0);
}
SM_EXPORT ssize_t lgetxattr(const char *path, const char *xname, void *v, size_t n)
{
    XATTR(lgetxattr, (path, xname, v, n), 'g', 0, v, n, 0);
}
SM_EXPORT ssize_t listxattr(const char *path, char *list, size_t n)
{
    const char *xname = NULL;
    XATTR(listxattr, (path, list, n), 'l', 1, list, n, 0);
}
SM_EXPORT ssize_t llistxattr(const char *path, char *list, size_t n)
{
    const char *xname = NULL;
    XATTR(llistxattr, (path, list, n), 'l', 0, list, n, 0);
}
SM_EXPORT int setxattr(const char *path, const char *xname, const void *v, size_t n, int flags)
{
    XATTR(setxattr, (path, xname, v, n, flags), 's', 1, (void *)v, n, flags);
}
SM_EXPORT int lsetxattr(const char *path, const char *xname, const void *v, size_t n, int flags)
{
    XATTR(lsetxattr, (path, xname, v, n, flags), 's', 0, (void *)v, n, flags);
}
SM_EXPORT int removexattr(const char *path, const char *xname)
{
    XATTR(removexattr, (path, xname), 'r', 1, NULL, 0, 0);
}
SM_EXPORT int lremovexattr(const char *path, const char *xname)
{
    XATTR(lremovexattr, (path, xname), 'r', 0, NULL, 0, 0);
}
