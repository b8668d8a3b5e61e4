/* runner.c: runs every test (the C unit tests of test_list.h and the scripts in tests/integ),
 * each in its own process with a timeout, a few at a time. Prints one line per test and ends
 * with "N passed, N failed, N skipped". Usage: run [-j N] [-v] [NAME-SUBSTRING...] */
#include "runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SM_DECL(name) int test_##name(void);
#include "test_list.h"
TESTS(SM_DECL)

struct test {
    const char *name;
    int (*fn)(void);       /* a C test, or */
    char script[PATH_MAX]; /* a script */
    int timeout;
    pid_t pid;
    char out[PATH_MAX];
    char tmp[PATH_MAX];
    struct timespec start;
};

static char tmpdir_buf[PATH_MAX];
const char *sm_test_tmpdir(void)
{
    return tmpdir_buf;
}

static int rm_visit(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)sb;
    (void)type;
    (void)f;
    remove(p);
    return 0;
}

static void rm_rf(const char *p)
{
    nftw(p, rm_visit, 16, FTW_DEPTH | FTW_PHYS);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *name, int argc, char **argv, int first)
{
    if (first >= argc)
        return 1;
    for (int i = first; i < argc; i++)
        if (strstr(name, argv[i]))
            return 1;
    return 0;
}

static void start(struct test *t, const char *root)
{
    snprintf(t->tmp, sizeof t->tmp, "%s/%s", root, t->name);
    mkdir(t->tmp, 0755);
    snprintf(t->out, sizeof t->out, "%s.out", t->tmp);
    clock_gettime(CLOCK_MONOTONIC, &t->start);
    fflush(NULL);
    t->pid = fork();
    if (t->pid != 0)
        return;
    int fd = open(t->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    setpgid(0, 0);
    snprintf(tmpdir_buf, sizeof tmpdir_buf, "%s", t->tmp);
    setenv("SMSHIM_TEST_TMP", t->tmp, 1);
    if (t->fn) {
        alarm((unsigned)t->timeout);
        exit(t->fn() ? 1 : 0);
    }
    execl("/bin/bash", "bash", t->script, (char *)NULL);
    _exit(127);
}

int main(int argc, char **argv)
{
    int jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), verbose = 0, first = 1;
    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[first], "-j") == 0 && first + 1 < argc)
            jobs = atoi(argv[++first]);
        first++;
    }
    if (jobs < 1)
        jobs = 1;

    struct test *tests = calloc(512, sizeof *tests);
    size_t n = 0;
#define SM_ADD(nm)                                                                                 \
    if (wanted(#nm, argc, argv, first)) {                                                          \
        tests[n].name = #nm;                                                                       \
        tests[n].fn = test_##nm;                                                                   \
        tests[n].timeout = 60;                                                                     \
        n++;                                                                                       \
    }
    TESTS(SM_ADD)

    const char *src = getenv("SMSHIM_SRC") ? getenv("SMSHIM_SRC") : ".";
    char idir[PATH_MAX];
    snprintf(idir, sizeof idir, "%s/tests/integ", src);
    DIR *d = opendir(idir);
    char *names[256];
    size_t nn = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) && nn < 256) {
        size_t l = strlen(de->d_name);
        if (l > 3 && strcmp(de->d_name + l - 3, ".sh") == 0)
            names[nn++] = strdup(de->d_name);
    }
    if (d)
        closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn && n < 512; i++) {
        names[i][strlen(names[i]) - 3] = '\0';
        if (!wanted(names[i], argc, argv, first))
            continue;
        tests[n].name = names[i];
        snprintf(tests[n].script, sizeof tests[n].script, "%s/%s.sh", idir, names[i]);
        tests[n].timeout = 900;
        n++;
    }

    char root[] = "/tmp/smshim-test.XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 2;
    }
    setenv("SMSHIM_TEST_ROOT", root, 1);
    printf("1..%zu\n", n);
    int passed = 0, failed = 0, skipped = 0;
    size_t next = 0, running = 0, done = 0;
    while (done < n) {
        while (running < (size_t)jobs && next < n) {
            start(&tests[next++], root);
            running++;
        }
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            for (size_t i = 0; i < next; i++)
                if (tests[i].pid > 0 && now.tv_sec - tests[i].start.tv_sec > tests[i].timeout) {
                    fprintf(stderr, "  %s: timeout after %d s\n", tests[i].name, tests[i].timeout);
                    kill(-tests[i].pid, SIGKILL);
                    kill(tests[i].pid, SIGKILL);
                }
            usleep(20000);
            continue;
        }
        struct test *t = NULL;
        for (size_t i = 0; i < next; i++)
            if (tests[i].pid == pid)
                t = &tests[i];
        if (!t)
            continue;
        t->pid = 0;
        running--;
        done++;
        kill(-pid, SIGKILL); /* stray children of the test */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double secs =
            (double)(now.tv_sec - t->start.tv_sec) + (double)(now.tv_nsec - t->start.tv_nsec) / 1e9;
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        char reason[256] = "";
        FILE *f = fopen(t->out, "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "SKIP: ", 6) == 0)
                snprintf(reason, sizeof reason, "%s", line + 6);
        if (f)
            fclose(f);
        reason[strcspn(reason, "\n")] = '\0';
        if (code == 0) {
            passed++;
            printf("ok %zu - %s (%.1fs)\n", done, t->name, secs);
        } else if (code == 77) {
            skipped++;
            printf("ok %zu - %s # SKIP %s\n", done, t->name, reason);
        } else {
            failed++;
            printf("not ok %zu - %s (%s %d, %.1fs)\n", done, t->name,
                   WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? code : WTERMSIG(st), secs);
        }
        if (code != 0 && code != 77) {
            /* show the end of the failing test's output */
            f = fopen(t->out, "r");
            if (f) {
                fseek(f, 0, SEEK_END);
                long sz = ftell(f);
                fseek(f, sz > 6000 ? sz - 6000 : 0, SEEK_SET);
                while (fgets(line, sizeof line, f))
                    printf("#   %s", line);
                fclose(f);
            }
        } else if (verbose) {
            f = fopen(t->out, "r");
            while (f && fgets(line, sizeof line, f))
                printf("#   %s", line);
            if (f)
                fclose(f);
        }
        fflush(stdout);
    }
    if (!getenv("SMSHIM_KEEP_TMP"))
        rm_rf(root);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(tests);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
