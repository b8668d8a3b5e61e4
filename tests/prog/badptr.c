/* badptr.c: path pointers that are not readable memory, and the program's own SIGSEGV handling.
 *
 *   badptr calls DIR MODE   in DIR (made first, with a file "f" in it), every path call with
 *                           NULL and with 0xdeadc0de (what pjdfstest passes) in each path
 *                           argument: one line "call: ERRNO" each. MODE: libc (the wrappers),
 *                           syscall (libc's syscall()) or insn (a raw syscall instruction, seen
 *                           only under syscall user dispatch)
 *   badptr signals          the program's own SIGSEGV/SIGBUS dispositions: its handler gets its
 *                           faults and a kill(SIGSEGV), sigaction reads back what it set,
 *                           SA_RESETHAND resets, SIG_DFL ends a child with SIGSEGV, and signal()
 *                           returns the previous handler
 * One line per check; a crash ends it early. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "rawcall.h"

static int mode; /* 0 libc, 1 syscall(), 2 instruction */

static long sys6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
    if (mode == 2) {
        long r = raw_insn(n, a1, a2, a3, a4, a5, a6);
        if (r < 0 && r > -4096) {
            errno = (int)-r;
            return -1;
        }
        return r;
    }
    return syscall(n, a1, a2, a3, a4, a5, a6);
}
#define raw6 sys6

static void show(const char *what, const char *arg, long r)
{
    printf("%s(%s): %s\n", what, arg, r == -1 ? strerrorname_np(errno) : "0");
}

static void calls(const char *B, const char *bn)
{
    struct stat st;
    struct statx sx;
    char buf[64];
    const char *f = "f";
#define C(what, expr) show(what, bn, (long)(expr))
    if (mode == 0) {
        C("open", open(B, O_RDONLY));
        C("open creat", open(B, O_CREAT | O_WRONLY, 0644));
        C("openat", openat(AT_FDCWD, B, O_RDONLY));
        C("creat", creat(B, 0644));
        C("stat", stat(B, &st));
        C("lstat", lstat(B, &st));
        C("fstatat", fstatat(AT_FDCWD, B, &st, 0));
        C("statx", statx(AT_FDCWD, B, 0, STATX_BASIC_STATS, &sx));
        C("access", access(B, F_OK));
        C("faccessat", faccessat(AT_FDCWD, B, F_OK, 0));
        C("mkdir", mkdir(B, 0755));
        C("mkdirat", mkdirat(AT_FDCWD, B, 0755));
        C("rmdir", rmdir(B));
        C("unlink", unlink(B));
        C("unlinkat", unlinkat(AT_FDCWD, B, 0));
        C("rename old", rename(B, "g"));
        C("rename new", rename(f, B));
        C("renameat old", renameat(AT_FDCWD, B, AT_FDCWD, "g"));
        C("renameat new", renameat(AT_FDCWD, f, AT_FDCWD, B));
        C("link old", link(B, "g"));
        C("link new", link(f, B));
        C("linkat new", linkat(AT_FDCWD, f, AT_FDCWD, B, 0));
        C("symlink target", symlink(B, "s"));
        C("symlink path", symlink(f, B));
        C("symlinkat target", symlinkat(B, AT_FDCWD, "s"));
        C("readlink", readlink(B, buf, sizeof buf));
        C("chmod", chmod(B, 0644));
        C("fchmodat", fchmodat(AT_FDCWD, B, 0644, 0));
        C("chown", chown(B, 0, 0));
        C("lchown", lchown(B, 0, 0));
        C("fchownat", fchownat(AT_FDCWD, B, 0, 0, 0));
        C("truncate", truncate(B, 0));
        C("utimensat", utimensat(AT_FDCWD, B, NULL, 0));
        C("utimes", utimes(B, NULL));
        C("mknod", mknod(B, S_IFIFO | 0644, 0));
        C("mkfifo", mkfifo(B, 0644));
        C("chdir", chdir(B));
        C("getxattr", getxattr(B, "user.x", buf, sizeof buf));
        C("setxattr", setxattr(B, "user.x", "v", 1, 0));
        C("listxattr", listxattr(B, buf, sizeof buf));
        char *argv[] = {(char *)"x", NULL};
        C("execve", execve(B, argv, argv + 1));
    } else {
        C("openat", raw4(SYS_openat, AT_FDCWD, B, O_RDONLY, 0));
        C("openat creat", raw4(SYS_openat, AT_FDCWD, B, O_CREAT | O_WRONLY, 0644));
        C("newfstatat", raw4(SYS_newfstatat, AT_FDCWD, B, &st, 0));
        C("statx", raw5(SYS_statx, AT_FDCWD, B, 0, STATX_BASIC_STATS, &sx));
        C("faccessat", raw3(SYS_faccessat, AT_FDCWD, B, F_OK));
        C("mkdirat", raw3(SYS_mkdirat, AT_FDCWD, B, 0755));
        C("unlinkat", raw3(SYS_unlinkat, AT_FDCWD, B, 0));
        C("renameat2 old", raw5(SYS_renameat2, AT_FDCWD, B, AT_FDCWD, "g", 0));
        C("renameat2 new", raw5(SYS_renameat2, AT_FDCWD, f, AT_FDCWD, B, 0));
        C("linkat old", raw5(SYS_linkat, AT_FDCWD, B, AT_FDCWD, "g", 0));
        C("linkat new", raw5(SYS_linkat, AT_FDCWD, f, AT_FDCWD, B, 0));
        C("symlinkat target", raw3(SYS_symlinkat, B, AT_FDCWD, "s"));
        C("symlinkat path", raw3(SYS_symlinkat, f, AT_FDCWD, B));
        C("readlinkat", raw4(SYS_readlinkat, AT_FDCWD, B, buf, sizeof buf));
        C("fchmodat", raw3(SYS_fchmodat, AT_FDCWD, B, 0644));
        C("chdir", raw1(SYS_chdir, B));
        C("mknodat", raw4(SYS_mknodat, AT_FDCWD, B, S_IFIFO | 0644, 0));
        C("execve", raw3(SYS_execve, B, 0, 0));
    }
#undef C
}

