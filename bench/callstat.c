/* callstat.c: stat(PATH) N times and nothing else (case 8). Run under
 * `valgrind --tool=callgrind` with two values of N: the difference of the two instruction totals
 * divided by the difference of N is the user-space instructions per call, free of start-up cost
 * and stable however noisy the machine is. A missing PATH is fine (the missing-name case). */
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    long n = atol(argv[2]);
    struct stat st;
    int ok = 0;
    for (long i = 0; i < n; i++)
        ok += stat(argv[1], &st) == 0;
    return ok == n || ok == 0 ? 0 : 1;
}
