/* burst.c: P processes x T threads, each doing `mkdir -p` of overlapping directories and writing
 * its own files, then reading back every file of every worker. Exit status 0 only with 0 errors.
 * Usage: burst DEST PROCS THREADS FILES_PER_THREAD */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dest;
static int procs, threads, files, proc_id;
static int errors;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void err(const char *what, const char *path)
{
    pthread_mutex_lock(&mu);
    errors++;
    fprintf(stderr, "burst: %s %s: %s\n", what, path, strerror(errno));
    pthread_mutex_unlock(&mu);
}

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static void names(int p, int t, int i, char *dir, char *file)
{
    snprintf(dir, PATH_MAX, "%s/d%d/s%d/x%d", dest, (i * 7 + t) % 12, i % 5, (p + i) % 3);
    snprintf(file, PATH_MAX, "%s/p%d-t%d-i%d.txt", dir, p, t, i);
}

static size_t content(int p, int t, int i, char *buf, size_t size)
{
    int n = snprintf(buf, size, "process %d thread %d file %d\n", p, t, i);
    for (int k = 0; k < (p * 31 + t * 7 + i) % 50; k++)
        n += snprintf(buf + n, size - (size_t)n, "line %d of %d/%d/%d\n", k, p, t, i);
    return (size_t)n;
}

static void *worker(void *arg)
{
    int t = (int)(long)arg;
    char dir[PATH_MAX], file[PATH_MAX], buf[8192];
    for (int i = 0; i < files; i++) {
        names(proc_id, t, i, dir, file);
        if (mkdir_p(dir) != 0) {
            err("mkdir -p", dir);
            continue;
        }
        size_t n = content(proc_id, t, i, buf, sizeof buf);
        int fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0) {
            err("open", file);
            continue;
        }
        if (write(fd, buf, n) != (ssize_t)n)
            err("write", file);
        if (close(fd) != 0)
            err("close", file);
    }
    return NULL;
}

/* every process checks every file of every worker: the others' changes are visible at once */
static void verify(void)
{
    char dir[PATH_MAX], file[PATH_MAX], want[8192], got[8192];
    for (int p = 0; p < procs; p++)
        for (int t = 0; t < threads; t++)
            for (int i = 0; i < files; i++) {
                names(p, t, i, dir, file);
                size_t n = content(p, t, i, want, sizeof want);
                int fd = open(file, O_RDONLY);
                ssize_t r = fd >= 0 ? read(fd, got, sizeof got) : -1;
                if (fd >= 0)
                    close(fd);
                struct stat st;
                if (r != (ssize_t)n || memcmp(got, want, n) != 0 || stat(file, &st) != 0 ||
                    st.st_size != (off_t)n)
                    err("verify", file);
            }
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    dest = argv[1];
    procs = atoi(argv[2]);
    threads = atoi(argv[3]);
    files = atoi(argv[4]);
    pid_t *pids = calloc((size_t)procs, sizeof *pids);
    for (int p = 0; p < procs; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            proc_id = p;
            pthread_t *th = calloc((size_t)threads, sizeof *th);
            for (int t = 0; t < threads; t++)
                pthread_create(&th[t], NULL, worker, (void *)(long)t);
            for (int t = 0; t < threads; t++)
                pthread_join(th[t], NULL);
            _exit(errors ? 1 : 0);
        }
    }
    int bad = 0;
    for (int p = 0; p < procs; p++) {
        int st;
        waitpid(pids[p], &st, 0);
        bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    verify();
    printf("burst: %d processes x %d threads x %d files, %d failed workers, %d errors\n", procs,
           threads, files, bad, errors);
    return bad || errors ? 1 : 0;
}
