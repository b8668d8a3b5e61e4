/* staticfs DIR: what a statically linked tool does in a directory, printed in a stable order:
 * mkdir, write, read, rename, list (sorted), chdir into it + relative read, getcwd, and the
 * exec of a script that lies there. Built with gcc -static by tests/integ/go_ns.sh. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        printf("write %s !! failed\n", path);
    if (fd >= 0)
        close(fd);
}

static void show(const char *path)
{
    char buf[256] = "";
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    printf("read %s: %s", path, n >= 0 ? buf : "!! failed\n");
    if (fd >= 0)
        close(fd);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    char d[PATH_MAX], p[PATH_MAX + 16], q[PATH_MAX + 16];
    snprintf(d, sizeof d, "%s/s", argv[1]);
    printf("mkdir %d\n", mkdir(d, 0755));
    snprintf(p, sizeof p, "%s/a.txt", d);
    put(p, "static hello\n", 0644);
    show(p);
    snprintf(p, sizeof p, "%s/b.tmp", d);
    put(p, "renamed\n", 0600);
    snprintf(q, sizeof q, "%s/b.txt", d);
    printf("rename %d\n", rename(p, q));
    snprintf(p, sizeof p, "%s/run.sh", d);
    put(p, "#!/bin/sh\necho \"script in $(pwd) args $*\"\ncat a.txt b.txt\necho made >c.txt\n",
        0755);
    DIR *dir = opendir(d);
    char *names[32];
    int n = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir)) && n < 32)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    if (dir)
        closedir(dir);
    qsort(names, (size_t)n, sizeof *names, cmp);
    for (int i = 0; i < n; i++)
        printf("entry %s\n", names[i]);
    printf("chdir %d\n", chdir(d));
    show("b.txt");
    char cwd[PATH_MAX];
    printf("getcwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "!! failed");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("./run.sh", "run.sh", "x", "y", (char *)NULL);
        perror("exec ./run.sh");
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("script exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    show("c.txt");
    struct stat sb;
    int rc = stat("c.txt", &sb);
    printf("stat c.txt %d size %lld\n", rc, rc == 0 ? (long long)sb.st_size : -1LL);
    return 0;
}
