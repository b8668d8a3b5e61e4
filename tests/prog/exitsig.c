/* exitsig.c: a program whose SIGALRM handler calls _exit (async-signal-safe by POSIX) while the
 * main thread creates and removes files under DIR, so that the signal lands anywhere: inside the
 * shim's change recorder, inside malloc, inside a write. It must always exit, with status 7.
 * Usage: exitsig DIR SEED */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
    (void)sig;
    _exit(7);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    unsigned seed = (unsigned)atoi(argv[2]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    /* land somewhere in the first few hundred changes */
    struct itimerval it = {{0, 0}, {0, 2000 + (long)(rand_r(&seed) % 30000)}};
    setitimer(ITIMER_REAL, &it, NULL);
    char p[4096];
    for (unsigned long i = 0;; i++) {
        snprintf(p, sizeof p, "%s/f%lu.txt", argv[1], i % 64);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            (void)!write(fd, p, strlen(p));
            close(fd);
        }
        char *junk = malloc(64 + i % 512);
        free(junk);
        if (i % 3 == 0)
            unlink(p);
    }
}
