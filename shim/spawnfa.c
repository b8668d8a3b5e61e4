/* spawnfa.c: posix_spawn's file actions, as the child runs them on a real directory at the
 * prefix. The child (glibc's, in its parent's memory) runs them in order with raw system calls,
 * past every wrapper: each action naming a path under the prefix is handed to libc with its
 * tree path when it is added. The actions run in order, so a relative path after an
 * addchdir_np or addfchdir_np is relative to the directory the child went to, not to the
 * parent's cwd: each set of actions keeps where its child will be by then (a virtual absolute
 * path), and a relative path is resolved from there. A file an action opens for writing under
 * the prefix is recorded once the spawn returned (the child has run its actions by then), as an
 * open's is. The shim's own descriptors (LMDB's files, the tree fd, the log, libcurl's sockets)
 * do not exist for the actions: a dup2 or fchdir from one fails with EBADF in the child, a close
 * of one is no action, and after a drop of privileges a closefrom leaves the tree fd the exec
 * hands on.
 *
 * The sets are known by their address from posix_spawn_file_actions_init to _destroy; a set
 * this library did not see made (one of libc's own: popen, system) has its paths resolved from
 * the parent's cwd. Never called in a vfork child (the calls malloc, as libc's own do). */
#include "shim.h"

#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>

/* a descriptor an earlier action made in the child: the directory it names (a virtual absolute
 * path, NULL when not known), for an addfchdir_np of it */
struct made {
    int fd;
    char *dir;
    int tree;
};

/* one file an action opens for writing under the prefix (its tree path) */
struct wrote {
    char *path;
    int follow;
};

struct fa_state {
    const posix_spawn_file_actions_t *fa;
    struct fa_state *next;
    char *cwd; /* the child's cwd after the actions so far (virtual absolute); NULL: its parent's */
    int cwd_tree; /* ... and it lies in the tree (the child's kernel cwd is a tree directory) */
    int cwd_lost; /* an fchdir to a directory not known: relative paths are left to the kernel */
    struct made *made;
    size_t nmade;
    struct wrote *wrote;
    size_t nwrote;
};

static struct fa_state *fa_all;
static pthread_mutex_t fa_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fa_once = PTHREAD_ONCE_INIT;

static void fa_forked(void)
{
    pthread_mutex_init(&fa_mu, NULL); /* another thread may have held it at the fork */
}

static void fa_register(void)
{
    pthread_atfork(NULL, NULL, fa_forked);
}

static void fa_lock(void)
{
    pthread_once(&fa_once, fa_register);
    pthread_mutex_lock(&fa_mu);
}

static void fa_unlock(void)
{
    pthread_mutex_unlock(&fa_mu);
}

static void state_free(struct fa_state *s)
{
    for (size_t i = 0; i < s->nmade; i++)
        free(s->made[i].dir);
    for (size_t i = 0; i < s->nwrote; i++)
        free(s->wrote[i].path);
    free(s->made);
    free(s->wrote);
    free(s->cwd);
    free(s);
}

/* the state of fa (under fa_mu), made when create and there is none; NULL otherwise */
static struct fa_state *state_of(const posix_spawn_file_actions_t *fa, int create)
{
    for (struct fa_state *s = fa_all; s; s = s->next)
        if (s->fa == fa)
            return s;
    if (!create)
        return NULL;
    struct fa_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fa = fa;
    s->next = fa_all;
    fa_all = s;
    return s;
}

static void state_drop(const posix_spawn_file_actions_t *fa)
{
    fa_lock();
    for (struct fa_state **p = &fa_all; *p; p = &(*p)->next)
        if ((*p)->fa == fa) {
            struct fa_state *s = *p;
            *p = s->next;
            state_free(s);
            break;
        }
    fa_unlock();
}

static struct made *made_of(struct fa_state *s, int fd)
{
    for (size_t i = 0; s && i < s->nmade; i++)
        if (s->made[i].fd == fd)
            return &s->made[i];
    return NULL;
}

