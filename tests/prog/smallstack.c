/* smallstack.c: the calls of a program under DIR, made from a thread with a small stack (usage:
 * smallstack DIR BYTES, BYTES at least PTHREAD_STACK_MIN). A real directory answers them from any
 * stack the program's own frames fit in; the shim's work must fit too, or move elsewhere. The
 * thread creates, writes, renames, links, lists, stats, changes modes and times, truncates,
 * reads a link, takes extended attributes, binds a unix socket, spawns a program with a file
 * action and removes what it made; it prints "ok" or the first call that failed. Run it first
 * with DIR on a real directory: the program itself fits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char **environ;
static const char *dir;
static char failed[160];

#define TRY(what, ok)                                                                              \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            snprintf(failed, sizeof failed, "%s: %s", what, strerror(errno));                      \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

static void *work(void *arg)
{
    (void)arg;
    char a[160], b[160], c[160], d[160];
    struct stat st;
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    snprintf(c, sizeof c, "%s/c.txt", dir);
    snprintf(d, sizeof d, "%s/sub", dir);
    for (int i = 0; i < 3; i++) {
        int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        TRY("open", fd >= 0);
        TRY("write", write(fd, "data\n", 5) == 5);
        TRY("close", close(fd) == 0);
        TRY("rename", rename(a, b) == 0);
        TRY("link", link(b, c) == 0);
        TRY("unlink", unlink(b) == 0);
        TRY("stat", stat(c, &st) == 0 && st.st_size == 5);
        TRY("rename back", rename(c, a) == 0);
    }
    TRY("mkdir", mkdir(d, 0755) == 0);
    DIR *dd = opendir(dir);
    TRY("opendir", dd != NULL);
    int n = 0;
    while (readdir(dd))
        n++;
    closedir(dd);
    TRY("readdir", n == 4); /* . .. a.txt sub */
    TRY("chmod", chmod(a, 0600) == 0);
    TRY("utimensat", utimensat(AT_FDCWD, a, NULL, 0) == 0);
    TRY("truncate", truncate(a, 2) == 0);
    TRY("symlink", symlink("a.txt", b) == 0);
    char l[64];
    ssize_t ln = readlink(b, l, sizeof l);
    TRY("readlink", ln == 5 && memcmp(l, "a.txt", 5) == 0);
    TRY("setxattr", setxattr(a, "user.k", "v", 1, 0) == 0);
    char v[8];
    TRY("getxattr", getxattr(a, "user.k", v, sizeof v) == 1);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s/sock", dir);
    TRY("bind", s >= 0 && bind(s, (struct sockaddr *)&un, sizeof un) == 0);
    close(s);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, c, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv[] = {"echo", "spawned", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/echo", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    errno = rc;
    TRY("posix_spawn", rc == 0);
    int ws;
    TRY("waitpid", waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    TRY("spawned output", stat(c, &st) == 0 && st.st_size == 8);
    snprintf(l, sizeof l, "%s/sock", dir);
    TRY("unlink sock", unlink(l) == 0);
    TRY("unlink link", unlink(b) == 0);
    TRY("unlink c", unlink(c) == 0);
    TRY("unlink a", unlink(a) == 0);
    TRY("rmdir", rmdir(d) == 0);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    dir = argv[1];
    size_t size = strtoul(argv[2], NULL, 0);
    pthread_attr_t at;
    pthread_attr_init(&at);
    if (pthread_attr_setstacksize(&at, size) != 0) {
        printf("stack size %zu refused\n", size);
        return 2;
    }
    pthread_t t;
    if (pthread_create(&t, &at, work, NULL) != 0) {
        printf("pthread_create failed\n");
        return 2;
    }
    pthread_join(t, NULL);
    if (failed[0]) {
        printf("%s (stack %zu)\n", failed, size);
        return 1;
    }
    printf("ok\n");
    return 0;
}
