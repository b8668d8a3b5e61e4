/* rawsys.c: a program that makes raw `syscall` instructions (inline asm, as Bun does), for the
 * Syscall User Dispatch tests.
 *
 *   rawsys probe            exit 0 if this kernel lets a process arm SUD, else print why, exit 1
 *   rawsys files DIR        raw file calls on DIR (openat, newfstatat, statx, mkdirat, unlinkat,
 *                           renameat2, getdents64, readlinkat, faccessat2, symlinkat, chdir,
 *                           getcwd, ...), one line per call, DIR printed as $D
 *   rawsys libc DIR         the same kind of calls through libc
 *   rawsys signals DIR      signal semantics an armed process must keep (run under SUD only)
 *   rawsys threads DIR      raw calls from a pthread, a fork child, a raw fork, vfork, clone and
 *                           clone3 child (run under SUD only)
 *   rawsys bench N          ns per raw getppid and per libc getppid
 *   rawsys uring            io_uring_setup through syscall() and as a raw instruction: "ok"
 *                           (the ring closed again) or the errno, one line each
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rawcall.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif

#define raw6 raw_insn

/* print a path with DIR shown as $D */
static void show_path(const char *p)
{
    size_t n = strlen(D);
    if (strncmp(p, D, n) == 0)
        printf("$D%s", p + n);
    else
        printf("%s", p);
}

static void res(const char *what, long r)
{
    if (r < 0 && r > -4096)
        printf("%s -> %s\n", what, strerrorname_np((int)-r));
    else
        printf("%s -> %s\n", what, r >= 0 ? "ok" : "?");
}

static void res_n(const char *what, long r)
{
    if (r < 0 && r > -4096)
        printf("%s -> %s\n", what, strerrorname_np((int)-r));
    else
        printf("%s -> %ld\n", what, r);
}

/* ---- probe ---------------------------------------------------------------------------------- */

static int probe(void)
{
    volatile char sel = 0; /* ALLOW: nothing traps while we look */
    if (syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, 1, 0, 0, &sel) != 0) {
        printf("prctl(PR_SET_SYSCALL_USER_DISPATCH): %s\n", strerror(errno));
        return 1;
    }
    syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, 0, 0, 0, 0);
    printf("SUD available\n");
    return 0;
}

