/* bench.h: helpers shared by the benchmark programs: a monotonic clock, sample buffers with
 * percentiles, and a tiny JSON writer. The programs are plain C with no dependency on the shim:
 * the same binary runs on tmpfs, on a real disk directory, under the preload, over FUSE and under
 * PRoot, so every side executes identical code. */
#ifndef SM_BENCH_H
#define SM_BENCH_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/** Nanoseconds on the monotonic clock (vDSO: no system call, so PRoot does not trace it). */
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** A growable array of per-iteration samples (ns). */
struct bench_samples {
    uint64_t *v;
    size_t n, cap;
};

static inline void bench_add(struct bench_samples *s, uint64_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        uint64_t *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) {
            fprintf(stderr, "bench: out of memory\n");
            exit(2);
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

static int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/** Sort the samples (in place) and return the q-quantile (0..1), nearest rank. */
static inline double bench_quantile(struct bench_samples *s, double q)
{
    if (s->n == 0)
        return 0;
    qsort(s->v, s->n, sizeof *s->v, bench_cmp_u64);
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return (double)s->v[i < s->n ? i : s->n - 1];
}

static inline double bench_mean(const struct bench_samples *s)
{
    double t = 0;
    for (size_t i = 0; i < s->n; i++)
        t += (double)s->v[i];
    return s->n ? t / (double)s->n : 0;
}

/** Print `"name": {"n": .., "p50": .., "p99": .., "mean": .., "min": ..}` (ns). */
static inline void bench_json_stats(FILE *f, const char *name, struct bench_samples *s)
{
    double p50 = bench_quantile(s, 0.50), p99 = bench_quantile(s, 0.99);
    fprintf(f, "\"%s\": {\"n\": %zu, \"p50\": %.1f, \"p99\": %.1f, \"mean\": %.1f, \"min\": %.1f}",
            name, s->n, p50, p99, bench_mean(s), s->n ? (double)s->v[0] : 0.0);
}

/** Fail loudly: the harness treats a non-zero exit as a broken case, never as a number. */
#define BENCH_DIE(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "bench: " __VA_ARGS__);                                                    \
        fprintf(stderr, " (%s)\n", strerror(errno));                                               \
        exit(1);                                                                                   \
    } while (0)

#endif
