/* forkdup.c: a fork child sees the shim's inherited descriptors (LMDB's files, libcurl's
 * sockets) as not there: it can dup2 its own file onto each of their numbers at once, and both
 * it and its parent go on recording. Usage: forkdup DIR OWN: the parent writes DIR/p0.txt
 * (the shim opens its environment; with a key its sync thread connects), waits until its table
 * holds a socket when $FORKDUP_SOCKETS is set, notes the numbers of the shim's descriptors
 * (found in /proc/self/fd: the cache's meta/ files and the sockets) and forks; the child dup2s a
 * descriptor on OWN onto each of those numbers, checks each is then its file, writes DIR/c0..c2.txt and exits; the parent
 * then writes DIR/p1.txt. Prints "ok" or what went wrong. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int put(const char *dir, const char *name)
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

/* the numbers of the shim's descriptors in this process: its cache's meta/ files and sockets */
static int shims(int *out, int max, int *nsock)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    *nsock = 0;
    while (d && (e = readdir(d)) && n < max) {
        char l[64], to[4096];
        snprintf(l, sizeof l, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(l, to, sizeof to - 1);
        if (e->d_name[0] == '.' || k <= 0 || atoi(e->d_name) == dirfd(d))
            continue;
        to[k] = '\0';
        int sock = strncmp(to, "socket:", 7) == 0;
        if (sock || strstr(to, "/meta/")) {
            out[n++] = atoi(e->d_name);
            *nsock += sock;
        }
    }
    if (d)
        closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fds[64], n, nsock;
    setvbuf(stdout, NULL, _IONBF, 0); /* the child's lines too, whatever way it exits */
    if (put(argv[1], "p0.txt") != 0)
        return 1;
    struct timespec ms = {0, 10 * 1000 * 1000};
    while (getenv("FORKDUP_SOCKETS") && (shims(fds, 64, &nsock), nsock == 0))
        nanosleep(&ms, NULL);   /* the sync thread connects */
    n = shims(fds, 64, &nsock); /* the numbers the child inherits */
    pid_t pid = fork();
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
            if (put(argv[1], name) != 0)
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
    if (put(argv[1], "p1.txt") != 0)
        return 1;
    printf("ok\n");
    return 0;
}