static void made_forget(struct fa_state *s, int lo, int hi)
{
    for (size_t i = 0; s && i < s->nmade;) {
        if (s->made[i].fd >= lo && s->made[i].fd <= hi) {
            free(s->made[i].dir);
            s->made[i] = s->made[--s->nmade];
        } else {
            i++;
        }
    }
}

/* fd is made by an action, naming dir (copied; NULL: not known) */
static void made_set(struct fa_state *s, int fd, const char *dir, int tree)
{
    if (!s)
        return;
    made_forget(s, fd, fd);
    struct made *m = realloc(s->made, (s->nmade + 1) * sizeof *m);
    if (!m)
        return;
    s->made = m;
    m[s->nmade++] = (struct made){fd, dir ? strdup(dir) : NULL, tree};
}

/* fd is one of the shim's in the parent and no earlier action made it the child's */
static int own_fd(struct fa_state *s, int fd)
{
    return sm_fd_is_own(fd) && !made_of(s, fd);
}

/* the memory of one action's path (not on the stack: a thread's may be 16 KiB) */
struct fa_mem {
    struct sm_res r;
    char comp[PATH_MAX], dir[PATH_MAX];
};

/* The path of an action as the child meets it: resolved into m->r (flags: sm_resolve's), and
 * the string to hand libc's action in *emit. A relative path is relative to where the earlier
 * actions took the child (s->cwd), else to the parent's cwd. m->dir gets the virtual absolute
 * path it names, for s->cwd (with want_dir; "" when not known). 0 or -errno. A resolution
 * takes more stack than a small thread has: an entry of the shim's work (stack.c). */
int sm_fa_path(struct fa_state *s, const char *path, int flags, struct fa_mem *m, const char **emit,
               int want_dir);
SM_ROOMY(int, sm_fa_path,
         (struct fa_state * s, const char *path, int flags, struct fa_mem *m, const char **emit,
          int want_dir))
{
    const char *p = path;
    m->dir[0] = '\0';
    m->r.kind = SM_PASS;
    m->r.path = path;
    *emit = path;
    if (path[0] != '/' && s && s->cwd_lost)
        return 0; /* where the child is is not known: the kernel's */
    if (path[0] != '/' && s && s->cwd) {
        int n = snprintf(m->comp, sizeof m->comp, "%s/%s", strcmp(s->cwd, "/") ? s->cwd : "", path);
        if (n < 0 || (size_t)n >= sizeof m->comp)
            return -ENAMETOOLONG;
        p = m->comp;
    }
    m->r.path = p;
    if (sm_maybe(p)) {
        int rc = sm_resolve(AT_FDCWD, p, flags, &m->r);
        if (rc < 0)
            return rc;
    }
    if (m->r.kind == SM_TREE || m->r.path != p)
        *emit = m->r.path; /* the tree's path, or one the resolution wrote out */
    else
        *emit = p != path && s->cwd_tree ? p : path; /* the kernel's, from where the child is */
    if (!want_dir)
        return 0;
    if (p[0] == '/') {
        snprintf(m->dir, sizeof m->dir, "%s", p);
    } else {
        char cwd[PATH_MAX];
        int n = sm_getcwd_core(cwd, sizeof cwd);
        if (n > 0 && snprintf(m->dir, sizeof m->dir, "%s/%s", strcmp(cwd, "/") ? cwd : "", p) >=
                         (int)sizeof m->dir)
            m->dir[0] = '\0';
    }
    return 0;
}

/* the directory the parent's fd names, as a virtual absolute path into out (PATH_MAX bytes):
 * 1 in the tree, 0 outside, -1 not known */
static int fd_dir(int fd, char *out)
{
    char link[32];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = SM_REAL(readlinkat)(AT_FDCWD, link, out, PATH_MAX - 1);
    if (n <= 0 || out[0] != '/')
        return -1;
    out[n] = '\0';
    int in = sm_untranslate(out, PATH_MAX);
    return in < 0 ? -1 : in;
}

static int fa_on(void)
{
    return sm_cfg.enabled && !sm_in_lib;
}

