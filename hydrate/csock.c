/* csock.c: the sockets of libcurl's connections, and the program's dup2 onto one.
 *
 * libcurl makes every socket through smh_csock_open (CURLOPT_OPENSOCKETFUNCTION): it is placed
 * in the library's range of numbers (sm_fd_lift) and noted here with the connection it belongs
 * to; libcurl closes it through smh_csock_close. libcurl holds a socket by its number and goes
 * on using it: a kept-alive connection is polled, read and written again by the next request,
 * and closed with a TLS close_notify. So a socket cannot be moved under it; when the program
 * duplicates onto one (smh_csock_yield, from the dup2 and dup3 wrappers and the raw door), the
 * connection is given up instead:
 *   1. the socket is marked wanted: from then on libcurl's close of it leaves the socket open
 *      (parked, libcurl no longer knows it), so no other open takes the number before the
 *      program's dup2 replaces it;
 *   2. the program's thread waits until no thread is inside libcurl with that connection's
 *      handle: a transfer in flight is cut short (the socket is shut down, so a read or write on
 *      it ends at once, and the progress callback ends the transfer within about a second
 *      whatever it waits on), then it holds the handle for a moment;
 *   3. holding it: a socket libcurl closed meanwhile is parked, the dup2 replaces it; one libcurl
 *      still holds (a kept-alive connection) makes the handle given up: its owner never calls
 *      libcurl with it again (the handle's memory is left as it is; its other sockets are closed
 *      by the owner) and makes a new one.
 * So libcurl never reads, writes, polls or closes the number once the program's file is there,
 * and no byte of a request (the Authorization header) can reach that file. A request cut short
 * is an ordinary transport error: the queue backs off and sends it again.
 *
 * The program's side uses atomics, shutdown and futex waits only (async-signal-safe) and waits
 * at most YIELD_MS; past it the dup2 answers EBUSY, as it may on Linux anyway. Memory order:
 * every word is read and written with atomics; a ctl's use word is the handle's lock (IDLE,
 * OWNER: its connection's thread is in libcurl, PROGRAM: a program thread holds it). */
#include "csock.h"
#include "clock.h"
#include "sm_real.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#define CTL_MAX  64
#define SOCK_MAX 128
#define YIELD_MS 5000
#define GONE_MAX 16
/* the engine waiting for a program thread to let go of a connection's guard looks again after this */
#define HOLD_WAIT_MS 100

enum { USE_IDLE, USE_OWNER, USE_PROGRAM };

static struct ctl {
    uint32_t use;     /* futex word: USE_* */
    uint32_t live;    /* the slot belongs to a connection */
    uint32_t abort;   /* program threads waiting for the handle: its transfer ends */
    uint32_t abandon; /* a socket of the handle went to the program: the owner makes a new one */
    uint32_t epoch; /* the handle's generation (sockets of an older one are the owner's to close) */
    /* the numbers the handles given up may still name (their sockets: given to the program, or
     * closed by the owner), for the owner to free them where those numbers are placeholders
     * (smh_csock_gone); written under the handle's lock (use), GONE_MAX at most */
    int gone[GONE_MAX];
    uint32_t ngone;
} ctls[CTL_MAX];

/* One word per socket, 0 when free: (fd + 1) << 32 | ctl << 24 | (epoch & 0xffff) << 8 | state */
enum { S_OPEN, S_WANTED, S_PARKED, S_CLOSING };
static uint64_t socks[SOCK_MAX];
static int nsocks; /* slots in use, so that a close of the library's looks only when some are */
/* the process whose connections the tables hold: a child of a raw fork (no atfork handler ran)
 * finds its parent's here, with their threads not in it */
static pid_t socks_pid;

/* The connection whose owner is inside libcurl on this thread (between enter and leave), or -1:
 * the descriptors libcurl makes there by itself (its transfer loop's wake-up socket pair, the
 * resolver's) belong to that handle like its sockets. */
static __thread int cur_ctl = -1;

