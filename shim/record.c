/* record.c: the shim's door into the cache. Opens this process's LMDB environment on the first
 * change under the prefix and records changes into it. A failure to record never fails the
 * caller's call: the tree already holds the change, and the sync engine's scan finds changes
 * that were never recorded. */
#include "shim.h"
#include "smshim.h"
#include "../cache/cache.h"
#include "../cache/lmdb_dl.h"
#include "../hydrate/bg.h"
#include "../hydrate/hydrate.h"
#include "../hydrate/creds.h"
#include "../hydrate/csock.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* Guarding LMDB's locks. A process that has the environment open holds POSIX locks on
 * <cache>/meta/lock.mdb; closing *any* descriptor on that file drops them (lmdb.h: "do not
 * have open an LMDB database twice in the same process ... close()ing it breaks fcntl()
 * advisory locking"). So once the environment is open, opens of paths under the cache are
 * checked: a descriptor on the lock file is marked, and after it is closed the locks are taken
 * again. */

#define GUARD_MAX 65536
static unsigned char guard_marks[GUARD_MAX / 8];

static struct smc *rec_env;
static int rec_failed;
/* guards opening only; error-checking: a signal handler's call that comes while its own thread
 * opens the cache records nothing (EDEADLK), where it waited for ever */
static pthread_mutex_t rec_mu = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_once_t rec_atfork_once = PTHREAD_ONCE_INIT;

void sm_record_atfork_child(void)
{
    /* LMDB: never use an environment after fork. Forget it; the child reopens on demand. */
    if (rec_env)
        smc_abandon(rec_env);
    rec_env = NULL;
    rec_failed = 0;
    smc_gate_atfork_child();
    __atomic_store_n(&sm_guard_on, 0, __ATOMIC_RELAXED);
    smh_atfork_child();
    smh_csock_atfork_child();
    sm_fd_atfork_child(); /* the parent's LMDB files and sockets: not there for the child */
    memset(guard_marks, 0, sizeof guard_marks);
    rec_mu = (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP; /* the child's one thread */
}

static void rec_register_atfork(void)
{
    pthread_atfork(NULL, NULL, sm_record_atfork_child);
}

/* Descriptors the program opened on lock.mdb before this process opened the environment are
 * marked like those it opens after: closing one drops the locks, which are taken again. */
static void guard_existing(void)
{
    int dfd = sm_lib_openat(AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY, 0);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            sm_lib_close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = SM_REAL(readdir)(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != dfd && !sm_fd_is_own(fd))
            sm_guard_opened(fd);
    }
    closedir(d);
    sm_fd_forget(dfd);
}

/* Once the environment is open (smc_env_ensure, at the first transaction: the sync thread's, a
 * fold, an fsync), in the thread that opened it: LMDB holds its locks on lock.mdb from now on,
 * so the program's descriptors on that file are guarded. */
static void rec_env_opened(struct smc *c)
{
    if (smc_map_size(c) < SMC_MAPSIZE)
        sm_log(SM_LOG_WARN, "cache %s: the address space is limited: a %zu MiB map", sm_w()->cache,
               smc_map_size(c) >> 20);
    guard_existing();
    __atomic_store_n(&sm_guard_on, 1, __ATOMIC_RELEASE);
}

/* The first change opens the cache's journal only (an open and an mmap): the change is recorded
 * there, and LMDB (loading it takes a thread and the loader, opening the environment a dozen
 * system calls) waits for the first transaction, which most processes never make; the sync
 * thread makes it in its own time. */
struct smc *sm_record_env(void)
{
    if (SM_UNLIKELY(sm_in_lib) && sm_host_lib)
        return NULL; /* a signal handler's call inside this thread's recording: not recorded */
    struct smc *c = __atomic_load_n(&rec_env, __ATOMIC_ACQUIRE);
    if (SM_LIKELY(c != NULL))
        return c;
    if (pthread_mutex_lock(&rec_mu) != 0)
        return NULL; /* a signal handler inside this thread's own opening: not recorded */
    if (!rec_env && !rec_failed) {
        char meta[PATH_MAX];
        pthread_once(&rec_atfork_once, rec_register_atfork);
        smc_layout_path(sm_w()->cache, SMC_META, NULL, meta, sizeof meta);
        int rc = sm_layout_ensure();
        if (rc == 0) {
            int was = sm_lib_enter();
            rc = smc_open_journal(meta, rec_env_opened, &c);
            sm_lib_leave(was);
        }
        if (rc < 0) {
            rec_failed = 1;
            sm_log(SM_LOG_ERROR, "cannot open cache %s: %s", meta, strerror(-rc));
        } else {
            __atomic_store_n(&rec_env, c, __ATOMIC_RELEASE);
        }
    }
    c = rec_env;
    pthread_mutex_unlock(&rec_mu);
    return c;
}

struct smc *sm_record_env_ready(void)
{
    struct smc *c = sm_record_env();
    if (c) {
        int was = sm_lib_enter();
        int rc = smc_env_ensure(c);
        sm_lib_leave(was);
        if (rc < 0)
            sm_log(SM_LOG_ERROR,
                   "cannot open the cache's environment: %s (changes wait in its "
                   "journal)",
                   strerror(-rc));
    }
    return c;
}

/* The host's dup2 onto one of LMDB's numbers. The environment is closed and opened again while
 * the gate is closed (no thread of the process is inside a transaction, and none starts one on
 * the old environment: the sync thread's pointer to rec_env stays valid, its contents swapped);
 * LMDB's close of nfd leaves a placeholder there (sm_fd_park), so the new environment cannot
 * take that number back, and the host's dup2 then replaces the placeholder. Closing the old
 * environment drops this process's POSIX locks on lock.mdb (every descriptor on it goes) and
 * opening the new one takes them again, so no other process sees this one as gone for longer
 * than the swap. Lock order: the gate, then rec_mu is never taken inside. */
int sm_record_vacate(int nfd)
{
    struct smc *c = __atomic_load_n(&rec_env, __ATOMIC_ACQUIRE);
    if (!c)
        return -EBUSY;
    int was = sm_lib_enter();
    int rc = -EBUSY;
    /* room: the old environment frees its other numbers, the new one takes three, and each of
     * its opens briefly needs one more; with no room the environment stays (EBUSY) */
    if (smc_env_holds(c, nfd) && sm_fd_room(2) && smc_gate_close() == 0) {
        sm_fd_park(nfd);
        rc = smc_reopen(c);
        sm_fd_park(-1);
        smc_gate_open();
        if (rc < 0)
            sm_log(SM_LOG_ERROR,
                   "cannot open the cache's environment again: %s (changes are "
                   "left to the scan)",
                   strerror(-rc));
        sm_fd_forget(nfd); /* the placeholder, for the host's dup2 to replace */
        rc = 0;
    }
    sm_lib_leave(was);
    return rc;
}

void sm_guard_opened(int fd)
{
    struct stat st;
    uint64_t dev, ino;
    struct smc *c = __atomic_load_n(&rec_env, __ATOMIC_ACQUIRE);
    if (!c || fd < 0 || fd >= GUARD_MAX || SM_REAL(fstat)(fd, &st) != 0)
        return;
    smc_lock_ident(c, &dev, &ino);
    if ((uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino)
        __atomic_fetch_or(&guard_marks[fd / 8], (unsigned char)(1u << (fd % 8)), __ATOMIC_RELAXED);
}

int sm_guard_closing(int fd)
{
    if (fd < 0 || fd >= GUARD_MAX)
        return 0;
    unsigned char bit = (unsigned char)(1u << (fd % 8));
    return (__atomic_fetch_and(&guard_marks[fd / 8], (unsigned char)~bit, __ATOMIC_RELAXED) &
            bit) != 0;
}

void sm_guard_relock(void)
{
    struct smc *c = __atomic_load_n(&rec_env, __ATOMIC_ACQUIRE);
    if (c) {
        int was = sm_lib_enter();
        smc_relock(c);
        sm_lib_leave(was);
        sm_log(SM_LOG_INFO, "took the cache's locks again after the program closed lock.mdb");
    }
}

static void sync_log(const char *msg)
{
    sm_log(SM_LOG_WARN, "sync: %s", msg);
}

static void sync_opts(struct smh_bg_opts *o, struct smc *c);

/* A key in the environment, or a credentials file (looked for once, never opened here). */
static int sm_sync_wanted(void)
{
    const struct sm_where *w = sm_w();
    return w->key[0] || (w->creds[0] && smh_creds_present(w->creds));
}

/* A change is recorded: with an API key, the background sync thread pushes it. */
void sm_sync_kick(struct smc *c)
{
    struct smh_bg_opts o; /* copied by the sync module when it starts its thread */
    if (!sm_sync_wanted())
        return;
    sync_opts(&o, c);
    int was = sm_lib_enter();
    smh_bg_kick(&o);
    sm_lib_leave(was);
}

int sm_sync_owed(void)
{
    return smh_bg_owed();
}

void sm_sync_take_over(void)
{
    struct smc *c = sm_record_env();
    if (c)
        sm_sync_kick(c);
}

void sm_note_miss(const char *rel)
{
    struct smh_bg_opts o;
    char key[PATH_MAX];
    if (!sm_sync_wanted())
        return;
    size_t n = strlen(rel);
    while (n > 1 && rel[n - 1] == '/')
        n--;
    if (n == 0 || (n == 1 && rel[0] == '.') || n + 2 > sizeof key)
        return;
    key[0] = '/';
    memcpy(key + 1, rel, n);
    key[n + 1] = '\0';
    struct smc *c = sm_record_env();
    if (!c)
        return;
    sync_opts(&o, c);
    int was = sm_lib_enter();
    smh_bg_miss(&o, key);
    sm_lib_leave(was);
}

static void sync_opts(struct smh_bg_opts *o, struct smc *c)
{
    const struct sm_where *w = sm_w();
    o->cache = c;
    o->cache_dir = w->cache;
    o->base_url = w->base_url;
    o->key = w->key;
    o->creds = w->creds;
    o->url_env = w->url_env;
    o->tag = w->tag;
    o->exit_wait = w->exit_wait;
    o->exit_timeout_ms = w->exit_timeout_ms;
    o->pull_interval_ms = w->pull_interval_ms;
    o->log = sync_log;
}

/* key's change could not be recorded (rc): logged and, when the environment itself refuses it
 * (its map is full, no probe is free for the key), listed outside LMDB so that status and sync
 * show it until a scan records the file (cache/unrecorded.c). */
static void unrecorded(struct smc *c, const char *key, int rc)
{
    sm_log(SM_LOG_WARN, "record write %s: %s", key, strerror(-rc));
    if (c && key && (rc == -ENOSPC || rc == -EOVERFLOW)) {
        int was = sm_lib_enter();
        int lr = smc_unrecorded_add(c, key, -rc);
        sm_lib_leave(was);
        if (lr < 0)
            sm_log(SM_LOG_ERROR, "cannot list %s as unrecorded: %s", key, strerror(-lr));
    }
}

void sm_note_write_tok(const char *key, struct smc_wtok *tok)
{
    struct smc *c = sm_record_env();
    int was = sm_lib_enter();
    int rc = 0;
    tok->epoch = tok->pos = 0;
    if (c)
        rc = smc_note_write_tok(c, key, sm_now_ns(), tok);
    sm_lib_leave(was);
    if (rc < 0)
        unrecorded(c, key, rc);
    else if (c)
        sm_sync_kick(c);
}

void sm_note_write(const char *key)
{
    struct smc_wtok tok;
    sm_note_write_tok(key, &tok);
}

int sm_note_unread(const struct smc_wtok *tok)
{
    return tok->epoch && smc_wtok_unread(__atomic_load_n(&rec_env, __ATOMIC_ACQUIRE), tok);
}

void sm_note_unlink(const char *key)
{
    struct smc *c = sm_record_env();
    int was = sm_lib_enter();
    int rc = c ? smc_note_unlink(c, key, sm_now_ns()) : 0;
    sm_lib_leave(was);
    if (rc < 0)
        sm_log(SM_LOG_WARN, "record unlink %s: %s", key, strerror(-rc));
    else if (c)
        sm_sync_kick(c);
}

void sm_note_rename(const char *from, const char *to, int is_dir)
{
    struct smc *c = sm_record_env();
    int was = sm_lib_enter();
    int rc = c ? smc_note_rename(c, from, to, is_dir, sm_now_ns()) : 0;
    sm_lib_leave(was);
    if (rc < 0)
        sm_log(SM_LOG_WARN, "record rename %s -> %s: %s", from ? from : "-", to ? to : "-",
               strerror(-rc));
    else if (c)
        sm_sync_kick(c);
}

/* Process exit: exit() and _exit() are wrapped (Bun runs no destructors), and the destructor
 * covers a return from main. */
/* Process exit: the sync thread does the exit-time work while this thread waits, bounded, taking
 * no lock and allocating nothing (hydrate/bg.c): exit and _exit may be called from a signal
 * handler. When that handler interrupted the library's own work in this thread (an LMDB commit
 * of the recorder), the thread could need what is held here: the process exits at once, and what
 * is queued stays queued for the next process. */
SM_START static void sm_exit_hook(void)
{
    /* settings never decided: no change was recorded, no sync thread started (and exit decides
     * nothing: a process that never touched the prefix leaves as it came) */
    const struct sm_where *w = __atomic_load_n(&sm_cfg.w, __ATOMIC_ACQUIRE);
    if ((w->key[0] || w->creds[0]) && !sm_in_lib) {
        int saved = errno;
        int was = sm_lib_enter();
        smh_at_exit();
        sm_lib_leave(was);
        errno = saved;
    }
}

SM_EXPORT SM_START void exit(int status)
{
    sm_exit_hook();
    SM_REAL(exit)(status);
    __builtin_unreachable();
}

void sm_exit_now(int status)
{
    sm_exit_hook();
    SM_REAL(_exit)(status);
    __builtin_unreachable();
}

SM_EXPORT void _exit(int status)
{
    sm_exit_now(status);
}

SM_EXPORT void _Exit(int status)
{
    sm_exit_hook();
    SM_REAL(_Exit)(status);
    __builtin_unreachable();
}

__attribute__((destructor)) static void sm_dtor(void)
{
    sm_exit_hook();
}

void sm_note_sync(void)
{
    struct smc *c = __atomic_load_n(&rec_env, __ATOMIC_ACQUIRE);
    if (c) {
        int was = sm_lib_enter();
        smc_flush(c);
        sm_lib_leave(was);
    }
}

/* ---- hard links: every name of an inode (cache/links.c) ------------------------------------- */

static struct smc_ino ino_of(const struct stat *st)
{
    struct smc_ino id = {(uint64_t)st->st_dev, (uint64_t)st->st_ino};
    return id;
}

/* Is the tree name key (absolute key "/a/b") the file st? */
static int names_inode(const char *key, const struct stat *st)
{
    struct stat s;
    int tfd = sm_tree_fd();
    if (tfd < 0 || strcmp(key, "/") == 0)
        return 0;
    return SM_REAL(fstatat)(tfd, key + 1, &s, AT_SYMLINK_NOFOLLOW) == 0 && s.st_dev == st->st_dev &&
           s.st_ino == st->st_ino;
}

void sm_note_write_st(const char *key, const struct stat *st)
{
    if (key && (!st || st->st_nlink < 2)) {
        sm_note_write(key);
        return;
    }
    struct smc *c = sm_record_env();
    if (!c)
        return;
    struct smc_ino id = ino_of(st);
    char *l = NULL;
    size_t len = 0;
    int was = sm_lib_enter();
    int rc = smc_links_names(c, &id, &l, &len);
    sm_lib_leave(was);
    if (rc < 0) {
        free(l);
        if (key && names_inode(key, st))
            sm_note_write(key); /* linked outside the shim: only this name is known */
        return;
    }
    /* the record is a hint: keep the names that still are this inode, and this one */
    const char **names = malloc((len / 2 + 2) * sizeof *names);
    size_t n = 0;
    if (!names) {
        free(l);
        sm_note_write(key);
        return;
    }
    if (key && names_inode(key, st))
        names[n++] = key;
    for (size_t i = 0; i < len; i += strlen(l + i) + 1)
        if ((!key || strcmp(l + i, key) != 0) && names_inode(l + i, st))
            names[n++] = l + i;
    was = sm_lib_enter();
    rc = smc_links_note_write(c, &id, names, n, sm_now_ns());
    sm_lib_leave(was);
    free(names);
    free(l);
    if (rc < 0 && key)
        unrecorded(c, key, rc);
    else if (rc < 0)
        sm_log(SM_LOG_WARN, "record write (a linked file): %s", strerror(-rc));
    else
        sm_sync_kick(c);
}

void sm_note_link(const char *existing, const char *added, const struct stat *st)
{
    struct smc *c = sm_record_env();
    struct smc_ino id = ino_of(st);
    int was = sm_lib_enter();
    int rc = c ? smc_links_note_link(c, &id, existing, added, sm_now_ns()) : 0;
    sm_lib_leave(was);
    if (rc < 0)
        sm_log(SM_LOG_WARN, "record link %s: %s", added, strerror(-rc));
    else if (c)
        sm_sync_kick(c);
}

void sm_note_relink(const char *from, const char *to, const struct stat *st)
{
    struct smc *c = sm_record_env();
    struct smc_ino id = ino_of(st);
    int was = sm_lib_enter();
    int rc = c ? smc_links_rename(c, &id, from, to) : 0;
    sm_lib_leave(was);
    if (rc < 0)
        sm_log(SM_LOG_WARN, "record the names of %s: %s", from ? from : to, strerror(-rc));
}

/* ---- a directory that arrived from outside the prefix ---------------------------------------- */

/* The files found below the directory (smc_tree_walk: beneath the tree, no link followed, any
 * path length, only the library's descriptors). */
struct walk {
    char **v;
    size_t n, cap;
    int err;
};

static int walk_visit(void *arg, const char *key, const struct stat *st)
{
    struct walk *w = arg;
    if (!S_ISREG(st->st_mode))
        return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        char **nv = realloc(w->v, cap * sizeof *nv);
        if (!nv) {
            w->err = -ENOMEM;
            return 1;
        }
        w->v = nv;
        w->cap = cap;
    }
    if (!(w->v[w->n] = strdup(key))) {
        w->err = -ENOMEM;
        return 1;
    }
    w->n++;
    return 0;
}

void sm_note_tree_in(const char *key)
{
    struct walk w = {NULL, 0, 0, 0};
    struct smc *c = sm_record_env();
    if (!c)
        return;
    int was = sm_lib_enter();
    int rc = smc_tree_walk(sm_w()->tree, key, walk_visit, &w);
    if (rc == 0 && w.err == 0 && w.n)
        rc = smc_note_writes(c, (const char *const *)w.v, w.n, sm_now_ns());
    sm_lib_leave(was);
    for (size_t i = 0; i < w.n; i++)
        free(w.v[i]);
    free(w.v);
    if (rc < 0 || w.err < 0)
        sm_log(SM_LOG_WARN, "record the files of %s: %s (the scan finds them)", key,
               strerror(rc < 0 ? -rc : -w.err));
    else if (w.n)
        sm_sync_kick(c);
}