SM_EXPORT int posix_spawn_file_actions_init(posix_spawn_file_actions_t *fa)
{
    int rc = SM_REAL(posix_spawn_file_actions_init)(fa);
    if (rc == 0 && fa_on())
        state_drop(fa); /* a set made again where an old one lay */
    return rc;
}

SM_EXPORT int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *fa)
{
    if (fa_on())
        state_drop(fa);
    return SM_REAL(posix_spawn_file_actions_destroy)(fa);
}

SM_EXPORT int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *fa, int fd,
                                               const char *path, int oflag, mode_t mode)
{
    if (!fa_on() || fd < 0 || !path)
        return SM_REAL(posix_spawn_file_actions_addopen)(fa, fd, path, oflag, mode);
    struct fa_mem *m = malloc(sizeof *m);
    if (!m)
        return ENOMEM;
    fa_lock();
    struct fa_state *s = state_of(fa, 1);
    int flags = SM_RES_ABS | SM_RES_MUT | sm_open_follows(oflag);
    const char *emit = path;
    int rc = -sm_fa_path(s, path, flags, m, &emit, 1);
    if (rc == 0)
        rc = SM_REAL(posix_spawn_file_actions_addopen)(fa, fd, emit, oflag, mode);
    if (rc == 0 && s) {
        made_set(s, fd, m->dir[0] ? m->dir : NULL, m->r.kind == SM_TREE);
        struct wrote *w = m->r.kind == SM_TREE && sm_open_writes(oflag)
                              ? realloc(s->wrote, (s->nwrote + 1) * sizeof *w)
                              : NULL;
        if (w) {
            s->wrote = w;
            w[s->nwrote].path = strdup(emit);
            w[s->nwrote].follow = sm_open_follows(oflag) != 0;
            if (w[s->nwrote].path)
                s->nwrote++;
        }
    }
    fa_unlock();
    free(m);
    return rc;
}

SM_EXPORT int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *fa, const char *path)
{
    if (!fa_on() || !path)
        return SM_REAL(posix_spawn_file_actions_addchdir_np)(fa, path);
    struct fa_mem *m = malloc(sizeof *m);
    if (!m)
        return ENOMEM;
    fa_lock();
    struct fa_state *s = state_of(fa, 1);
    const char *emit = path;
    int rc = -sm_fa_path(s, path, SM_RES_ABS | SM_RES_MUT | SM_RES_FOLLOW, m, &emit, 1);
    if (rc == 0)
        rc = SM_REAL(posix_spawn_file_actions_addchdir_np)(fa, emit);
    if (rc == 0 && s) {
        free(s->cwd);
        s->cwd = m->dir[0] ? strdup(m->dir) : NULL;
        s->cwd_lost = !s->cwd;
        s->cwd_tree = m->r.kind == SM_TREE;
    }
    fa_unlock();
    free(m);
    return rc;
}

SM_EXPORT int posix_spawn_file_actions_addfchdir_np(posix_spawn_file_actions_t *fa, int fd)
{
    if (!fa_on())
        return SM_REAL(posix_spawn_file_actions_addfchdir_np)(fa, fd);
    char *dir = malloc(PATH_MAX);
    if (!dir)
        return ENOMEM;
    fa_lock();
    struct fa_state *s = state_of(fa, 1);
    struct made *md = made_of(s, fd);
    int rc = 0, in = -1;
    if (md && md->dir) {
        snprintf(dir, PATH_MAX, "%s", md->dir);
        in = md->tree;
    } else if (!md && sm_fd_is_own(fd)) {
        rc = SM_REAL(posix_spawn_file_actions_addclose)(fa, fd); /* the child's fchdir: EBADF */
    } else if (!md) {
        in = fd_dir(fd, dir);
    }
    if (rc == 0)
        rc = SM_REAL(posix_spawn_file_actions_addfchdir_np)(fa, fd);
    if (rc == 0 && s) {
        free(s->cwd);
        s->cwd = in >= 0 ? strdup(dir) : NULL;
        s->cwd_lost = !s->cwd;
        s->cwd_tree = in == 1;
    }
    fa_unlock();
    free(dir);
    return rc;
}

