/* path.c: classify a call's (dirfd, path) as pass-through or virtual, and translate between
 * virtual paths (/sm/a/b) and the materialised tree (<cache>/tree/a/b).
 *
 * The kernel does the work wherever it can: a path relative to the cwd or to a directory fd that
 * already lies in the tree is resolved natively (the tree holds real directories, files and
 * symlinks whose absolute targets are stored translated). The shim translates only absolute
 * virtual paths, '..' that could climb out of the tree, and relative paths whose base is an
 * ancestor of the prefix. Everything here is free of malloc and locks (except the one-time tree
 * open), so it may run in a vfork child.
 */
#include "shim.h"
#include "smshim.h"
#include "../cache/cache.h"

#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int has_dots(const char *p);
static int leading_dotdots(const char *p);
static int plain_room(const char *real);

/* The pre-filter's second half (sm_look_in, shim.h, answered the common pass-through): p is
 * readable, dots says whether it holds "/." (perhaps only a name that starts with a dot), cwd_rel
 * whether a relative p is relative to the cwd. */
int sm_handler_call(const char *p)
{
    return sm_host_lib && p && p[0] == '/' && sm_under_prefix(p) >= 0;
}

SM_ROOMY(int, sm_look_more, (const char *p, int dots, int cwd_rel))
{
    if (p[0] != '/') {
        /* with a plain cwd, only ".." components may climb to the prefix. A path whose ".." all
         * come first climbs from the cwd as it is now (it may have been moved since the shim
         * looked at it: getcwd), and passes when it climbs less than the cwd is deeper than the
         * directories it shares with the prefix; a ".." after a name may climb from where a
         * link leads, which only the full resolution follows. */
        if (cwd_rel && p[0] && (__atomic_load_n(&sm_cwd_word, __ATOMIC_ACQUIRE) & SM_CWD_PLAIN) &&
            !SM_GUARD_ON()) {
            int up = leading_dotdots(p);
            if (up == 0)
                return 0;
            char now[256]; /* a longer cwd takes the full resolution: this runs on the small
                              stacks of signal handlers too (SUD) */
            if (up > 0 && SM_REAL(getcwd)(now, sizeof now) && up < plain_room(now))
                return 0;
        }
        return sm_w()->ok; /* relative: depends on the cwd or the dirfd */
    }
    if (p[1] == '/' || (p[1] == sm_cfg.prefix[1] && sm_under_prefix(p) >= 0))
        return sm_w()->ok;
    if (SM_UNLIKELY(SM_GUARD_ON()) && strncmp(p, sm_w()->cache, sm_w()->clen) == 0)
        return 1; /* may open the cache's lock file: see record.c */
    if (sm_procfd_maybe(p) && (sm_procfd_names_own(p) || sm_procmaps_names(p)))
        return 1; /* one of the shim's descriptors named under /proc: ENOENT; a process's maps:
                     the tree's paths shown as the prefix (procfd.c) */
    return dots && has_dots(p) ? sm_w()->ok : 0; /* a "." or ".." can land anywhere */
}

/* The tree fd: opened by the first call that needs it and never closed (moved only, by a dup2
 * onto its number). No lock: a signal handler may need it while its own thread is opening it,
 * and must then get it as on a real directory (it fails with EAGAIN under a lock). Every caller
 * that finds none opens one and offers it; the first offer wins, the others close theirs. */
int sm_treefd_value = -1;

/* ---- links that may leave the tree -------------------------------------------------------------
 * The kernel follows the tree's symlinks itself. A relative target that climbs above the tree's
 * root would land in the cache directory (meta/, tmp/), not in the prefix's real parent. Such a
 * link can exist only once a link whose target holds a ".." component (or names the cache) was
 * made: one shared byte, <cache>/meta/links (mapped by every process of the cache), says so.
 * While it is 0 every path goes to the kernel as before; once set (or when the byte cannot be
 * mapped, e.g. after a privilege drop) each path that names the tree is checked beneath the tree
 * (openat2 RESOLVE_BENEATH, one call) and, when that finds an escape or is unavailable, resolved
 * here one component at a time as the kernel would on a real directory mounted at the prefix. */
static volatile unsigned char *links_map; /* NULL: not mapped yet or cannot be: assume links */
static int openat2_ok = 1;                /* 0 once openat2 answered ENOSYS or EPERM */

