/* vforkgate.c: a vfork child's close and dup2 while a thread of its parent is inside the lift
 * gate leave the gate's counts, which are its parent's memory, as they were.
 *
 * usage: vforkgate NOTES STATIC   (under the shim, with SMSHIM_RUN_NOTES=NOTES, a FIFO in the
 *                                  cache's tmp/, and STATIC a statically linked program)
 *
 * A thread spawns STATIC: the shim notes it in NOTES, and its open of the FIFO for writing (the
 * library's descriptor, counted in the gate as a lift from its open to its close) waits for a
 * reader. Meanwhile the main thread vforks, and the child closes one descriptor and dup2s onto
 * another (host calls that find the lift counted), then exits. Then:
 *  - a close by another thread, while the lift is still in flight, must wait for it (the gate's
 *    invariant: no host close while a library descriptor is between its open and its close);
 *    before, the child reset the counts, and that close went ahead at once;
 *  - once the lift has ended (the FIFO read), a close must not wait at all; before, the lift's
 *    end drove the reset count below zero, and every later close waited the gate's 2 s.
 * Whether a close waited is read from the thread's voluntary context switches across the call
 * (a close of a regular file's descriptor sleeps only in the gate's futex wait). The main
 * thread reads /proc through descriptors it opened beforehand: its own closes would wait too.
 * Prints "ok - ..." lines; exit 1 with a line saying what went wrong. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *notes, *prog;
static volatile int spawn_rc = -1, spawn_status = -1;
static volatile pid_t spawner_tid;

static void *spawner(void *arg)
{
    (void)arg;
    spawner_tid = (pid_t)syscall(SYS_gettid);
    char *argv[] = {(char *)prog, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
    int st = -1;
    if (rc == 0 && waitpid(pid, &st, 0) != pid)
        st = -1;
    spawn_status = st;
    spawn_rc = rc;
    return NULL;
}

/* the voluntary context switches of the thread whose status file fd is */
static long vol_switches(int fd)
{
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "\nvoluntary_ctxt_switches:");
    return p ? strtol(p + 25, NULL, 10) : -1;
}

struct closer {
    int fd;                /* the descriptor to close */
    volatile pid_t tid;    /* the thread's id, once it runs */
    volatile int go, done; /* the main thread's signal; the close returned */
    long waited;           /* voluntary context switches across the close */
};

static void *closer_run(void *arg)
{
    struct closer *c = arg;
    int st = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    c->tid = (pid_t)syscall(SYS_gettid);
    while (!c->go)
        sched_yield();
    long before = vol_switches(st);
    int rc = close(c->fd);
    long after = vol_switches(st);
    c->waited = rc != 0 || before < 0 || after < 0 ? -1 : after - before;
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL; /* st stays open: its close would be one more host call to account for */
}

static int task_file(pid_t tid, const char *what)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/task/%d/%s", (int)tid, what);
    return open(p, O_RDONLY | O_CLOEXEC);
}

/* the system call the thread is in (the first field of its syscall file), and its state */
static int task_in(int sys_fd, int stat_fd, long *nr, char *state)
{
    char line[512];
    ssize_t n = pread(sys_fd, line, sizeof line - 1, 0);
    if (n <= 0)
        return -1;
    line[n] = '\0';
    *nr = strtol(line, NULL, 10);
    n = pread(stat_fd, line, sizeof line - 1, 0);
    if (n <= 0)
        return -1;
    line[n] = '\0';
    const char *e = strrchr(line, ')');
    *state = e && e[1] == ' ' ? e[2] : '?';
    return 0;
}

/* a thread closes fd: 1 if the close waited, 0 if it did not (-1 on error). With lift_in_flight,
 * the main thread waits until the closer is in a futex wait or done, then reads the FIFO, which
 * lets the lift end (and a waiting close go on). */
static int close_waits(int fd, int lift_in_flight, int *fifo_rd)
{
    struct closer c = {.fd = fd};
    pthread_t t;
    if (pthread_create(&t, NULL, closer_run, &c) != 0)
        return -1;
    while (!c.tid)
        sched_yield();
    int sf = task_file(c.tid, "syscall"), tf = task_file(c.tid, "stat");
    if (sf < 0 || tf < 0)
        return -1;
    c.go = 1;
    for (;;) {
        long nr;
        char state;
        if (__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
            break;
        if (task_in(sf, tf, &nr, &state) == 0 && nr == SYS_futex && state == 'S')
            break;
        sched_yield();
    }
    if (lift_in_flight) {
        /* a reader: the spawner's open returns, it writes its line, the lift ends */
        *fifo_rd = open(notes, O_RDONLY | O_CLOEXEC);
        char line[4096];
        if (*fifo_rd < 0 || read(*fifo_rd, line, sizeof line) <= 0)
            return -1;
    }
    pthread_join(t, NULL);
    return c.waited < 0 ? -1 : c.waited > 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vforkgate NOTES STATIC\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    notes = argv[1];
    prog = argv[2];
    int spare[4];
    for (int i = 0; i < 4; i++)
        if ((spare[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
            perror("open /dev/null");
            return 1;
        }

    pthread_t sp;
    if (pthread_create(&sp, NULL, spawner, NULL) != 0)
        return 1;
    while (!spawner_tid)
        sched_yield();
    int sf = task_file(spawner_tid, "syscall"), tf = task_file(spawner_tid, "stat");
    if (sf < 0 || tf < 0) {
        perror("the spawner's /proc files");
        return 1;
    }
    /* until the spawner sleeps in an openat: the shim's, of the FIFO, inside the gate */
    for (;;) {
        long nr;
        char state;
        if (spawn_rc != -1) {
            printf("the spawn ended (%d) without waiting for the notes FIFO\n", spawn_rc);
            return 1;
        }
        if (task_in(sf, tf, &nr, &state) == 0 && nr == SYS_openat && state == 'S')
            break;
        sched_yield();
    }

    static volatile int child_bad;
    pid_t pid = vfork();
    if (pid == 0) {
        /* the child's table is a copy: these change only its own, and its parent's counts must
         * come out as they went in */
        if (close(spare[0]) != 0 || dup2(spare[1], spare[2]) != spare[2])
            child_bad = 1;
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || child_bad) {
        printf("the vfork child's close and dup2 failed\n");
        return 1;
    }
    for (int i = 0; i < 3; i++)
        if (fcntl(spare[i], F_GETFD) < 0) {
            printf("the child's calls changed the parent's descriptor %d\n", spare[i]);
            return 1;
        }

    int rd = -1;
    int w = close_waits(spare[0], 1, &rd);
    if (w < 0) {
        printf("the first close could not be measured\n");
        return 1;
    }
    if (w == 0) {
        printf("a close went ahead while the library's descriptor of the notes was open "
               "(the vfork child reset the gate's counts)\n");
        return 1;
    }
    printf("ok - a close after the vfork child waited for the library's open in flight\n");
    pthread_join(sp, NULL);
    if (spawn_rc != 0 || !WIFEXITED(spawn_status) || WEXITSTATUS(spawn_status) != 0) {
        printf("the static program's spawn: %d, status %#x\n", spawn_rc, spawn_status);
        return 1;
    }
    w = close_waits(spare[1], 0, NULL);
    if (w != 0) {
        printf("%s\n", w < 0 ? "the second close could not be measured"
                             : "a close with no lift in flight waited (the gate's count "
                               "of lifts did not come back to zero)");
        return 1;
    }
    printf("ok - once the lift ended, a close did not wait\n");
    return 0;
}