SM_EXPORT int posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa, int fd, int newfd)
{
    if (!fa_on() || fd < 0 || newfd < 0)
        return SM_REAL(posix_spawn_file_actions_adddup2)(fa, fd, newfd);
    fa_lock();
    struct fa_state *s = state_of(fa, 1);
    int rc = 0;
    if (own_fd(s, fd)) /* for the program it is not open: the child's dup2 fails (EBADF) */
        rc = SM_REAL(posix_spawn_file_actions_addclose)(fa, fd);
    if (rc == 0)
        rc = SM_REAL(posix_spawn_file_actions_adddup2)(fa, fd, newfd);
    if (rc == 0 && s && fd != newfd) {
        struct made *md = made_of(s, fd);
        char *dir = malloc(PATH_MAX);
        int in = -1;
        if (dir && md && md->dir) {
            snprintf(dir, PATH_MAX, "%s", md->dir);
            in = md->tree;
        } else if (dir && !md) {
            in = fd_dir(fd, dir);
        }
        made_set(s, newfd, in >= 0 ? dir : NULL, in == 1);
        free(dir);
    }
    fa_unlock();
    return rc;
}

SM_EXPORT int posix_spawn_file_actions_addclose(posix_spawn_file_actions_t *fa, int fd)
{
    if (!fa_on() || fd < 0)
        return SM_REAL(posix_spawn_file_actions_addclose)(fa, fd);
    fa_lock();
    struct fa_state *s = state_of(fa, 1);
    int rc = 0;
    if (!own_fd(s, fd)) /* the shim's: nothing to close for the program */
        rc = SM_REAL(posix_spawn_file_actions_addclose)(fa, fd);
    if (rc == 0)
        made_forget(s, fd, fd);
    fa_unlock();
    return rc;
}

SM_EXPORT int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *fa, int from)
{
    if (!fa_on() || from < 0)
        return SM_REAL(posix_spawn_file_actions_addclosefrom_np)(fa, from);
    fa_lock();
    struct fa_state *s = state_of(fa, 1);
    int rc = 0, lo = from;
    int tfd = __atomic_load_n(&sm_treefd_value, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&sm_privs_changed, __ATOMIC_ACQUIRE) && tfd >= from && own_fd(s, tfd)) {
        /* the exec hands the tree fd on (the child cannot open the tree again): close the
         * numbers below it one by one, then those above it */
        for (int n = from; n < tfd && rc == 0; n++)
            if (!own_fd(s, n))
                rc = SM_REAL(posix_spawn_file_actions_addclose)(fa, n);
        lo = tfd + 1;
    }
    if (rc == 0)
        rc = SM_REAL(posix_spawn_file_actions_addclosefrom_np)(fa, lo);
    if (rc == 0)
        made_forget(s, from, __INT_MAX__);
    fa_unlock();
    return rc;
}

/* After a spawn with fa (the child has run its actions, or failed at one): the files its
 * actions opened for writing under the prefix are recorded, as an open's are. */
void sm_spawn_actions_ran(const posix_spawn_file_actions_t *fa)
{
    if (!fa || !fa_on())
        return;
    fa_lock();
    struct fa_state *s = state_of(fa, 0);
    char *key = s && s->nwrote ? malloc(PATH_MAX) : NULL;
    for (size_t i = 0; key && i < s->nwrote; i++) {
        struct stat st;
        const char *p = s->wrote[i].path;
        if (SM_REAL(fstatat)(AT_FDCWD, p, &st, s->wrote[i].follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        /* (a name in the tree through a link: the kernel names the file it reached) */
        int fd = sm_brief_openat(AT_FDCWD, p, O_PATH | (s->wrote[i].follow ? 0 : O_NOFOLLOW), 0);
        if (fd < 0)
            continue;
        int rc = sm_key_fd(fd, key);
        sm_brief_close(fd);
        if (rc == 0)
            sm_note_write_st(key, &st);
    }
    fa_unlock();
    free(key);
}
