/* fdhostile.c: a program that treats every descriptor as its own, as shells, daemons and
 * sandboxes do. Under the shim, writes under the prefix must keep working and no byte of the
 * shim's own files may reach the program's files. Usage: fdhostile MODE DIR OUTSIDE
 *   closeall   close every number from 3 up to RLIMIT_NOFILE one by one
 *   closefrom  glibc's closefrom(3) (close_range inside libc)
 *   range      close_range(3, ~0U, 0)
 *   procfd     close every descriptor listed in /proc/self/fd but 0-2
 *   raw        syscall(SYS_close, n) for every number from 3 up to the limit
 *   dup2       dup2 a file of the program's onto every number from 3 up to the limit, then
 *              close them all
 *   lmdb       dup2, dup3 and the raw SYS_dup2 / SYS_dup3 of a file of the program's onto the
 *              numbers the cache's data.mdb and lock.mdb have (found in /proc/self/fd), round
 *              after round, writing under DIR between rounds: every call must succeed and the
 *              number then be the program's file
 *   copy       fcntl(F_DUPFD, F_DUPFD_CLOEXEC, F_SETFL), dup and the raw SYS_fcntl / SYS_dup of
 *              every descriptor of the shim's (found in /proc/self/fd): each must answer EBADF
 * Each mode first writes DIR/a.txt (so the shim has its environment open), then does its thing,
 * then writes DIR/b0..b4.txt and OUTSIDE (a file of the program's, opened after), reads them
 * all back and prints "ok" or what went wrong. */
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progfd.h"

/* (sync: fsync before the close, which opens the cache's LMDB environment, as a sync thread or
 * a fold would: a write alone reaches only the journal) */
