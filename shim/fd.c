/* fd.c: the descriptors the shim must know about: its own (LMDB's files, the tree fd, the log,
 * libcurl's sockets: sm_real.h), which the host's close, close_range, closefrom and dup2 leave
 * alone as if they did not exist; descriptors open for writing on files under the prefix (their
 * close records the file again); descriptors the program opened on the cache's LMDB lock file
 * (their close drops this process's locks, which are taken again). close, fclose, close_range,
 * closefrom, dup2, dup3, the fsync family, and the calls that make descriptors for the library's
 * own threads (socket, pipe, ...). The raw door reaches the same cores (sys.c). */
#include "shim.h"
#include "../cache/cache.h"
#include "../hydrate/csock.h"

#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- descriptors open for writing under the prefix ------------------------------------------ */

/* The pid that opened each, the file's key and where the open's record lies in the journal. Their
 * close records the file again, so that writes made after the sync engine read it are pushed (the
 * engine's scan finds those closed some other way: exit, a child). A close that finds the open's
 * record read by no fold yet records nothing: no fold has read it, so no push has cleared what it
 * marks, and the fold that reads it would fold the second record with it, for nothing. */
struct wfd_ent {
    pid_t owner;
    char *key; /* a buffer of sm_keybuf_get */
    struct smc_wtok tok;
};
/* Indexed by number, in chunks: the first in the library's memory, the others mapped at the
 * first open for writing at a number in their range (an mmap: an open may be a signal
 * handler's), up to the kernel's default ceiling on descriptors (nr_open, 1,048,576); a number
 * past it has no entry (its close records nothing: the scan finds the file). */
#define WFD_CHUNK  4096
#define WFD_CHUNKS 256
static struct wfd_ent wfd0[WFD_CHUNK];
static struct wfd_ent *wfd_chunks[WFD_CHUNKS] = {wfd0};

