/* sigcalls.c: file calls under DIR from a signal handler, while the thread it interrupts makes
 * its own there (usage: sigcalls DIR ROUNDS). open, write, close and unlink are async-signal-safe
 * for POSIX, so a handler may call them wherever it lands: inside the shim's own call too (its
 * lift gate, its first opening of the cache, the name it keeps for a file open for writing).
 * A timer fires every 200 us; its handler creates, writes, closes and removes a file; the main
 * loop creates, writes, closes and renames files. Prints "ok N" (N handler rounds, all of which
 * succeeded) or the first call that failed. With a third argument "raw" the handler makes its
 * calls through syscall() instead. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static char hpath[4096];
static size_t hlen;
static volatile sig_atomic_t hits, hfail, herr;
static int raw;

static void handler(int sig)
{
    (void)sig;
    int e = errno, n = hits++;
    hpath[hlen] = (char)('a' + n % 26);
    int fd = raw ? (int)syscall(SYS_openat, AT_FDCWD, hpath, O_WRONLY | O_CREAT | O_TRUNC, 0644)
                 : open(hpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int ok = fd >= 0 && write(fd, "h", 1) == 1 &&
             (raw ? syscall(SYS_close, fd) == 0 : close(fd) == 0) &&
             (raw ? syscall(SYS_unlinkat, AT_FDCWD, hpath, 0) == 0 : unlink(hpath) == 0);
    if (!ok) {
        if (!hfail)
            herr = errno;
        hfail++;
    }
    errno = e;
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 4 && strcmp(argv[3], "raw") == 0))
        return 2;
    raw = argc == 4;
    const char *dir = argv[1];
    long rounds = atol(argv[2]);
    hlen = (size_t)snprintf(hpath, sizeof hpath - 2, "%s/h-", dir);
    hpath[hlen + 1] = '\0';
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &it, NULL);
    char p[4096], q[4096];
    snprintf(q, sizeof q, "%s/renamed", dir);
    for (long i = 0; i < rounds; i++) {
        snprintf(p, sizeof p, "%s/m%ld", dir, i % 100);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "m", 1) != 1 || close(fd) != 0) {
            printf("main: %s: %s\n", p, strerror(errno));
            return 1;
        }
        if (i % 3 == 0 && rename(p, q) != 0) {
            printf("main: rename %s: %s\n", p, strerror(errno));
            return 1;
        }
    }
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    if (hfail) {
        printf("handler: %d of %d rounds failed, the first with %s\n", (int)hfail, (int)hits,
               strerror(herr));
        return 1;
    }
    printf("ok %d\n", (int)hits);
    return 0;
}