static void links_open(void)
{
    char p[PATH_MAX];
    if (links_map || smc_layout_path(sm_w()->cache, SMC_META, "/links", p, sizeof p) != 0)
        return;
    int fd = sm_lib_openat(AT_FDCWD, p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return;
    struct stat st;
    void *m = MAP_FAILED;
    int h = sm_fsize_begin(); /* sized under a file size limit below a page: EFBIG, unmapped */
    if (SM_REAL(fstat)(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (smc_fd_exact(fd, &st, 0600), st.st_size >= 4096 || ftruncate(fd, 4096) == 0))
        m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    sm_fsize_end(h);
    sm_lib_close(fd);
    volatile unsigned char *none = NULL; /* a handler or another thread may have mapped it */
    if (m != MAP_FAILED && !__atomic_compare_exchange_n(&links_map, &none, m, 0, __ATOMIC_ACQ_REL,
                                                        __ATOMIC_ACQUIRE))
        munmap(m, 4096);
}

static int links_maybe(void)
{
    volatile unsigned char *m = links_map;
    return SM_UNLIKELY(!m) || SM_UNLIKELY(m[0] != 0);
}

void sm_links_note(const char *target)
{
    int climbs = 0;
    for (const char *s = target; *s; s++)
        if (s[0] == '.' && s[1] == '.' && (s == target || s[-1] == '/') &&
            (s[2] == '/' || s[2] == '\0'))
            climbs = 1;
    const struct sm_where *w = sm_w();
    if (target[0] == '/' && strncmp(target, w->cache, w->clen) == 0 &&
        (target[w->clen] == '/' || target[w->clen] == '\0') &&
        !(strncmp(target, w->tree, w->tlen) == 0 &&
          (target[w->tlen] == '/' || target[w->tlen] == '\0')))
        climbs = 1;
    if (!climbs)
        return;
    links_open();
    if (links_map && !links_map[0])
        links_map[0] = 1;
}

/* ---- the tree directory --------------------------------------------------------------------- */

int sm_layout_ensure(void)
{
    return smc_layout_ensure(sm_w()->cache);
}

int sm_tree_fd(void)
{
    int fd = __atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE);
    if (SM_LIKELY(fd >= 0))
        return fd;
    int rc = sm_layout_ensure();
    if (rc == 0) {
        /* one of the shim's own descriptors (sm_real.h): out of the host's range, CLOEXEC (an
         * exec'd child opens its own), moved away when the host dup2s onto it */
        fd = sm_lib_openat(AT_FDCWD, sm_w()->tree, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
            rc = -errno;
    }
    if (rc < 0) {
        sm_log(SM_LOG_ERROR, "cannot open cache tree %s: %s", sm_w()->tree, strerror(-rc));
        return rc;
    }
    int none = -1;
    sm_fd_movable(&sm_treefd_value); /* idempotent: the holder, whichever offer wins */
    if (!__atomic_compare_exchange_n(&sm_treefd_value, &none, fd, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        sm_lib_close(fd); /* another call's (or an interrupting handler's) offer came first */
        return none;
    }
    links_open();
    return fd;
}

/* ---- privilege drops --------------------------------------------------------------------------
 * The cache is 0700: a process that changed its ids can no longer name <cache>/tree. It keeps
 * the tree fd it opened before (opened now, when the tree exists, by the set*id wrappers below),
 * and every path is resolved relative to it, so the virtual directory's own modes decide as on a
 * real directory. An exec after the change hands the fd to the child (exec.c), whose constructor
 * adopts it (sm_tree_adopt). meta/ stays private: such processes record nothing (the scan finds
 * their changes). */
int sm_privs_changed;

/* Open the tree fd if the tree exists (never creates the cache). */
static void tree_keep(void)
{
    if (!sm_cfg.enabled || __atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE) >= 0 || !sm_w()->ok)
        return;
    struct stat st;
    if (SM_REAL(fstatat)(AT_FDCWD, sm_w()->tree, &st, 0) == 0 && S_ISDIR(st.st_mode))
        (void)sm_tree_fd();
}

#define SETID(name, params, args)                                                                  \
    SM_EXPORT int name params                                                                      \
    {                                                                                              \
        tree_keep();                                                                               \
        int rc = SM_REAL(name) args;                                                               \
        if (rc == 0)                                                                               \
            __atomic_store_n(&sm_privs_changed, 1, __ATOMIC_RELEASE);                              \
        return rc;                                                                                 \
    }
SETID(setuid, (uid_t u), (u))
SETID(seteuid, (uid_t u), (u))
SETID(setreuid, (uid_t r, uid_t e), (r, e))
SETID(setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
SETID(setgid, (gid_t g), (g))
SETID(setegid, (gid_t g), (g))
SETID(setregid, (gid_t r, gid_t e), (r, e))
SETID(setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
SETID(setgroups, (size_t n, const gid_t *l), (n, l))

void sm_tree_adopt(const char *spec)
{
    int fd;
    unsigned long dev, ino;
    struct stat st;
    if (sscanf(spec, "%d:%lu:%lu", &fd, &dev, &ino) != 3 || fd < 0 ||
        SM_REAL(fstat)(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != (dev_t)dev ||
        st.st_ino != (ino_t)ino)
        return; /* not the tree (a stale variable, a reused number): leave the fd alone */
    /* and it must be this cache's tree: the variable names any directory the process can hold
     * open, and the prefix would then write there, outside the cache (the kernel's name for it
     * says which; with no /proc to ask, the fd is not taken) */
    char l[64], at[PATH_MAX];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = SM_REAL(readlink)(l, at, sizeof at - 1);
    const struct sm_where *w = sm_w();
    if (n <= 0 || (size_t)n != w->tlen || memcmp(at, w->tree, w->tlen) != 0) {
        sm_log(SM_LOG_WARN,
               "SMSHIM_TREE_FD names descriptor %d, which is not this cache's tree: "
               "left alone",
               fd);
        return;
    }
    SM_REAL(fcntl)(fd, F_SETFD, FD_CLOEXEC);
    fd = sm_fd_lift(fd);
    sm_treefd_value = fd;
    sm_fd_movable(&sm_treefd_value);
    sm_privs_changed = 1;
}

/* ---- string helpers --------------------------------------------------------------------------- */

/* Does p contain a "." or ".." component? */
static int has_dots(const char *p)
{
    for (const char *s = p; *s; s++) {
        if (s[0] != '.' || (s != p && s[-1] != '/'))
            continue;
        if (s[1] == '/' || s[1] == '\0')
            return 1;
        if (s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
            return 1;
    }
    return 0;
}

/* The number of ".." components of relative path p when they all come before its first other
 * name ("." aside), else -1. */
static int leading_dotdots(const char *p)
{
    int n = 0, named = 0;
    for (const char *s = p; *s;) {
        size_t len = strcspn(s, "/");
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            if (named)
                return -1;
            n++;
        } else if (len && !(len == 1 && s[0] == '.')) {
            named = 1;
        }
        s += len;
        while (*s == '/')
            s++;
    }
    return n;
}

/* How many ".." a relative path from the directory real (absolute, outside the prefix) may hold
 * without climbing to a directory the prefix lies in: its depth below the last component it
 * shares with the prefix. */
static int climb_room(const char *real)
{
    int depth = 0, shared = 0, same = 1;
    const char *q = sm_cfg.prefix;
    for (const char *s = real; *s;) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        size_t n = strcspn(s, "/");
        while (*q == '/')
            q++;
        size_t m = strcspn(q, "/");
        same = same && m == n && memcmp(s, q, n) == 0;
        shared += same;
        q += same ? m : 0;
        depth++;
        s += n;
    }
    return depth - shared;
}

/* Does the first component of relative path p equal a component of the prefix? (Only then can a
 * relative path from an ancestor directory reach the prefix without '..'.) */
static int first_in_prefix(const char *p)
{
    size_t n = strcspn(p, "/");
    const char *s = sm_cfg.prefix;
    while (*s) {
        s++;
        size_t m = strcspn(s, "/");
        if (m == n && memcmp(s, p, n) == 0)
            return 1;
        s += m;
    }
    return 0;
}

int sm_untranslate(char *real, size_t size)
{
    const struct sm_where *w = sm_w();
    if (w->tlen == 0 || strncmp(real, w->tree, w->tlen) != 0 ||
        (real[w->tlen] != '/' && real[w->tlen] != '\0'))
        return 0;
    size_t rest = strlen(real + w->tlen);
    if (sm_cfg.plen + rest + 1 > size)
        return -ERANGE;
    memmove(real + sm_cfg.plen, real + w->tlen, rest + 1);
    memcpy(real, sm_cfg.prefix, sm_cfg.plen);
    return 1;
}

int sm_tree_path(const char *rel, char *out, size_t size)
{
    while (*rel == '/')
        rel++;
    int n = snprintf(out, size, "%s%s%s", sm_w()->tree, *rel ? "/" : "", rel);
    return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : 0;
}

/* Translate a virtual-namespace absolute path for a real call: under the prefix it becomes the
 * tree path, anything else is copied. */
static int xlate(const char *vabs, char *out, size_t size)
{
    long off = sm_under_prefix(vabs);
    if (off >= 0)
        return sm_tree_path(vabs + off, out, size);
    if (strlen(vabs) >= size)
        return -ENAMETOOLONG;
    strcpy(out, vabs);
    return 0;
}

/* ---- the cwd and directory fds ------------------------------------------------------------ */

enum { CWD_UNKNOWN = 0, CWD_OUTSIDE, CWD_INSIDE, CWD_ABOVE };

/* What is known of the cwd is one word, so that a finding is made known only if nothing changed
 * the cwd since it was made: the class where the kernel's cwd was found (CWD_*, CWD_UNKNOWN after
 * a change), SM_CWD_PLAIN (read inline by the pre-filter), the number of calls now changing the
 * cwd, and a generation every change bumps. A thread that finds the cwd unknown looks at it and
 * publishes what it found with a compare-and-swap against the word it read before looking, and
 * only when no change was in flight then: a finding made before another thread's chdir, or while
 * it ran, fails the swap and is used for its own call only (the class stored from the old cwd
 * would have let relative paths from inside the tree pass through untouched). CWD_SPLIT (never
 * cleared) says that this memory is shared with a thread or process whose cwd is its own (it
 * unshared its fs, or a clone shares the memory and not the fs, or the fs and not the memory):
 * one word cannot say where two cwds are, so nothing is made known any more and every relative
 * path looks at the cwd it has. */
#define CWD_CLASS 3u
#define CWD_KNOWN ((uint64_t)(CWD_CLASS | SM_CWD_PLAIN))
#define CWD_SPLIT ((uint64_t)8)
#define CWD_BUSY1 ((uint64_t)1 << 8) /* bits 8-23: the changes in flight */
#define CWD_BUSY  ((uint64_t)0xffff << 8)
#define CWD_GEN1  ((uint64_t)1 << 24) /* bits 24-63: the generation */

uint64_t sm_cwd_word;
void (*sm_cwd_learn_hook)(void);

/* Forget what is known, bump the generation and count one change more (in 1), one fewer (-1),
 * or neither (0); set the bits set. */
static void cwd_bump(int in, uint64_t set)
{
    uint64_t w = __atomic_load_n(&sm_cwd_word, __ATOMIC_RELAXED), nw;
    do {
        nw = ((w & ~CWD_KNOWN) + CWD_GEN1) | set;
        if (in > 0)
            nw += CWD_BUSY1;
        else if (in < 0 && (w & CWD_BUSY))
            nw -= CWD_BUSY1;
    } while (
        !__atomic_compare_exchange_n(&sm_cwd_word, &w, nw, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
}

void sm_cwd_changing(void)
{
    cwd_bump(1, 0);
}

void sm_cwd_changed(void)
{
    cwd_bump(-1, 0);
}

void sm_cwd_split(void)
{
    cwd_bump(0, CWD_SPLIT);
}

void sm_cwd_cloning(unsigned long flags)
{
    int vm = (flags & CLONE_VM) != 0, fs = (flags & CLONE_FS) != 0;
    /* a vfork-like child (CLONE_VM | CLONE_VFORK, its own fs) learns nothing for its parent:
     * see memory_of_parent */
    if ((fs && !vm) || (vm && !fs && !(flags & CLONE_VFORK)))
        sm_cwd_split();
}

/* Under /proc or /dev, where a relative path may name one of the shim's descriptors. */
static int special_dir(const char *real)
{
    return (strncmp(real, "/proc", 5) == 0 && (real[5] == '/' || real[5] == '\0')) ||
           (strncmp(real, "/dev", 4) == 0 && (real[4] == '/' || real[4] == '\0'));
}

/* Classify an absolute real directory path. */
static int classify_dir(const char *real)
{
    const struct sm_where *w = sm_w();
    if (w->tlen && strncmp(real, w->tree, w->tlen) == 0 &&
        (real[w->tlen] == '/' || real[w->tlen] == '\0'))
        return CWD_INSIDE;
    size_t n = strlen(real);
    if (n == 1 || (strncmp(sm_cfg.prefix, real, n) == 0 && sm_cfg.prefix[n] == '/'))
        return CWD_ABOVE;
    return CWD_OUTSIDE;
}

/* With the cwd at real (an absolute real path): how many ".." a relative path may start with and
 * still stay below every directory the cwd shares with the prefix; 0 when the cwd is not plain
 * (in the tree, above the prefix, under /proc or /dev). The one test of a plain cwd. */
static int plain_room(const char *real)
{
    return classify_dir(real) == CWD_OUTSIDE && !special_dir(real) ? climb_room(real) : 0;
}

/* The cwd as a virtual-namespace absolute path; returns its class or -errno. */
static int cwd_get(char *out, size_t size)
{
    if (!SM_REAL(getcwd)(out, size))
        return -errno;
    int st = classify_dir(out);
    if (st == CWD_INSIDE && sm_untranslate(out, size) < 0)
        return -ENAMETOOLONG;
    return st;
}

/* Does this process run in its parent's memory (a vfork child, posix_spawn's child)? Its cwd is
 * its own, but what it would remember of it would be its parent's once it execs. A refused kcmp
 * (the parent's credentials differ, which a vfork child's do not) is taken as memory of its own. */
static int memory_of_parent(void)
{
    return sm_vm_parents() == 1;
}

static int cwd_state(void)
{
    uint64_t w = __atomic_load_n(&sm_cwd_word, __ATOMIC_ACQUIRE);
    int st = (int)(w & CWD_CLASS);
    if (SM_LIKELY(st != CWD_UNKNOWN))
        return st;
    char buf[PATH_MAX];
    st = cwd_get(buf, sizeof buf);
    if (st < 0)
        return CWD_OUTSIDE; /* cwd removed or unreachable: relative paths are the kernel's */
    if (w & (CWD_BUSY | CWD_SPLIT))
        return st; /* a change is in flight (what was found may be the cwd before it), or
                      another thread's cwd is not this one's */
    if (memory_of_parent())
        return st; /* a chdir here made the parent forget; only the parent may learn */
    uint64_t known = (uint64_t)st | (st == CWD_OUTSIDE && plain_room(buf) > 0 ? SM_CWD_PLAIN : 0);
    if (SM_UNLIKELY(sm_cwd_learn_hook != NULL))
        sm_cwd_learn_hook();
    /* made known only if the word is still the one read before the cwd was looked at */
    __atomic_compare_exchange_n(&sm_cwd_word, &w, w | known, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    return st;
}

/* The directory an fd refers to, as a virtual-namespace absolute path; class or -errno. */
static int fd_get(int fd, char *out, size_t size)
{
    char link[32];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = SM_REAL(readlinkat)(AT_FDCWD, link, out, size - 1);
    if (n < 0)
        return -errno;
    out[n] = '\0';
    if (out[0] != '/')
        return -ENOTDIR;
    int st = classify_dir(out);
    if (st == CWD_INSIDE && sm_untranslate(out, size) < 0)
        return -ENAMETOOLONG;
    return st;
}

static int tree_at(const char *v, char *buf, size_t size, const char **path);

/* If (fd, path) is a symbolic link, the pending path pend becomes its target (in its virtual
 * form), then `mid`, then what followed the link (*p, which then points at pend), and *n backs up
 * over the link's own component of out (to the root for an absolute target): 1. 0 when it is no
 * link, or -errno (-ELOOP after 40 links). */
static int follow_link(int fd, const char *path, const char *mid, char pend[PATH_MAX], char **p,
                       const char *out, size_t *n, int *loops)
{
    char link[PATH_MAX], tmp[PATH_MAX];
    struct stat st;
    if (SM_REAL(fstatat)(fd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
        return 0;
    if (++*loops > 40)
        return -ELOOP;
    ssize_t ln = SM_REAL(readlinkat)(fd, path, link, sizeof link - 1);
    if (ln < 0)
        return -errno;
    link[ln] = '\0';
    sm_untranslate(link, sizeof link);
    int m = snprintf(tmp, sizeof tmp, "%s%s%s", link, mid, *p);
    if (m < 0 || (size_t)m >= sizeof tmp)
        return -ENAMETOOLONG;
    strcpy(pend, tmp);
    *p = pend;
    if (link[0] == '/') {
        *n = 0;
    } else {
        while (*n > 0 && out[*n - 1] != '/')
            (*n)--;
        if (*n > 0)
            (*n)--;
    }
    return 1;
}

/* ---- canonicalisation (the slow path: '..' and friends) ------------------------------------- */

/* Resolve "." and ".." in the virtual-namespace absolute path `in` as the kernel would: a ".."
 * after a symbolic link applies to the link's target. Other components are kept as written (the
 * kernel follows them). Sets *touched when the walk passed through the prefix. */
static int canon(const char *in, char *out, size_t size, int *touched)
{
    char pend[PATH_MAX], real[PATH_MAX];
    size_t n = 0;
    int loops = 0;
    int trail = 0, lastdot = 0;

    if (strlen(in) >= sizeof pend)
        return -ENAMETOOLONG;
    strcpy(pend, in);
    out[0] = '\0';
    char *p = pend;
    while (*p) {
        while (*p == '/')
            p++;
        char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        if (len == 0)
            break;
        trail = (*p == '/');
        lastdot = (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.');
        if (len == 1 && s[0] == '.')
            continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            if (n == 0)
                continue;
            out[n] = '\0';
            if (sm_under_prefix(out) >= 0)
                *touched = 1;
            const char *rp = real;
            int afd = AT_FDCWD;
            if (sm_under_prefix(out) >= 0)
                afd = tree_at(out, real, sizeof real, &rp);
            else if (xlate(out, real, sizeof real) < 0)
                return -ENAMETOOLONG;
            if (afd == -ENAMETOOLONG)
                return afd;
            /* a link: continue with target + "/.." + rest, relative to the link's directory */
            int fl = follow_link(afd, rp, "/..", pend, &p, out, &n, &loops);
            if (fl < 0)
                return fl;
            if (fl)
                continue;
            const char *q = p;
            while (*q == '/')
                q++;
            if (!*q && sm_under_prefix(out) > 0 && out[sm_cfg.plen] == '/') {
                /* a final ".." from a real directory below the prefix's root: the kernel sees it
                 * as written (rmdir "a/b/.." is ENOTEMPTY or EBUSY, not the EINVAL of "a/.") */
                if (n + 4 > size)
                    return -ENAMETOOLONG;
                memcpy(out + n, "/..", 4);
                n += 3;
                lastdot = 0;
                trail = 0;
                break;
            }
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            continue;
        }
        if (n + 1 + len + 1 > size)
            return -ENAMETOOLONG;
        out[n++] = '/';
        memcpy(out + n, s, len);
        n += len;
        out[n] = '\0';
    }
    /* a final "." or ".." names a directory the call must see as such (rmdir "d/." is EINVAL,
     * mkdir "d/.." EEXIST): keep a "." after the resolved directory */
    if (lastdot) {
        if (n + 3 > size)
            return -ENAMETOOLONG;
        out[n++] = '/';
        out[n++] = '.';
    } else if (n == 0) {
        out[n++] = '/';
    } else if (trail && n + 2 <= size) {
        out[n++] = '/';
    }
    out[n] = '\0';
    if (sm_under_prefix(out) >= 0)
        *touched = 1;
    return 0;
}

/* ---- resolution -------------------------------------------------------------------------------- */

/* r names the virtual remainder `rest` ("", "a/b", "/a"): point it into the tree. `stable` says
 * rest is the caller's own string (it outlives the call and may be used in place); otherwise it
 * is copied into r->buf. */
static int to_tree(const char *rest, int stable, int flags, struct sm_res *r)
{
    char tmp[PATH_MAX];
    while (*rest == '/')
        rest++;
    r->kind = SM_TREE;
    if (flags & SM_RES_ABS) {
        if (!stable) {
            strcpy(tmp, rest);
            rest = tmp;
        }
        int tfd = __atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE);
        if (SM_UNLIKELY(__atomic_load_n(&sm_privs_changed, __ATOMIC_ACQUIRE)) && tfd >= 0) {
            /* the cache's path may be closed to this process: name the tree through its fd */
            int n = snprintf(r->buf, sizeof r->buf, "/proc/self/fd/%d%s%s", tfd, *rest ? "/" : "",
                             rest);
            if (n < 0 || (size_t)n >= sizeof r->buf)
                return -ENAMETOOLONG;
            r->fd = AT_FDCWD;
            r->path = r->buf;
            return 0;
        }
        int rc = sm_tree_path(rest, r->buf, sizeof r->buf);
        if (rc < 0)
            return rc;
        /* the tree must exist even when this process never opened it (vfork child: no fd) */
        if (__atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE) < 0)
            (void)sm_layout_ensure();
        r->fd = AT_FDCWD;
        r->path = r->buf;
        return 0;
    }
    int fd = sm_tree_fd();
    if (fd < 0)
        return fd;
    r->fd = fd;
    if (!*rest) {
        r->path = ".";
    } else if (stable) {
        r->path = rest;
    } else {
        memmove(r->buf, rest, strlen(rest) + 1);
        r->path = r->buf;
    }
    return 0;
}

/* Resolve a virtual-namespace absolute path. `orig` is what the caller wrote (kept as is when
 * the path does not concern the prefix); vabs is either orig or r->buf. */
static int resolve_vabs(const char *vabs, const char *orig, int flags, struct sm_res *r)
{
    /* the program's own path, outside the tree as written, may name one of the shim's
     * descriptors (a joined one was looked at as the relative path it came from) */
    int own = vabs == orig;
    if (vabs[1] != '/' && !has_dots(vabs)) {
        long off = sm_under_prefix(vabs);
        if (off >= 0)
            return to_tree(vabs + off, own, flags, r); /* in the tree as written: not in /proc */
        if (own && SM_UNLIKELY(sm_procfd_names_own(vabs)))
            return -ENOENT; /* for the program the shim's descriptors are not open (procfd.c) */
        if (!own) {
            r->fd = AT_FDCWD;
            r->path = r->buf;
        }
        return 0;
    }
    if (own && SM_UNLIKELY(sm_procfd_names_own(vabs)))
        return -ENOENT;
    char c[PATH_MAX];
    int touched = 0;
    int rc = canon(vabs, c, sizeof c, &touched);
    if (rc < 0)
        return rc;
    long off = sm_under_prefix(c);
    if (off >= 0)
        return to_tree(c + off, 0, flags, r);
    if (touched || vabs != orig) {
        strcpy(r->buf, c);
        r->fd = AT_FDCWD;
        r->path = r->buf;
    }
    return 0;
}

/* base (virtual-namespace absolute directory) + "/" + rel, then resolve. */
static int resolve_joined(const char *base, const char *rel, const char *orig, int flags,
                          struct sm_res *r)
{
    int n = snprintf(r->buf, sizeof r->buf, "%s/%s", strcmp(base, "/") ? base : "", rel);
    if (n < 0 || (size_t)n >= sizeof r->buf)
        return -ENAMETOOLONG;
    return resolve_vabs(r->buf, orig, flags, r);
}

static int resolve_inner(int dirfd, const char *path, int flags, struct sm_res *r)
{
    char base[PATH_MAX];
    r->kind = SM_PASS;
    r->fd = dirfd;
    r->path = path;
    SM_OPAQUE(path);
    if (!sm_cfg.enabled || path == NULL || path[0] == '\0' || !sm_w()->ok)
        return 0;
    if (strnlen(path, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    if (path[0] == '/') {
        r->fd = AT_FDCWD;
        return resolve_vabs(path, path, flags, r);
    }
    if (SM_UNLIKELY(sm_procfd_hidden(dirfd, path)))
        return -ENOENT;
    int dots = has_dots(path);
    if (dirfd == AT_FDCWD) {
        int st = cwd_state();
        if (st == CWD_OUTSIDE && !dots)
            return 0;
        if (st == CWD_INSIDE && !dots) {
            if (flags & SM_RES_MUT)
                r->kind = SM_TREE;
            return 0;
        }
        st = cwd_get(base, sizeof base);
        if (st < 0)
            return 0;
        return resolve_joined(base, path, path, flags, r);
    }
    if (!dots && !(flags & SM_RES_MUT) && !first_in_prefix(path))
        return 0;
    int st = fd_get(dirfd, base, sizeof base);
    if (st < 0)
        return 0; /* not a directory, bad fd, no /proc: the kernel gives the answer */
    if (st == CWD_INSIDE && !dots) {
        r->kind = SM_TREE;
        return 0;
    }
    if (st == CWD_OUTSIDE && !dots)
        return 0;
    return resolve_joined(base, path, path, flags, r);
}

/* ---- links that climb out of the tree ---------------------------------------------------------- */

static int in_dir(const char *p, const char *d, size_t n)
{
    return strncmp(p, d, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

/* Where a resolution (r->fd, r->path) points, as an absolute real path: 1 when that is in the
 * tree, 0 when not (or unknown), -errno. */
static int res_real(const struct sm_res *r, char *out, size_t size)
{
    const char *p = r->path;
    char self[40];
    int tfd = __atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE);
    int sl = tfd >= 0 ? snprintf(self, sizeof self, "/proc/self/fd/%d", tfd) : 0;
    if (sl > 0 && strncmp(p, self, (size_t)sl) == 0 && (p[sl] == '/' || p[sl] == '\0')) {
        /* the tree named through its fd (after a privilege drop: to_tree) */
        int m = snprintf(out, size, "%s%s", sm_w()->tree, p + sl);
        if (m < 0 || (size_t)m >= size)
            return -ENAMETOOLONG;
    } else if (p[0] == '/') {
        if (strlen(p) >= size)
            return -ENAMETOOLONG;
        strcpy(out, p);
    } else {
        char base[PATH_MAX];
        if (sm_is_tree_fd(r->fd)) {
            strcpy(base, sm_w()->tree);
        } else if (r->fd == AT_FDCWD) {
            if (!SM_REAL(getcwd)(base, sizeof base))
                return 0;
        } else {
            char link[32];
            snprintf(link, sizeof link, "/proc/self/fd/%d", r->fd);
            ssize_t n = SM_REAL(readlinkat)(AT_FDCWD, link, base, sizeof base - 1);
            if (n < 0)
                return 0;
            base[n] = '\0';
        }
        int m = snprintf(out, size, "%s/%s", base, p);
        if (m < 0 || (size_t)m >= size)
            return -ENAMETOOLONG;
    }
    return in_dir(out, sm_w()->tree, sm_w()->tlen);
}

/* (fd, path) for a real call on the virtual path v under the prefix: relative to the tree fd
 * when it is open (it works after a privilege drop), else the absolute tree path. */
static int tree_at(const char *v, char *buf, size_t size, const char **path)
{
    const char *rest = v + sm_cfg.plen;
    while (*rest == '/')
        rest++;
    int fd = __atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE);
    if (fd >= 0) {
        *path = *rest ? rest : ".";
        return fd;
    }
    if (sm_tree_path(rest, buf, size) < 0)
        return -ENAMETOOLONG;
    *path = buf;
    return AT_FDCWD;
}

/* Resolve the virtual absolute path `in` one component at a time, following the tree's links
 * here (a relative target climbs from the link's directory, and ".." of "/" is "/"), so that no
 * link is left for the kernel to follow out of the tree. The last component is followed when
 * `follow`, or when a '/' ends the path. Components past the prefix are left to the kernel. */
static int walk(const char *in, int follow, char *out, size_t size)
{
    char pend[PATH_MAX], buf[PATH_MAX];
    size_t n = 0;
    int loops = 0, lastdot = 0, trail = 0;
    if (strlen(in) >= sizeof pend)
        return -ENAMETOOLONG;
    strcpy(pend, in);
    out[0] = '\0';
    char *p = pend;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        const char *q = p;
        while (*q == '/')
            q++;
        int last = *q == '\0';
        trail = last && *p == '/';
        lastdot = (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.');
        if (len == 1 && s[0] == '.')
            continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            if (last && sm_under_prefix(out) > 0 && out[sm_cfg.plen] == '/' && n + 4 <= size) {
                memcpy(out + n, "/..", 4); /* as canon: the kernel sees a final ".." */
                return 0;
            }
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            out[n] = '\0';
            continue;
        }
        if (n + 1 + len + 1 > size)
            return -ENAMETOOLONG;
        out[n++] = '/';
        memcpy(out + n, s, len);
        n += len;
        out[n] = '\0';
        if (sm_under_prefix(out) < 0) {
            if (strncmp(sm_cfg.prefix, out, n) == 0 && sm_cfg.prefix[n] == '/')
                continue; /* an ancestor of the prefix */
            /* outside: the kernel resolves the rest */
            if (n + strlen(p) + 1 > size)
                return -ENAMETOOLONG;
            strcpy(out + n, p);
            return 0;
        }
        if (last && !follow && !trail)
            break;
        const char *tp;
        int fd = tree_at(out, buf, sizeof buf, &tp);
        if (fd == -ENAMETOOLONG)
            return fd;
        int fl = follow_link(fd, tp, "", pend, &p, out, &n, &loops);
        if (fl < 0)
            return fl;
        if (fl)
            out[n] = '\0';
    }
    if (lastdot && n + 3 <= size) {
        out[n++] = '/';
        out[n++] = '.';
    } else if (n == 0) {
        out[n++] = '/';
    } else if (trail && n + 2 <= size) {
        out[n++] = '/';
    }
    out[n] = '\0';
    return 0;
}

/* The resolution r names something the kernel would reach through the tree: make sure no link
 * takes it out of the tree (see links_open). */
static int guard(int flags, struct sm_res *r)
{
    char real[PATH_MAX], w[PATH_MAX];
    struct open_how how = {.flags = O_PATH | O_CLOEXEC | ((flags & SM_RES_FOLLOW) ? 0 : O_NOFOLLOW),
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int tfd = __atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE);
    /* beneath the directory the path starts from (in the tree, or it would not be here): one
     * call, and it works for a relative path of any length the kernel takes */
    for (int pass = 0; pass < 2 && openat2_ok; pass++) {
        int dfd = r->fd;
        const char *p = r->path;
        if (pass == 1 && r->fd == tfd && r->path[0] != '/') {
            break; /* the first pass already started from the tree's root */
        } else if (pass == 1) {
            /* beneath the tree's root: the path may climb out of its directory, not the tree */
            int rc = res_real(r, real, sizeof real);
            if (rc <= 0)
                return rc;
            if (tfd < 0)
                break;
            dfd = tfd;
            p = real + sm_w()->tlen;
            while (*p == '/')
                p++;
            if (!*p)
                p = ".";
        } else if (p[0] == '/') {
            continue;
        }
        int saved = errno;
        sm_brief_begin();
        long fd = SM_REAL(syscall)(SYS_openat2, dfd, p, &how, sizeof how);
        int e = errno;
        if (fd >= 0)
            sm_brief_close((int)fd);
        else
            sm_brief_end();
        errno = saved;
        if (fd >= 0)
            return 0;
        if (e == ENOSYS || e == EPERM)
            openat2_ok = 0;
        else if (e != EXDEV)
            return 0; /* the kernel's own answer, reached without leaving the tree */
    }
    int rc = res_real(r, real, sizeof real);
    if (rc <= 0)
        return rc;
    sm_untranslate(real, sizeof real);
    rc = walk(real, flags & SM_RES_FOLLOW, w, sizeof w);
    if (rc < 0)
        return rc;
    long off = sm_under_prefix(w);
    if (off >= 0)
        return to_tree(w + off, 0, flags, r);
    if (in_dir(w, sm_w()->cache, sm_w()->clen))
        return -EACCES; /* the cache's own files are never a name under the prefix */
    strcpy(r->buf, w);
    r->kind = SM_PASS;
    r->fd = AT_FDCWD;
    r->path = r->buf;
    return 0;
}

int sm_resolve(int dirfd, const char *path, int flags, struct sm_res *r)
{
    int rc = resolve_inner(dirfd, path, flags, r);
    if (SM_UNLIKELY(rc < 0) || SM_LIKELY(!links_maybe()) || !sm_cfg.enabled || !path || !*path)
        return rc;
    if (r->kind == SM_TREE)
        return guard(flags, r);
    if (r->path[0] == '/')
        return 0;
    if (r->fd == AT_FDCWD ? cwd_state() == CWD_INSIDE : sm_treefd_value >= 0)
        return guard(flags, r);
    return 0;
}

/* ---- keys ------------------------------------------------------------------------------------ */

/* Strip the tree root from an absolute real path into a key ("/a/b"); -ENOENT if outside. */
static int key_from_real(const char *real, char key[PATH_MAX])
{
    const struct sm_where *w = sm_w();
    if (strncmp(real, w->tree, w->tlen) != 0)
        return -ENOENT;
    const char *rest = real + w->tlen;
    if (*rest != '/' && *rest != '\0')
        return -ENOENT;
    snprintf(key, PATH_MAX, "%s", *rest ? rest : "/");
    return 0;
}

int sm_key_fd(int fd, char key[PATH_MAX])
{
    char link[32], real[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = SM_REAL(readlinkat)(AT_FDCWD, link, real, sizeof real - 1);
    if (n < 0)
        return -errno;
    real[n] = '\0';
    return key_from_real(real, key);
}

int sm_key_at(int fd, const char *path, char key[PATH_MAX])
{
    char dir[PATH_MAX], real[PATH_MAX];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t cut = len;
    while (cut > 0 && path[cut - 1] != '/')
        cut--;
    const char *name = path + cut;
    size_t nlen = len - cut;
    int dfd = fd, opened = -1, rc;

    if (cut > 0) {
        /* the directory part may hold symlinks: let the kernel name it */
        if (cut >= sizeof dir)
            return -ENAMETOOLONG;
        memcpy(dir, path, cut);
        dir[cut] = '\0';
        opened = sm_brief_openat(fd, dir, O_PATH | O_DIRECTORY, 0);
        if (opened < 0)
            return -errno;
        dfd = opened;
    }
    if (dfd == AT_FDCWD) {
        if (!SM_REAL(getcwd)(real, sizeof real))
            return -errno;
        rc = key_from_real(real, dir);
    } else if (sm_is_tree_fd(dfd)) {
        strcpy(dir, "/");
        rc = 0;
    } else {
        rc = sm_key_fd(dfd, dir);
    }
    if (opened >= 0)
        sm_brief_close(opened);
    if (rc < 0)
        return rc;
    if (nlen == 0 || (nlen == 1 && name[0] == '.')) {
        strcpy(key, dir);
        return 0;
    }
    size_t dl = strlen(dir);
    if (dl == 1)
        dl = 0;
    if (dl + 1 + nlen + 1 > PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(key, dir, dl);
    key[dl] = '/';
    memcpy(key + dl + 1, name, nlen);
    key[dl + 1 + nlen] = '\0';
    return 0;
}
