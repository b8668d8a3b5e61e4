/* replay.c: a crawl's writes replayed by C threads (case 4, local part). Same plan as
 * tests/lib/crawl.py (run.py writes it as "SIZE PATH" lines): WORKERS threads take the next file,
 * `mkdir -p` its directory the way Python's os.makedirs does (mkdir, on ENOENT the parent first,
 * EEXIST is fine) and write it whole. Without an interpreter in the way, this shows the file
 * system's (and the shim's) share of a crawl.
 *
 *   replay PLAN DEST WORKERS      prints {"files": N, "secs": S, "t0_real_ns": T}
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

int main(int argc, char **argv)
{
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
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);

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
