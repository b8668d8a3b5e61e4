/* sock.c: unix domain socket addresses under the prefix (bind, connect, sendto, sendmsg,
 * sendmmsg in; getsockname, getpeername, accept, accept4, recvfrom, recvmsg, recvmmsg out).
 *
 * The kernel keeps a bound socket's address as the string bind() was given and shows it back
 * (getsockname, and the peer's getpeername, accept, recvfrom). So a virtual path given to bind
 * becomes a string that names the socket's file in the tree and that every process can map back
 * to the virtual path:
 *   - the tree path itself when it fits in sun_path (108 bytes): any process maps it back with
 *     sm_untranslate, and a program without the shim sees a working real path;
 *   - otherwise "<alias>/<name>": <alias> is a short symbolic link to the socket's directory in
 *     the tree, "/tmp/.smshim-<euid>/<6 letters of a hash of that directory>", in a directory
 *     only the user can enter; readlink of the alias maps it back. Links are made once per
 *     directory, shared by every process, and harmless when stale.
 * connect and sendto only look the socket up, so a tree path that does not fit is reached as
 * "/proc/self/fd/<fd of its directory>/<name>" (no trace is left). A virtual path that fits in
 * sun_path fails only when its last component alone does not fit after the alias
 * (ENAMETOOLONG).
 *
 * Names going out are rewritten only when they are AF_UNIX paths in one of those two forms; a
 * relative path (bound from a cwd inside the tree) is shown as bound, as on a real directory.
 * Nothing here allocates or takes a lock. */
#include "shim.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SUN_OFF ((socklen_t)offsetof(struct sockaddr_un, sun_path))
#define SUN_MAX ((socklen_t)sizeof(((struct sockaddr_un *)0)->sun_path))

/* ---- the alias directory ----------------------------------------------------------------- */

static int alias_root(char *out, size_t size)
{
    int n = snprintf(out, size, "/tmp/.smshim-%u", (unsigned)geteuid());
    return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : n;
}

/* Create the alias directory (0700) if needed and check it is the user's own: a directory, not a
 * link, owned by the effective user, closed to group and others. */
