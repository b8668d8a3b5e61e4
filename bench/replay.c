/* replay.c: a crawl's writes replayed by C threads (case 4, local part). Same plan as
 * tests/lib/crawl.py (run.py writes it as "SIZE PATH" lines): WORKERS threads take the next file,
 * `mkdir -p` its directory the way Python's os.makedirs does (mkdir, on ENOENT the parent first,
 * EEXIST is fine) and write it whole. Without an interpreter in the way, this shows the file
 * system's (and the shim's) share of a crawl.
 *
 *   replay PLAN DEST WORKERS      prints {"files": N, "secs": S, "t0_real_ns": T}
 *   replay -c N DEST WORKERS      WORKERS threads each create N new files of 4 KiB in DEST, one
 *                                 shared directory the process makes first (untimed): create,
 *                                 write 4 KiB, close; prints {"files": N * WORKERS, "secs": S}
 *
 * t0_real_ns is the wall clock (CLOCK_REALTIME) when the workers start: case 4 compares it with
 * the test server's createdAt of the uploaded documents ("when the last upload reached the
 * server"). The content is ASCII text, so the sync engine uploads every file.
 */
#include "bench.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

struct item {
    char *path;
    size_t size;
};

static struct item *items;
static size_t nitems, next_item;
static const char *dest;
static char content[128 * 1024];
static int failed;

static int makedirs(char *p)
{
    if (mkdir(p, 0755) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -1;
    char *s = strrchr(p, '/');
    if (!s || s == p)
        return -1;
    *s = '\0';
    int rc = makedirs(p);
    *s = '/';
    if (rc != 0)
        return rc;
    return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static void *worker(void *arg)
{
    (void)arg;
    char p[PATH_MAX];
    for (;;) {
        size_t i = __atomic_fetch_add(&next_item, 1, __ATOMIC_RELAXED);
        if (i >= nitems)
            return NULL;
        snprintf(p, sizeof p, "%s/%s", dest, items[i].path);
        char *s = strrchr(p, '/');
        *s = '\0';
        int rc = makedirs(p);
        *s = '/';
        int fd = rc == 0 ? open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644) : -1;
        size_t sz = items[i].size < sizeof content ? items[i].size : sizeof content;
        if (fd < 0 || write(fd, content, sz) != (ssize_t)sz || close(fd) != 0) {
            fprintf(stderr, "replay: %s: %s\n", p, strerror(errno));
            __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
        }
    }
}

/* -c: thread i creates DEST/t<i>-<j> for j < per_thread */
static long per_thread;

static void *creator(void *arg)
{
    long t = (long)(intptr_t)arg;
    char p[PATH_MAX];
    for (long j = 0; j < per_thread; j++) {
        snprintf(p, sizeof p, "%s/t%ld-%ld", dest, t, j);
        int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, content, 4096) != 4096 || close(fd) != 0) {
            fprintf(stderr, "replay: %s: %s\n", p, strerror(errno));
            __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
            return NULL;
        }
    }
    return NULL;
}

static int creates(long n, int workers)
{
    pthread_t th[256];
    per_thread = n;
    if (mkdir(dest, 0755) != 0)
        BENCH_DIE("mkdir %s", dest);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < workers; i++)
        pthread_create(&th[i], NULL, creator, (void *)(intptr_t)i);
    for (int i = 0; i < workers; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    printf("{\"files\": %ld, \"secs\": %.6f}\n", n * workers, secs);
    fflush(stdout);
    return failed;
}

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
    if (argc == 5 && strcmp(argv[1], "-c") == 0) {
        int workers = atoi(argv[4]);
        dest = argv[3];
        if (atol(argv[2]) < 1 || workers < 1 || workers > 256) {
            fprintf(stderr, "usage: replay -c N DEST WORKERS (1-256 workers)\n");
            return 2;
        }
        return creates(atol(argv[2]), workers);
    }
    if (argc != 4) {
        fprintf(stderr, "usage: replay PLAN DEST WORKERS\n");
        return 2;
    }
    dest = argv[2];
    int workers = atoi(argv[3]);
    FILE *f = fopen(argv[1], "r");
    if (!f)
        BENCH_DIE("open %s", argv[1]);
    char line[PATH_MAX + 32];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        line[strcspn(line, "\n")] = '\0';
        if (nitems == cap) {
            cap = cap ? cap * 2 : 256;
            struct item *grown = realloc(items, cap * sizeof *items);
            if (!grown)
                BENCH_DIE("out of memory for %zu items", cap);
            items = grown;
        }
        items[nitems].size = strtoul(line, NULL, 10);
        items[nitems].path = strdup(sp + 1);
        nitems++;
    }
    fclose(f);

    pthread_t th[256];
    if (workers < 1 || workers > 256)
        workers = 16;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < workers; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < workers; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    printf("{\"files\": %zu, \"secs\": %.6f, \"t0_real_ns\": %llu}\n", nitems, secs,
           (unsigned long long)rt.tv_sec * 1000000000ull + (unsigned long long)rt.tv_nsec);
    fflush(stdout); /* the figures survive a crash at exit (case 4 counts such crashes) */
    return failed;
}
