/* spawnenv.c: the exec and spawn wrappers with environments of any size and on small stacks.
 *
 * usage: spawnenv ENV [TREEENV]   (the path of env(1); a copy of it under the prefix)
 *
 *  - an environment of 5,000 variables (about 150 KiB, far past a page) handed to posix_spawn,
 *    to execve in a fork child and to execve in a vfork child: env(1) prints every variable,
 *    the shim's own added (LD_PRELOAD naming this library);
 *  - 20 execve of /bin/true from vfork children with it: the parent's mapped memory does not
 *    grow (the memory a vfork child maps is its parent's, and outlives its exec);
 *  - posix_spawn and posix_spawnp from a thread whose stack is PTHREAD_STACK_MIN (16 KiB), with
 *    the process's environment and with the large one; execve in a fork child of such a thread;
 *    posix_spawn and posix_spawnp there with LD_LIBRARY_PATH under the prefix, whose child gets
 *    the loader's audit module (LD_AUDIT), for which the spawn reads the static TLS the
 *    program's libraries take; with TREEENV, posix_spawn there of that copy (its path resolved
 *    into the tree) with the same environment.
 *
 * Prints "ok - ..." lines; exit 1 with a line saying what went wrong. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define NVARS 5000
static char **big;   /* the large environment: the process's own, then NVARS variables */
static char **ldenv; /* the process's own, then LD_LIBRARY_PATH under the prefix */
static const char *envprog, *treeprog;

static void make_big(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    big = calloc(n + NVARS + 1, sizeof *big);
    for (size_t i = 0; i < n; i++)
        big[i] = environ[i];
    for (int i = 0; i < NVARS; i++) {
        char *v = malloc(40);
        snprintf(v, 40, "SPAWNENV_%04d=%020d", i, i);
        big[n + i] = v;
    }
    big[n + NVARS] = NULL;
    ldenv = calloc(n + 2, sizeof *ldenv);
    for (size_t i = 0, k = 0; i < n; i++)
        if (strncmp(environ[i], "LD_LIBRARY_PATH=", 16) != 0)
            ldenv[k++] = environ[i];
    for (size_t k = 0;; k++)
        if (!ldenv[k]) {
            ldenv[k] = "LD_LIBRARY_PATH=/sm/se";
            break;
        }
}

/* how env(1), started by how (its stdout on fd), printed its environment: 0 when LD_PRELOAD
 * names the shim and (want_all 1) every variable of the large one arrived, or (-1) LD_AUDIT
 * names the loader's audit module */
static int check_out(int fd, const char *how, int want_all)
{
    FILE *f = fdopen(fd, "r");
    static char line[8192]; /* not on the stack (16 KiB in a thread); one caller at a time */
    int seen = 0, shim = 0, audit = 0;
    while (f && fgets(line, sizeof line, f)) {
        int i;
        char val[32];
        if (sscanf(line, "SPAWNENV_%4d=%20s", &i, val) == 2 && atoi(val) == i)
            seen++;
        if (strncmp(line, "LD_PRELOAD=", 11) == 0 && strstr(line, "libsmshim.so"))
            shim = 1;
        if (strncmp(line, "LD_AUDIT=", 9) == 0 && strstr(line, "libsmshim-audit.so"))
            audit = 1;
    }
    if (want_all < 0 && !audit) {
        printf("%s: the child has no LD_AUDIT naming the loader's audit module\n", how);
        return 1;
    }
    if (f)
        fclose(f);
    if ((want_all > 0 && seen != NVARS) || !shim) {
        printf("%s: env printed %d of the %d variables, LD_PRELOAD %s the shim\n", how, seen,
               want_all > 0 ? NVARS : 0, shim ? "names" : "does not name");
        return 1;
    }
    return 0;
}

static int reap(pid_t pid, const char *how)
{
    int st;
    if (pid <= 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("%s: env did not end well (pid %d, status %#x)\n", how, (int)pid, pid > 0 ? st : 0);
        return 1;
    }
    return 0;
}