/* fd's entry, or NULL (its chunk not mapped: made when make is set and it can be) */
static struct wfd_ent *wfd_at(int fd, int make)
{
    if (fd < 0 || fd >= WFD_CHUNK * WFD_CHUNKS)
        return NULL;
    struct wfd_ent **slot = &wfd_chunks[fd / WFD_CHUNK];
    struct wfd_ent *c = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (SM_UNLIKELY(!c) && make) {
        void *m = mmap(NULL, WFD_CHUNK * sizeof *c, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        struct wfd_ent *none = NULL;
        if (__atomic_compare_exchange_n(slot, &none, (struct wfd_ent *)m, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            c = m;
        } else {
            munmap(m, WFD_CHUNK * sizeof *c);
            c = none; /* another thread's, mapped meanwhile */
        }
    }
    return c ? &c[fd % WFD_CHUNK] : NULL;
}

/* This process's pid for the owner of a new entry, asked of the kernel once and again in the
 * child of each fork (libc's, whose atfork handlers run). The close still asks the kernel: a vfork
 * child shares this table and the cached pid, and must not take the parent's entries. A child
 * made by a raw fork that runs no atfork handler notes its entries under its parent's pid: its
 * close then records nothing and the scan finds the file. */
static pid_t wfd_pid;
static int wfd_registered; /* the atfork handler: one caller registers it, none waits */

static void wfd_forked(void)
{
    __atomic_store_n(&wfd_pid, 0, __ATOMIC_RELAXED);
}

static void wfd_register(void)
{
    pthread_atfork(NULL, NULL, wfd_forked);
}

static pid_t wfd_me(void)
{
    pid_t p = __atomic_load_n(&wfd_pid, __ATOMIC_RELAXED);
    if (SM_LIKELY(p))
        return p;
    if (!__atomic_exchange_n(&wfd_registered, 1, __ATOMIC_ACQ_REL))
        wfd_register();
    p = getpid();
    __atomic_store_n(&wfd_pid, p, __ATOMIC_RELAXED);
    return p;
}

void sm_wfd_set(int fd, const char *key, const struct smc_wtok *tok)
{
    struct wfd_ent *w = wfd_at(fd, 1);
    if (!w)
        return;
    /* no malloc: a signal handler's open may come while its thread is inside one */
    char *k = sm_keybuf_get();
    if (!k)
        return; /* no entry: its close records nothing, the scan finds the file */
    size_t n = strnlen(key, PATH_MAX - 1);
    memcpy(k, key, n);
    k[n] = '\0';
    __atomic_store_n(&w->owner, wfd_me(), __ATOMIC_RELAXED);
    /* (the number is this thread's until its close: no other thread reads the entry before) */
    /* (atomic only for the tools: a number closed by one thread and reopened by another is
     * ordered by the kernel, which a race detector does not see) */
    __atomic_store_n(&w->tok.epoch, tok ? tok->epoch : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&w->tok.pos, tok ? tok->pos : 0, __ATOMIC_RELAXED);
    sm_keybuf_put(__atomic_exchange_n(&w->key, k, __ATOMIC_ACQ_REL));
}

/* Does fd have an entry (opened for writing under the prefix, by this process or a parent)? */
static inline int wfd_held(int fd)
{
    struct wfd_ent *w = wfd_at(fd, 0);
    return w && __atomic_load_n(&w->key, __ATOMIC_RELAXED);
}

/* close() of fd: 1 (and its key) when fd was opened for writing on a file under the prefix by
 * this process and its close is to record it. */
static int wfd_closing(int fd, char key[PATH_MAX])
{
    struct wfd_ent *w = wfd_at(fd, 0);
    if (!w || !__atomic_load_n(&w->key, __ATOMIC_RELAXED))
        return 0;
    pid_t owner = __atomic_load_n(&w->owner, __ATOMIC_RELAXED);
    /* a vfork or fork child closing an inherited descriptor: the parent's close counts */
    if (owner != getpid())
        return 0;
    struct smc_wtok tok = {__atomic_load_n(&w->tok.epoch, __ATOMIC_RELAXED),
                           __atomic_load_n(&w->tok.pos, __ATOMIC_RELAXED)};
    char *k = __atomic_exchange_n(&w->key, NULL, __ATOMIC_ACQ_REL);
    if (!k)
        return 0;
    if (sm_note_unread(&tok)) {
        sm_keybuf_put(k);
        return 0;
    }
    size_t n = strnlen(k, PATH_MAX - 1); /* a key is shorter than PATH_MAX (sm_key_at) */
    memcpy(key, k, n);
    key[n] = '\0';
    sm_keybuf_put(k);
    return 1;
}

/* ---- close ------------------------------------------------------------------------------------ */

enum { CLOSE_PLAIN, CLOSE_RELOCK, CLOSE_RECORD, CLOSE_INODE };

/* The file fd is open on, by the name it has now (key holds the name seen at open), decided
 * before the real close so that no entry outlives its name: CLOSE_RECORD (key names it, *st its
 * stat), CLOSE_INODE (no name known, but the file has names: those of its inode, from the
 * index), CLOSE_PLAIN (unlinked: nothing to record). */
static int current_name(int fd, char key[PATH_MAX], struct stat *st)
{
    struct stat s;
    int tfd = sm_tree_fd();
    if (tfd >= 0 && strcmp(key, "/") != 0 &&
        SM_REAL(fstatat)(tfd, key + 1, st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st->st_mode))
        return CLOSE_RECORD; /* the name is there (the common case: one stat) */
    if (SM_REAL(fstat)(fd, st) != 0 || st->st_nlink == 0)
        return CLOSE_PLAIN;
    /* renamed since: the kernel's name for it, if that is still one (a name unlinked since,
     * while the file has others, is shown as "... (deleted)") */
    if (tfd >= 0 && sm_key_fd(fd, key) == 0 && strcmp(key, "/") != 0 &&
        SM_REAL(fstatat)(tfd, key + 1, &s, AT_SYMLINK_NOFOLLOW) == 0 && s.st_dev == st->st_dev &&
        s.st_ino == st->st_ino)
        return CLOSE_RECORD;
    return CLOSE_INODE;
}

/* What the host's close of fd (not one of the shim's) means to the shim, decided before the
 * real close. */
static int closing(int fd, char key[PATH_MAX], struct stat *st)
{
    if (SM_UNLIKELY(SM_GUARD_ON()) && sm_guard_closing(fd))
        return CLOSE_RELOCK;
    return wfd_closing(fd, key) ? current_name(fd, key, st) : CLOSE_PLAIN;
}

static void closed(int what, const char *key, const struct stat *st)
{
    if (what == CLOSE_RELOCK)
        sm_guard_relock();
    else if (what == CLOSE_RECORD)
        sm_note_write_st(key, st);
    else if (what == CLOSE_INODE)
        sm_note_write_st(NULL, st);
}

/* The close that has something to note (a file opened for writing under the prefix, the guard
 * on): its key and stat are out of the frame of the plain close. Inside the host's bracket. */
static SM_SLOW int close_noting(int fd)
{
    char key[PATH_MAX];
    struct stat st;
    int what = closing(fd, key, &st);
    int rc = SM_REAL(close)(fd) == 0 ? 0 : -errno;
    sm_host_fd_end();
    if (SM_UNLIKELY(what != CLOSE_PLAIN))
        closed(what, key, &st);
    return rc;
}

SM_ROOMY(int, sm_close_core, (int fd))
{
    sm_host_fd_begin(); /* no library open is between its open and its lift (real.c) */
    if (SM_UNLIKELY(sm_fd_is_own(fd))) {
        sm_host_fd_end();
        sm_log(SM_LOG_DEBUG, "the program closed descriptor %d, the shim's: left open", fd);
        return -EBADF; /* for the host, the shim's descriptors do not exist */
    }
    if (SM_UNLIKELY(SM_GUARD_ON()) || SM_UNLIKELY(wfd_held(fd)))
        return close_noting(fd);
    int rc = SM_REAL(close)(fd) == 0 ? 0 : -errno;
    sm_host_fd_end();
    return rc;
}

/* The number LMDB's close must not free (sm_record_vacate), or -1. Written only while the
 * gate is closed, by the thread that closed it. */
static int parked = -1;

void sm_fd_park(int nfd)
{
    __atomic_store_n(&parked, nfd, __ATOMIC_RELEASE);
}

/* The library closes fd, the parked number: a placeholder (/dev/null) takes the file's place in
 * one dup3, so no other open of the library's can get the number before the host's dup2. */
static int park_close(int fd)
{
    sm_lift_begin(); /* the placeholder is at a low number until it is closed */
    int ph = SM_REAL(open)("/dev/null", O_RDONLY | O_CLOEXEC);
    int rc = ph < 0 ? -1 : SM_REAL(dup3)(ph, fd, O_CLOEXEC);
    if (ph >= 0)
        SM_REAL(close)(ph);
    sm_lift_end();
    if (ph < 0)
        return sm_lib_close(fd);
    return rc < 0 ? -1 : 0;
}

/* liblmdb or libcurl closing one of its own */
static SM_SLOW int lib_close(int fd)
{
    if (SM_UNLIKELY(sm_own_table))
        return SM_REAL(close)(fd); /* in a table of the thread's own (real.c) */
    if (SM_UNLIKELY(fd >= 0 && fd == __atomic_load_n(&parked, __ATOMIC_ACQUIRE)))
        return park_close(fd);
    if (smh_csock_closing(fd))
        return 0; /* a descriptor of a libcurl handle's */
    return sm_lib_close(fd);
}

static SM_SLOW int close_slow(int fd)
{
    SM_CALL(sm_close_core(fd));
}

SM_EXPORT int close(int fd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return lib_close(fd);
    /* the common close, in a process with one thread: nothing to note, and no lift in flight
     * that the bracket would wait for */
    if (SM_LIKELY(sm_host_alone()) && SM_LIKELY(!sm_fd_is_own(fd)) && SM_LIKELY(!SM_GUARD_ON()) &&
        SM_LIKELY(!wfd_held(fd)))
        return SM_REAL(close)(fd);
    return close_slow(fd);
}

SM_EXPORT int fclose(FILE *f)
{
    char key[PATH_MAX];
    struct stat st;
    if (SM_UNLIKELY(sm_in_lib) && f)
        sm_fd_forget(fileno(f)); /* one of the library's (its fopen lifted it) */
    if (SM_UNLIKELY(sm_in_lib) || !f)
        return SM_REAL(fclose)(f);
    int fd = fileno(f);
    sm_host_fd_begin();
    if (SM_UNLIKELY(sm_fd_is_own(fd))) {
        sm_host_fd_end();
        errno = EBADF;
        return EOF;
    }
    int what = closing(fd, key, &st);
    int rc = SM_REAL(fclose)(f);
    sm_host_fd_end();
    if (SM_UNLIKELY(what != CLOSE_PLAIN)) {
        int saved = errno;
        closed(what, key, &st);
        errno = saved;
    }
    return rc;
}

/* The host's close_range skips the shim's descriptors: the range is closed in the pieces between
 * them. Marking them close-on-exec changes nothing (they are). Descriptors the program opened on
 * the lock file or for writing under the prefix are not looked at: a range close is how programs
 * drop what they inherited, and the scan finds what was written. */
static int close_range_pieces(unsigned first, unsigned last, unsigned flags)
{
    unsigned lo = first;
    for (int o = sm_fd_next_own((int)(first < SM_FD_MAX ? first : SM_FD_MAX));
         o >= 0 && (unsigned)o <= last && !(flags & CLOSE_RANGE_CLOEXEC);
         o = sm_fd_next_own(o + 1)) {
        if ((unsigned)o > lo && SM_REAL(close_range)(lo, (unsigned)o - 1, (int)flags) != 0)
            return -errno;
        lo = (unsigned)o + 1;
    }
    if (lo > last || lo == 0) /* nothing left, or the last piece ended at ~0U */
        return 0;
    return SM_REAL(close_range)(lo, last, (int)flags) == 0 ? 0 : -errno;
}

SM_ROOMY(int, sm_close_range_core, (unsigned first, unsigned last, unsigned flags))
{
    if (first > last)
        return -EINVAL;
    sm_host_fd_begin();
    int rc = close_range_pieces(first, last, flags);
    sm_host_fd_end();
    return rc;
}

SM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(close_range)(first, last, flags);
    SM_CALL(sm_close_range_core(first, last, (unsigned)flags));
}

/* glibc's closefrom calls close_range inside itself: wrapped so that it skips the shim's too. */
SM_EXPORT void closefrom(int lowfd)
{
    int saved = errno;
    if (SM_UNLIKELY(sm_in_lib) || lowfd < 0) {
        SM_REAL(closefrom)(lowfd);
    } else if (sm_close_range_core((unsigned)lowfd, ~0U, 0) == -ENOSYS) {
        /* a kernel without close_range: one by one, as glibc does then */
        for (int fd = lowfd; fd < SM_FD_MAX; fd++) {
            sm_host_fd_begin();
            if (!sm_fd_is_own(fd))
                SM_REAL(close)(fd);
            sm_host_fd_end();
        }
    }
    errno = saved;
}

/* ---- dup2 / dup3 onto a descriptor the shim holds --------------------------------------------- */

/* The host duplicates onto nfd: the shim's descriptor there moves away first: the tree fd and
 * the log are moved (sm_fd_vacate), LMDB's files by opening the environment again at other
 * numbers (sm_record_vacate), a libcurl socket by giving its connection up (smh_csock_yield:
 * libcurl holds a socket by number, so it cannot move, but it never touches the number again).
 * One that finds no other number free, or a connection that is not given up in time, fails with
 * EBUSY, which Linux's dup2 may answer anyway. The shim's descriptors cannot be duplicated by
 * the host (EBADF): for it they do not exist. */
int sm_fd_replacing(int old, int nfd)
{
    if (SM_UNLIKELY(sm_fd_is_own(old)))
        return -EBADF;
    for (int tries = 0; SM_UNLIKELY(sm_fd_is_own(nfd)) && old != nfd; tries++) {
        struct rlimit rl;
        if (SM_REAL(fcntl)(old, F_GETFD) < 0 ||
            (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)nfd >= rl.rlim_cur))
            return -EBADF; /* the dup2 would fail (nfd above the limit: the range may lie there):
                            * nothing is moved for it */
        int rc = smh_csock_yield(nfd);
        const char *how = "its connection was given up";
        if (rc == -EAGAIN && tries < 1000) {
            sched_yield(); /* libcurl closes it this moment */
            continue;
        }
        if (rc == 0 && (rc = sm_fd_vacate(nfd)) == 0)
            how = "moved away";
        else if (rc == -EBUSY && (rc = sm_record_vacate(nfd)) == 0)
            how = "the cache's environment was opened again elsewhere";
        sm_log(rc < 0 ? SM_LOG_WARN : SM_LOG_DEBUG,
               "the program duplicates onto descriptor %d, the shim's: %s", nfd,
               rc < 0 ? "refused (EBUSY): a connection not given up in time, or no other "
                        "number is free"
                      : how);
        return rc < 0 ? -EBUSY : 0;
    }
    return 0;
}

