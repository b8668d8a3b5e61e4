/* eintrlock.c: a program whose SIGUSR1 handler is installed without SA_RESTART, so that a
 * blocking call it interrupts fails with EINTR (usage: eintrlock DIR N). The handler writes "h"
 * on stdout (the test waits for it). The program then creates N files under DIR (open, write,
 * close, rename to their final name) and prints "bad B": the calls of its own that failed,
 * each named on its line. On a real directory none of these calls blocks, and none fails. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_usr1(int sig)
{
    (void)sig;
    (void)!write(1, "h\n", 2);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    setvbuf(stdout, NULL, _IONBF, 0);
    int n = atoi(argv[2]), bad = 0;
    char p[4096], q[4096];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/e%d.tmp", argv[1], i);
        snprintf(q, sizeof q, "%s/e%d.txt", argv[1], i);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            printf("open %s: %s\n", p, strerror(errno));
            bad++;
            continue;
        }
        if (write(fd, "e\n", 2) != 2)
            printf("write %s: %s\n", p, strerror(errno)), bad++;
        if (close(fd) != 0)
            printf("close %s: %s\n", p, strerror(errno)), bad++;
        if (rename(p, q) != 0)
            printf("rename %s: %s\n", p, strerror(errno)), bad++;
    }
    printf("bad %d\n", bad);
    return bad != 0;
}
