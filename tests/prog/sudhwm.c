/* sudhwm.c: how deep the shim's SIGSYS handler goes on the shim's own signal stack, path by path.
 *
 * usage: sudhwm DIR [own]   (a directory under the prefix, made by the caller; run under syscall
 *                            user dispatch; "own": with a signal stack of the program's own, of
 *                            128 KiB with a guard page right below it, installed first)
 *
 * The program asks which signal stack its thread has (the shim's: it set none), fills it (and the
 * scratch page below it, from which the handler changes signal stacks) with a pattern before
 * each raw call (a `syscall` instruction of its own, which traps), and prints after it how many
 * bytes at the top no longer hold the pattern: the kernel's signal frame plus the handler's
 * deepest use. The paths are the handler's deep ones: calls under the prefix that record a
 * change (a create, a rename of a directory holding files, a hard link), with paths close to
 * PATH_MAX and with every path checked beneath the tree after a link that climbs; execve refused
 * and execve of a script whose interpreter is a script under the prefix; the program's
 * sigaltstack (kept as its view, installed, disabled: a fresh shim stack), sigaction and masks;
 * fork, clone and clone3 (with and without a new stack), vfork and Go's clone(CLONE_VM |
 * CLONE_VFORK), their children too; exit_group; and nested handlers: a signal whose handler
 * makes a served call, delivered while a served call blocks (an open of a FIFO).
 *
 * A child that execs or exits cannot report what it used: before its raw call it puts a shared
 * mapping (a memfd) where its signal stack is, and the parent reads the mark there.
 *
 * One line per path: label, result, bytes used; "scratch N" the scratch page's deepest use, last
 * "max N of SIZE". Exit 1 when a call did not give the answer it should (the label says).
 */
#include "rawcall.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define raw6(n, a, b, c, d, e, f)                                                                  \
    raw_insn(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

#define FILL      0x5a
#define SCRATCH   4096         /* the shim's scratch page below its signal stack (shim/sud_int.h) */
#define SHIM_SIZE (256 * 1024) /* the shim's stack with the scratch page (SUD_STACK) */

static unsigned char *stk; /* the signal stack's lowest address (ss_sp) */
static size_t stk_size;
/* SCRATCH when the signal stack is the shim's (the scratch page below it is the shim's too),
 * else 0: below a stack the shim did not make lies memory of someone else's (under ASan, the
 * runtime's own: its thread registry sat right below the signal stack it gives each thread) */
static size_t scr_len;
static size_t depth_max, scratch_max;
static int bad;

/* Is [lo - SCRATCH, lo) the shim's scratch page: a stack of the shim's size with a guard page
 * (no access) right below the scratch page, as the shim maps it (sud_stack_map)? */
static int shim_made(const unsigned char *lo, size_t size)
{
    if (size != SHIM_SIZE - SCRATCH)
        return 0;
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int yes = 0;
    unsigned long a, b;
    char perms[8];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3 &&
            b == (unsigned long)(uintptr_t)(lo - SCRATCH) && strcmp(perms, "---p") == 0)
            yes = 1;
    if (f)
        fclose(f);
    return yes;
}

static void find_stack(void)
{
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0 || (cur.ss_flags & SS_DISABLE) || !cur.ss_sp) {
        fprintf(stderr, "sudhwm: the thread has no signal stack (not under SUD?)\n");
        exit(2);
    }
    stk = cur.ss_sp;
    stk_size = cur.ss_size;
    scr_len = shim_made(stk, stk_size) ? SCRATCH : 0;
}

/* "own": the program's own signal stack before anything (as ASan gives every thread one before
 * the shim arms it), of 128 KiB, installed as asked, with a guard page right below it */
static void own_stack(void)
{
    size_t size = 128 * 1024;
    unsigned char *p = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    stack_t ss = {.ss_sp = p + 4096, .ss_size = size};
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_NONE) != 0 || sigaltstack(&ss, NULL) != 0) {
        perror("sudhwm: own signal stack");
        exit(2);
    }
}

static void fill_at(unsigned char *lo, size_t size)
{
    memset(lo - scr_len, FILL, size + scr_len);
}