/* The host's dup2 (three == 0) or dup3 of old onto nfd: the shim's descriptor there moves
 * first (sm_fd_replacing, outside the lift gate: it may wait for libcurl, which may lift), then
 * the dup is made with no library open between its open and its lift (real.c), nfd checked
 * again there (a lift that took it meanwhile sends the call round again). A vfork child's dup
 * onto one replaces its own copy and nothing else. Returns the new descriptor or -errno. */
SM_ROOMY(int, sm_dup_core, (int old, int nfd, int flags, int three))
{
    if (SM_UNLIKELY(sm_fd_is_own(nfd)) && old != nfd && !sm_fd_is_own(old) && sm_vm_borrowed()) {
        /* a vfork child onto its copy of one of the shim's numbers: moving the shim's descriptor
         * would change its parent's state (the environment reopened into the parent's memory at
         * numbers only the child's table holds); the copy is the child's to replace */
        int rc = three ? SM_REAL(dup3)(old, nfd, flags) : SM_REAL(dup2)(old, nfd);
        return rc < 0 ? -errno : rc;
    }
    for (int tries = 0;; tries++) {
        int rc = sm_fd_replacing(old, nfd);
        if (rc < 0)
            return rc;
        sm_host_fd_begin();
        if (SM_UNLIKELY(sm_fd_is_own(nfd) && old != nfd) || SM_UNLIKELY(sm_fd_is_own(old))) {
            sm_host_fd_end();
            if (tries < 100)
                continue;
            return -EBUSY;
        }
        rc = three ? SM_REAL(dup3)(old, nfd, flags) : SM_REAL(dup2)(old, nfd);
        rc = rc < 0 ? -errno : rc;
        sm_host_fd_end();
        return rc;
    }
}

