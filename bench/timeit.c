/* timeit.c: run a command N times and print each run's wall time (cases 3 and 7).
 *
 *   timeit [-e NAME=VALUE]... [-w WARMUP] N CMD [ARGS...]
 *
 * -e sets a variable for the children only, so `timeit -e LD_PRELOAD=... N /bin/true` measures the
 * preload's cost in the child while the timing parent itself runs without it. The child's
 * stdout goes to /dev/null (stderr is kept). Prints {"runs_ns": [...], "median_ns": ...}; exits 1
 * if any run fails. Under PRoot, run timeit itself under proot so the children are traced too.
 */
#include "bench.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    char *sets[64];
    int nsets = 0, warm = 1, opt;
    while ((opt = getopt(argc, argv, "+e:w:")) != -1) {
        if (opt == 'e' && nsets < 64)
            sets[nsets++] = optarg;
        else if (opt == 'w')
            warm = atoi(optarg);
        else
            return 2;
    }
    if (argc - optind < 2) {
        fprintf(stderr, "usage: timeit [-e NAME=VALUE]... [-w WARMUP] N CMD [ARGS...]\n");
        return 2;
    }
    long n = atol(argv[optind]);
    char **cmd = argv + optind + 1;

    /* the children's environment: ours, with -e settings replacing same-named entries */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **env = calloc(ne + (size_t)nsets + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        int replaced = 0;
        for (int j = 0; j < nsets; j++) {
            size_t l = strcspn(sets[j], "=");
            if (strncmp(environ[i], sets[j], l) == 0 && environ[i][l] == '=')
                replaced = 1;
        }
        if (!replaced)
            env[k++] = environ[i];
    }
    for (int j = 0; j < nsets; j++)
        env[k++] = sets[j];
    env[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);

    struct bench_samples s = {0};
    for (long i = -warm; i < n; i++) {
        pid_t pid;
        int st;
        uint64_t t0 = bench_now_ns();
        int rc = posix_spawnp(&pid, cmd[0], &fa, NULL, cmd, env);
        if (rc != 0) {
            errno = rc;
            BENCH_DIE("spawn %s", cmd[0]);
        }
        if (waitpid(pid, &st, 0) != pid)
            BENCH_DIE("waitpid");
        uint64_t t1 = bench_now_ns();
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "timeit: %s failed (status %d)\n", cmd[0], st);
            return 1;
        }
        if (i >= 0)
            bench_add(&s, t1 - t0);
    }
    printf("{\"runs_ns\": [");
    for (size_t i = 0; i < s.n; i++)
        printf("%s%llu", i ? ", " : "", (unsigned long long)s.v[i]);
    printf("], \"median_ns\": %.0f}\n", bench_quantile(&s, 0.5));
    return 0;
}
