/* progfd.h: what the test programs that look at the process's descriptors share: a file
 * written whole, the kernel's own listing of /proc/self/fd (past the shim), and the numbers whose
 * link there names what a predicate wants. */
#ifndef PROGFD_H
#define PROGFD_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Write dir/name holding its own name. 0, or -1 (said on stdout). */
static inline int put_named_as(const char *dir, const char *name, int sync)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, name, strlen(name)) != (ssize_t)strlen(name) ||
        (sync && fsync(fd) != 0) || close(fd) != 0) {
        printf("write %s: %s\n", p, strerror(errno));
        return -1;
    }
    return 0;
}

static inline int put_named(const char *dir, const char *name)
{
    return put_named_as(dir, name, 0);
}

/* put_named, then fsync: the shim opens the cache's LMDB environment (a write alone reaches
 * only its journal; the environment waits for the first transaction, which an fsync makes) */
static inline int put_named_env(const char *dir, const char *name)
{
    return put_named_as(dir, name, 1);
}

/* A system call made by the program's own `syscall` instruction: the shim's wrappers and its
 * syscall() never see it (only Syscall User Dispatch would, which these programs do not arm), so
 * what it answers is the kernel's own. */
static inline long kraw(long n, long a1, long a2, long a3, long a4)
{
#if defined(__x86_64__)
    register long r10 __asm__("r10") = a4;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
#else
    return syscall(n, a1, a2, a3, a4); /* (the shim's: these programs run on x86_64) */
#endif
}

/* The numbers (up to max, into out) the kernel lists in dir (its own getdents64), the listing's
 * own descriptor left out; -1 when dir cannot be read. The shim hides its descriptors from the
 * program's own listings of /proc/self/fd: this is how a test finds them. */
static inline int kfds_in(const char *dir, int *out, int max)
{
    long fd = kraw(SYS_openat, AT_FDCWD, (long)dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    char buf[4096];
    int n = 0;
    for (long got; (got = kraw(SYS_getdents64, fd, (long)buf, sizeof buf, 0)) > 0;)
        for (long off = 0; off < got;) {
            struct dirent64 *e = (struct dirent64 *)(buf + off);
            off += e->d_reclen;
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && atoi(e->d_name) != fd && n < max)
                out[n++] = atoi(e->d_name);
        }
    kraw(SYS_close, fd, 0, 0, 0);
    return n;
}

static inline int kfds(int *out, int max)
{
    return kfds_in("/proc/self/fd", out, max);
}

/* The kernel's readlink of /proc/self/fd/fd into to (size bytes, terminated): its length or -1. */
static inline long kfd_link(int fd, char *to, size_t size)
{
    char l[64];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    long k = kraw(SYS_readlinkat, AT_FDCWD, (long)l, (long)to, (long)size - 1);
    if (k < 0)
        return -1;
    to[k] = '\0';
    return k;
}

/* The numbers (up to max, into out) whose link in /proc/self/fd names what want(to, arg) takes,
 * as the kernel lists and names them. */
static inline int fds_where(int *out, int max, int (*want)(const char *to, void *arg), void *arg)
{
    int all[1024], n = 0, k = kfds(all, 1024);
    for (int i = 0; i < k && n < max; i++) {
        char to[4096];
        if (kfd_link(all[i], to, sizeof to) > 0 && want(to, arg))
            out[n++] = all[i];
    }
    return n;
}

#endif
