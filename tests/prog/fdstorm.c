/* fdstorm.c: a program with a thread that closes every number of its range, round after round,
 * as a program that closes what it does not know about might: the loader's descriptors (the
 * shared objects the shim loads meanwhile) must not be among them. Usage: fdstorm DIR STOP: the
 * storm (four threads) starts, the main thread makes DIR and writes DIR/first.txt, kept open
 * (with a key, the shim's sync thread starts and loads libcurl), the storm goes on until the
 * file STOP exists, then the main thread writes DIR/a.txt and the program exits. Prints "ok" or
 * what failed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *stop;
static int top;
/* a number another storm thread is closing this instant is left to it: the close in progress is
 * the storm's close of it (ThreadSanitizer took two threads' closes of one number at once for a
 * race on that descriptor, which this program made on purpose and the shim takes no part in) */
static pthread_mutex_t closing[32];

static void *storm(void *arg)
{
    (void)arg;
    while (access(stop, F_OK) != 0)
        for (int fd = 4; fd < top; fd++)
            if (pthread_mutex_trylock(&closing[fd]) == 0) {
                close(fd);
                pthread_mutex_unlock(&closing[fd]);
            }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    stop = argv[2];
    struct rlimit rl;
    /* the loader gets the lowest free numbers: the program holds 0-3 only, so 4-31 are where
     * its descriptors land, each closed every few microseconds */
    top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 32 ? (int)rl.rlim_cur : 32;
    for (int fd = 0; fd < 32; fd++)
        pthread_mutex_init(&closing[fd], NULL);
    pthread_t t[4]; /* on a loaded machine one of them is likely on a CPU at any moment */
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, storm, NULL);
    char p[4096];
    if (mkdir(argv[1], 0755) != 0) {
        printf("mkdir %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    /* the first file (its create is recorded) starts the sync thread; it stays open, at 3,
     * which the storm leaves alone */
    snprintf(p, sizeof p, "%s/first.txt", argv[1]);
    int first = -1;
    while (first != 3) { /* a number above 3 may be closed by the storm before it moves */
        int fd = open(p, O_WRONLY | O_CREAT, 0644);
        if (fd < 0) {
            printf("open %s: %s\n", p, strerror(errno));
            return 1;
        }
        first = fd == 3 ? 3 : dup2(fd, 3);
        if (fd != 3)
            close(fd);
    }
    if (write(first, "1\n", 2) != 2) {
        printf("write %s: %s\n", p, strerror(errno));
        return 1;
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    close(first);
    snprintf(p, sizeof p, "%s/a.txt", argv[1]);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "a\n", 2) != 2 || close(fd) != 0) {
        printf("write %s: %s\n", p, strerror(errno));
        return 1;
    }
    printf("ok\n");
    return 0;
}