static int alias_root_ready(const char *root)
{
    struct stat st;
    if (SM_REAL(mkdirat)(AT_FDCWD, root, 0700) != 0 && errno != EEXIST)
        return -errno;
    if (SM_REAL(fstatat)(AT_FDCWD, root, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        sm_log(SM_LOG_WARN, "socket alias directory %s is not the user's own: refused", root);
        return -EACCES;
    }
    return 0;
}

/* 6 letters naming (a hash of) dir, variant k for collisions */
static void alias_name(const char *dir, unsigned k, char out[7])
{
    uint64_t h = 1469598103934665603ULL ^ k;
    for (const unsigned char *s = (const unsigned char *)dir; *s; s++)
        h = (h ^ *s) * 1099511628211ULL;
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz234567";
    for (int i = 0; i < 6; i++, h >>= 5)
        out[i] = digits[h & 31];
    out[6] = '\0';
}

/* The alias of the tree directory `dir` into out ("/tmp/.smshim-0/abcdef"), made if needed. */
static int alias_for(const char *dir, char *out, size_t size)
{
    char root[64], link[PATH_MAX], name[7];
    int rl = alias_root(root, sizeof root);
    if (rl < 0)
        return rl;
    int rc = alias_root_ready(root);
    if (rc < 0)
        return rc;
    for (unsigned k = 0; k < 16; k++) {
        alias_name(dir, k, name);
        int n = snprintf(out, size, "%s/%s", root, name);
        if (n < 0 || (size_t)n >= size)
            return -ENAMETOOLONG;
        if (SM_REAL(symlinkat)(dir, AT_FDCWD, out) == 0)
            return 0;
        if (errno != EEXIST)
            return -errno;
        ssize_t ln = SM_REAL(readlinkat)(AT_FDCWD, out, link, sizeof link - 1);
        if (ln >= 0) {
            link[ln] = '\0';
            if (strcmp(link, dir) == 0)
                return 0;
        }
    }
    return -EADDRINUSE;
}

/* ---- virtual path in ------------------------------------------------------------------------ */

/* The NUL-terminated path of a pathname AF_UNIX address into out (SUN_MAX + 1 bytes); 0 if the
 * address is not one (NULL, another family, unnamed, abstract, a bad length: the kernel's). */
static int sun_path_of(const struct sockaddr *a, socklen_t len, char *out)
{
    if (a == NULL || len <= SUN_OFF || len > (socklen_t)sizeof(struct sockaddr_un) ||
        a->sa_family != AF_UNIX)
        return 0;
    const struct sockaddr_un *u = (const struct sockaddr_un *)a;
    size_t n = strnlen(u->sun_path, len - SUN_OFF);
    if (n == 0)
        return 0; /* abstract (leading NUL) or empty */
    memcpy(out, u->sun_path, n);
    out[n] = '\0';
    return 1;
}

int sm_sock_concerns(const struct sockaddr *a, socklen_t len)
{
    char p[SUN_MAX + 1];
    return sun_path_of(a, len, p) && sm_maybe(p);
}

enum { SOCK_LOOKUP = 0, SOCK_BIND = 1 };

/* The address to hand the kernel for address a (a virtual path or not). Returns 1 with *out
 * filled (and *olen), 0 when a is to be passed as given, or -errno. *dirfd is set to a
 * descriptor the caller closes after the call (or -1). */
static int sock_in(const struct sockaddr *a, socklen_t len, int mode, struct sockaddr_un *out,
                   socklen_t *olen, int *dirfd)
{
    char p[SUN_MAX + 1];
    struct sm_res r;
    *dirfd = -1;
    if (!sun_path_of(a, len, p))
        return 0;
    int rc = sm_resolve(AT_FDCWD, p, SM_RES_ABS, &r);
    if (rc < 0)
        return rc;
    if (r.kind != SM_TREE && r.path == p)
        return 0; /* not virtual and not rewritten: the caller's own bytes */
    const char *t = r.path;
    size_t tl = strlen(t);
    memset(out, 0, sizeof *out);
    out->sun_family = AF_UNIX;
    if (tl < SUN_MAX || r.kind != SM_TREE) {
        if (tl >= SUN_MAX)
            return -ENAMETOOLONG;
        memcpy(out->sun_path, t, tl + 1);
        *olen = SUN_OFF + (socklen_t)tl + 1;
        return 1;
    }
    /* the tree path does not fit: its directory by a short name */
    const char *slash = strrchr(t, '/');
    char dir[PATH_MAX];
    size_t dl = (size_t)(slash - t);
    memcpy(dir, t, dl);
    dir[dl] = '\0';
    const char *name = slash + 1;
    char shortdir[PATH_MAX];
    if (mode == SOCK_BIND) {
        rc = alias_for(dir, shortdir, sizeof shortdir);
        if (rc < 0)
            return rc;
    } else {
        int fd = sm_lib_openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
            return -errno;
        *dirfd = fd;
        snprintf(shortdir, sizeof shortdir, "/proc/self/fd/%d", fd);
    }
    int n = snprintf(out->sun_path, SUN_MAX, "%s/%s", shortdir, name);
    if (n < 0 || n >= (int)SUN_MAX) {
        sm_log(SM_LOG_INFO, "socket name %s does not fit in sun_path after %s", name, shortdir);
        return -ENAMETOOLONG;
    }
    *olen = SUN_OFF + (socklen_t)n + 1;
    return 1;
}

static void dir_done(int fd)
{
    if (fd >= 0)
        sm_lib_close(fd);
}

/* ---- name out ----------------------------------------------------------------------------------- */

/* The virtual path of the kernel's name s (NUL-terminated) into out, or 0 when it is not one of
 * the shim's forms. */
static int sock_unname(const char *s, char *out, size_t size)
{
    char root[64];
    int rl = alias_root(root, sizeof root);
    if (rl > 0 && strncmp(s, root, (size_t)rl) == 0 && s[rl] == '/') {
        const char *slash = strchr(s + rl + 1, '/');
        if (slash == NULL)
            return 0;
        char link[PATH_MAX], al[SUN_MAX + 1];
        memcpy(al, s, (size_t)(slash - s));
        al[slash - s] = '\0';
        ssize_t ln = SM_REAL(readlinkat)(AT_FDCWD, al, link, sizeof link - 1);
        if (ln < 0)
            return 0;
        link[ln] = '\0';
        if (sm_untranslate(link, sizeof link) != 1)
            return 0;
        int n = snprintf(out, size, "%s%s", link, slash);
        return n > 0 && (size_t)n < size;
    }
    if (strlen(s) >= size)
        return 0;
    strcpy(out, s);
    return sm_untranslate(out, size) == 1;
}

int sm_sock_name_out(struct sockaddr *a, socklen_t *len, socklen_t cap)
{
    /* the kernel copied min(cap, *len) bytes: only a whole AF_UNIX path can be rewritten */
    if (a == NULL || len == NULL || cap <= SUN_OFF || *len <= SUN_OFF || *len > cap ||
        a->sa_family != AF_UNIX)
        return 0;
    struct sockaddr_un *u = (struct sockaddr_un *)a;
    char s[SUN_MAX + 1], v[PATH_MAX];
    size_t n = strnlen(u->sun_path, *len - SUN_OFF);
    if (n == 0 || n > SUN_MAX)
        return 0;
    memcpy(s, u->sun_path, n);
    s[n] = '\0';
    if (s[0] != '/' || !sock_unname(s, v, sizeof v))
        return 0;
    /* as the kernel does: copy what fits, report the whole length */
    size_t vl = strlen(v);
    size_t room = cap - SUN_OFF;
    size_t copy = vl + 1 <= room ? vl + 1 : room;
    memcpy(u->sun_path, v, copy);
    *len = SUN_OFF + (socklen_t)vl + 1;
    return 1;
}

/* ---- cores ------------------------------------------------------------------------------------ */

/* bind or connect (call) with the address translated for mode (SOCK_BIND or SOCK_LOOKUP). */
static int addr_call(int (*call)(int, const struct sockaddr *, socklen_t), int mode, int fd,
                     const struct sockaddr *a, socklen_t len)
{
    struct sockaddr_un u;
    socklen_t ul;
    int dfd;
    int rc = sock_in(a, len, mode, &u, &ul, &dfd);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return call(fd, a, len) == 0 ? 0 : -errno;
    rc = call(fd, (struct sockaddr *)&u, ul) == 0 ? 0 : -errno;
    dir_done(dfd);
    return rc;
}

SM_ROOMY(int, sm_bind_core, (int fd, const struct sockaddr *a, socklen_t len))
{
    return addr_call(SM_REAL(bind), SOCK_BIND, fd, a, len);
}

SM_ROOMY(int, sm_connect_core, (int fd, const struct sockaddr *a, socklen_t len))
{
    return addr_call(SM_REAL(connect), SOCK_LOOKUP, fd, a, len);
}

SM_ROOMY(ssize_t, sm_sendto_core,
         (int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t len))
{
    struct sockaddr_un u;
    socklen_t ul;
    int dfd;
    int rc = sock_in(a, len, SOCK_LOOKUP, &u, &ul, &dfd);
    if (rc < 0)
        return rc;
    ssize_t r = rc == 0 ? SM_REAL(sendto)(fd, buf, n, flags, a, len)
                        : SM_REAL(sendto)(fd, buf, n, flags, (struct sockaddr *)&u, ul);
    r = r < 0 ? -errno : r;
    dir_done(dfd);
    return r;
}

SM_ROOMY(ssize_t, sm_sendmsg_core, (int fd, const struct msghdr *m, int flags))
{
    struct sockaddr_un u;
    socklen_t ul;
    int dfd = -1;
    int rc = m ? sock_in(m->msg_name, m->msg_namelen, SOCK_LOOKUP, &u, &ul, &dfd) : 0;
    if (rc < 0)
        return rc;
    ssize_t r;
    if (rc == 0) {
        r = SM_REAL(sendmsg)(fd, m, flags);
    } else {
        struct msghdr c = *m;
        c.msg_name = &u;
        c.msg_namelen = ul;
        r = SM_REAL(sendmsg)(fd, &c, flags);
    }
    r = r < 0 ? -errno : r;
    dir_done(dfd);
    return r;
}

/* sendmmsg with virtual destinations: sent in batches of up to 16 messages with their names
 * rewritten (a short count, as the kernel may return, when a batch stops early). */
SM_ROOMY(int, sm_sendmmsg_core, (int fd, struct mmsghdr *v, unsigned vlen, int flags))
{
    enum { BATCH = 16 };
    unsigned done = 0;
    while (done < vlen) {
        struct mmsghdr c[BATCH];
        struct sockaddr_un u[BATCH];
        int dfd[BATCH];
        unsigned k = vlen - done < BATCH ? vlen - done : BATCH, i;
        int rc = 0;
        for (i = 0; i < k; i++) {
            socklen_t ul;
            c[i] = v[done + i];
            rc = sock_in(c[i].msg_hdr.msg_name, c[i].msg_hdr.msg_namelen, SOCK_LOOKUP, &u[i], &ul,
                         &dfd[i]);
            if (rc < 0)
                break;
            if (rc == 1) {
                c[i].msg_hdr.msg_name = &u[i];
                c[i].msg_hdr.msg_namelen = ul;
            }
        }
        int sent = i > 0 ? SM_REAL(sendmmsg)(fd, c, i, flags) : 0;
        int e = errno;
        for (unsigned j = 0; j < i; j++)
            dir_done(dfd[j]);
        if (sent < 0)
            return done ? (int)done : -e;
        for (int j = 0; j < sent; j++)
            v[done + (unsigned)j].msg_len = c[j].msg_len;
        done += (unsigned)sent;
        if (rc < 0)
            return done ? (int)done : rc;
        if ((unsigned)sent < k)
            break;
    }
    return (int)done;
}

SM_ROOMY(int, sm_sockname_core, (int peer, int fd, struct sockaddr *a, socklen_t *len))
{
    socklen_t cap = len ? *len : 0;
    int rc = peer ? SM_REAL(getpeername)(fd, a, len) : SM_REAL(getsockname)(fd, a, len);
    if (rc != 0)
        return -errno;
    if (cap < *len && cap > SUN_OFF && a->sa_family == AF_UNIX) {
        /* truncated by the kernel: ask again in full to see the whole name */
        struct sockaddr_un full;
        socklen_t fl = sizeof full;
        int r2 = peer ? SM_REAL(getpeername)(fd, (struct sockaddr *)&full, &fl)
                      : SM_REAL(getsockname)(fd, (struct sockaddr *)&full, &fl);
        if (r2 == 0 && fl <= sizeof full &&
            sm_sock_name_out((struct sockaddr *)&full, &fl, sizeof full)) {
            memcpy(a, &full, cap < fl ? cap : fl);
            *len = fl;
        }
        return 0;
    }
    sm_sock_name_out(a, len, cap);
    return 0;
}

SM_ROOMY(int, sm_accept_core, (int fd, struct sockaddr *a, socklen_t *len, int flags, int four))
{
    socklen_t cap = (a && len) ? *len : 0;
    int r = four ? SM_REAL(accept4)(fd, a, len, flags) : SM_REAL(accept)(fd, a, len);
    if (r < 0)
        return -errno;
    if (a && len && *len > cap && cap > SUN_OFF && a->sa_family == AF_UNIX) {
        socklen_t l2 = cap;
        (void)sm_sockname_core(1, r, a, &l2);
        *len = l2;
    } else if (a && len) {
        sm_sock_name_out(a, len, cap);
    }
    return r;
}

SM_ROOMY(ssize_t, sm_recvfrom_core,
         (int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *len))
{
    socklen_t cap = (a && len) ? *len : 0;
    ssize_t r = SM_REAL(recvfrom)(fd, buf, n, flags, a, len);
    if (r < 0)
        return -errno;
    if (a && len)
        sm_sock_name_out(a, len, cap);
    return r;
}

SM_ROOMY(ssize_t, sm_recvmsg_core, (int fd, struct msghdr *m, int flags))
{
    socklen_t cap = m ? m->msg_namelen : 0;
    ssize_t r = SM_REAL(recvmsg)(fd, m, flags);
    if (r < 0)
        return -errno;
    if (m->msg_name)
        sm_sock_name_out(m->msg_name, &m->msg_namelen, cap);
    return r;
}

SM_ROOMY(int, sm_recvmmsg_core,
         (int fd, struct mmsghdr *v, unsigned vlen, int flags, struct timespec *tmo))
{
    enum { CAPS = 64 };
    socklen_t cap[CAPS];
    if (vlen > CAPS)
        vlen = CAPS; /* a short count, as the kernel may return */
    for (unsigned i = 0; i < vlen; i++)
        cap[i] = v[i].msg_hdr.msg_namelen;
    int r = SM_REAL(recvmmsg)(fd, v, vlen, flags, tmo);
    if (r < 0)
        return -errno;
    for (int i = 0; i < r; i++)
        if (v[i].msg_hdr.msg_name)
            sm_sock_name_out(v[i].msg_hdr.msg_name, &v[i].msg_hdr.msg_namelen, cap[i]);
    return r;
}

/* ---- wrappers ----------------------------------------------------------------------------------
 * Addresses going in are looked at only when they are AF_UNIX paths the pre-filter cannot rule
 * out; names coming out only when they are AF_UNIX (one compare on every other call). */

#define SOCK_OFF (SM_UNLIKELY(!sm_cfg.enabled) || SM_UNLIKELY(sm_in_lib))

static inline int is_unix(const void *a)
{
    return a != NULL && ((const struct sockaddr *)a)->sa_family == AF_UNIX;
}

SM_EXPORT int bind(int fd, const struct sockaddr *a, socklen_t len)
{
    if (SOCK_OFF || SM_LIKELY(!is_unix(a)) || !sm_sock_concerns(a, len))
        return SM_REAL(bind)(fd, a, len);
    SM_CALL(sm_bind_core(fd, a, len));
}

SM_EXPORT int connect(int fd, const struct sockaddr *a, socklen_t len)
{
    if (SOCK_OFF || SM_LIKELY(!is_unix(a)) || !sm_sock_concerns(a, len))
        return SM_REAL(connect)(fd, a, len);
    SM_CALL(sm_connect_core(fd, a, len));
}

SM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
                         socklen_t len)
{
    if (SOCK_OFF || SM_LIKELY(!is_unix(a)) || !sm_sock_concerns(a, len))
        return SM_REAL(sendto)(fd, buf, n, flags, a, len);
    SM_CALL(sm_sendto_core(fd, buf, n, flags, a, len));
}

