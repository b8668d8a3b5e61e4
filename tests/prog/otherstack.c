/* otherstack.c: file calls made on a stack that is not the thread's own.
 *
 *   otherstack alt|context DIR SIZE [thread]
 *
 * alt: a signal handler running on an alternate signal stack of SIZE bytes (sigaltstack,
 * SA_ONSTACK; SIGSTKSZ is 8 KiB) makes the calls; context: a coroutine on a SIZE-byte stack
 * (makecontext/swapcontext) makes them. With "thread" it all happens in a second thread (made with
 * pthread_create and a default stack) instead of the main one. The calls: create DIR/f<i>, write
 * it, fstat, close, stat, rename to DIR/g<i>, open and read it back, unlink, 20 rounds. Prints one
 * line per round and "calls: ok" when every call did what a real directory does. With
 * OTHERSTACK_TIMER=1 (alt only) a 100 us interval timer's SIGALRM, also SA_ONSTACK, stats DIR
 * meanwhile, and the rounds go on until it has fired 200 times (its frames land on the same
 * alternate stack, nested). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

static const char *dir;
static size_t size;
static int round_no, bad;
static char line[256];

static void calls(void)
{
    char f[512], g[512], buf[16];
    snprintf(f, sizeof f, "%s/f%d", dir, round_no);
    snprintf(g, sizeof g, "%s/g%d", dir, round_no);
    struct stat st;
    int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    int w = fd >= 0 ? (int)write(fd, "hello\n", 6) : -1;
    int fs = fd >= 0 ? fstat(fd, &st) : -1;
    int c = fd >= 0 ? close(fd) : -1;
    int s = stat(f, &st);
    off_t sz = s == 0 ? st.st_size : -1;
    int r = rename(f, g);
    fd = open(g, O_RDONLY);
    int n = fd >= 0 ? (int)read(fd, buf, sizeof buf) : -1;
    if (fd >= 0)
        close(fd);
    int u = unlink(g);
    int gone = stat(g, &st) == -1 && errno == ENOENT;
    snprintf(line, sizeof line,
             "round %d: open %s write %d fstat %d close %d stat %d size %ld "
             "rename %d read %d unlink %d gone %d",
             round_no, fd >= 0 ? "ok" : "failed", w, fs, c, s, (long)sz, r, n, u, gone);
    if (w != 6 || fs || c || s || sz != 6 || r || n != 6 || u || !gone)
        bad = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    calls();
}

static volatile int alarms, alarm_bad;

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        alarm_bad = 1;
    alarms++;
    errno = e;
}

static ucontext_t back, co;
static void *stack_mem;

static void *run(void *unused)
{
    (void)unused;
    void *mem = stack_mem = malloc(size); /* kept: the alternate stack stays installed */
    if (!mem)
        return (void *)1;
    int alt = strcmp(getenv("OTHERSTACK_HOW"), "alt") == 0;
    if (alt) {
        stack_t ss = {.ss_sp = mem, .ss_size = size};
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_ONSTACK;
        if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL)) {
            perror("otherstack: sigaltstack");
            return (void *)1;
        }
    }
    int timer = alt && getenv("OTHERSTACK_TIMER") && strcmp(getenv("OTHERSTACK_TIMER"), "1") == 0;
    if (timer) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sa.sa_flags = SA_ONSTACK | SA_RESTART;
        struct itimerval it = {{0, 100}, {0, 100}};
        if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL)) {
            perror("otherstack: setitimer");
            return (void *)1;
        }
    }
    for (round_no = 0; round_no < 20 || (timer && alarms < 200); round_no++) {
        if (alt) {
            raise(SIGUSR1);
        } else {
            getcontext(&co);
            co.uc_stack.ss_sp = mem;
            co.uc_stack.ss_size = size;
            co.uc_link = &back;
            makecontext(&co, calls, 0);
            swapcontext(&back, &co);
        }
        if (!timer)
            printf("%s\n", line);
    }
    if (timer) {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        printf("timer: %s\n", alarm_bad ? "a stat failed" : "ok");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "alt") != 0 && strcmp(argv[1], "context") != 0)) {
        fprintf(stderr, "usage: otherstack alt|context DIR SIZE [thread]\n");
        return 2;
    }
    setenv("OTHERSTACK_HOW", argv[1], 1);
    dir = argv[2];
    size = (size_t)atol(argv[3]);
    void *rc = NULL;
    if (argc > 4 && strcmp(argv[4], "thread") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, run, NULL) != 0 || pthread_join(t, &rc) != 0)
            return 1;
    } else {
        rc = run(NULL);
    }
    if (rc)
        return 1;
    printf("calls: %s\n", bad ? "FAILED" : "ok");
    return bad;
}
