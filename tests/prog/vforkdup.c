/* vforkdup.c: a vfork child (it shares its parent's memory, not its table of descriptors) dup2s a
 * file of its own onto each of the numbers of LMDB's inherited descriptors, then _exits; the
 * parent then goes on recording, and its changes reach LMDB (an fsync makes a transaction). The
 * child's file must hold nothing it did not write. Usage: vforkdup DIR OWN. Prints "ok" or what
 * went wrong. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progfd.h"

static int lmdb_fd(const char *to, void *arg)
{
    size_t n = strlen(to);
    (void)arg;
    return n >= 9 && (strcmp(to + n - 9, "/data.mdb") == 0 || strcmp(to + n - 9, "/lock.mdb") == 0);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (put_named_env(argv[1], "p0.txt") != 0)
        return 1;
    int fds[64], n = fds_where(fds, 64, lmdb_fd, NULL);
    if (n == 0) {
        printf("no descriptor of LMDB's to take\n");
        return 1;
    }
    int mine = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (mine < 0)
        return 1;
    static volatile int bad = -1;
    pid_t pid = vfork();
    if (pid == 0) {
        for (int i = 0; i < n; i++)
            if (dup2(mine, fds[i]) != fds[i]) {
                bad = fds[i];
                _exit(1);
            }
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("the child failed (dup2 onto %d)\n", bad);
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%d.txt", i + 1);
        if (put_named_env(argv[1], name) != 0)
            return 1;
    }
    struct stat ms;
    if (fstat(mine, &ms) != 0 || ms.st_size != 0) {
        printf("the child's file holds %lld bytes nobody wrote to it\n", (long long)ms.st_size);
        return 1;
    }
    int after[64], m = fds_where(after, 64, lmdb_fd, NULL);
    if (m == 0) {
        printf("the parent has no descriptor of LMDB's left\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