static uint64_t sw(int fd, int ctl, uint32_t epoch, int st)
{
    return (uint64_t)(uint32_t)(fd + 1) << 32 | (uint64_t)(ctl & 0xff) << 24 |
           (uint64_t)(epoch & 0xffff) << 8 | (uint64_t)st;
}
static int sw_fd(uint64_t w)
{
    return (int)(w >> 32) - 1;
}
static int sw_ctl(uint64_t w)
{
    return (int)(w >> 24 & 0xff);
}
static uint32_t sw_epoch(uint64_t w)
{
    return (uint32_t)(w >> 8 & 0xffff);
}
static int sw_st(uint64_t w)
{
    return (int)(w & 0xff);
}
static uint64_t sw_with(uint64_t w, int st)
{
    return (w & ~(uint64_t)0xff) | (uint64_t)st;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SMH_MS_PER_S + (uint64_t)ts.tv_nsec / SMH_NS_PER_MS;
}

static void futex_wait_ms(uint32_t *w, uint32_t val, uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / SMH_MS_PER_S),
                          (long)(ms % SMH_MS_PER_S) * (long)SMH_NS_PER_MS};
    SM_REAL(syscall)(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake_all(uint32_t *w)
{
    SM_REAL(syscall)(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

void smh_csock_atfork_child(void)
{
    /* the connections are the parent's: their threads are not here, their sockets are closed */
    memset(ctls, 0, sizeof ctls);
    memset(socks, 0, sizeof socks);
    nsocks = 0;
    socks_pid = 0;
}

/* The tables hold another process's connections: this is a child of a raw fork, in which no
 * atfork handler ran and none of its parent's threads is. */
static int socks_inherited(void)
{
    pid_t p = __atomic_load_n(&socks_pid, __ATOMIC_ACQUIRE);
    return p && p != (pid_t)SM_REAL(syscall)(SYS_getpid);
}

int smh_csock_ctl_new(void)
{
    (void)SM_REAL(syscall); /* resolved now: a program thread's futex calls never reach dlsym */
    for (int i = 0; i < CTL_MAX; i++) {
        uint32_t z = 0;
        if (__atomic_compare_exchange_n(&ctls[i].live, &z, 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            __atomic_store_n(&ctls[i].abandon, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&ctls[i].ngone, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&ctls[i].use, USE_IDLE, __ATOMIC_RELEASE);
            return i;
        }
    }
    return -1;
}

void smh_csock_ctl_free(int ctl)
{
    if (ctl >= 0 && ctl < CTL_MAX)
        __atomic_store_n(&ctls[ctl].live, 0, __ATOMIC_RELEASE);
}

/* The slot of fd, or -1; *w gets its word. */
static int sock_find(int fd, uint64_t *w)
{
    for (int i = 0; i < SOCK_MAX; i++) {
        uint64_t v = __atomic_load_n(&socks[i], __ATOMIC_ACQUIRE);
        if (v && sw_fd(v) == fd) {
            *w = v;
            return i;
        }
    }
    return -1;
}

/* libcurl (or the owner, for a handle given up) is done with the socket of slot i: closed, or
 * parked when a program thread wants its number. */
static void sock_done(int i)
{
    for (;;) {
        uint64_t w = __atomic_load_n(&socks[i], __ATOMIC_ACQUIRE);
        if (!w)
            return;
        int st = sw_st(w);
        if (st == S_WANTED) { /* left open for the program's dup2 to replace */
            if (__atomic_compare_exchange_n(&socks[i], &w, sw_with(w, S_PARKED), 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return;
        } else if (st == S_OPEN) {
            if (__atomic_compare_exchange_n(&socks[i], &w, sw_with(w, S_CLOSING), 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                sm_lib_close(sw_fd(w));
                __atomic_store_n(&socks[i], 0, __ATOMIC_RELEASE);
                __atomic_sub_fetch(&nsocks, 1, __ATOMIC_RELAXED);
                return;
            }
        } else {
            return; /* parked already */
        }
    }
}

static void sock_note(int fd, int ctl)
{
    if (fd < 0 || ctl < 0 || ctl >= CTL_MAX)
        return;
    if (socks_inherited())
        smh_csock_atfork_child(); /* its first connection: the parent's are not its own */
    if (!__atomic_load_n(&socks_pid, __ATOMIC_ACQUIRE))
        __atomic_store_n(&socks_pid, (pid_t)SM_REAL(syscall)(SYS_getpid), __ATOMIC_RELEASE);
    uint64_t w = sw(fd, ctl, __atomic_load_n(&ctls[ctl].epoch, __ATOMIC_ACQUIRE), S_OPEN);
    for (int i = 0; i < SOCK_MAX; i++) {
        uint64_t z = 0;
        if (__atomic_compare_exchange_n(&socks[i], &z, w, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_add_fetch(&nsocks, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    /* no slot free: the descriptor stays pinned, a dup2 onto it answers EBUSY */
}

void smh_csock_note(int fd)
{
    sock_note(fd, cur_ctl);
}

int smh_csock_closing(int fd)
{
    uint64_t w;
    int i;
    if (!__atomic_load_n(&nsocks, __ATOMIC_RELAXED) || (i = sock_find(fd, &w)) < 0)
        return 0;
    sock_done(i);
    return 1;
}

curl_socket_t smh_csock_open(void *ctlp, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    int fd = SM_LIB_FD(SM_REAL(socket)(a->family, a->socktype | SOCK_CLOEXEC, a->protocol));
    if (fd < 0)
        return CURL_SOCKET_BAD;
    sock_note(fd, (int)(intptr_t)ctlp);
    return fd;
}

int smh_csock_close(void *ctlp, curl_socket_t fd)
{
    uint64_t w;
    (void)ctlp;
    if (sm_own_table) /* a handle given up, freed in a table of its own (http.c) */
        return SM_REAL(close)(fd) == 0 ? 0 : 1;
    int i = sock_find(fd, &w);
    if (i >= 0)
        sock_done(i);
    else
        sm_lib_close(fd);
    return 0;
}

int smh_csock_progress(void *ctlp, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    int ctl = (int)(intptr_t)ctlp;
    (void)dt, (void)dn, (void)ut, (void)un;
    return ctl >= 0 && ctl < CTL_MAX && __atomic_load_n(&ctls[ctl].abort, __ATOMIC_ACQUIRE) != 0;
}

static void gone_add(struct ctl *k, int fd)
{
    uint32_t n = __atomic_load_n(&k->ngone, __ATOMIC_RELAXED);
    if (n < GONE_MAX) {
        k->gone[n] = fd;
        __atomic_store_n(&k->ngone, n + 1, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&k->ngone, GONE_MAX + 1, __ATOMIC_RELEASE); /* too many: unknown */
    }
}

int smh_csock_gone(int ctl, int *out, int max)
{
    if (ctl < 0 || ctl >= CTL_MAX)
        return -1;
    struct ctl *k = &ctls[ctl];
    uint32_t n = __atomic_exchange_n(&k->ngone, 0, __ATOMIC_ACQ_REL);
    if (n > GONE_MAX || (int)n > max)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        out[i] = k->gone[i];
    return (int)n;
}

int smh_csock_enter(int ctl)
{
    if (ctl < 0 || ctl >= CTL_MAX)
        return 0;
    struct ctl *k = &ctls[ctl];
    for (;;) {
        uint32_t u = USE_IDLE;
        if (__atomic_compare_exchange_n(&k->use, &u, USE_OWNER, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
        futex_wait_ms(&k->use, u, HOLD_WAIT_MS); /* a program thread holds it for a moment */
    }
    cur_ctl = ctl;
    if (!__atomic_load_n(&k->abandon, __ATOMIC_ACQUIRE))
        return 0;
    __atomic_store_n(&k->abandon, 0, __ATOMIC_RELAXED);
    /* the sockets of the handle given up: libcurl will never close them, the owner does */
    uint32_t ep = __atomic_load_n(&k->epoch, __ATOMIC_ACQUIRE) & 0xffff;
    for (int i = 0; i < SOCK_MAX; i++) {
        uint64_t w = __atomic_load_n(&socks[i], __ATOMIC_ACQUIRE);
        if (w && sw_ctl(w) == ctl && sw_epoch(w) != ep) {
            gone_add(k, sw_fd(w));
            sock_done(i);
        }
    }
    return 1;
}

void smh_csock_leave(int ctl)
{
    if (ctl < 0 || ctl >= CTL_MAX)
        return;
    cur_ctl = -1;
    __atomic_store_n(&ctls[ctl].use, USE_IDLE, __ATOMIC_RELEASE);
    futex_wake_all(&ctls[ctl].use);
}

int smh_csock_yield(int fd)
{
    uint64_t w;
    int i = sock_find(fd, &w);
    if (i < 0)
        return 0;
    if (__builtin_expect(socks_inherited(), 0)) {
        /* the child's copy of a connection of its parent's, whose threads are not here to give
         * it up (nor to be cut off by a shutdown): the number is the program's at once */
        if (__atomic_compare_exchange_n(&socks[i], &w, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            __atomic_sub_fetch(&nsocks, 1, __ATOMIC_RELAXED);
        sm_fd_forget(fd);
        return 1;
    }
    for (;;) { /* 1. wanted: libcurl's close now parks it */
        int st = sw_st(w);
        if (st == S_CLOSING)
            return -EAGAIN;
        if (st == S_WANTED || st == S_PARKED)
            break; /* (another program thread wants it too, or libcurl let it go) */
        if (__atomic_compare_exchange_n(&socks[i], &w, sw_with(w, S_WANTED), 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            w = sw_with(w, S_WANTED);
            break;
        }
        if (!w || sw_fd(w) != fd)
            return -EAGAIN;
    }
    /* 2. the handle, once no thread is inside libcurl with it */
    struct ctl *k = &ctls[sw_ctl(w)];
    __atomic_add_fetch(&k->abort, 1, __ATOMIC_ACQ_REL);
    shutdown(fd, SHUT_RDWR); /* still libcurl's socket (wanted: never closed meanwhile) */
    uint64_t end = now_ms() + YIELD_MS;
    int held = 0;
    for (;;) {
        uint32_t u = USE_IDLE;
        if (__atomic_compare_exchange_n(&k->use, &u, USE_PROGRAM, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            held = 1;
            break;
        }
        uint64_t now = now_ms(), cur = __atomic_load_n(&socks[i], __ATOMIC_ACQUIRE);
        if (sw_fd(cur) != fd || sw_st(cur) == S_PARKED || now >= end)
            break;
        futex_wait_ms(&k->use, u, end - now < 50 ? end - now : 50);
    }
    __atomic_sub_fetch(&k->abort, 1, __ATOMIC_ACQ_REL);
    /* 3. parked, or (held) given up with its handle; else libcurl keeps it */
    int rc;
    for (;;) {
        uint64_t cur = __atomic_load_n(&socks[i], __ATOMIC_ACQUIRE);
        if (!cur || sw_fd(cur) != fd) {
            rc = -EAGAIN; /* another program thread took it: look again */
            break;
        }
        if (sw_st(cur) == S_PARKED || (held && sw_st(cur) == S_WANTED)) {
            if (sw_st(cur) == S_WANTED) { /* the handle still holds it: given up */
                gone_add(k, fd);
                __atomic_store_n(&k->abandon, 1, __ATOMIC_RELEASE);
                __atomic_add_fetch(&k->epoch, 1, __ATOMIC_ACQ_REL);
            }
            if (!__atomic_compare_exchange_n(&socks[i], &cur, 0, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE))
                continue;
            __atomic_sub_fetch(&nsocks, 1, __ATOMIC_RELAXED);
            sm_fd_forget(fd); /* the program's now: its dup2 replaces the socket */
            rc = 1;
            break;
        }
        /* not held in time: libcurl keeps it (unwanted again; shut down, it is dropped) */
        if (__atomic_compare_exchange_n(&socks[i], &cur, sw_with(cur, S_OPEN), 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            rc = -EBUSY;
            break;
        }
    }
    if (held) {
        __atomic_store_n(&k->use, USE_IDLE, __ATOMIC_RELEASE);
        futex_wake_all(&k->use);
    }
    return rc;
}