SM_EXPORT int dup2(int old, int nfd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(dup2)(old, nfd);
    int saved = errno, rc = sm_dup_core(old, nfd, 0, 0);
    if (rc < 0)
        return (int)sm_ret(rc);
    errno = saved;
    return rc;
}

SM_EXPORT int dup3(int old, int nfd, int flags)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(dup3)(old, nfd, flags);
    int saved = errno, rc = sm_dup_core(old, nfd, flags, 1);
    if (rc < 0)
        return (int)sm_ret(rc);
    errno = saved;
    return rc;
}

/* ---- dup and fcntl of a descriptor the shim holds ------------------------------------------------ */

/* For the host the shim's descriptors do not exist: dup and every fcntl of one (F_DUPFD would give
 * the program a copy of LMDB's file to write into or to close, which drops the process's locks;
 * F_SETFL O_APPEND would make LMDB's pwrite append; F_SETLK would take LMDB's locks) answer
 * EBADF. The library's own calls (LMDB's locks, the lifts) pass. */
SM_EXPORT int dup(int fd)
{
    if (SM_UNLIKELY(!sm_in_lib) && SM_UNLIKELY(sm_fd_is_own(fd))) {
        errno = EBADF;
        return -1;
    }
    return SM_REAL(dup)(fd);
}