/* ---- signals ------------------------------------------------------------------------------- */

static sigjmp_buf jb;
static volatile int hits, last_code;
static void segv(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    hits++;
    last_code = si->si_code;
    if (sig == SIGSEGV && si->si_code > 0)
        siglongjmp(jb, 1);
}
static void plain(int sig)
{
    (void)sig;
    hits++;
}

static void signals(void)
{
    volatile char *bad = (volatile char *)(uintptr_t)0xdeadc0de;
    struct sigaction sa, o;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGSEGV, NULL, &o);
    printf("read back: %s flags %s\n", o.sa_sigaction == segv ? "own handler" : "other",
           (o.sa_flags & SA_SIGINFO) ? "SA_SIGINFO" : "none");
    if (sigsetjmp(jb, 1) == 0)
        (void)*bad;
    printf("fault: own handler ran %d time(s), code %s\n", hits,
           last_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other");
    kill(getpid(), SIGSEGV);
    printf("kill: own handler ran %d time(s), code %s\n", hits,
           last_code == SI_USER ? "SI_USER" : "other");
    /* a path call with a bad pointer still answers EFAULT with the program's handler set */
    printf("stat(bad) with a handler: %s\n",
           stat((const char *)bad, &(struct stat){0}) == -1 ? strerrorname_np(errno) : "0");
    printf("handler runs so far: %d\n", hits);

    /* SA_RESETHAND: the handler once, then the default */
    hits = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = plain;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGBUS, &sa, NULL);
    kill(getpid(), SIGBUS);
    sigaction(SIGBUS, NULL, &o);
    printf("SA_RESETHAND: ran %d, now %s\n", hits, o.sa_handler == SIG_DFL ? "SIG_DFL" : "other");

    /* signal() returns the previous handler */
    sighandler_t prev = signal(SIGBUS, plain);
    sighandler_t now = signal(SIGBUS, SIG_DFL);
    printf("signal(): previous %s, then %s\n", prev == SIG_DFL ? "SIG_DFL" : "other",
           now == plain ? "own" : "other");

    /* SIG_DFL: a fault ends the process with SIGSEGV, a handler-less SIGBUS too */
    for (int s = 0; s < 2; s++) {
        pid_t p = fork();
        if (p == 0) {
            signal(SIGSEGV, SIG_DFL);
            if (s == 0)
                (void)*bad;
            else
                kill(getpid(), SIGBUS);
            _exit(0);
        }
        int wst;
        waitpid(p, &wst, 0);
        printf("default %s: %s\n", s ? "SIGBUS (kill)" : "fault",
               WIFSIGNALED(wst) ? strsignal(WTERMSIG(wst)) : "exited");
    }
    /* SIG_IGN of a sent SIGSEGV */
    signal(SIGSEGV, SIG_IGN);
    kill(getpid(), SIGSEGV);
    printf("SIG_IGN: still running\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "signals") == 0) {
        signals();
        return 0;
    }
    if (argc != 4)
        return 2;
    mode = strcmp(argv[3], "insn") == 0 ? 2 : strcmp(argv[3], "syscall") == 0 ? 1 : 0;
    if (mkdir(argv[2], 0755) != 0 && errno != EEXIST)
        return 3;
    if (chdir(argv[2]) != 0)
        return 3;
    int fd = open("f", O_CREAT | O_WRONLY, 0644);
    if (fd < 0)
        return 3;
    close(fd);
    calls(NULL, "NULL");
    calls((const char *)(uintptr_t)0xdeadc0de, "DEADCODE");
    return 0;
}
