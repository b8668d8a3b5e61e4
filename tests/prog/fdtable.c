/* fdtable.c: the size of this process's table of descriptors (FDSize in /proc/self/status) at
 * three points: at the start, after its first thread started, after a create under the prefix
 * made while that thread runs. A table grown while threads share it waits for an RCU grace period
 * (the kernel's expand_fdtable), so the shim must not grow it there.
 * Usage: fdtable DIR (a directory under the prefix, made here) [nothread]: prints
 * "start N", "thread N", "create N" (no thread started with nothread). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long fdsize(void)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strstr(buf, "\nFDSize:");
    return p ? strtol(p + 8, NULL, 10) : -1;
}

static int release[2];

static void *waiter(void *arg)
{
    char c;
    (void)arg;
    return read(release[0], &c, 1) == 1 ? NULL : arg; /* runs until main is done */
}

int main(int argc, char **argv)
{
    char path[4096];
    pthread_t t;
    if (argc < 2 || pipe(release) != 0)
        return 2;
    int threads = !(argc > 2 && strcmp(argv[2], "nothread") == 0);
    printf("start %ld\n", fdsize());
    if (threads) {
        if (pthread_create(&t, NULL, waiter, NULL) != 0)
            return 2;
        printf("thread %ld\n", fdsize());
    }
    snprintf(path, sizeof path, "%s/f.txt", argv[1]);
    int fd = mkdir(argv[1], 0755) == 0 ? open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644) : -1;
    if (fd < 0 || write(fd, "x\n", 2) != 2 || close(fd) != 0) {
        perror(path);
        return 1;
    }
    printf("create %ld\n", fdsize());
    if (threads) {
        if (write(release[1], "x", 1) != 1)
            return 2;
        pthread_join(t, NULL);
    }
    return 0;
}
