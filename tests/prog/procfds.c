/* procfds.c: a program that lists its own descriptors through /proc, after the shim opened its
 * environment (a write under the prefix), must see exactly the descriptors it holds: none of the
 * shim's (the kernel lists them: kfds, past the shim, finds them), every one of its own, by
 * every way of listing (readdir, readdir64, readdir_r, scandir, fdopendir, getdents64 through
 * syscall(), nftw, glob; the fd and fdinfo directories under every name the process has), and a name of
 * one of the shim's numbers under /proc answers ENOENT to readlink, stat, open and access, as
 * for a number that is not open. Usage: procfds DIR (under the prefix). Prints "ok" or what
 * went wrong. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progfd.h"

#define MAXFD 1024
static int shim[MAXFD], nshim, mine[MAXFD], nmine, bad;

static int in(const int *set, int n, int fd)
{
    for (int i = 0; i < n; i++)
        if (set[i] == fd)
            return 1;
    return 0;
}

/* A listing's numbers (its own descriptor left out): none of the shim's, all of the program's. */
static void check(const char *how, const int *got, int n, int self)
{
    for (int i = 0; i < n; i++)
        if (in(shim, nshim, got[i])) {
            printf("%s lists %d, the shim's\n", how, got[i]);
            bad = 1;
        }
    for (int i = 0; i < nmine; i++)
        if (mine[i] != self && !in(got, n, mine[i])) {
            printf("%s does not list %d, the program's\n", how, mine[i]);
            bad = 1;
        }
}

static int num(const char *name)
{
    return name[0] >= '0' && name[0] <= '9' ? atoi(name) : -1;
}

enum { R_READDIR, R_READDIR64, R_READDIR_R, R_FDOPEN };

static void by_readdir(const char *dir, int how)
{
    int got[MAXFD], n = 0, self;
    DIR *d;
    if (how == R_FDOPEN) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d = fd >= 0 ? fdopendir(fd) : NULL;
    } else {
        d = opendir(dir);
    }
    if (!d) {
        printf("opendir %s: %s\n", dir, strerror(errno));
        bad = 1;
        return;
    }
    self = dirfd(d);
    for (;;) {
        const char *name;
        if (how == R_READDIR64) {
            struct dirent64 *e = readdir64(d);
            if (!e)
                break;
            name = e->d_name;
        } else if (how == R_READDIR_R) {
            static struct dirent buf;
            struct dirent *e = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
            if (readdir_r(d, &buf, &e) != 0 || !e)
                break;
#pragma GCC diagnostic pop
            name = e->d_name;
        } else {
            struct dirent *e = readdir(d);
            if (!e)
                break;
            name = e->d_name;
        }
        if (num(name) >= 0 && num(name) != self && n < MAXFD)
            got[n++] = num(name);
    }
    closedir(d);
    char what[256];
    static const char *names[] = {"readdir", "readdir64", "readdir_r", "fdopendir+readdir"};
    snprintf(what, sizeof what, "%s of %s", names[how], dir);
    check(what, got, n, self);
}

static void by_scandir(const char *dir)
{
    struct dirent **list;
    int k = scandir(dir, &list, NULL, alphasort), got[MAXFD], n = 0;
    if (k < 0) {
        printf("scandir %s: %s\n", dir, strerror(errno));
        bad = 1;
        return;
    }
    for (int i = 0; i < k; i++) {
        if (num(list[i]->d_name) >= 0 && n < MAXFD)
            got[n++] = num(list[i]->d_name);
        free(list[i]);
    }
    free(list);
    /* scandir's own descriptor is closed before it returns: any number may be it */
    char what[256];
    snprintf(what, sizeof what, "scandir of %s", dir);
    int kept[MAXFD], m = 0;
    for (int i = 0; i < n; i++)
        if (in(mine, nmine, got[i]) || in(shim, nshim, got[i]))
            kept[m++] = got[i];
    check(what, kept, m, -1);
}

/* getdents64 through libc's syscall(), with a buffer that holds few entries: some reads of the
 * kernel's hold only the shim's, and an empty answer would end the listing */
static void by_getdents(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), got[MAXFD], n = 0;
    union {
        struct dirent64 e;
        char b[512];
    } u;
    char *buf = u.b;
    long k;
    if (fd < 0) {
        printf("open %s: %s\n", dir, strerror(errno));
        bad = 1;
        return;
    }
    while ((k = syscall(SYS_getdents64, fd, buf, 64)) > 0)
        for (long off = 0; off < k;) {
            struct dirent64 *e = (struct dirent64 *)(buf + off);
            off += e->d_reclen;
            if (num(e->d_name) >= 0 && num(e->d_name) != fd && n < MAXFD)
                got[n++] = num(e->d_name);
        }
    if (k < 0) {
        printf("getdents64 of %s: %s\n", dir, strerror(errno));
        bad = 1;
    }
    close(fd);
    char what[256];
    snprintf(what, sizeof what, "syscall(getdents64) of %s", dir);
    check(what, got, n, fd);
}

/* nftw and glob read the directory inside glibc: the names they hand on */
static int walked[MAXFD], nwalked;

static int walk_one(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)sb;
    (void)type;
    if (f->level == 1 && nwalked < MAXFD)
        walked[nwalked++] = atoi(p + f->base);
    return 0;
}