/* ---- raw file calls --------------------------------------------------------------------------- */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_fd(const char *what, int fd)
{
    char buf[4096], *names[64];
    int n = 0;
    long r;
    while ((r = raw3(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < r;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") && n < 64)
                names[n++] = strdup(d->d_name);
            off += d->d_reclen;
        }
    }
    if (r < 0) {
        res(what, r);
        return;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    printf("%s ->", what);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static int files(void)
{
    struct stat st;
    struct statx sx;
    char buf[4096];
    long r, fd;

    res("mkdirat d", raw3(SYS_mkdirat, AT_FDCWD, P("d"), 0755));
    res("mkdirat d again", raw3(SYS_mkdirat, AT_FDCWD, P("d"), 0755));
    res("mkdir (old) d/e", raw2(SYS_mkdir, P("d/e"), 0750));
    fd = raw4(SYS_openat, AT_FDCWD, P("d/f"), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0640);
    res("openat creat d/f", fd);
    res_n("write", raw3(SYS_write, fd, "hello", 5));
    res("close", raw1(SYS_close, fd));
    res("openat missing", raw4(SYS_openat, AT_FDCWD, P("d/missing"), O_RDONLY, 0));
    res("openat excl existing",
        raw4(SYS_openat, AT_FDCWD, P("d/f"), O_CREAT | O_EXCL | O_WRONLY, 0600));
    fd = raw4(SYS_openat, AT_FDCWD, P("d/f"), O_RDONLY, 0);
    memset(buf, 0, sizeof buf);
    res_n("read", raw3(SYS_read, fd, buf, sizeof buf));
    printf("content %s\n", buf);
    raw1(SYS_close, fd);
    r = raw4(SYS_newfstatat, AT_FDCWD, P("d/f"), &st, 0);
    res("newfstatat d/f", r);
    if (r == 0)
        printf("  size=%ld mode=%o\n", (long)st.st_size, st.st_mode);
    r = raw4(SYS_newfstatat, AT_FDCWD, P("d"), &st, AT_SYMLINK_NOFOLLOW);
    res("newfstatat d", r);
    if (r == 0)
        printf("  dir=%d mode=%o\n", S_ISDIR(st.st_mode), st.st_mode & 07777);
    res("newfstatat missing", raw4(SYS_newfstatat, AT_FDCWD, P("nope"), &st, 0));
    r = raw5(SYS_statx, AT_FDCWD, P("d/f"), 0, STATX_BASIC_STATS, &sx);
    res("statx d/f", r);
    if (r == 0)
        printf("  size=%llu mode=%o\n", (unsigned long long)sx.stx_size, sx.stx_mode);
    res("faccessat2 d/f R_OK", raw4(SYS_faccessat2, AT_FDCWD, P("d/f"), R_OK, 0));
    res("faccessat2 d/f X_OK", raw4(SYS_faccessat2, AT_FDCWD, P("d/f"), X_OK, 0));
    res("faccessat d/nope", raw3(SYS_faccessat, AT_FDCWD, P("d/nope"), F_OK));
    res("access (old) d", raw2(SYS_access, P("d"), F_OK));

    /* relative to a directory fd from the prefix */
    long dfd = raw4(SYS_openat, AT_FDCWD, P("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    res("openat dir d", dfd);
    fd = raw4(SYS_openat, dfd, "g", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    res("openat dirfd g", fd);
    raw3(SYS_write, fd, "world!", 6);
    raw1(SYS_close, fd);
    res("symlinkat rel", raw3(SYS_symlinkat, "g", dfd, "lrel"));
    res("symlinkat abs", raw3(SYS_symlinkat, P("d/f"), AT_FDCWD, P("d/labs")));
    memset(buf, 0, sizeof buf);
    r = raw4(SYS_readlinkat, dfd, "lrel", buf, sizeof buf);
    res_n("readlinkat lrel", r);
    printf("  target %s\n", buf);
    memset(buf, 0, sizeof buf);
    r = raw4(SYS_readlinkat, AT_FDCWD, P("d/labs"), buf, sizeof buf);
    res_n("readlinkat labs (length - strlen($D))", r > 0 ? r - (long)strlen(D) : r);
    printf("  target ");
    show_path(buf);
    printf("\n");
    r = raw4(SYS_newfstatat, AT_FDCWD, P("d/labs"), &st, 0);
    res("newfstatat through abs link", r);
    if (r == 0)
        printf("  size=%ld\n", (long)st.st_size);
    list_fd("getdents64 d", (int)dfd);

    res("renameat2 f -> h", raw5(SYS_renameat2, AT_FDCWD, P("d/f"), AT_FDCWD, P("d/h"), 0));
    res("renameat2 noreplace g -> h", raw5(SYS_renameat2, dfd, "g", dfd, "h", RENAME_NOREPLACE));
    res("renameat2 missing", raw5(SYS_renameat2, AT_FDCWD, P("d/zz"), AT_FDCWD, P("d/yy"), 0));
    res("rename (old) g -> i", raw2(SYS_rename, P("d/g"), P("d/i")));
    raw3(SYS_lseek, dfd, 0, SEEK_SET);
    list_fd("getdents64 d after renames", (int)dfd);
    res("unlinkat h", raw3(SYS_unlinkat, AT_FDCWD, P("d/h"), 0));
    res("unlinkat h again", raw3(SYS_unlinkat, AT_FDCWD, P("d/h"), 0));
    res("unlinkat dir without flag", raw3(SYS_unlinkat, AT_FDCWD, P("d/e"), 0));
    res("unlinkat e AT_REMOVEDIR", raw3(SYS_unlinkat, AT_FDCWD, P("d/e"), AT_REMOVEDIR));
    res("unlinkat d not empty", raw3(SYS_unlinkat, AT_FDCWD, P("d"), AT_REMOVEDIR));

    /* the cwd */
    res("chdir d", raw1(SYS_chdir, P("d")));
    memset(buf, 0, sizeof buf);
    r = raw2(SYS_getcwd, buf, sizeof buf);
    res_n("getcwd length", r > 0 ? r - (long)strlen(D) : r);
    printf("  cwd ");
    show_path(buf);
    printf("\n");
    fd = raw4(SYS_openat, AT_FDCWD, "i", O_RDONLY, 0);
    res("openat relative to cwd", fd);
    memset(buf, 0, sizeof buf);
    raw3(SYS_read, fd, buf, sizeof buf);
    printf("  content %s\n", buf);
    raw1(SYS_close, fd);
    res("chdir ..", raw1(SYS_chdir, ".."));
    res("fchdir d", raw1(SYS_fchdir, dfd));
    memset(buf, 0, sizeof buf);
    raw2(SYS_getcwd, buf, sizeof buf);
    printf("  cwd ");
    show_path(buf);
    printf("\n");
    res("chdir /", raw1(SYS_chdir, "/"));
    raw1(SYS_close, dfd);

    /* the libc view agrees */
    printf("libc stat d/i -> %d size=%ld\n", stat(P("d/i"), &st), (long)st.st_size);
    DIR *dir = opendir(P("d"));
    int n = 0;
    while (dir && readdir(dir))
        n++;
    printf("libc readdir d -> %d entries\n", n);
    if (dir)
        closedir(dir);
    return 0;
}

/* The same kind of calls through libc (the wrappers' path). */
static int libc_files(void)
{
    struct stat st;
    char buf[256];
    res("mkdir", mkdir(P("l"), 0755) == 0 ? 0 : -errno);
    int fd = open(P("l/f"), O_CREAT | O_WRONLY, 0644);
    res("open creat", fd < 0 ? -errno : 0);
    res_n("write", write(fd, "libc", 4));
    close(fd);
    res("stat", stat(P("l/f"), &st) == 0 ? 0 : -errno);
    printf("  size=%ld\n", (long)st.st_size);
    res("rename", rename(P("l/f"), P("l/g")) == 0 ? 0 : -errno);
    fd = open(P("l/g"), O_RDONLY);
    memset(buf, 0, sizeof buf);
    res_n("read", read(fd, buf, sizeof buf - 1));
    printf("  content %s\n", buf);
    close(fd);
    res("unlink", unlink(P("l/g")) == 0 ? 0 : -errno);
    res("rmdir", rmdir(P("l")) == 0 ? 0 : -errno);
    return 0;
}

/* ---- signals -------------------------------------------------------------------------------- */

static volatile int sys_hits, sys_code, usr_hits, alrm_hits;
static int pipefd[2];

static void on_sys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    sys_hits++;
    sys_code = si->si_code;
    raw0(SYS_getppid); /* a trapped call from inside the program's SIGSYS handler */
}

static void on_usr(int sig)
{
    (void)sig;
    usr_hits++;
}

static uintptr_t alt_lo, alt_hi;
static volatile int on_alt;

static void on_stack_check(int sig)
{
    (void)sig;
    volatile char here;
    stack_t cur;
    raw2(SYS_sigaltstack, NULL, &cur); /* trapped while on the alternate stack */
    on_alt = (uintptr_t)&here >= alt_lo && (uintptr_t)&here < alt_hi && (cur.ss_flags & SS_ONSTACK);
}

static void on_alrm(int sig)
{
    (void)sig;
    alrm_hits++;
    /* raw calls from a handler that interrupted a trapped call: they trap again (nested) */
    long fd = raw4(SYS_openat, AT_FDCWD, P("sig/file"), O_RDONLY, 0);
    if (fd >= 0)
        raw1(SYS_close, fd);
    else
        alrm_hits += 100;
}

static void on_alrm_write(int sig)
{
    (void)sig;
    alrm_hits++;
    raw3(SYS_write, pipefd[1], "x", 1);
}

/* our own restorer, as a runtime that does not use libc's would have */
void my_restorer(void);
__asm__(".text\n.globl my_restorer\n.type my_restorer,@function\nmy_restorer:\n"
        "  mov $15, %rax\n  syscall\n  hlt\n.size my_restorer, .-my_restorer\n");

struct ksa {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

#define BIT(s) (1ull << ((s)-1))

/* registers the ABI says a syscall preserves, checked across a trapped call */
static int regs_preserved(void)
{
    long out[12];
    __asm__ volatile("push %%rbx\n push %%rbp\n push %%r12\n push %%r13\n push %%r14\n push %%r15\n"
                     "push %%rdi\n"
                     "mov $0x1111, %%rbx\n mov $0x2222, %%rbp\n mov $0x3333, %%r12\n"
                     "mov $0x4444, %%r13\n mov $0x5555, %%r14\n mov $0x6666, %%r15\n"
                     "mov $0x7777, %%rsi\n mov $0x8888, %%rdx\n mov $0x9999, %%r10\n"
                     "mov $0xaaaa, %%r8\n mov $0xbbbb, %%r9\n mov $0xcccc, %%rdi\n"
                     "mov $110, %%eax\n" /* getppid */
                     "syscall\n"
                     "mov %%rdi, %%rax\n pop %%rdi\n"
                     "mov %%rbx, 0(%%rdi)\n mov %%rbp, 8(%%rdi)\n mov %%r12, 16(%%rdi)\n"
                     "mov %%r13, 24(%%rdi)\n mov %%r14, 32(%%rdi)\n mov %%r15, 40(%%rdi)\n"
                     "mov %%rsi, 48(%%rdi)\n mov %%rdx, 56(%%rdi)\n mov %%r10, 64(%%rdi)\n"
                     "mov %%r8, 72(%%rdi)\n mov %%r9, 80(%%rdi)\n mov %%rax, 88(%%rdi)\n"
                     "pop %%r15\n pop %%r14\n pop %%r13\n pop %%r12\n pop %%rbp\n pop %%rbx\n"
                     :
                     : "D"(out)
                     : "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory");
    static const long want[12] = {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666,
                                  0x7777, 0x8888, 0x9999, 0xaaaa, 0xbbbb, 0xcccc};
    return memcmp(out, want, sizeof want) == 0;
}

static int signals(void)
{
    sigset_t s, cur;
    uint64_t m, k;
    struct sigaction sa, old;

    raw3(SYS_mkdirat, AT_FDCWD, P("sig"), 0755);
    long fd = raw4(SYS_openat, AT_FDCWD, P("sig/file"), O_CREAT | O_WRONLY, 0644);
    printf("openat under prefix: %s\n", fd >= 0 ? "ok" : strerrorname_np((int)-fd));
    raw1(SYS_close, fd);

    errno = 1234;
    raw0(SYS_getppid);
    raw4(SYS_openat, AT_FDCWD, P("sig/file"), O_RDONLY, 0);
    printf("errno preserved: %s\n", errno == 1234 ? "yes" : "no");
    printf("registers preserved: %s\n", regs_preserved() ? "yes" : "no");

    /* SIGSYS cannot be blocked in an armed thread, through libc or raw */
    sigemptyset(&s);
    sigaddset(&s, SIGSYS);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, NULL);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("libc block SIGUSR1+SIGSYS: usr1=%d sys=%d\n", sigismember(&cur, SIGUSR1),
           sigismember(&cur, SIGSYS));
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    m = BIT(SIGSYS) | BIT(SIGUSR2);
    long r = raw4(SYS_rt_sigprocmask, SIG_BLOCK, &m, NULL, 8);
    k = 0;
    raw4(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &k, 8);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("raw block SIGUSR2+SIGSYS: r=%ld usr2=%d sys=%d libc-usr2=%d\n", r, !!(k & BIT(SIGUSR2)),
           !!(k & BIT(SIGSYS)), sigismember(&cur, SIGUSR2));
    uint64_t o = 0;
    m = BIT(SIGUSR2);
    raw4(SYS_rt_sigprocmask, SIG_UNBLOCK, &m, &o, 8);
    printf("raw unblock SIGUSR2: old had usr2=%d\n", !!(o & BIT(SIGUSR2)));
    printf("raw bad size: %s\n",
           strerrorname_np((int)-raw4(SYS_rt_sigprocmask, SIG_BLOCK, &m, NULL, 4)));
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    printf("pthread_sigmask query ok, sys=%d\n", sigismember(&cur, SIGSYS));

    /* the program's SIGSYS handler: gets non-dispatch SIGSYS only */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sys;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask); /* SIGSYS in sa_mask too */
    sigaction(SIGSYS, &sa, NULL);
    sigaction(SIGSYS, NULL, &old);
    printf("sigaction SIGSYS reads back the program's handler: %s\n",
           old.sa_sigaction == on_sys ? "yes" : "no");
    raw4(SYS_openat, AT_FDCWD, P("sig/file"), O_RDONLY, 0);
    raw0(SYS_getppid);
    printf("after trapped calls: handler calls=%d\n", sys_hits);
    raise(SIGSYS);
    printf("after raise(SIGSYS): handler calls=%d si_code=%s\n", sys_hits,
           sys_code == SI_TKILL ? "SI_TKILL" : "other");
    signal(SIGSYS, SIG_IGN);
    raise(SIGSYS);
    printf("after signal(SIG_IGN) + raise: alive, handler calls=%d\n", sys_hits);
    struct ksa ka, kold;
    memset(&ka, 0, sizeof ka);
    ka.handler = (void *)on_sys;
    ka.flags = SA_SIGINFO | 0x04000000 /* SA_RESTORER */;
    ka.restorer = (void *)my_restorer;
    raw4(SYS_rt_sigaction, SIGSYS, &ka, &kold, 8);
    printf("raw rt_sigaction SIGSYS: old was SIG_IGN: %s\n",
           kold.handler == (void *)SIG_IGN ? "yes" : "no");
    raw2(SYS_kill, getpid(), SIGSYS);
    printf("after kill(SIGSYS): handler calls=%d\n", sys_hits);
    signal(SIGSYS, SIG_DFL);

    /* a handler installed with a full sa_mask does not block SIGSYS while it runs */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr;
    sigfillset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR1, NULL, &old);
    printf("sa_mask keeps SIGSYS out: %s\n", sigismember(&old.sa_mask, SIGSYS) ? "no" : "yes");

    /* raw rt_sigreturn: a handler installed raw with its own restorer */
    memset(&ka, 0, sizeof ka);
    ka.handler = (void *)on_usr;
    ka.flags = 0x04000000;
    ka.restorer = (void *)my_restorer;
    ka.mask = BIT(SIGSYS);
    raw4(SYS_rt_sigaction, SIGUSR2, &ka, NULL, 8);
    usr_hits = 0;
    raw2(SYS_kill, getpid(), SIGUSR2);
    raw2(SYS_kill, getpid(), SIGUSR2);
    printf("own restorer (raw rt_sigreturn): handler calls=%d, back in main\n", usr_hits);

    /* sigaltstack is the program's own */
    stack_t ss, os;
    ss.ss_sp = malloc(65536);
    ss.ss_size = 65536;
    ss.ss_flags = 0;
    r = raw2(SYS_sigaltstack, &ss, NULL);
    memset(&os, 0, sizeof os);
    raw2(SYS_sigaltstack, NULL, &os);
    printf("sigaltstack: set=%ld on_stack=%d size=%zu\n", r, !!(os.ss_flags & SS_ONSTACK),
           os.ss_size);
    memset(&os, 0, sizeof os);
    sigaltstack(NULL, &os);
    printf("sigaltstack seen by libc: %s\n",
           os.ss_sp == ss.ss_sp && os.ss_size == 65536 ? "same" : "other");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stack_check;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGURG, &sa, NULL);
    alt_lo = (uintptr_t)ss.ss_sp;
    alt_hi = alt_lo + 65536;
    raw2(SYS_kill, getpid(), SIGURG);
    printf("SA_ONSTACK handler ran on the alternate stack: %s\n", on_alt == 1 ? "yes" : "no");
    ss.ss_flags = SS_DISABLE;
    raw2(SYS_sigaltstack, &ss, NULL);

    /* a trapped blocking call interrupted by a handler without SA_RESTART: EINTR, and the
     * handler's own raw calls (nested in the SIGSYS handler) were served */
    if (pipe(pipefd) != 0)
        return 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    char c;
    r = raw3(SYS_read, pipefd[0], &c, 1);
    printf("raw read interrupted (no SA_RESTART): %s, handler=%d\n",
           r < 0 ? strerrorname_np((int)-r) : "data", alrm_hits);
    /* with SA_RESTART the call goes on and gets the byte the handler wrote */
    alrm_hits = 0;
    sa.sa_handler = on_alrm_write;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    r = raw3(SYS_read, pipefd[0], &c, 1);
    printf("raw read with SA_RESTART: %ld byte(s), handler=%d\n", r, alrm_hits);

    /* mask-taking waits with SIGSYS in the mask */
    struct pollfd pf = {pipefd[0], POLLIN, 0};
    struct timespec ts = {0, 1000000};
    m = ~0ull;
    r = raw5(SYS_ppoll, &pf, 1, &ts, &m, 8);
    printf("raw ppoll with a full mask: %ld\n", r);
    sigfillset(&s);
    r = ppoll(&pf, 1, &ts, &s);
    printf("libc ppoll with a full mask: %ld\n", r);
    sigemptyset(&s);
    sigprocmask(SIG_SETMASK, &s, NULL);
    return 0;
}

/* ---- threads and processes ------------------------------------------------------------------ */

static void *thread_fn(void *arg)
{
    (void)arg;
    long fd = raw4(SYS_openat, AT_FDCWD, P("t/from-thread"), O_CREAT | O_WRONLY, 0644);
    if (fd >= 0)
        raw1(SYS_close, fd);
    return (void *)fd;
}

static volatile int clone_done;
static long clone_res;

/* what the raw clone child runs: rbx/r12 carry fn and arg across the syscall, as runtimes do */
static void clone_child_fn(long arg)
{
    (void)arg;
    long fd = raw4(SYS_openat, AT_FDCWD, "/proc/self/stat", O_RDONLY, 0);
    clone_res = fd >= 0 ? 1 : fd;
    if (fd >= 0)
        raw1(SYS_close, fd);
    __atomic_store_n(&clone_done, 1, __ATOMIC_RELEASE);
    raw1(SYS_exit, 0);
}

/* raw clone/clone3 of a thread on `stack`: the child calls fn(arg) held in r12/r13 */
static long raw_clone_thread(long nr, long a1, long a2, long a3, long a4, long a5, void (*fn)(long),
                             long arg)
{
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r12 __asm__("r12") = (long)fn;
    register long r13 __asm__("r13") = arg;
    long ret;
    __asm__ volatile("syscall\n"
                     "test %%rax, %%rax\n"
                     "jnz 1f\n"
                     "mov %%r13, %%rdi\n"
                     "and $-16, %%rsp\n"
                     "call *%%r12\n"
                     "hlt\n"
                     "1:\n"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r12), "r"(r13)
                     : "rcx", "r11", "memory");
    return ret;
}

static void wait_clone(const char *what, long r)
{
    if (r < 0) {
        printf("%s -> %s\n", what, strerrorname_np((int)-r));
        return;
    }
    for (int i = 0; i < 5000 && !__atomic_load_n(&clone_done, __ATOMIC_ACQUIRE); i++)
        usleep(1000);
    printf("%s -> child ran: %s, its openat: %ld\n", what, clone_done ? "yes" : "no", clone_res);
    clone_done = 0;
    usleep(20000); /* let it exit */
}

static int threads(void)
{
    raw3(SYS_mkdirat, AT_FDCWD, P("t"), 0755);
    pthread_t th;
    void *ret;
    pthread_create(&th, NULL, thread_fn, NULL);
    pthread_join(th, &ret);
    printf("pthread raw openat: %s\n", (long)ret >= 0 ? "ok" : strerrorname_np((int)-(long)ret));

    int st;
    pid_t pid = fork();
    if (pid == 0) {
        long fd = raw4(SYS_openat, AT_FDCWD, P("t/from-fork"), O_CREAT | O_WRONLY, 0644);
        _exit(fd >= 0 ? 0 : (int)-fd);
    }
    waitpid(pid, &st, 0);
    printf("libc fork child raw openat: exit %d\n", WEXITSTATUS(st));

    long r = raw0(SYS_fork);
    if (r == 0) {
        long fd = raw4(SYS_openat, AT_FDCWD, P("t/from-rawfork"), O_CREAT | O_WRONLY, 0644);
        raw1(SYS_exit_group, fd >= 0 ? 0 : (int)-fd);
    }
    waitpid((pid_t)r, &st, 0);
    printf("raw fork child raw openat: exit %d\n", WEXITSTATUS(st));

    r = raw0(SYS_vfork);
    if (r == 0) {
        long fd = raw4(SYS_openat, AT_FDCWD, P("t/from-vfork"), O_CREAT | O_WRONLY, 0644);
        raw1(SYS_exit_group, fd >= 0 ? 0 : (int)-fd);
    }
    waitpid((pid_t)r, &st, 0);
    printf("raw vfork child raw openat: exit %d\n", WEXITSTATUS(st));

    r = raw5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (r == 0) {
        long fd = raw4(SYS_openat, AT_FDCWD, P("t/from-rawclone"), O_CREAT | O_WRONLY, 0644);
        raw1(SYS_exit_group, fd >= 0 ? 0 : (int)-fd);
    }
    waitpid((pid_t)r, &st, 0);
    printf("raw clone (fork-like) child raw openat: exit %d\n", WEXITSTATUS(st));

    size_t sz = 256 * 1024;
    char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    r = raw_clone_thread(SYS_clone, flags, (long)(stk + sz), 0, 0, 0, clone_child_fn, 0);
    wait_clone("raw clone thread", r);

    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = (uint64_t)flags;
    ca.stack = (uint64_t)(uintptr_t)stk;
    ca.stack_size = sz;
    r = raw_clone_thread(SYS_clone3, (long)&ca, sizeof ca, 0, 0, 0, clone_child_fn, 0);
    wait_clone("raw clone3 thread", r);

    struct stat sb;
    printf("files seen through libc:");
    const char *names[] = {"from-thread", "from-fork", "from-rawfork", "from-vfork",
                           "from-rawclone"};
    for (int i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "t/%s", names[i]);
        printf(" %s=%s", names[i], stat(P(rel), &sb) == 0 ? "yes" : "no");
    }
    printf("\n");
    return 0;
}