static int spawn(const char *how, char **envp, int p)
{
    int pfd[2];
    posix_spawn_file_actions_t fa;
    if (pipe(pfd) != 0 || posix_spawn_file_actions_init(&fa) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1) != 0)
        return 1;
    char *argv[] = {(char *)envprog, NULL};
    pid_t pid = 0;
    int rc = p ? posix_spawnp(&pid, "env", &fa, NULL, argv, envp)
               : posix_spawn(&pid, envprog, &fa, NULL, argv, envp);
    close(pfd[1]);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        printf("%s: posix_spawn: %s\n", how, strerror(rc));
        close(pfd[0]);
        return 1;
    }
    int bad = check_out(pfd[0], how, envp == big ? 1 : envp == ldenv ? -1 : 0);
    return reap(pid, how) | bad;
}

/* execve in a child made by fork (vfork: 1) */
static int exec_child(const char *how, int use_vfork)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return 1;
    char *argv[] = {(char *)envprog, NULL};
    pid_t pid = use_vfork ? vfork() : fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        execve(envprog, argv, big);
        _exit(127);
    }
    close(pfd[1]);
    int bad = check_out(pfd[0], how, 1);
    return reap(pid, how) | bad;
}

/* the process's mapped memory (VmSize), in KiB */
static long vm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char l[256];
    long v = -1;
    while (f && fgets(l, sizeof l, f))
        if (strncmp(l, "VmSize:", 7) == 0)
            v = atol(l + 7);
    if (f)
        fclose(f);
    return v;
}

/* rounds execs from vfork children with the large environment: the memory they build it in is
 * their parent's, and must not stay mapped there once they have exec'd (KiB it grew by) */
static long vfork_growth(int rounds)
{
    char *argv[] = {"true", NULL};
    long before = vm_kib();
    for (int i = 0; i < rounds; i++) {
        pid_t pid = vfork();
        if (pid == 0) {
            execve("/bin/true", argv, big);
            _exit(127);
        }
        if (reap(pid, "execve of true in a vfork child"))
            return -1;
    }
    return vm_kib() - before;
}

static void *small(void *arg)
{
    int *bad = arg;
    *bad |= spawn("posix_spawn on a 16 KiB stack", environ, 0);
    *bad |= spawn("posix_spawnp on a 16 KiB stack", environ, 1);
    *bad |= spawn("posix_spawn on a 16 KiB stack, the large environment", big, 0);
    *bad |= exec_child("execve in a fork child of a thread on a 16 KiB stack", 0);
    *bad |= spawn("posix_spawn on a 16 KiB stack, LD_LIBRARY_PATH under the prefix", ldenv, 0);
    *bad |= spawn("posix_spawnp on a 16 KiB stack, LD_LIBRARY_PATH under the prefix", ldenv, 1);
    if (treeprog) {
        const char *outside = envprog;
        envprog = treeprog;
        *bad |= spawn("posix_spawn on a 16 KiB stack of a program under the prefix", ldenv, 0);
        envprog = outside;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: spawnenv ENV [TREEENV]\n");
        return 2;
    }
    envprog = argv[1];
    treeprog = argc == 3 ? argv[2] : NULL;
    make_big();
    int bad = spawn("posix_spawn, the large environment", big, 0);
    bad |= spawn("posix_spawnp, the large environment", big, 1);
    bad |= exec_child("execve in a fork child, the large environment", 0);
    bad |= exec_child("execve in a vfork child, the large environment", 1);
    if (!bad)
        printf("ok - an environment of %d more variables reaches posix_spawn's, posix_spawnp's "
               "and execve's programs whole, with the shim's\n",
               NVARS);
    /* one round first: whatever the first exec maps for good (the settings) is not counted */
    long grew = vfork_growth(1) < 0 ? -1 : vfork_growth(20);
    if (grew < 0 || grew >= 64) {
        printf("20 execs from vfork children with the large environment left %ld KiB more mapped "
               "in their parent\n",
               grew);
        bad = 1;
    } else {
        printf("ok - 20 execs from vfork children with the large environment left nothing mapped "
               "in their parent (%ld KiB)\n",
               grew);
    }
    pthread_attr_t a;
    pthread_t t;
    int sbad = 0;
    if (pthread_attr_init(&a) != 0 || pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN) != 0 ||
        pthread_create(&t, &a, small, &sbad) != 0) {
        printf("no thread with a stack of %d bytes\n", (int)PTHREAD_STACK_MIN);
        return 1;
    }
    pthread_join(t, NULL);
    if (!sbad)
        printf("ok - a thread with a %d-byte stack spawns and execs\n", (int)PTHREAD_STACK_MIN);
    return bad | sbad;
}