/* The argument is read as a pointer, as libc's fcntl does: an int and a pointer travel in the
 * same register. */
#define FCNTL_BODY(real)                                                                           \
    va_list ap;                                                                                    \
    va_start(ap, cmd);                                                                             \
    void *arg = va_arg(ap, void *);                                                                \
    va_end(ap);                                                                                    \
    if (SM_UNLIKELY(!sm_in_lib) && SM_UNLIKELY(sm_fd_is_own(fd))) {                                \
        errno = EBADF;                                                                             \
        return -1;                                                                                 \
    }                                                                                              \
    return (real)(fd, cmd, arg)

SM_EXPORT int fcntl(int fd, int cmd, ...)
{
    FCNTL_BODY(SM_REAL(fcntl));
}

SM_EXPORT int fcntl64(int fd, int cmd, ...)
{
    __typeof__(fcntl64) *f = SM_REAL(fcntl64);
    FCNTL_BODY(f ? f : SM_REAL(fcntl));
}

/* ---- descriptors made for the library's own threads -------------------------------------------- */

/* libcurl's sockets and its resolver's wake-up pipes are made by its own calls: in a thread of
 * the library (sm_in_lib) they are moved into the reserved range like every descriptor of the
 * library's. The host's calls are untouched. */
static int lib_fd(int fd)
{
    fd = sm_fd_lift(fd);
    smh_csock_note(fd); /* made inside libcurl: its handle's */
    return fd;
}

