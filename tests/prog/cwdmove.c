/* cwdmove.c: the cwd changes its meaning without a chdir of the calling thread, and relative
 * paths must follow it. Each case first lets the shim learn where the cwd is (a relative read),
 * then changes what the cwd is by another door than chdir, then reads or creates relative paths.
 *
 *   cwdmove CASE DOOR DIR
 *
 * DOOR is how the call under test is made: libc (its wrapper), sys (syscall()) or raw (a
 * `syscall` instruction of the program's own: run under SMSHIM_SUD=1). DIR holds out/f ("plain")
 * and the prefix holds /sm/cw/f ("virtual"). One line per step: the content read, "ok" or the
 * errno's name. Cases:
 *   unshare    a thread unshares its fs (CLONE_FS) and goes to / while the main thread stays in
 *              DIR/out; then a thread moves into /sm/cw while the other creates a file
 *   clone      a child sharing the memory but not the fs (clone CLONE_VM without CLONE_FS) goes
 *              to / while the parent stays in DIR/out (libc only)
 *   chroot     the cwd DIR/r becomes the root (chroot), the tree already open
 *   setns      setns into a mount namespace, which moves the cwd to that namespace's root
 *   renamein   the cwd DIR/x/y is renamed into the prefix (/sm/x), then a file is made in it
 *   renameout  the cwd /sm/o is renamed out of the prefix (DIR/o), then a file is made in it
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rawcall.h"

#define raw6 raw_insn

static const char *door;

static const char *err(long r)
{
    static char b[64];
    if (r >= 0)
        return "ok";
    snprintf(b, sizeof b, "%s", strerrorname_np((int)-r));
    return b;
}

/* the call nr through the door: >= 0 or -errno */
static long call(long nr, long a1, long a2, long a3)
{
    long r;
    if (strcmp(door, "raw") == 0)
        return raw3(nr, a1, a2, a3);
    if (strcmp(door, "sys") == 0)
        r = syscall(nr, a1, a2, a3);
    else if (nr == SYS_unshare)
        r = unshare((int)a1);
    else if (nr == SYS_chroot)
        r = chroot((const char *)a1);
    else if (nr == SYS_setns)
        r = setns((int)a1, (int)a2);
    else if (nr == SYS_rename)
        r = rename((const char *)a1, (const char *)a2);
    else
        return -ENOSYS;
    return r < 0 ? -errno : r;
}

/* a file's content (first line), or the errno's name */
static const char *readf(const char *p)
{
    static char b[4][256];
    static int n;
    char *o = b[n++ & 3];
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return err(-errno);
    ssize_t k = read(fd, o, 255);
    close(fd);
    if (k < 0)
        return err(-errno);
    o[k] = '\0';
    o[strcspn(o, "\n")] = '\0';
    return o;
}

static const char *make(const char *p)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return err(-errno);
    (void)!write(fd, "made\n", 5);
    close(fd);
    return "ok";
}

static void say(const char *what, const char *got)
{
    printf("%s %s\n", what, got);
    fflush(stdout);
}

static void in(const char *rel)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", D, rel);
    if (chdir(p) != 0) {
        perror(p);
        exit(2);
    }
}

/* ---- two fs structs in one memory: steps taken in turn, each waiting for the other ---------- */