static void fill(void)
{
    fill_at(stk, stk_size);
}

/* the bytes used at the top of [lo, lo + size), and of the scratch page below it */
static size_t used_at(const unsigned char *lo, size_t size, size_t *scratch)
{
    size_t i = 0;
    while (i < size && lo[i] == FILL)
        i++;
    const unsigned char *s = lo - scr_len;
    size_t j = 0;
    while (j < scr_len && s[j] == FILL)
        j++;
    if (scratch)
        *scratch = scr_len - j;
    return size - i;
}

static void report(const char *what, long r, size_t u, size_t scr)
{
    if (u > depth_max)
        depth_max = u;
    if (scr > scratch_max)
        scratch_max = scr;
    printf("%-52s %6ld %7zu\n", what, r < 0 && r > -4096 ? r : (r >= 0 ? 0 : r), u);
}

/* expect: 1 a result >= 0, or the negative errno wanted */
static long check(const char *what, long r, long expect)
{
    if (expect == 1 ? r < 0 : r != expect) {
        fprintf(stderr, "sudhwm: %s: %ld, not %ld\n", what, r, expect);
        bad = 1;
    }
    return r;
}

static long call(const char *what, long expect, long nr, long a1, long a2, long a3, long a4,
                 long a5)
{
    fill();
    long r = raw6(nr, a1, a2, a3, a4, a5, 0);
    size_t scr, u = used_at(stk, stk_size, &scr);
    report(what, r, u, scr);
    return check(what, r, expect);
}

/* ---- a child's use ------------------------------------------------------------------------- */

static int pfd[2];

/* in a child: its own copy of the stack, measured; the line goes to the parent through a pipe */
static void child_report(const char *what, long r)
{
    size_t scr, u = used_at(stk, stk_size, &scr);
    char line[160];
    int n = snprintf(line, sizeof line, "%s\t%ld %zu %zu\n", what, r, u, scr);
    if (write(pfd[1], line, (size_t)n) != n)
        _exit(3);
}

static void parent_collect(void)
{
    char buf[512];
    ssize_t n = read(pfd[0], buf, sizeof buf - 1);
    if (n <= 0) {
        fprintf(stderr, "sudhwm: a child reported nothing\n");
        bad = 1;
        return;
    }
    buf[n] = '\0';
    char *tab = strchr(buf, '\t');
    long r;
    size_t u, scr;
    if (!tab || sscanf(tab + 1, "%ld %zu %zu", &r, &u, &scr) != 3) {
        fprintf(stderr, "sudhwm: a child reported '%s'\n", buf);
        bad = 1;
        return;
    }
    *tab = '\0';
    report(buf, r, u, scr);
    check(buf, r, 0);
}

static void reap(const char *what, pid_t pid, int want)
{
    int st = 0;
    if (pid <= 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != want) {
        fprintf(stderr, "sudhwm: %s: the child (%d) ended with status 0x%x, not exit %d\n", what,
                (int)pid, st, want);
        bad = 1;
    }
}

/* A child that execs or exits: run `body` in a fork child that puts a shared mapping where its
 * signal stack is (share_stack: at once, or from the body, in a grandchild), then read the mark
 * there once the child is gone. */
static int mfd = -1;

static void share_stack(void)
{
    if (mmap(stk - scr_len, stk_size + scr_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd,
             0) == MAP_FAILED)
        _exit(4);
    fill();
}

