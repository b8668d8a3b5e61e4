/* fdlimit.c: a program that works at its descriptor limit (usage: fdlimit DIR LIMIT MODE). It
 * lowers its soft RLIMIT_NOFILE to LIMIT (the hard limit stays), then, with MODE
 *   files  opens files DIR/f0, DIR/f1, ... until the kernel refuses one;
 *   fill   opens /dev/null until the kernel refuses one, then a file under DIR and a stat of DIR;
 * then closes its last descriptor and creates DIR/after (write, close) and renames DIR/f0 or
 * DIR/after to DIR/renamed. It prints what each call answered: on a real directory the count
 * depends only on the limit and the descriptors it started with, the refusals are EMFILE and
 * the calls after the close succeed; the soft limit is the one it set. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ans(int ok)
{
    return ok ? "ok" : strerror(errno);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    const char *dir = argv[1], *mode = argv[3];
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 3;
    rl.rlim_cur = (rlim_t)atol(argv[2]);
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 3;
    setvbuf(stdout, NULL, _IONBF, 0);
    char p[4096], q[4096];
    int n = 0, last = -1, fd;
    if (strcmp(mode, "files") == 0) {
        for (;; n++) {
            snprintf(p, sizeof p, "%s/f%d", dir, n);
            if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
                break;
            last = fd;
        }
        printf("opened %d files (the last at %d), then: %s\n", n, last, strerror(errno));
    } else {
        for (; (fd = open("/dev/null", O_RDONLY)) >= 0; n++)
            last = fd;
        printf("opened /dev/null %d times (the last at %d), then: %s\n", n, last, strerror(errno));
        snprintf(p, sizeof p, "%s/full", dir);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        printf("open with every number taken: %s\n", ans(fd >= 0));
        struct stat st;
        printf("stat %s: %s\n", "DIR", ans(stat(dir, &st) == 0));
    }
    close(last);
    snprintf(p, sizeof p, "%s/after", dir);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    printf("after closing one, open: %s", ans(fd >= 0));
    if (fd >= 0) {
        printf(" at %s, write %s", fd == last ? "the number closed" : "another number",
               ans(write(fd, "after\n", 6) == 6));
        printf(", close %s", ans(close(fd) == 0));
    }
    printf("\n");
    snprintf(p, sizeof p, "%s/%s", dir, strcmp(mode, "files") == 0 ? "f0" : "after");
    snprintf(q, sizeof q, "%s/renamed", dir);
    printf("rename: %s\n", ans(rename(p, q) == 0));
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("soft limit at the end: %ld\n", (long)rl.rlim_cur);
    return 0;
}
