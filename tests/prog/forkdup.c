/* forkdup.c: a fork child sees the shim's inherited descriptors (LMDB's files, libcurl's
 * sockets) as not there: it can dup2 its own file onto each of their numbers at once, and both
 * it and its parent go on recording. Usage: forkdup DIR OWN: the parent writes DIR/p0.txt
 * (the shim opens its environment; with a key its sync thread connects), waits until its table
 * holds a socket when $FORKDUP_SOCKETS is set, notes the numbers of the shim's descriptors
 * (found in /proc/self/fd: the cache's meta/ files and the sockets) and forks; the child dup2s a
 * descriptor on OWN onto each of those numbers, checks each is then its file, writes DIR/c0..c2.txt and exits; the parent
 * then writes DIR/p1.txt. With $FORKDUP_RAW set the fork is syscall(SYS_fork). Prints "ok" or what
 * went wrong. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progfd.h"

/* the shim's descriptors: its cache's meta/ files and sockets (counted in *arg) */
static int shim_fd(const char *to, void *arg)
{
    int sock = strncmp(to, "socket:", 7) == 0;
    *(int *)arg += sock;
    return sock || strstr(to, "/meta/") != NULL;
}

/* the numbers of the shim's descriptors in this process */
static int shims(int *out, int max, int *nsock)
{
    *nsock = 0;
    return fds_where(out, max, shim_fd, nsock);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fds[64], n, nsock;
    setvbuf(stdout, NULL, _IONBF, 0); /* the child's lines too, whatever way it exits */
    if (put_named_env(argv[1], "p0.txt") != 0)
        return 1;
    struct timespec ms = {0, 10 * 1000 * 1000};
    /* the numbers the child inherits: with FORKDUP_SOCKETS, those of a scan that saw the sync
     * thread's socket (a second scan could come after the thread closed it: "0 sockets") */
    while ((n = shims(fds, 64, &nsock)), getenv("FORKDUP_SOCKETS") && nsock == 0)
        nanosleep(&ms, NULL); /* the sync thread connects */
    /* FORKDUP_RAW: the fork libc never sees (no atfork handler runs for it) */
    pid_t pid = getenv("FORKDUP_RAW") ? (pid_t)syscall(SYS_fork) : fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        int mine = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
        struct stat ms_, st;
        if (mine < 0 || fstat(mine, &ms_) != 0)
            _exit(3);
        for (int i = 0; i < n; i++) {
            int rc = dup2(mine, fds[i]);
            if (rc != fds[i] || fstat(fds[i], &st) != 0 || st.st_ino != ms_.st_ino) {
                printf("child: dup2 onto %d (the shim's, inherited): %d, %s\n", fds[i], rc,
                       rc < 0 ? strerror(errno) : "not the child's file");
                _exit(1);
            }
        }
        for (int i = 0; i < 3; i++) {
            char name[32];
            snprintf(name, sizeof name, "c%d.txt", i);
            if (put_named(argv[1], name) != 0)
                _exit(1);
        }
        if (fstat(mine, &st) != 0 || st.st_size != 0) {
            printf("child: its file holds %lld bytes it never wrote\n", (long long)st.st_size);
            _exit(1);
        }
        printf("child: %d descriptors (%d sockets) taken\n", n, nsock);
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("the child failed (status %d)\n", st);
        return 1;
    }
    if (put_named(argv[1], "p1.txt") != 0)
        return 1;
    printf("ok\n");
    return 0;
}