static void shared_child(const char *what, void (*body)(void), int now, int want)
{
    mfd = (int)syscall(SYS_memfd_create, "sudhwm", 0);
    if (mfd < 0 || ftruncate(mfd, (off_t)(stk_size + scr_len)) != 0) {
        perror("memfd");
        exit(2);
    }
    unsigned char *view =
        mmap(NULL, stk_size + scr_len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    if (view == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    memset(view, FILL, stk_size + scr_len);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (now)
            share_stack();
        body();
        _exit(5); /* the body execs or exits */
    }
    reap(what, pid, want);
    size_t sc, u = used_at(view + scr_len, stk_size, &sc);
    report(what, want, u, sc);
    munmap(view, stk_size + scr_len);
    close(mfd);
}

/* ---- the paths ----------------------------------------------------------------------------- */

static const char *dir;
static char longp[PATH_MAX], up[PATH_MAX + 64];
/* PARENT/y/../LAST of longp: long, and through ".." (guarded: resolved by the shim) */
static char longdot[PATH_MAX + 64];
static char script[PATH_MAX], interp[PATH_MAX];

static void long_dir(char *out, size_t size, const char *base)
{
    char seg[201];
    memset(seg, 'x', 200);
    seg[200] = '\0';
    snprintf(out, size, "%s", base);
    while (strlen(out) + 201 + 40 < PATH_MAX) {
        size_t n = strlen(out);
        snprintf(out + n, size - n, "/%s", seg);
        (void)raw6(SYS_mkdirat, AT_FDCWD, out, 0755, 0, 0, 0);
    }
}

static void paths(const char *tag, const char *base)
{
    char a[PATH_MAX + 64], b[PATH_MAX + 64], c[PATH_MAX + 64], w[128], buf[PATH_MAX];
    struct stat st;
    snprintf(a, sizeof a, "%s/f", base);
    snprintf(b, sizeof b, "%s/g", base);
    snprintf(c, sizeof c, "%s/d", base);
#define C(label, expect, ...)                                                                      \
    do {                                                                                           \
        snprintf(w, sizeof w, "%s %s", tag, label);                                                \
        call(w, expect, __VA_ARGS__);                                                              \
    } while (0)
    C("openat create (records)", 1, SYS_openat, AT_FDCWD, (long)a, O_CREAT | O_WRONLY | O_CLOEXEC,
      0644, 0);
    C("newfstatat", 0, SYS_newfstatat, AT_FDCWD, (long)a, (long)&st, 0, 0);
    C("truncate (records)", 0, SYS_truncate, (long)a, 3, 0, 0, 0);
    C("linkat (records a link)", 0, SYS_linkat, AT_FDCWD, (long)a, AT_FDCWD, (long)b, 0);
    C("unlinkat a linked name", 0, SYS_unlinkat, AT_FDCWD, (long)b, 0, 0, 0);
    C("mkdirat", 0, SYS_mkdirat, AT_FDCWD, (long)c, 0755, 0, 0);
    snprintf(b, sizeof b, "%s/d/in", base);
    C("rename a file into the directory", 0, SYS_renameat2, AT_FDCWD, (long)a, AT_FDCWD, (long)b,
      0);
    snprintf(b, sizeof b, "%s/e", base);
    C("rename the directory (records its files)", 0, SYS_rename, (long)c, (long)b, 0, 0, 0);
    C("symlinkat", 0, SYS_symlinkat, (long)"e/in", AT_FDCWD, (long)a, 0, 0);
    C("readlinkat", 4, SYS_readlinkat, AT_FDCWD, (long)a, (long)buf, sizeof buf, 0);
    C("openat through the link", 1, SYS_openat, AT_FDCWD, (long)a, O_RDONLY | O_CLOEXEC, 0, 0);
    char *argv[] = {a, NULL}, *envp[] = {NULL};
    C("execve (refused: not executable)", -EACCES, SYS_execve, (long)a, (long)argv, (long)envp, 0,
      0);
    C("unlinkat the link", 0, SYS_unlinkat, AT_FDCWD, (long)a, 0, 0, 0);
    snprintf(a, sizeof a, "%s/e/in", base);
    C("unlinkat (records)", 0, SYS_unlinkat, AT_FDCWD, (long)a, 0, 0, 0);
    C("unlinkat a directory", 0, SYS_unlinkat, AT_FDCWD, (long)b, AT_REMOVEDIR, 0, 0);
    C("chdir", 0, SYS_chdir, (long)base, 0, 0, 0, 0);
    C("getcwd", 1, SYS_getcwd, (long)buf, sizeof buf, 0, 0, 0);
    C("chdir /", 0, SYS_chdir, (long)"/", 0, 0, 0, 0);
#undef C
}

static void signal_calls(void)
{
    struct ksa {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } ka = {0}, old = {0};
    call("rt_sigaction SIGSYS (read back)", 0, SYS_rt_sigaction, SIGSYS, 0, (long)&old, 8, 0);
    ka.handler = SIG_IGN;
    call("rt_sigaction SIGSYS (recorded)", 0, SYS_rt_sigaction, SIGSYS, (long)&ka, 0, 8, 0);
    call("rt_sigaction SIGSYS (back)", 0, SYS_rt_sigaction, SIGSYS, (long)&old, 0, 8, 0);
    uint64_t all = ~0ull, prev = 0;
    call("rt_sigprocmask (SIGSYS dropped)", 0, SYS_rt_sigprocmask, SIG_BLOCK, (long)&all,
         (long)&prev, 8, 0);
    call("rt_sigprocmask (back)", 0, SYS_rt_sigprocmask, SIG_SETMASK, (long)&prev, 0, 8, 0);
    struct timespec zero = {0, 0};
    call("ppoll with a mask", 0, SYS_ppoll, 0, 0, (long)&zero, (long)&all, 8);
}

static void altstack_calls(void)
{
    stack_t q, ss;
    call("sigaltstack (read)", 0, SYS_sigaltstack, 0, (long)&q, 0, 0, 0);
    void *small = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *big = mmap(NULL, 128 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (small == MAP_FAILED || big == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    ss = (stack_t){.ss_sp = small, .ss_size = 8192};
    call("sigaltstack 8 KiB (kept as the program's view)", 0, SYS_sigaltstack, (long)&ss, 0, 0, 0,
         0);
    ss = (stack_t){.ss_flags = SS_DISABLE};
    call("sigaltstack disable (the shim's again)", 0, SYS_sigaltstack, (long)&ss, 0, 0, 0, 0);
    ss = (stack_t){.ss_sp = big, .ss_size = 128 * 1024};
    call("sigaltstack 128 KiB (installed)", 0, SYS_sigaltstack, (long)&ss, 0, 0, 0, 0);
    /* the handler now runs on the program's stack; a served call works on the shim's */
    char a[PATH_MAX + 64];
    snprintf(a, sizeof a, "%s/on-prog", longp);
    call("served on the shim's stack, the program's installed", 1, SYS_openat, AT_FDCWD, (long)a,
         O_CREAT | O_WRONLY | O_CLOEXEC, 0644, 0);
    call("unlinkat, the program's installed", 0, SYS_unlinkat, AT_FDCWD, (long)a, 0, 0, 0);
    ss = (stack_t){.ss_flags = SS_DISABLE};
    call("sigaltstack disable (from the program's)", 0, SYS_sigaltstack, (long)&ss, 0, 0, 0, 0);
    /* read back the shim's and disable it: the program may free it, the shim takes a new one */
    call("sigaltstack read (the shim's)", 0, SYS_sigaltstack, 0, (long)&q, 0, 0, 0);
    call("sigaltstack disable the shim's (a new one mapped)", 0, SYS_sigaltstack, (long)&ss, 0, 0,
         0, 0);
    find_stack();
    if ((void *)stk == q.ss_sp)
        printf("# the shim kept the stack the program disabled\n");
}

/* clone with a new stack: the child (not armed) leaves at once with a raw exit */
static long raw_clone_exit(long nr, long a1, long a2)
{
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $60, %%eax\n\t"
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:\n\t"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(0L)
                     : "rcx", "r11", "memory");
    return ret;
}

struct clone_args_v {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void clone_calls(void)
{
    size_t cs = 64 * 1024;
    char *cstk = mmap(NULL, cs, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (cstk == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    fill();
    long r = raw_clone_exit(SYS_clone, CLONE_VM | SIGCHLD, (long)(cstk + cs));
    size_t scr, u = used_at(stk, stk_size, &scr);
    report("clone with a new stack (CLONE_VM)", r, u, scr);
    reap("clone with a new stack", (pid_t)check("clone with a new stack", r, 1), 0);
    struct clone_args_v ca = {.flags = CLONE_VM,
                              .exit_signal = SIGCHLD,
                              .stack = (uint64_t)(uintptr_t)cstk,
                              .stack_size = cs};
    fill();
    r = raw_clone_exit(SYS_clone3, (long)&ca, sizeof ca);
    u = used_at(stk, stk_size, &scr);
    report("clone3 with a new stack (CLONE_VM)", r, u, scr);
    reap("clone3 with a new stack", (pid_t)check("clone3 with a new stack", r, 1), 0);

    /* forks: the parent's side here, the child's through the pipe */
    static const struct {
        const char *what;
        long nr, flags;
    } forks[] = {
        {"fork", SYS_fork, 0},
        {"clone (SIGCHLD, no stack)", SYS_clone, SIGCHLD},
        {"vfork", SYS_vfork, 0},
        {"clone (CLONE_VM | CLONE_VFORK), as Go's os/exec", SYS_clone,
         CLONE_VM | CLONE_VFORK | SIGCHLD},
    };
    for (size_t i = 0; i < sizeof forks / sizeof forks[0]; i++) {
        char w[128];
        fflush(stdout);
        fill();
        r = raw6(forks[i].nr, forks[i].flags, 0, 0, 0, 0, 0);
        if (r == 0) {
            snprintf(w, sizeof w, "%s: the child", forks[i].what);
            child_report(w, 0);
            _exit(0);
        }
        u = used_at(stk, stk_size, &scr);
        snprintf(w, sizeof w, "%s: the parent", forks[i].what);
        report(w, r, u, scr);
        reap(w, (pid_t)check(w, r, 1), 0);
        parent_collect();
    }

    /* a fork child's first change: it opens the cache's environment again */
    fflush(stdout);
    r = raw6(SYS_fork, 0, 0, 0, 0, 0, 0);
    if (r == 0) {
        char a[PATH_MAX + 64];
        snprintf(a, sizeof a, "%s/child-first", longp);
        fill();
        long fd = raw6(SYS_openat, AT_FDCWD, a, O_CREAT | O_WRONLY | O_CLOEXEC, 0644, 0, 0);
        child_report("a fork child's first change (reopens the cache)", fd < 0 ? fd : 0);
        _exit(0);
    }
    reap("fork (first change)", (pid_t)check("fork (first change)", r, 1), 0);
    parent_collect();
}

/* ---- children that exec or exit, measured through the shared mapping ------------------------ */

static void body_exit(void)
{
    /* the change first (with a key it starts the sync thread, which the exit then waits for) */
    char a[PATH_MAX + 64];
    snprintf(a, sizeof a, "%s/before-exit", dir);
    long fd = raw6(SYS_openat, AT_FDCWD, a, O_CREAT | O_WRONLY | O_CLOEXEC, 0644, 0, 0);
    if (fd >= 0)
        raw6(SYS_write, fd, "queued\n", 7, 0, 0, 0);
    fill();
    raw6(SYS_exit_group, 7, 0, 0, 0, 0, 0);
}

/* The environment of an exec: one variable, for the shim to add its own to. Under a sanitizer
 * (SMSHIM_SAN) also LD_PRELOAD as it is: the sanitizer's runtime must come first, and the shim
 * puts back only itself. */
static char **env_of_one(void)
{
    static char pre[8192];
    static char *envp[3] = {"ONLY=1", NULL, NULL};
    const char *san = getenv("SMSHIM_SAN"), *lp = getenv("LD_PRELOAD");
    if (san && *san && lp) {
        snprintf(pre, sizeof pre, "LD_PRELOAD=%s", lp);
        envp[1] = pre;
    }
    return envp;
}

static void body_exec_env(void)
{
    char *argv[] = {"true", NULL};
    raw6(SYS_execve, "/bin/true", argv, env_of_one(), 0, 0, 0);
}

static void body_exec_script(void)
{
    char *argv[] = {script, "arg", NULL};
    raw6(SYS_execve, script, argv, env_of_one(), 0, 0, 0);
}

static void body_vfork_exec(void)
{
    /* Go's os/exec: clone(CLONE_VM | CLONE_VFORK), then execve in the child */
    long r = raw6(SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0, 0);
    if (r == 0) { /* the shim made it a fork: this child's memory is its own */
        share_stack();
        char *argv[] = {script, "vforked", NULL};
        raw6(SYS_execve, script, argv, env_of_one(), 0, 0, 0);
        raw6(SYS_exit_group, 9, 0, 0, 0, 0, 0);
    }
    int st = 0;
    waitpid((pid_t)r, &st, 0);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 8);
}

/* a script whose interpreter is a script under the prefix (both under the long directory) */
static void make_scripts(void)
{
    snprintf(interp, sizeof interp, "%s/i", longp);
    snprintf(script, sizeof script, "%s/s", longp);
    char text[PATH_MAX + 32];
    int fd = open(interp, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    if (fd < 0 || write(fd, "#!/bin/sh\nexit 0\n", 17) != 17) {
        perror(interp);
        exit(2);
    }
    close(fd);
    int n = snprintf(text, sizeof text, "#!%s\n", interp);
    /* the kernel reads 256 bytes of a #! line: the interpreter must be named within them */
    if (n > 250) {
        snprintf(interp, sizeof interp, "%s/i", dir);
        fd = open(interp, O_CREAT | O_WRONLY | O_TRUNC, 0755);
        if (fd < 0 || write(fd, "#!/bin/sh\nexit 0\n", 17) != 17) {
            perror(interp);
            exit(2);
        }
        close(fd);
        n = snprintf(text, sizeof text, "#!%s\n", interp);
    }
    fd = open(script, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    if (fd < 0 || write(fd, text, (size_t)n) != n) {
        perror(script);
        exit(2);
    }
    close(fd);
}

/* ---- nested handlers ----------------------------------------------------------------------- */

/* the signal stacks a handler was found off: the one sigaltstack names (as Go's handler checks
 * before anything else: "signal received but handler not on signal stack" is fatal there) */
static volatile int off_stack;

static void usr1(int sig)
{
    (void)sig;
    stack_t st;
    char a[PATH_MAX + 64];
    uintptr_t here = (uintptr_t)a;
    if (raw6(SYS_sigaltstack, 0, &st, 0, 0, 0, 0) != 0 || (st.ss_flags & SS_DISABLE) ||
        here < (uintptr_t)st.ss_sp || here >= (uintptr_t)st.ss_sp + st.ss_size)
        off_stack++;
    snprintf(a, sizeof a, "%s/nested", longdot);
    long fd = raw6(SYS_openat, AT_FDCWD, a, O_CREAT | O_WRONLY | O_CLOEXEC, 0644, 0, 0);
    if (fd >= 0)
        raw6(SYS_close, fd, 0, 0, 0, 0, 0);
    else
        bad = 2;
}

static pid_t main_tid;
static char fifo[PATH_MAX + 64];

/* until the main thread sleeps in an openat (the shim's, of the FIFO), then the signal, then
 * the writer that lets the open end */
static void *poke(void *arg)
{
    (void)arg;
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/self/task/%d/syscall", (int)main_tid);
    char sp[64];
    snprintf(sp, sizeof sp, "/proc/self/task/%d/stat", (int)main_tid);
    for (;;) {
        int fd = open(p, O_RDONLY), ok = 0;
        ssize_t n = fd >= 0 ? read(fd, line, sizeof line - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n > 0 && strncmp(line, "257 ", 4) == 0) {
            fd = open(sp, O_RDONLY);
            n = fd >= 0 ? read(fd, line, sizeof line - 1) : -1;
            if (fd >= 0)
                close(fd);
            line[n > 0 ? n : 0] = '\0';
            char *e = strrchr(line, ')');
            ok = e && e[1] == ' ' && e[2] == 'S';
        }
        if (ok)
            break;
        sched_yield();
    }
    syscall(SYS_tgkill, getpid(), main_tid, SIGUSR1);
    int w = open(fifo, O_WRONLY);
    if (w >= 0)
        close(w);
    return NULL;
}

static void nested_calls(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = usr1;
    sa.sa_flags = SA_ONSTACK | SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    fill();
    long r = raw6(SYS_kill, getpid(), SIGUSR1, 0, 0, 0, 0);
    size_t scr, u = used_at(stk, stk_size, &scr);
    report("kill: a handler's served call on top (nested)", r, u, scr);
    check("kill (nested)", r, 0);
    check("the handler's call", bad == 2 ? -1 : 0, 0);

    snprintf(fifo, sizeof fifo, "%s/fifo", longdot);
    check("mkfifo", raw6(SYS_mknodat, AT_FDCWD, fifo, S_IFIFO | 0600, 0, 0, 0), 0);
    main_tid = (pid_t)syscall(SYS_gettid);
    pthread_t t;
    pthread_create(&t, NULL, poke, NULL);
    fill();
    r = raw6(SYS_openat, AT_FDCWD, fifo, O_RDONLY | O_CLOEXEC, 0, 0, 0);
    u = used_at(stk, stk_size, &scr);
    report("a served call inside a served open (a FIFO; nested)", r, u, scr);
    check("open of the FIFO", r, 1);
    pthread_join(t, NULL);
    check("the handlers ran on the signal stack sigaltstack named", off_stack ? -1 : 0, 0);
    if (r >= 0)
        raw6(SYS_close, r, 0, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2 && !(argc == 3 && strcmp(argv[2], "own") == 0)) {
        fprintf(stderr, "usage: sudhwm DIR [own]\n");
        return 2;
    }
    dir = argv[1];
    D = dir;
    if (argc == 3)
        own_stack();
    find_stack();
    size_t size0 = stk_size; /* the stack the table is of (altstack_calls ends on a new one) */
    if (pipe(pfd) != 0) {
        perror("pipe");
        return 2;
    }
    printf("%-52s %6s %7s\n", "path", "result", "bytes");
    call("getppid (re-issued)", 1, SYS_getppid, 0, 0, 0, 0, 0);
    paths("short", dir);
    long_dir(longp, sizeof longp, dir);
    paths("long", longp);
    make_scripts();
    shared_child("execve with the environment rewritten", body_exec_env, 1, 0);
    shared_child("execve of a script whose interpreter is a script there", body_exec_script, 1, 0);

    /* a link that climbs: from now on every path under the prefix is checked beneath the tree */
    snprintf(up, sizeof up, "%s/up", dir);
    call("symlinkat .. (every path checked from now on)", 0, SYS_symlinkat, (long)"..", AT_FDCWD,
         (long)up, 0, 0);
    paths("guarded", dir);
    char dotted[PATH_MAX + 64];
    snprintf(dotted, sizeof dotted, "%s/up/%s", dir, strrchr(dir, '/') + 1);
    paths("guarded, through the link", dotted);
    char *last = strrchr(longp, '/');
    *last = '\0';
    snprintf(longdot, sizeof longdot, "%s/y", longp);
    (void)raw6(SYS_mkdirat, AT_FDCWD, longdot, 0755, 0, 0, 0);
    snprintf(longdot, sizeof longdot, "%s/y/../%s", longp, last + 1);
    *last = '/';
    paths("guarded long/..", longdot);
    /* a link whose target leaves the tree (absolute): resolved component by component */
    char abs[PATH_MAX + 64], through[PATH_MAX + 64];
    struct stat st;
    snprintf(abs, sizeof abs, "%s/etc", longdot);
    call("symlinkat /etc", 0, SYS_symlinkat, (long)"/etc", AT_FDCWD, (long)abs, 0, 0);
    snprintf(through, sizeof through, "%s/etc/hostname", longdot);
    call("guarded long/..: stat through a link out of the tree", 0, SYS_newfstatat, AT_FDCWD,
         (long)through, (long)&st, 0, 0);
    shared_child("guarded: execve of the nested script", body_exec_script, 1, 0);
    shared_child("guarded: clone(CLONE_VM | CLONE_VFORK) + execve", body_vfork_exec, 0, 0);
    signal_calls();
    clone_calls();
    nested_calls();
    shared_child("exit_group after a change", body_exit, 1, 7);
    altstack_calls();
    call("getppid on the new shim stack", 1, SYS_getppid, 0, 0, 0, 0, 0);
    printf("scratch %zu of %d\n", scratch_max, SCRATCH);
    printf("max %zu of %zu\n", depth_max, size0);
    return bad ? 1 : 0;
}
