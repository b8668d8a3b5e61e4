/* altstack.c: a program's own signal stack under Syscall User Dispatch. Raw file calls trap into
 * the shim's SIGSYS handler, which runs on the thread's signal stack: one the program sets (with
 * libc's sigaltstack or a raw one) must not be one the handler overflows, and a disabled one must
 * not leave the handler on the interrupted stack.
 *
 *   altstack libc|raw DIR   set an 8 KiB signal stack (a guard page below it) through libc or
 *                           a raw call, read it back, make raw file calls on DIR, run a
 *                           SA_ONSTACK handler; disable the stack and make the raw calls from a
 *                           16 KiB stack (makecontext, guarded); then a 256 KiB stack, read back.
 * One line per step; a crash ends it early. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "rawcall.h"

#define raw6 raw_insn

static int use_raw;

static int set_alt(const stack_t *ss, stack_t *oss)
{
    if (use_raw) {
        long r = raw2(SYS_sigaltstack, ss, oss);
        if (r < 0)
            errno = (int)-r;
        return r < 0 ? -1 : 0;
    }
    return sigaltstack(ss, oss);
}

/* size bytes of stack with a guard page below: overflowing it faults */
static void *guarded(size_t size)
{
    char *p = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    mprotect(p, 4096, PROT_NONE);
    return p + 4096;
}

/* raw calls that go through the shim's cores: mkdir, create, rename, stat, unlink, rmdir */
static int rounds;
static void raw_ops(void)
{
    char name[64];
    snprintf(name, sizeof name, "r%d", rounds++);
    long ok = raw3(SYS_mkdirat, AT_FDCWD, P(name), 0755) == 0;
    snprintf(name + strlen(name), sizeof name - strlen(name), "/f");
    long fd = raw4(SYS_openat, AT_FDCWD, P(name), O_CREAT | O_WRONLY, 0644);
    ok &= fd >= 0;
    if (fd >= 0)
        raw1(SYS_close, fd);
    char g[64];
    snprintf(g, sizeof g, "%s.g", name);
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s", P(name));
    snprintf(b, sizeof b, "%s", P(g));
    ok &= raw5(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 0) == 0;
    struct stat st;
    ok &= raw4(SYS_newfstatat, AT_FDCWD, b, &st, 0) == 0;
    ok &= raw3(SYS_unlinkat, AT_FDCWD, b, 0) == 0;
    name[strlen(name) - 2] = '\0';
    ok &= raw3(SYS_unlinkat, AT_FDCWD, P(name), AT_REMOVEDIR) == 0;
    printf("raw calls: %s\n", ok ? "ok" : "failed");
    fflush(stdout);
}

static volatile int on_alt = -1;
static void usr1(int sig)
{
    (void)sig;
    on_alt = 1; /* ran (on whichever signal stack the thread has) */
}

static ucontext_t main_uc, small_uc;
static void on_small(void)
{
    raw_ops();
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "libc") && strcmp(argv[1], "raw")))
        return 2;
    use_raw = strcmp(argv[1], "raw") == 0;
    D = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);

    stack_t ss = {.ss_sp = guarded(8192), .ss_size = 8192, .ss_flags = 0}, o;
    printf("set 8 KiB: %d\n", set_alt(&ss, NULL));
    memset(&o, 0, sizeof o);
    set_alt(NULL, &o);
    printf("read back: %s size %zu flags %d\n", o.ss_sp == ss.ss_sp ? "own" : "other", o.ss_size,
           o.ss_flags);
    raw_ops();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("SA_ONSTACK handler ran: %d\n", on_alt);

    stack_t dis = {.ss_flags = SS_DISABLE};
    printf("disable: %d\n", set_alt(&dis, NULL));
    void *small = guarded(16384);
    getcontext(&small_uc);
    small_uc.uc_stack.ss_sp = small;
    small_uc.uc_stack.ss_size = 16384;
    small_uc.uc_link = &main_uc;
    makecontext(&small_uc, on_small, 0);
    swapcontext(&main_uc, &small_uc);
    printf("back from the 16 KiB stack\n");

    stack_t big = {.ss_sp = guarded(256 * 1024), .ss_size = 256 * 1024, .ss_flags = 0};
    printf("set 256 KiB: %d\n", set_alt(&big, NULL));
    set_alt(NULL, &o);
    printf("read back: %s size %zu flags %d\n", o.ss_sp == big.ss_sp ? "own" : "other", o.ss_size,
           o.ss_flags);
    raw_ops();
    stack_t bad = {.ss_sp = big.ss_sp, .ss_size = 100, .ss_flags = 0};
    int r = set_alt(&bad, NULL);
    printf("set 100 bytes: %s\n", r == 0 ? "0" : errno == ENOMEM ? "ENOMEM" : strerror(errno));
    return 0;
}