static int put_as(const char *path, const char *text, int sync)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) {
        printf("write %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (sync && fsync(fd) != 0) {
        printf("fsync %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        printf("close %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int put(const char *path, const char *text)
{
    return put_as(path, text, 0);
}

static int is_socket(const char *to, void *arg)
{
    (void)arg;
    return strncmp(to, "socket:", 7) == 0;
}

/* The numbers of the process's sockets (all the shim's: the program opens none), up to max. */
static int sockets(int *out, int max)
{
    return fds_where(out, max, is_socket, NULL);
}

/* LMDB's descriptors: data.mdb, lock.mdb. */
static int lmdb_fd(const char *to, void *arg)
{
    size_t n = strlen(to);
    (void)arg;
    return n >= 9 && (strcmp(to + n - 9, "/data.mdb") == 0 || strcmp(to + n - 9, "/lock.mdb") == 0);
}

/* The shim's descriptors: the cache's meta/ files, the tree, sockets. */
static int shim_fd(const char *to, void *arg)
{
    (void)arg;
    return strstr(to, "/meta/") || strncmp(to, "socket:", 7) == 0 || strcmp(to, "/sm") == 0;
}

static void nap(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* mine duplicated onto target in the form n picks, in turn: dup2, dup3, and both as raw system
 * calls (the shim's libc wrappers and its raw door alike). */
static int dup_form(int n, int mine, int target)
{
    switch (n % 4) {
    case 0: return dup2(mine, target);
    case 1: return dup3(mine, target, O_CLOEXEC);
    case 2: return (int)syscall(SYS_dup2, mine, target);
    default: return (int)syscall(SYS_dup3, mine, target, 0);
    }
}

/* dup mine onto every socket of the process: each call must succeed and leave mine there */
static int dup_sockets(int mine, const char *when)
{
    int fds[64], n, hit = 0;
    struct stat ms, st;
    if (fstat(mine, &ms) != 0)
        return -1;
    while ((n = sockets(fds, 64)) == 0)
        nap(); /* the sync thread connects (the test server holds its requests) */
    for (int i = 0; i < n; i++) {
        int target = fds[i];
        int rc = dup_form(i, mine, target);
        if (rc != target || fstat(target, &st) != 0 || st.st_ino != ms.st_ino) {
            printf("%s: dup onto socket %d: %d, %s\n", when, target, rc,
                   rc < 0 ? strerror(errno) : "not the program's file");
            return -1;
        }
        hit++;
    }
    return hit;
}

/* OUTSIDE still holds nothing: no byte of a request reached it */
static int untouched(int mine, const char *when)
{
    struct stat st;
    if (fstat(mine, &st) != 0 || st.st_size != 0) {
        printf("%s: the program's file holds %lld bytes it never wrote\n", when,
               (long long)st.st_size);
        return -1;
    }
    return 0;
}

static int check(const char *path, const char *text)
{
    char buf[65536];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("open %s: %s\n", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n != (ssize_t)strlen(text) || memcmp(buf, text, (size_t)n) != 0) {
        printf("%s holds %zd bytes, not the %zu written\n", path, n, strlen(text));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char p[4096];
    if (argc != 4)
        return 2;
    const char *mode = argv[1], *dir = argv[2], *outside = argv[3];
    struct rlimit rl;
    int top = 1024; /* every number a descriptor can have in this process */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        top = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
    snprintf(p, sizeof p, "%s/a.txt", dir);
    if (put_as(p, "a\n", 1) != 0) /* LMDB's descriptors are there for what follows */
        return 1;
    if (strcmp(mode, "closeall") == 0) {
        for (int fd = 3; fd < top; fd++)
            close(fd);
    } else if (strcmp(mode, "closefrom") == 0) {
        closefrom(3);
    } else if (strcmp(mode, "range") == 0) {
        if (close_range(3, ~0U, 0) != 0) {
            printf("close_range: %s\n", strerror(errno));
            return 1;
        }
    } else if (strcmp(mode, "procfd") == 0) {
        static int fds[1 << 16];
        int n = 0;
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        while (d && (e = readdir(d)) && n < (int)(sizeof fds / sizeof fds[0])) {
            int fd = atoi(e->d_name);
            if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d))
                fds[n++] = fd;
        }
        if (d)
            closedir(d);
        for (int i = 0; i < n; i++)
            close(fds[i]);
    } else if (strcmp(mode, "raw") == 0) {
        for (int fd = 3; fd < top; fd++)
            syscall(SYS_close, fd);
    } else if (strcmp(mode, "dup2") == 0) {
        int mine = open(outside, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (mine < 0) {
            printf("open %s: %s\n", outside, strerror(errno));
            return 1;
        }
        for (int fd = 3; fd < top; fd++)
            if (fd != mine && dup2(mine, fd) < 0 && errno != EBUSY) {
                printf("dup2 onto %d: %s\n", fd, strerror(errno));
                return 1;
            }
        for (int fd = 3; fd < top; fd++)
            close(fd);
    } else if (strcmp(mode, "lmdb") == 0) {
        int mine = open(outside, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        struct stat ms, st;
        if (mine < 0 || fstat(mine, &ms) != 0) {
            printf("open %s: %s\n", outside, strerror(errno));
            return 1;
        }
        int hit = 0;
        for (int round = 0; round < 8; round++) {
            int lm[64], nlm = fds_where(lm, 64, lmdb_fd, NULL);
            int target = nlm ? lm[nlm - 1] : -1; /* the last one listed: each kind in turn */
            if (target < 0) {
                printf("round %d: no descriptor on data.mdb or lock.mdb\n", round);
                return 1;
            }
            int rc = dup_form(round, mine, target);
            if (rc != target || fstat(target, &st) != 0 || st.st_ino != ms.st_ino) {
                printf("round %d: dup onto %d (LMDB's): %d, %s\n", round, target, rc,
                       rc < 0 ? strerror(errno) : "not the program's file");
                return 1;
            }
            hit++;
            snprintf(p, sizeof p, "%s/r%d.txt", dir, round);
            if (put(p, "r\n") != 0)
                return 1;
        }
        if (hit != 8)
            return 1;
    } else if (strcmp(mode, "copy") == 0) {
        /* copies of, and flags on, every number: none may reach one of the shim's descriptors
         * (found first in /proc/self/fd: the cache's meta/ files, the tree, sockets) */
        int theirs[64], n = fds_where(theirs, 64, shim_fd, NULL);
        if (n == 0) {
            printf("no descriptor of the shim's listed\n");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = theirs[i];
            long got[6] = {fcntl(fd, F_DUPFD, 0),
                           fcntl(fd, F_DUPFD_CLOEXEC, 0),
                           dup(fd),
                           syscall(SYS_fcntl, fd, F_DUPFD, 0),
                           syscall(SYS_dup, fd),
                           fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK)};
            for (int j = 0; j < 6; j++)
                if (got[j] >= 0) {
                    printf("call %d on descriptor %d (the shim's) answered %ld, not EBADF\n", j, fd,
                           got[j]);
                    return 1;
                }
        }
        for (int i = 0; i < 5; i++) {
            snprintf(p, sizeof p, "%s/r%d.txt", dir, i);
            if (put(p, "r\n") != 0)
                return 1;
        }
    } else if (strcmp(mode, "curl") == 0) {
        const char *go = getenv("FDH_GO");
        int mine = open(outside, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!go || mine < 0) {
            printf("open %s: %s (FDH_GO %s)\n", outside, strerror(errno), go ? go : "unset");
            return 1;
        }
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "%s/c%d.txt", dir, i);
            if (put(p, "c\n") != 0)
                return 1;
        }
        int n = dup_sockets(mine, "in flight");
        if (n < 0 || untouched(mine, "in flight") != 0)
            return 1;
        printf("dupped %d\n", n);
        fflush(stdout);
        while (access(go, F_OK) != 0)
            nap();
        /* the pushes of c*.txt are answered: their connections are idle (kept alive) */
        n = dup_sockets(mine, "idle");
        if (n < 0 || untouched(mine, "idle") != 0)
            return 1;
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "%s/d%d.txt", dir, i);
            if (put(p, "d\n") != 0)
                return 1;
        }
        if (untouched(mine, "after") != 0)
            return 1;
    } else {
        return 2;
    }
    /* the program's own file, opened after: it may get any number the shim once held */
    static char big[40000];
    memset(big, 'x', sizeof big - 1);
    int bad = put(outside, big) != 0;
    for (int i = 0; i < 5; i++) {
        char t[32];
        snprintf(p, sizeof p, "%s/b%d.txt", dir, i);
        snprintf(t, sizeof t, "b%d\n", i);
        bad |= put(p, t) != 0;
    }
    bad |= check(outside, big) != 0;
    snprintf(p, sizeof p, "%s/a.txt", dir);
    bad |= check(p, "a\n") != 0;
    for (int i = 0; i < 5; i++) {
        char t[32];
        snprintf(p, sizeof p, "%s/b%d.txt", dir, i);
        snprintf(t, sizeof t, "b%d\n", i);
        bad |= check(p, t) != 0;
    }
    puts(bad ? "FAILED" : "ok");
    return bad;
}