static int lib_fd2(int rc, int fds[2])
{
    if (rc == 0) {
        fds[0] = lib_fd(fds[0]);
        fds[1] = lib_fd(fds[1]);
    }
    sm_lift_end();
    return rc;
}

SM_EXPORT int socket(int domain, int type, int proto)
{
    if (SM_LIKELY(!sm_in_lib))
        return SM_REAL(socket)(domain, type, proto);
    sm_lift_begin();
    int fd = lib_fd(SM_REAL(socket)(domain, type, proto));
    sm_lift_end();
    return fd;
}

SM_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
    if (SM_LIKELY(!sm_in_lib))
        return SM_REAL(socketpair)(domain, type, proto, sv);
    sm_lift_begin();
    return lib_fd2(SM_REAL(socketpair)(domain, type, proto, sv), sv);
}

SM_EXPORT int pipe(int fds[2])
{
    if (SM_LIKELY(!sm_in_lib))
        return SM_REAL(pipe)(fds);
    sm_lift_begin();
    return lib_fd2(SM_REAL(pipe)(fds), fds);
}

SM_EXPORT int pipe2(int fds[2], int flags)
{
    if (SM_LIKELY(!sm_in_lib))
        return SM_REAL(pipe2)(fds, flags);
    sm_lift_begin();
    return lib_fd2(SM_REAL(pipe2)(fds, flags), fds);
}

SM_EXPORT int eventfd(unsigned count, int flags)
{
    if (SM_LIKELY(!sm_in_lib))
        return SM_REAL(eventfd)(count, flags);
    sm_lift_begin();
    int fd = lib_fd(SM_REAL(eventfd)(count, flags));
    sm_lift_end();
    return fd;
}

/* The resolver (getaddrinfo, called by libcurl's resolver thread) opens files and sockets inside
 * libc, past every wrapper, at the lowest free numbers: a program's dup2 or close onto one of
 * them would make the resolver read, write or close the program's file. In the library's
 * threads it runs in a thread of its own with a table of descriptors of its own
 * (sm_table_own): nothing it opens is in the program's table, and it closes nothing
 * there. Where unshare is refused (a seccomp policy), it runs as before. */
struct gai_call {
    const char *node, *service;
    const struct addrinfo *hints;
    struct addrinfo **res;
    int rc, err;
};

static void *gai_main(void *arg)
{
    struct gai_call *g = arg;
    sm_table_own();
    g->rc = SM_REAL(getaddrinfo)(g->node, g->service, g->hints, g->res);
    g->err = errno;
    return NULL;
}

SM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                          struct addrinfo **res)
{
    pthread_t t;
    if (SM_LIKELY(!sm_in_lib))
        return SM_REAL(getaddrinfo)(node, service, hints, res);
    struct gai_call g = {.node = node, .service = service, .hints = hints, .res = res};
    if (sm_thread_start(&t, NULL, gai_main, &g) != 0)
        return SM_REAL(getaddrinfo)(node, service, hints, res);
    pthread_join(t, NULL);
    if (g.rc == EAI_SYSTEM)
        errno = g.err;
    return g.rc;
}

/* ---- durability: fsync of a virtual file also makes the cache's committed state durable ---- */

SM_ROOMY(int, sm_fsync_core, (int fd, int kind))
{
    char key[PATH_MAX];
    int rc = kind == 0   ? SM_REAL(fsync)(fd)
             : kind == 1 ? SM_REAL(fdatasync)(fd)
                         : SM_REAL(syncfs)(fd);
    if (rc != 0)
        return -errno;
    if (sm_cfg.enabled && sm_key_fd(fd, key) == 0)
        sm_note_sync();
    return 0;
}

SM_EXPORT int fsync(int fd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(fsync)(fd);
    SM_CALL(sm_fsync_core(fd, 0));
}

SM_EXPORT int fdatasync(int fd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(fdatasync)(fd);
    SM_CALL(sm_fsync_core(fd, 1));
}

SM_EXPORT int syncfs(int fd)
{
    if (SM_UNLIKELY(sm_in_lib))
        return SM_REAL(syncfs)(fd);
    SM_CALL(sm_fsync_core(fd, 2));
}

SM_EXPORT void sync(void)
{
    SM_REAL(sync)();
    if (SM_UNLIKELY(sm_in_lib))
        return;
    int saved = errno;
    sm_note_sync();
    errno = saved;
}