/* ---- bench ------------------------------------------------------------------------------------ */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bench(long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        raw0(SYS_getppid);
    double t1 = now_ns();
    for (long i = 0; i < n; i++)
        getppid();
    double t2 = now_ns();
    printf("raw getppid: %.0f ns/call\nlibc getppid: %.0f ns/call\n", (t1 - t0) / (double)n,
           (t2 - t1) / (double)n);
    return 0;
}

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif

static void uring_say(const char *how, long r, int e)
{
    if (r >= 0) {
        close((int)r);
        printf("%s: ok\n", how);
    } else {
        printf("%s: %s\n", how, strerror(e));
    }
}

static int uring(void)
{
    uint64_t params[15]; /* struct io_uring_params, 120 bytes */
    memset(params, 0, sizeof params);
    errno = 0;
    long r = syscall(SYS_io_uring_setup, 4, params);
    uring_say("syscall()", r, errno);
    memset(params, 0, sizeof params);
    r = raw6(SYS_io_uring_setup, 4, (long)params, 0, 0, 0, 0);
    uring_say("instruction", r, r < 0 ? (int)-r : 0);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "probe") == 0)
        return probe();
    if (argc >= 3 && strcmp(argv[1], "bench") == 0)
        return bench(atol(argv[2]));
    if (argc >= 2 && strcmp(argv[1], "uring") == 0)
        return uring();
    if (argc < 3) {
        fprintf(stderr, "usage: rawsys probe|files DIR|libc DIR|signals DIR|threads DIR|bench N\n");
        return 2;
    }
    D = argv[2];
    if (strcmp(argv[1], "files") == 0)
        return files();
    if (strcmp(argv[1], "libc") == 0)
        return libc_files();
    if (strcmp(argv[1], "signals") == 0)
        return signals();
    if (strcmp(argv[1], "threads") == 0)
        return threads();
    return 2;
}