static int turn;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void wait_turn(int t)
{
    pthread_mutex_lock(&mu);
    while (turn != t)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void give_turn(int t)
{
    pthread_mutex_lock(&mu);
    turn = t;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void *unshare_thread(void *arg)
{
    (void)arg;
    wait_turn(1);
    say("thread unshare", err(call(SYS_unshare, CLONE_FS, 0, 0)));
    say("thread chdir /", err(chdir("/") ? -errno : 0));
    give_turn(2);
    wait_turn(3);
    say("thread from /", readf("sm/cw/f"));
    say("thread chdir /sm/cw", err(chdir("/sm/cw") ? -errno : 0));
    say("thread in the prefix", readf("f"));
    give_turn(4);
    wait_turn(5);
    say("thread makes", make("made-in-tree"));
    return NULL;
}

static int case_unshare(void)
{
    in("out");
    say("plain", readf("f"));
    pthread_t t;
    pthread_create(&t, NULL, unshare_thread, NULL);
    give_turn(1);
    wait_turn(2);
    say("main plain", readf("f")); /* from DIR/out: the thread's / is its own */
    give_turn(3);
    wait_turn(4);
    say("main makes", make("made-out"));
    say("main sees it", readf("made-out"));
    give_turn(5);
    pthread_join(t, NULL);
    say("made-out outside", readf(P("out/made-out")));
    say("made-in-tree in the prefix", readf("/sm/cw/made-in-tree"));
    return 0;
}

/* the clone child: shares this memory (and so the shim's), not the fs; talks through pipes */
static int pa[2], pb[2];
static const char *child_got;

static int clone_child(void *arg)
{
    (void)arg;
    char c;
    int r = chdir("/");
    (void)!write(pa[1], r == 0 ? "y" : "n", 1);
    (void)!read(pb[0], &c, 1);
    child_got = readf("sm/cw/f");
    return 0;
}

static int case_clone(void)
{
    if (strcmp(door, "libc") != 0)
        return 2;
    in("out");
    say("plain", readf("f"));
    if (pipe(pa) || pipe(pb))
        return 2;
    size_t sz = 256 * 1024;
    char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pid_t pid = clone(clone_child, stk + sz, CLONE_VM | SIGCHLD, NULL);
    if (pid < 0) {
        say("clone", err(-errno));
        return 1;
    }
    char c = 0;
    (void)!read(pa[0], &c, 1);
    say("child chdir /", c == 'y' ? "ok" : "failed");
    say("parent plain", readf("f"));
    (void)!write(pb[1], "g", 1);
    int st;
    waitpid(pid, &st, 0);
    say("child from /", child_got ? child_got : "nothing");
    return 0;
}

static int case_chroot(void)
{
    in("r");
    say("plain", readf("f"));
    say("through the prefix", readf("/sm/cw/f")); /* opens the tree */
    say("chroot .", err(call(SYS_chroot, (long)".", 0, 0)));
    say("from the new root", readf("sm/cw/f"));
    return 0;
}

/* the threads of this process, as /proc/self/task lists them (a thread is listed until it is
 * reaped, after it has given up its fs) */
static int tasks(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int case_setns(void)
{
    in("out");
    say("plain", readf("f"));
    /* setns into a mount namespace needs the fs to be this thread's alone: a thread the shim
     * started while arming syscall user dispatch may still be on its way out */
    while (tasks() > 1)
        sched_yield();
    int fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    say("setns", err(call(SYS_setns, fd, CLONE_NEWNS, 0)));
    char b[4096];
    say("cwd", getcwd(b, sizeof b) ? b : err(-errno));
    say("from the namespace root", readf("sm/cw/f"));
    return 0;
}

static int case_renamein(void)
{
    in("x/y");
    say("plain", readf("f"));
    say("rename into the prefix", err(call(SYS_rename, (long)P("x"), (long)"/sm/x", 0)));
    char b[4096];
    say("cwd", getcwd(b, sizeof b) ? b : err(-errno));
    say("make", make("new"));
    say("read back", readf("/sm/x/y/new"));
    return 0;
}

static int case_renameout(void)
{
    if (mkdir("/sm/o", 0755) != 0 && errno != EEXIST)
        return 2;
    make("/sm/o/f");
    if (chdir("/sm/o") != 0)
        return 2;
    say("inside", readf("f"));
    say("rename out of the prefix", err(call(SYS_rename, (long)"/sm/o", (long)P("o"), 0)));
    char b[4096];
    const char *cwd = getcwd(b, sizeof b) ? b : err(-errno);
    say("cwd outside", strcmp(cwd, P("o")) == 0 ? "yes" : cwd);
    say("make", make("new"));
    say("read back", readf(P("o/new")));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    door = argv[2];
    D = argv[3];
    const char *c = argv[1];
    if (!strcmp(c, "unshare"))
        return case_unshare();
    if (!strcmp(c, "clone"))
        return case_clone();
    if (!strcmp(c, "chroot"))
        return case_chroot();
    if (!strcmp(c, "setns"))
        return case_setns();
    if (!strcmp(c, "renamein"))
        return case_renamein();
    if (!strcmp(c, "renameout"))
        return case_renameout();
    return 2;
}
