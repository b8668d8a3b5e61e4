/* firstuse: N threads make this process's first calls under the prefix at the same moment (a
 * barrier releases them), so the settings are decided by several callers at once; then a
 * signal handler makes one from inside a thread's call. Every answer must be the right one.
 *
 *   firstuse DIR N   DIR: a directory under the prefix holding a file "f" with "x\n"
 * Prints "ok" and exits 0, or says which answer was wrong and exits 1. Main makes no file call
 * before the threads start. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir;
static pthread_barrier_t go;
static int bad;

static void *worker(void *arg)
{
    char p[PATH_MAX], buf[8], rp[PATH_MAX];
    struct stat st;
    long i = (long)arg;
    pthread_barrier_wait(&go);
    switch (i % 4) {
    case 0: /* a stat of the file */
        snprintf(p, sizeof p, "%s/f", dir);
        if (stat(p, &st) != 0 || st.st_size != 2)
            __atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
        break;
    case 1: { /* an open and a read */
        snprintf(p, sizeof p, "%s/f", dir);
        int fd = open(p, O_RDONLY);
        if (fd < 0 || read(fd, buf, sizeof buf) != 2 || memcmp(buf, "x\n", 2) != 0)
            __atomic_store_n(&bad, 2, __ATOMIC_RELAXED);
        if (fd >= 0)
            close(fd);
        break;
    }
    case 2: /* realpath shows the virtual path back */
        snprintf(p, sizeof p, "%s/./f", dir);
        if (!realpath(p, rp) || strncmp(rp, dir, strlen(dir)) != 0)
            __atomic_store_n(&bad, 3, __ATOMIC_RELAXED);
        break;
    default: /* a missing name is missing */
        snprintf(p, sizeof p, "%s/missing-%ld", dir, i);
        if (access(p, F_OK) == 0 || errno != ENOENT)
            __atomic_store_n(&bad, 4, __ATOMIC_RELAXED);
    }
    return NULL;
}

static volatile sig_atomic_t in_handler_ok = -1;

static void on_usr1(int sig)
{
    (void)sig;
    char p[PATH_MAX];
    struct stat st;
    snprintf(p, sizeof p, "%s/f", dir);
    in_handler_ok = stat(p, &st) == 0 && st.st_size == 2;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    dir = argv[1];
    int n = atoi(argv[2]);
    pthread_t t[64];
    if (n < 1 || n > 64)
        return 2;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (long i = 0; i < n; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    if (bad) {
        printf("a first call answered wrong (case %d)\n", bad - 1);
        return 1;
    }
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    if (in_handler_ok != 1) {
        printf("a call under the prefix from a signal handler answered wrong\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