SM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
    if (SOCK_OFF || m == NULL || SM_LIKELY(!is_unix(m->msg_name)) ||
        !sm_sock_concerns(m->msg_name, m->msg_namelen))
        return SM_REAL(sendmsg)(fd, m, flags);
    SM_CALL(sm_sendmsg_core(fd, m, flags));
}

SM_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned vlen, int flags)
{
    int any = 0;
    if (!SOCK_OFF && v != NULL)
        for (unsigned i = 0; i < vlen && !any; i++)
            any = is_unix(v[i].msg_hdr.msg_name) &&
                  sm_sock_concerns(v[i].msg_hdr.msg_name, v[i].msg_hdr.msg_namelen);
    if (SM_LIKELY(!any))
        return SM_REAL(sendmmsg)(fd, v, vlen, flags);
    SM_CALL(sm_sendmmsg_core(fd, v, vlen, flags));
}

SM_EXPORT int getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
    if (SOCK_OFF)
        return SM_REAL(getsockname)(fd, a, len);
    SM_CALL(sm_sockname_core(0, fd, a, len));
}

SM_EXPORT int getpeername(int fd, struct sockaddr *a, socklen_t *len)
{
    if (SOCK_OFF)
        return SM_REAL(getpeername)(fd, a, len);
    SM_CALL(sm_sockname_core(1, fd, a, len));
}

