/* lockguard.c: a shimmed process that writes under the prefix and fsyncs the file (so it opens
 * the cache's LMDB environment and holds its locks: a write alone only reaches the journal) and then opens and closes the cache's lock file itself, as a backup tool would. Prints
 * whether this process still holds its lock on byte 0 of lock.mdb, as seen by another process.
 * With "early", the program opens the lock file first, before the shim's environment is open, and
 * closes that descriptor after (the shim must neither take it for LMDB's nor miss its close).
 * Usage: lockguard CACHE VIRTUAL_FILE [early] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Ask a child (another process) whether byte 0 of the lock file is locked by someone. */
static int locked_by_other(const char *lock)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(lock, O_RDWR);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        if (fd < 0 || fcntl(fd, F_GETLK, &fl) != 0)
            _exit(2);
        _exit(fl.l_type == F_UNLCK ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

int main(int argc, char **argv)
{
    char lock[4096];
    if (argc != 3 && argc != 4)
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0); /* nothing buffered is copied into the forked children */
    snprintf(lock, sizeof lock, "%s/meta/lock.mdb", argv[1]);
    int early = argc == 4 ? open(lock, O_RDONLY) : -1; /* the lowest free number */
    if (argc == 4 && early < 0)
        return 6;
    int fd = open(argv[2], O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "x\n", 2) != 2 || fsync(fd) != 0 || close(fd) != 0) /* opens LMDB */
        return 3;
    printf("before: %s\n", locked_by_other(lock) == 1 ? "locked" : "unlocked");
    if (early >= 0) {
        close(early);
        printf("after early close: %s\n", locked_by_other(lock) == 1 ? "locked" : "unlocked");
    }
    fd = open(lock, O_RDONLY);
    if (fd < 0)
        return 4;
    close(fd);
    printf("after close: %s\n", locked_by_other(lock) == 1 ? "locked" : "unlocked");
    FILE *f = fopen(lock, "r");
    if (!f)
        return 5;
    fclose(f);
    printf("after fclose: %s\n", locked_by_other(lock) == 1 ? "locked" : "unlocked");
    return 0;
}
