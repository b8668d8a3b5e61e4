/* deepcwd DIR: go 25 directories of 200-byte names deep below DIR (deeper than PATH_MAX, by
 * relative mkdir and chdir), then print whether getcwd(NULL, 0) and getcwd(buf, big) name
 * exactly DIR/<names...>, and what getcwd(buf, PATH_MAX) answers. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char name[201], want[8192];
    if (argc != 2 || chdir(argv[1]) != 0)
        return 2;
    memset(name, 'd', 200);
    name[200] = '\0';
    snprintf(want, sizeof want, "%s", argv[1]);
    for (int i = 0; i < 25; i++) {
        name[0] = (char)('a' + i);
        if (mkdir(name, 0755) != 0 || chdir(name) != 0)
            return 3;
        strcat(want, "/");
        strcat(want, name);
    }
    char *p = getcwd(NULL, 0);
    printf("getcwd(NULL, 0): %s\n",
           p ? (strcmp(p, want) == 0 ? "the long path" : p) : strerror(errno));
    free(p);
    static char big[16384];
    p = getcwd(big, sizeof big);
    printf("getcwd(buf, 16384): %s\n",
           p ? (strcmp(p, want) == 0 ? "the long path" : p) : strerror(errno));
    p = getcwd(big, PATH_MAX);
    printf("getcwd(buf, PATH_MAX): %s\n", p ? "a path" : strerror(errno));
    printf("length %zu\n", strlen(want) - strlen(argv[1]));
    return 0;
}