SM_EXPORT int accept(int fd, struct sockaddr *a, socklen_t *len)
{
    if (SOCK_OFF || a == NULL)
        return SM_REAL(accept)(fd, a, len);
    SM_CALL(sm_accept_core(fd, a, len, 0, 0));
}

SM_EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *len, int flags)
{
    if (SOCK_OFF || a == NULL)
        return SM_REAL(accept4)(fd, a, len, flags);
    SM_CALL(sm_accept_core(fd, a, len, flags, 1));
}

SM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a,
                           socklen_t *len)
{
    if (SOCK_OFF || a == NULL)
        return SM_REAL(recvfrom)(fd, buf, n, flags, a, len);
    SM_CALL(sm_recvfrom_core(fd, buf, n, flags, a, len));
}

SM_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
    if (SOCK_OFF || m == NULL || m->msg_name == NULL)
        return SM_REAL(recvmsg)(fd, m, flags);
    SM_CALL(sm_recvmsg_core(fd, m, flags));
}

SM_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned vlen, int flags, struct timespec *tmo)
{
    if (SOCK_OFF || v == NULL)
        return SM_REAL(recvmmsg)(fd, v, vlen, flags, tmo);
    SM_CALL(sm_recvmmsg_core(fd, v, vlen, flags, tmo));
}
