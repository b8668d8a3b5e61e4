/* procnames.c: every spelling of a name of one of the shim's descriptors in this process's fd
 * and fdinfo directories answers ENOENT, and paths elsewhere under /dev pass through.
 *
 * usage: procnames names DIR   (DIR under the prefix: a write and an fsync there make the shim
 *                               open its descriptors: the tree, LMDB's files)
 *        procnames pass N      (N rounds of stat, access, open and close of /dev/null and of a
 *                               file in /dev/shm, for callgrind: nothing else)
 *        procnames proc N      (the same on /proc/self/fd/0)
 *
 * names: for the first three of the shim's descriptors (the kernel's own listing finds them),
 * readlink, stat and open of /proc/self/fd/N, /dev/fd/N, /proc/PID/fd/N, /proc/thread-self/fd/N,
 * /proc/self/task/TID/fd/N, /proc/self/fdinfo/N, and of the same directories spelt with doubled
 * slashes, "." and ".." components, and of what lies below the descriptor ("N/", "N/.", "N/..":
 * the tree's parent is the cache's directory) answer ENOENT; the program's own descriptor is
 * found under the same spellings; /dev/null and a file in /dev/shm answer as the kernel does.
 * Prints "ok" or what went wrong. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progfd.h"

static int bad;

static const char *const spell[] = {
    "/proc/self/fd/%d",
    "/dev/fd/%d",
    "/proc/%1$s/fd/%2$d",
    "/proc/thread-self/fd/%d",
    "/proc/self/task/%1$s/fd/%2$d",
    "/proc/self/fdinfo/%d",
    "//proc/self/fd/%d",
    "/proc//self/fd/%d",
    "/proc/self//fd//%d",
    "/dev//fd/%d",
    "//dev/fd/%d",
    "/dev///fd/%d",
    "/dev/./fd/%d",
    "/dev/fd/./%d",
    "/proc/./self/fd/%d",
    "/proc/self/./fd/%d",
    "/proc/self/../self/fd/%d",
    "/dev/fd/../fd/%d",
    "/dev/../dev/fd/%d",
    "/proc/self/fd/%d/",
    "/proc/self/fd/%d/.",
    "/proc/self/fd/%d/..",
    "/dev//fd/%d/..",
};
#define NSPELL (sizeof spell / sizeof spell[0])

/* spelling i of descriptor fd (pid and tid in the ones that name them) into p */
static void name_of(size_t i, int fd, char *p, size_t size)
{
    char id[32];
    if (strstr(spell[i], "%1$s")) {
        snprintf(id, sizeof id, "%d",
                 strstr(spell[i], "task") ? (int)syscall(SYS_gettid) : (int)getpid());
        snprintf(p, size, spell[i], id, fd);
    } else {
        snprintf(p, size, spell[i], fd);
    }
}

static void gone(const char *what, const char *p, long rc)
{
    if (rc >= 0 || errno != ENOENT) {
        printf("%s %s: %s, not ENOENT\n", what, p, rc >= 0 ? "found" : strerror(errno));
        bad = 1;
    }
}

static int names(const char *dir)
{
    if (put_named_env(dir, "a.txt") != 0)
        return 1;
    char p[4096], l[4096];
    snprintf(p, sizeof p, "%s/a.txt", dir);
    int mine = open(p, O_RDONLY | O_CLOEXEC);
    if (mine < 0) {
        printf("open %s: %s\n", p, strerror(errno));
        return 1;
    }
    /* the shim's: the top 64 numbers below the limit or 4096 (include/sm_real.h) */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    long top = rl.rlim_cur < 4096 ? (long)rl.rlim_cur : 4096;
    int all[1024], shim[3], ns = 0, k = kfds(all, 1024);
    for (int i = 0; i < k && ns < 3; i++)
        if (all[i] >= top - 64)
            shim[ns++] = all[i];
    if (ns < 2) {
        printf("the kernel lists %d descriptors of the shim's: the test shows nothing\n", ns);
        return 1;
    }
    size_t checked = 0;
    for (int s = 0; s < ns; s++)
        for (size_t i = 0; i < NSPELL; i++) {
            struct stat st;
            name_of(i, shim[s], p, sizeof p);
            if (strstr(spell[i], "%d/") == NULL) /* the link itself */
                gone("readlink", p, readlink(p, l, sizeof l));
            gone("stat", p, stat(p, &st));
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            gone("open", p, fd);
            if (fd >= 0)
                close(fd);
            checked++;
        }
    /* the program's own descriptor, by every spelling of its link */
    for (size_t i = 0; i < NSPELL; i++) {
        struct stat st;
        if (strstr(spell[i], "%d/") || strstr(spell[i], "fdinfo"))
            continue;
        name_of(i, mine, p, sizeof p);
        if (readlink(p, l, sizeof l) <= 0 || stat(p, &st) != 0) {
            printf("the program's own descriptor %s: %s\n", p, strerror(errno));
            bad = 1;
        }
    }
    /* /dev as the kernel has it */
    int n = open("/dev/null", O_RDWR | O_CLOEXEC);
    char c;
    if (n < 0 || write(n, "x", 1) != 1 || read(n, &c, 1) != 0) {
        printf("/dev/null: %s\n", strerror(errno));
        bad = 1;
    }
    if (n >= 0)
        close(n);
    snprintf(p, sizeof p, "/dev/shm/smshim-procnames-%d", (int)getpid());
    struct stat a, b;
    int f = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f < 0 || write(f, "shm", 3) != 3 || stat(p, &a) != 0 ||
        kraw(SYS_fstat, f, (long)&b, 0, 0) || a.st_ino != b.st_ino || a.st_dev != b.st_dev ||
        a.st_size != 3 || unlink(p) != 0 || access(p, F_OK) == 0) {
        printf("%s: %s\n", p, strerror(errno));
        bad = 1;
    }
    if (f >= 0)
        close(f);
    if (!bad)
        printf("ok - %zu names of %d descriptors of the shim's answer ENOENT; the program's own "
               "and /dev pass through\n",
               checked, ns);
    return bad;
}

static int rounds(const char *const *paths, int np, int n)
{
    for (int r = 0; r < n; r++)
        for (int i = 0; i < np; i++) {
            struct stat st;
            (void)stat(paths[i], &st);
            (void)access(paths[i], F_OK);
            int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
            if (fd >= 0)
                close(fd);
        }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && strcmp(argv[1], "names") == 0)
        return names(argv[2]);
    if (argc == 3 && strcmp(argv[1], "pass") == 0) {
        char shm[64];
        snprintf(shm, sizeof shm, "/dev/shm/smshim-procnames-%d", (int)getpid());
        int f = open(shm, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        const char *paths[] = {"/dev/null", shm};
        rounds(paths, 2, atoi(argv[2]));
        if (f >= 0)
            close(f);
        return unlink(shm) != 0;
    }
    if (argc == 3 && strcmp(argv[1], "proc") == 0) {
        const char *paths[] = {"/proc/self/fd/0"};
        return rounds(paths, 1, atoi(argv[2]));
    }
    fprintf(stderr, "usage: procnames names DIR | pass N | proc N\n");
    return 2;
}
