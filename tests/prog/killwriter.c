/* killwriter.c: write files forever (some through a temporary name and a rename), printing the
 * index of each file once it is complete; the test kills it with SIGKILL at a random point.
 * Usage: killwriter DIR START [PAUSE_US] */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char path[PATH_MAX], tmp[PATH_MAX], buf[4096];
    if (argc != 3 && argc != 4)
        return 2;
    long pause_us = argc == 4 ? atol(argv[3]) : 0;
    mkdir(argv[1], 0755);
    for (long i = atol(argv[2]);; i++) {
        size_t n = 0;
        for (int k = 0; k < (int)(i % 40) + 1; k++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "file %ld line %d\n", i, k);
        snprintf(path, sizeof path, "%s/f%ld", argv[1], i);
        snprintf(tmp, sizeof tmp, "%s/.f%ld.tmp", argv[1], i);
        const char *target = (i % 2) ? tmp : path;
        int fd = open(target, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0 || write(fd, buf, n) != (ssize_t)n || close(fd) != 0)
            return 1;
        if (target == tmp && rename(tmp, path) != 0)
            return 1;
        char line[32];
        int l = snprintf(line, sizeof line, "%ld\n", i);
        if (write(1, line, (size_t)l) != l)
            return 1;
        if (pause_us)
            usleep((useconds_t)pause_us);
    }
}
