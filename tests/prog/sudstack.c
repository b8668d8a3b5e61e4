/* sudstack.c: how deep the shim's SIGSYS handler goes on the signal stack, call by call.
 *
 * usage: sudstack DIR (a directory under the prefix, made by the caller)
 *
 * The program gives its thread a signal stack of its own, large enough that the shim installs it
 * as asked, fills it with a pattern before each raw call (a `syscall` instruction of its own, so
 * under syscall user dispatch the call traps and the handler runs on that stack), and prints
 * after each call how many bytes at the top of the stack no longer hold the pattern: the
 * kernel's signal frame plus the handler's deepest use. The calls are the shapes the handler
 * serves under the prefix: stat, open (a create, which records the change), mkdir, rename,
 * unlink, readlink, execve (refused: the file is not executable), each with a short path and a
 * path close to PATH_MAX, and again after a link whose target climbs ("..") makes every path be
 * checked beneath the tree, with ".." in the paths. Last line: "max N".
 */
#include "rawcall.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define raw6(n, a, b, c, d, e, f)                                                                  \
    raw_insn(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

#define ALT_SIZE (256 * 1024)
#define FILL     0x5a

static unsigned char *alt;
static size_t depth_max;

/* Bytes used at the top of the signal stack since it was filled. */
static size_t used(void)
{
    size_t i = 0;
    while (i < ALT_SIZE && alt[i] == FILL)
        i++;
    return ALT_SIZE - i;
}

static void call(const char *what, long nr, long a1, long a2, long a3, long a4, long a5)
{
    memset(alt, FILL, ALT_SIZE);
    long r = raw6(nr, a1, a2, a3, a4, a5, 0);
    size_t u = used();
    if (u > depth_max)
        depth_max = u;
    printf("%-34s %6ld %6zu\n", what, r < 0 && r > -4096 ? r : (r >= 0 ? 0 : r), u);
}

/* DIR/<segments of 200 letters> until the path is close to PATH_MAX, made as directories. */
static void long_dir(char *out, size_t size, const char *dir)
{
    char seg[201];
    memset(seg, 'x', 200);
    seg[200] = '\0';
    snprintf(out, size, "%s", dir);
    while (strlen(out) + 201 + 40 < PATH_MAX) {
        size_t n = strlen(out);
        snprintf(out + n, size - n, "/%s", seg);
        (void)raw6(SYS_mkdirat, AT_FDCWD, out, 0755, 0, 0, 0);
    }
}

static void round_of(const char *tag, const char *base)
{
    char a[PATH_MAX + 64], b[PATH_MAX + 64], w[160];
    char buf[PATH_MAX];
    struct stat st;
    snprintf(a, sizeof a, "%s/f", base);
    snprintf(b, sizeof b, "%s/g", base);
#define C(label, ...)                                                                              \
    do {                                                                                           \
        snprintf(w, sizeof w, "%s %s", tag, label);                                                \
        call(w, __VA_ARGS__);                                                                      \
    } while (0)
    C("openat creat", SYS_openat, AT_FDCWD, (long)a, O_CREAT | O_WRONLY | O_CLOEXEC, 0644, 0);
    long fd = raw6(SYS_openat, AT_FDCWD, a, O_WRONLY | O_CLOEXEC, 0, 0, 0);
    if (fd >= 0) {
        C("write", SYS_write, fd, (long)"#!/bin/sh\n", 10, 0, 0);
        C("close", SYS_close, fd, 0, 0, 0, 0);
    }
    C("newfstatat", SYS_newfstatat, AT_FDCWD, (long)a, (long)&st, 0, 0);
    C("newfstatat missing", SYS_newfstatat, AT_FDCWD, (long)b, (long)&st, 0, 0);
    C("openat read", SYS_openat, AT_FDCWD, (long)a, O_RDONLY | O_CLOEXEC, 0, 0);
    C("renameat2", SYS_renameat2, AT_FDCWD, (long)a, AT_FDCWD, (long)b, 0);
    C("rename back", SYS_rename, (long)b, (long)a, 0, 0, 0);
    C("symlinkat", SYS_symlinkat, (long)"f", AT_FDCWD, (long)b, 0, 0);
    C("readlinkat", SYS_readlinkat, AT_FDCWD, (long)b, (long)buf, sizeof buf, 0);
    C("unlinkat link", SYS_unlinkat, AT_FDCWD, (long)b, 0, 0, 0);
    C("mkdirat", SYS_mkdirat, AT_FDCWD, (long)b, 0755, 0, 0);
    C("unlinkat dir", SYS_unlinkat, AT_FDCWD, (long)b, AT_REMOVEDIR, 0, 0);
    char *argv[] = {a, NULL}, *envp[] = {NULL};
    C("execve (not executable)", SYS_execve, (long)a, (long)argv, (long)envp, 0, 0);
    C("unlinkat", SYS_unlinkat, AT_FDCWD, (long)a, 0, 0, 0);
#undef C
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: sudstack DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    alt = aligned_alloc(4096, ALT_SIZE);
    stack_t ss = {.ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0};
    if (!alt || sigaltstack(&ss, NULL) != 0) {
        perror("sigaltstack");
        return 1;
    }
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0 || cur.ss_sp != alt) {
        fprintf(stderr, "the signal stack is not the program's\n");
        return 1;
    }
    printf("%-34s %6s %6s\n", "call", "result", "bytes");
    call("getppid (re-issued)", SYS_getppid, 0, 0, 0, 0, 0);
    static char longp[PATH_MAX + 64], dotted[PATH_MAX + 64], up[PATH_MAX + 64];
    round_of("short", dir);
    long_dir(longp, sizeof longp, dir);
    round_of("long", longp);

    /* a link that climbs: from now on every path under the prefix is checked beneath the tree */
    snprintf(up, sizeof up, "%s/up", dir);
    call("symlinkat ..", SYS_symlinkat, (long)"..", AT_FDCWD, (long)up, 0, 0);
    round_of("guarded", dir);
    snprintf(dotted, sizeof dotted, "%s/up/%s", dir, strrchr(dir, '/') + 1);
    round_of("guarded link/..", dotted);
    /* the long path again, through a ".." near its end: PARENT/y/../LAST */
    char *last = strrchr(longp, '/');
    *last = '\0';
    snprintf(dotted, sizeof dotted, "%s/y", longp);
    (void)raw6(SYS_mkdirat, AT_FDCWD, dotted, 0755, 0, 0, 0);
    snprintf(dotted, sizeof dotted, "%s/y/../%s", longp, last + 1);
    round_of("guarded long/..", dotted);
    (void)raw6(SYS_unlinkat, AT_FDCWD, up, 0, 0, 0, 0);
    printf("max %zu\n", depth_max);
    return 0;
}