static void by_walks(const char *dir)
{
    char what[256], pat[128];
    nwalked = 0;
    /* (FTW_PHYS: /dev/fd itself is a link, which nftw does not enter) */
    if (strcmp(dir, "/dev/fd") != 0 && nftw(dir, walk_one, 8, FTW_PHYS) != 0) {
        printf("nftw %s: %s\n", dir, strerror(errno));
        bad = 1;
    }
    /* nftw's own descriptor is closed before it returns: any number may be it */
    int kept[MAXFD], m = 0;
    for (int i = 0; i < nwalked; i++)
        if (in(mine, nmine, walked[i]) || in(shim, nshim, walked[i]))
            kept[m++] = walked[i];
    snprintf(what, sizeof what, "nftw of %s", dir);
    if (strcmp(dir, "/dev/fd") != 0)
        check(what, kept, m, -1);
    glob_t g;
    snprintf(pat, sizeof pat, "%s/*", dir);
    if (glob(pat, 0, NULL, &g) != 0) {
        printf("glob %s: %s\n", pat, strerror(errno));
        bad = 1;
        return;
    }
    m = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        int n = atoi(strrchr(g.gl_pathv[i], '/') + 1);
        if (in(mine, nmine, n) || in(shim, nshim, n))
            kept[m++] = n;
    }
    globfree(&g);
    snprintf(what, sizeof what, "glob %s", pat);
    check(what, kept, m, -1);
}

/* name (of a number of the shim's) must not exist for the program */
static void gone(const char *what, int rc)
{
    if (rc >= 0 || errno != ENOENT) {
        printf("%s: %s, not ENOENT\n", what, rc >= 0 ? "found" : strerror(errno));
        bad = 1;
    }
}

static void names_of(int s, const char *fddir)
{
    char p[256], l[4096], what[300];
    struct stat st;
    snprintf(p, sizeof p, "%s/%d", fddir, s);
    snprintf(what, sizeof what, "readlink %s", p);
    gone(what, (int)readlink(p, l, sizeof l));
    snprintf(what, sizeof what, "stat %s", p);
    gone(what, stat(p, &st));
    snprintf(what, sizeof what, "lstat %s", p);
    gone(what, lstat(p, &st));
    snprintf(what, sizeof what, "access %s", p);
    gone(what, access(p, F_OK));
    snprintf(what, sizeof what, "open %s", p);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    gone(what, fd);
    if (fd >= 0)
        close(fd);
    snprintf(what, sizeof what, "syscall(readlinkat) %s", p);
    gone(what, (int)syscall(SYS_readlinkat, AT_FDCWD, p, l, sizeof l));
    int d = open(fddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", s);
        snprintf(what, sizeof what, "readlinkat %s, %s", fddir, n);
        gone(what, (int)readlinkat(d, n, l, sizeof l));
        snprintf(what, sizeof what, "fstatat %s, %s", fddir, n);
        gone(what, fstatat(d, n, &st, 0));
        snprintf(what, sizeof what, "openat %s, %s", fddir, n);
        fd = openat(d, n, O_RDONLY | O_CLOEXEC);
        gone(what, fd);
        if (fd >= 0)
            close(fd);
        close(d);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    if (put_named_env(argv[1], "a.txt") != 0) /* the shim opens its environment */
        return 1;
    char p[4096];
    snprintf(p, sizeof p, "%s/a.txt", argv[1]);
    int f = open(p, O_RDONLY | O_CLOEXEC), pp[2];
    if (f < 0 || pipe(pp) != 0 || dup2(f, 40) != 40) {
        printf("the program's own descriptors: %s\n", strerror(errno));
        return 1;
    }
    /* the kernel's view: the shim's are in the top 64 numbers below the limit */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    /* the shim's range: the top 64 numbers below the limit or SM_FD_TOP (include/sm_real.h) */
    long top = rl.rlim_cur < 4096 ? (long)rl.rlim_cur : 4096, base = top - 64;
    int all[MAXFD], k = kfds(all, MAXFD);
    for (int i = 0; i < k; i++) {
        if (all[i] >= base)
            shim[nshim++] = all[i];
        else
            mine[nmine++] = all[i];
    }
    if (nshim < 2 || !in(mine, nmine, f) || !in(mine, nmine, 40)) {
        printf("the kernel lists %d descriptors of the shim's: the test shows nothing\n", nshim);
        return 1;
    }
    char dirs[6][64];
    snprintf(dirs[0], sizeof dirs[0], "/proc/self/fd");
    snprintf(dirs[1], sizeof dirs[1], "/proc/%d/fd", (int)getpid());
    snprintf(dirs[2], sizeof dirs[2], "/proc/thread-self/fd");
    snprintf(dirs[3], sizeof dirs[3], "/proc/self/task/%d/fd", (int)syscall(SYS_gettid));
    snprintf(dirs[4], sizeof dirs[4], "/proc/self/fdinfo");
    snprintf(dirs[5], sizeof dirs[5], "/dev/fd");
    for (int i = 0; i < 6; i++) {
        for (int how = R_READDIR; how <= R_FDOPEN; how++)
            by_readdir(dirs[i], how);
        by_scandir(dirs[i]);
        by_getdents(dirs[i]);
        by_walks(dirs[i]);
    }
    /* the kernel lists the shim's still: they are hidden, not closed */
    int again[MAXFD], k2 = kfds(again, MAXFD);
    for (int i = 0; i < nshim; i++)
        if (!in(again, k2, shim[i])) {
            printf("the shim's descriptor %d is gone\n", shim[i]);
            bad = 1;
        }
    for (int i = 0; i < nshim && i < 3; i++)
        for (int j = 0; j < 6; j++)
            names_of(shim[i], dirs[j]);
    char l[4096];
    snprintf(p, sizeof p, "/proc/self/fd/%d", f);
    if (readlink(p, l, sizeof l) <= 0) {
        printf("readlink %s, the program's: %s\n", p, strerror(errno));
        bad = 1;
    }
    if (!bad)
        printf("ok\n");
    return bad;
}
