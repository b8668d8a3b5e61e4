/* fsizesig.c: a program that decides what SIGXFSZ does, under a file size limit it was started
 * with (usage: fsizesig MODE DIR [maps], MODE dfl, ign or handler). It writes a small file under
 * DIR, then a file past the limit, then extends a file past it with truncate; after each step it
 * prints what the calls answered and how many SIGXFSZ its handler saw. On a real directory a
 * small file raises nothing; the write past the limit is cut at it, the next write fails with
 * EFBIG and raises one SIGXFSZ (which ends the process under dfl), and so does the truncate.
 * With "maps" it also maps the small file and reads its own /proc/self/maps to the end (a real
 * directory's file size limit has nothing to do with reading it); with "close" it closes every
 * number from 3 to 4095 after the small file (a log of the shim's may say so). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static volatile sig_atomic_t seen;

static void on_xfsz(int sig)
{
    (void)sig;
    seen++;
}

static const char *err(long r)
{
    return r < 0 ? strerror(errno) : "ok";
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1], *dir = argv[2];
    int maps = argc > 3 && strcmp(argv[3], "maps") == 0;
    int closeall = argc > 3 && strcmp(argv[3], "close") == 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = strcmp(mode, "ign") == 0   ? SIG_IGN
                    : strcmp(mode, "dfl") == 0 ? SIG_DFL
                                               : on_xfsz;
    sigaction(SIGXFSZ, &sa, NULL);
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    long lim = (long)rl.rlim_cur;
    if (rl.rlim_cur == RLIM_INFINITY || lim > (1L << 20))
        return 3;
    setvbuf(stdout, NULL, _IONBF, 0);

    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s/small.txt", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    long w = fd >= 0 ? (long)write(fd, "abc", 3) : -1;
    printf("small: open %s write %ld %s close %s; signals %d\n", fd >= 0 ? "ok" : strerror(errno),
           w, err(w), fd >= 0 ? err(close(fd)) : "-", (int)seen);

    if (closeall) {
        for (int i = 3; i < 4096; i++)
            close(i);
        printf("closed 3-4095; signals %d\n", (int)seen);
    }
    if (maps) {
        fd = open(p, O_RDONLY);
        void *m = fd >= 0 ? mmap(NULL, 3, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
        int mf = open("/proc/self/maps", O_RDONLY);
        long total = 0, k;
        char b[512];
        while (mf >= 0 && (k = (long)read(mf, b, sizeof b)) > 0)
            total += k;
        printf("maps: mapped %s, read %s; signals %d\n", m != MAP_FAILED ? "ok" : "no",
               mf >= 0 && total > 0 ? "ok" : strerror(errno), (int)seen);
    }

    snprintf(q, sizeof q, "%s/big.bin", dir);
    fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *buf = calloc(1, (size_t)lim + 100);
    w = fd >= 0 ? (long)write(fd, buf, (size_t)lim + 100) : -1;
    printf("big: first write %ld (limit %ld); signals %d\n", w, lim, (int)seen);
    w = fd >= 0 ? (long)write(fd, buf, 10) : -1;
    printf("big: second write %ld %s; signals %d\n", w, err(w), (int)seen);
    close(fd);
    long t = truncate(p, lim * 2);
    printf("truncate past the limit: %ld %s; signals %d\n", t, err(t), (int)seen);
    snprintf(q, sizeof q, "%s/small2.txt", dir);
    fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    w = fd >= 0 ? (long)write(fd, "de", 2) : -1;
    printf("small again: write %ld %s close %s; signals %d\n", w, err(w),
           fd >= 0 ? err(close(fd)) : "-", (int)seen);
    return 0;
}
