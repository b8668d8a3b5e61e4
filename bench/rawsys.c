/* rawsys.c: case 9 (raw_syscall): system calls made as raw `syscall` instructions from the
 * program's own code, the way Bun makes its opens and stats. libc is not involved, so the shim
 * sees them only through Syscall User Dispatch (SMSHIM_SUD=1: every such instruction traps into
 * the shim's SIGSYS handler). The same binary runs without the shim, with the shim loaded and SUD
 * off, and with SUD armed.
 *
 *   rawsys probe                 exit 0 if this kernel lets a process arm SUD, else print why, exit 1
 *   rawsys setup DIR             mkdir DIR and write DIR/f4k (4096 bytes) through libc (so under
 *                                the prefix the shim makes them)
 *   rawsys run DIR [-t SECS] [-m MAX] [-o getppid,fstatat]
 *       per-call ns of a raw getppid (SYS_getppid) and of a raw newfstatat of DIR/f4k, each timed
 *       alone for SECS seconds (at most MAX calls) after a warm-up; prints one JSON line.
 *       Every result is checked: getppid against libc's, fstatat must give 0 and 4096 bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif

#if defined(__x86_64__)
static inline long raw0(long n)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
    return r;
}

static inline long raw4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}
#define HAVE_RAW 1
#else
#define HAVE_RAW 0
static inline long raw0(long n)
{
    (void)n;
    return -ENOSYS;
}
static inline long raw4(long n, long a, long b, long c, long d)
{
    (void)n, (void)a, (void)b, (void)c, (void)d;
    return -ENOSYS;
}
#endif

static int probe(void)
{
    if (!HAVE_RAW) {
        printf("raw syscall instructions are benchmarked on x86_64 only\n");
        return 1;
    }
    volatile char sel = 0; /* ALLOW: nothing traps while we look */
    if (syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, 1, 0, 0, &sel) != 0) {
        printf("prctl(PR_SET_SYSCALL_USER_DISPATCH): %s\n", strerror(errno));
        return 1;
    }
    syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, 0, 0, 0, 0);
    printf("SUD available\n");
    return 0;
}

static int setup(const char *dir)
{
    static char buf[4096];
    char p[4096];
    memset(buf, 'x', sizeof buf);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        BENCH_DIE("mkdir %s", dir);
    snprintf(p, sizeof p, "%s/f4k", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        BENCH_DIE("open %s", p);
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
        BENCH_DIE("write %s", p);
    if (close(fd) != 0)
        BENCH_DIE("close %s", p);
    return 0;
}

static void run_getppid(double secs, long max, struct bench_samples *s)
{
    long want = (long)getppid();
    for (int i = 0; i < 1000; i++) /* warm-up */
        if (raw0(SYS_getppid) != want)
            BENCH_DIE("raw getppid: %ld, libc says %ld", raw0(SYS_getppid), want);
    uint64_t end = bench_now_ns() + (uint64_t)(secs * 1e9);
    for (long i = 0; i < max; i++) {
        uint64_t t0 = bench_now_ns();
        long r = raw0(SYS_getppid);
        uint64_t t1 = bench_now_ns();
        if (r != want)
            BENCH_DIE("raw getppid: %ld, libc says %ld", r, want);
        bench_add(s, t1 - t0);
        if (t1 >= end)
            break;
    }
}

static void run_fstatat(const char *dir, double secs, long max, struct bench_samples *s)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/f4k", dir);
    for (int i = 0; i < 200; i++) { /* warm-up */
        long r = raw4(SYS_newfstatat, AT_FDCWD, (long)p, (long)&st, 0);
        if (r != 0 || st.st_size != 4096) {
            errno = r < 0 ? (int)-r : 0;
            BENCH_DIE("raw newfstatat %s: %ld, size %lld", p, r, (long long)st.st_size);
        }
    }
    uint64_t end = bench_now_ns() + (uint64_t)(secs * 1e9);
    for (long i = 0; i < max; i++) {
        st.st_size = 0;
        uint64_t t0 = bench_now_ns();
        long r = raw4(SYS_newfstatat, AT_FDCWD, (long)p, (long)&st, 0);
        uint64_t t1 = bench_now_ns();
        if (r != 0 || st.st_size != 4096) {
            errno = r < 0 ? (int)-r : 0;
            BENCH_DIE("raw newfstatat %s: %ld, size %lld", p, r, (long long)st.st_size);
        }
        bench_add(s, t1 - t0);
        if (t1 >= end)
            break;
    }
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "probe") == 0)
        return probe();
    if (argc >= 3 && strcmp(argv[1], "setup") == 0)
        return setup(argv[2]);
    if (argc < 3 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: rawsys probe | setup DIR | run DIR [-t SECS] [-m MAX] [-o OPS]\n");
        return 2;
    }
    if (!HAVE_RAW) {
        fprintf(stderr, "rawsys: x86_64 only\n");
        return 1;
    }
    const char *dir = argv[2], *ops = "getppid,fstatat";
    double secs = 0.25;
    long max = 500000;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-t") == 0)
            secs = atof(argv[i + 1]);
        else if (strcmp(argv[i], "-m") == 0)
            max = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-o") == 0)
            ops = argv[i + 1];
    }
    printf("{\"ops\": {");
    const char *sep = "";
    if (strstr(ops, "getppid")) {
        struct bench_samples s = {0};
        run_getppid(secs, max, &s);
        printf("%s", sep);
        bench_json_stats(stdout, "getppid", &s);
        sep = ", ";
        free(s.v);
    }
    if (strstr(ops, "fstatat")) {
        struct bench_samples s = {0};
        run_fstatat(dir, secs, max, &s);
        printf("%s", sep);
        bench_json_stats(stdout, "fstatat", &s);
        free(s.v);
    }
    printf("}}\n");
    return 0;
}
