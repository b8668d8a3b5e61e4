/* progfd.h: what the test programs that look at the process's descriptors share: a file
 * written whole, and the numbers whose /proc/self/fd link names what a predicate wants. */
#ifndef PROGFD_H
#define PROGFD_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write dir/name holding its own name. 0, or -1 (said on stdout). */
static inline int put_named(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, name, strlen(name)) != (ssize_t)strlen(name) || close(fd) != 0) {
        printf("write %s: %s\n", p, strerror(errno));
        return -1;
    }
    return 0;
}

/* The numbers (up to max, into out) whose link in /proc/self/fd names what want(to, arg) takes;
 * the listing's own descriptor is not one. */
static inline int fds_where(int *out, int max, int (*want)(const char *to, void *arg), void *arg)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        char l[64], to[4096];
        snprintf(l, sizeof l, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(l, to, sizeof to - 1);
        if (e->d_name[0] == '.' || k <= 0 || atoi(e->d_name) == dirfd(d))
            continue;
        to[k] = '\0';
        if (want(to, arg))
            out[n++] = atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

#endif
