/* spawnacts.c: posix_spawn's file actions run in order in the child, as POSIX has them: a
 * relative path after an addchdir_np or addfchdir_np is relative to the directory the child
 * changed to.
 *
 * usage: spawnacts walk BASE OUT     (BASE: a directory holding sa/; OUT: a real directory)
 *        spawnacts own               (under the shim: actions on the shim's own descriptors)
 *        spawnacts drop              (as root, under the shim: the same after a drop to uid 65534)
 *
 * walk prints one line per case, from three working directories of the parent (/, OUT and
 * BASE/sa/p); run on a real BASE and on one under the prefix, the outputs must be the same once
 * BASE is written $B and OUT $O. own and drop print "ok - ..." lines, or what went wrong and
 * exit 1. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progfd.h"

extern char **environ;

static const char *base, *out;
static char sa[4096];

/* a new set of actions whose first is a dup2 of a pipe onto fd 1 (run reads it) */
static int pipe_r = -1, pipe_w = -1;

static void begin(posix_spawn_file_actions_t *fa)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        exit(2);
    pipe_r = pfd[0];
    pipe_w = pfd[1];
    posix_spawn_file_actions_init(fa);
    posix_spawn_file_actions_adddup2(fa, pipe_w, 1);
}

/* sh -c script (through posix_spawnp: p) with the actions of fa (from begin; destroyed): the
 * spawn's answer, the exit status and what it printed on fd 1, into res */
static void run(posix_spawn_file_actions_t *fa, const char *script, int p, char *res, size_t size)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    pid_t pid = 0;
    int rc = p ? posix_spawnp(&pid, "sh", fa, NULL, argv, environ)
               : posix_spawn(&pid, "/bin/sh", fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(fa);
    close(pipe_w);
    char buf[4096], rest[4096];
    size_t n = 0;
    while (rc == 0) { /* to the end: what does not fit is dropped */
        ssize_t k = n < sizeof buf - 1 ? read(pipe_r, &buf[n], sizeof buf - 1 - n)
                                       : read(pipe_r, rest, sizeof rest);
        if (k <= 0)
            break;
        if (n < sizeof buf - 1)
            n += (size_t)k;
    }
    buf[n] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = '|';
    close(pipe_r);
    int st = 0;
    if (rc == 0)
        waitpid(pid, &st, 0);
    snprintf(res, size, "spawn=%s exit=%d out=%s", rc ? strerror(rc) : "ok",
             rc ? -1 : WEXITSTATUS(st), buf);
}

/* the text of file f (its first line), or its errno */
static const char *text(const char *f)
{
    static char t[512];
    int fd = open(f, O_RDONLY);
    if (fd < 0) {
        snprintf(t, sizeof t, "<%s>", strerror(errno));
        return t;
    }
    ssize_t n = read(fd, t, sizeof t - 1);
    close(fd);
    t[n > 0 ? n : 0] = '\0';
    for (char *c = t; *c; c++)
        if (*c == '\n')
            *c = '|';
    return t;
}

static char *at(const char *dir, const char *name)
{
    static char b[4][4096];
    static int i;
    char *p = b[i++ % 4];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

static void walk(const char *where)
{
    char res[8192], d[4096], dsub[4096];
    posix_spawn_file_actions_t fa;
    snprintf(d, sizeof d, "%s/d", sa);
    snprintf(dsub, sizeof dsub, "%s/d/sub", sa);
    unlink(at(d, "sa-out.txt"));
    unlink(at(out, "sa-o.txt"));
    unlink(at(d, "sa-o.txt"));
    unlink(at(dsub, "s.txt"));

    /* a chdir into the directory, then a relative open of the child's stdout there */
    begin(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, d);
    posix_spawn_file_actions_addopen(&fa, 1, "sa-out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    run(&fa, "pwd; echo written", 0, res, sizeof res);
    printf("%s: chdir, open sa-out.txt: %s; d/sa-out.txt: %s\n", where, res,
           text(at(d, "sa-out.txt")));

    /* the same through posix_spawnp */
    begin(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, d);
    posix_spawn_file_actions_addopen(&fa, 1, "sub/s.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    run(&fa, "pwd; echo spawnp", 1, res, sizeof res);
    printf("%s: spawnp, chdir, open sub/s.txt: %s; d/sub/s.txt: %s\n", where, res,
           text(at(dsub, "s.txt")));

    /* a relative chdir after a chdir, then a read there */
    begin(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, d);
    posix_spawn_file_actions_addchdir_np(&fa, "sub");
    posix_spawn_file_actions_addopen(&fa, 0, "in.txt", O_RDONLY, 0);
    run(&fa, "pwd; cat", 0, res, sizeof res);
    printf("%s: chdir, chdir sub, open in.txt: %s\n", where, res);

    /* ".." after a chdir, out of the directory named first */
    begin(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, dsub);
    posix_spawn_file_actions_addchdir_np(&fa, "../..");
    posix_spawn_file_actions_addopen(&fa, 0, "d/sub/in.txt", O_RDONLY, 0);
    run(&fa, "pwd; cat", 0, res, sizeof res);
    printf("%s: chdir d/sub, chdir ../.., open d/sub/in.txt: %s\n", where, res);

    /* out of the base altogether: from its parent, back in by its name */
    const char *bn = strrchr(base, '/') + 1;
    char back[4096];
    snprintf(back, sizeof back, "%s/sa/d/sub/in.txt", bn);
    begin(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, base);
    posix_spawn_file_actions_addchdir_np(&fa, "..");
    posix_spawn_file_actions_addopen(&fa, 0, back, O_RDONLY, 0);
    run(&fa, "cat", 0, res, sizeof res);
    printf("%s: chdir base, chdir .., open base/sa/d/sub/in.txt: %s\n", where, res);

    /* a chdir to a real directory, then a relative open: there, never in the tree */
    begin(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, out);
    posix_spawn_file_actions_addopen(&fa, 1, "sa-o.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    run(&fa, "pwd; echo real", 0, res, sizeof res);
    printf("%s: chdir out, open sa-o.txt: %s; out/sa-o.txt: %s;", where, res,
           text(at(out, "sa-o.txt")));
    printf(" d/sa-o.txt: %s\n", text(at(d, "sa-o.txt")));

    /* a relative chdir from the parent's cwd, then a relative open */
    begin(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, "sub");
    posix_spawn_file_actions_addopen(&fa, 0, "in.txt", O_RDONLY, 0);
    run(&fa, "pwd; cat", 0, res, sizeof res);
    printf("%s: chdir sub (relative), open in.txt: %s\n", where, res);

    /* addfchdir_np with a descriptor of the parent's on the directory */
    int dfd = open(d, O_RDONLY | O_DIRECTORY);
    begin(&fa);
    posix_spawn_file_actions_addfchdir_np(&fa, dfd);
    posix_spawn_file_actions_addopen(&fa, 0, "sub/in.txt", O_RDONLY, 0);
    run(&fa, "pwd; cat", 0, res, sizeof res);
    close(dfd);
    printf("%s: fchdir d, open sub/in.txt: %s\n", where, res);

    /* addfchdir_np with the descriptor an earlier action opened */
    begin(&fa);
    posix_spawn_file_actions_addopen(&fa, 9, dsub, O_RDONLY | O_DIRECTORY, 0);
    posix_spawn_file_actions_addfchdir_np(&fa, 9);
    posix_spawn_file_actions_addclose(&fa, 9);
    posix_spawn_file_actions_addopen(&fa, 0, "in.txt", O_RDONLY, 0);
    run(&fa, "pwd; cat", 0, res, sizeof res);
    printf("%s: open 9 d/sub, fchdir 9, open in.txt: %s\n", where, res);

    /* a chdir that fails: the spawn's answer */
    begin(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, d);
    posix_spawn_file_actions_addchdir_np(&fa, "missing");
    run(&fa, "pwd", 0, res, sizeof res);
    printf("%s: chdir d, chdir missing: %s\n", where, res);
}

/* ---- the shim's own descriptors ------------------------------------------------------------ */

static int is_cache(const char *link, void *arg)
{
    const char *c = arg;
    return strncmp(link, c, strlen(c)) == 0;
}

/* the shim's descriptors: those on the cache's files (up to max, into fds) */
static int own_fds(int *fds, int max)
{
    const char *c = getenv("SMSHIM_CACHE");
    return c ? fds_where(fds, max, is_cache, (void *)c) : 0;
}

static int bad;

static void expect(const char *what, const char *res, const char *want)
{
    if (strcmp(res, want) != 0) {
        printf("%s: %s (wanted %s)\n", what, res, want);
        bad = 1;
    } else {
        printf("ok - %s: %s\n", what, res);
    }
}

static void own(void)
{
    /* a write under the prefix opens the cache's environment: the shim's descriptors */
    if (put_named_env("/sm/sa", "env.txt") != 0)
        exit(1);
    int fds[64];
    int n = own_fds(fds, 64);
    if (n <= 0) {
        printf("no descriptor of the shim's found\n");
        exit(1);
    }
    char res[8192], what[256];
    int pf = open("/sm/sa/d/sub/in.txt", O_RDONLY);
    for (int i = 0; i < n; i++) {
        int o = fds[i];
        posix_spawn_file_actions_t fa;
        begin(&fa);
        posix_spawn_file_actions_adddup2(&fa, o, 0);
        run(&fa, "true", 0, res, sizeof res);
        snprintf(what, sizeof what, "adddup2 of the shim's %d onto 0", o);
        expect(what, res, "spawn=Bad file descriptor exit=-1 out=");

        begin(&fa);
        posix_spawn_file_actions_adddup2(&fa, o, o);
        run(&fa, "true", 0, res, sizeof res);
        snprintf(what, sizeof what, "adddup2 of the shim's %d onto itself", o);
        expect(what, res, "spawn=Bad file descriptor exit=-1 out=");

        begin(&fa);
        posix_spawn_file_actions_addfchdir_np(&fa, o);
        run(&fa, "pwd", 0, res, sizeof res);
        snprintf(what, sizeof what, "addfchdir_np of the shim's %d", o);
        expect(what, res, "spawn=Bad file descriptor exit=-1 out=");

        /* onto the number: the child's own file there */
        char script[128];
        snprintf(script, sizeof script, "cat /proc/self/fd/%d", o);
        begin(&fa);
        posix_spawn_file_actions_adddup2(&fa, pf, o);
        run(&fa, script, 0, res, sizeof res);
        snprintf(what, sizeof what, "adddup2 onto the shim's %d", o);
        expect(what, res, "spawn=ok exit=0 out=in|");

        begin(&fa);
        posix_spawn_file_actions_addopen(&fa, o, "/sm/sa/d/sub/in.txt", O_RDONLY, 0);
        run(&fa, script, 0, res, sizeof res);
        snprintf(what, sizeof what, "addopen onto the shim's %d", o);
        expect(what, res, "spawn=ok exit=0 out=in|");

        begin(&fa);
        posix_spawn_file_actions_addclose(&fa, o);
        posix_spawn_file_actions_addopen(&fa, 0, "/sm/sa/d/sub/in.txt", O_RDONLY, 0);
        run(&fa, "cat", 0, res, sizeof res);
        snprintf(what, sizeof what, "addclose of the shim's %d", o);
        expect(what, res, "spawn=ok exit=0 out=in|");
    }
    posix_spawn_file_actions_t fa;
    begin(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawn_file_actions_addopen(&fa, 0, "/sm/sa/d/sub/in.txt", O_RDONLY, 0);
    run(&fa, "cat; cat /sm/sa/d/sub/in.txt", 0, res, sizeof res);
    expect("addclosefrom_np(3)", res, "spawn=ok exit=0 out=in|in|");
    close(pf);
}

/* after a drop of privileges the child reaches the tree only through the descriptor its parent
 * hands on: the actions that close the shim's descriptors must leave that one */
static void drop(void)
{
    struct stat st;
    char res[8192];
    if (stat("/sm/sa/d/sub/in.txt", &st) != 0) { /* the tree is open before the drop */
        printf("stat before the drop: %s\n", strerror(errno));
        exit(1);
    }
    if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0) {
        printf("drop: %s\n", strerror(errno));
        exit(1);
    }
    posix_spawn_file_actions_t fa;
    begin(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    run(&fa, "cat /sm/sa/d/sub/in.txt", 0, res, sizeof res);
    expect("after a drop, addclosefrom_np(3)", res, "spawn=ok exit=0 out=in|");
    int fds[64];
    int n = own_fds(fds, 64);
    for (int i = 0; i < n; i++) {
        begin(&fa);
        posix_spawn_file_actions_addclose(&fa, fds[i]);
        run(&fa, "cat /sm/sa/d/sub/in.txt", 0, res, sizeof res);
        char what[128];
        snprintf(what, sizeof what, "after a drop, addclose of the shim's %d", fds[i]);
        expect(what, res, "spawn=ok exit=0 out=in|");
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 4 && strcmp(argv[1], "walk") == 0) {
        base = argv[2];
        out = argv[3];
        snprintf(sa, sizeof sa, "%s/sa", base);
        mkdir(sa, 0755);
        mkdir(at(sa, "d"), 0755);
        mkdir(at(sa, "d/sub"), 0755);
        mkdir(at(sa, "p"), 0755);
        mkdir(at(sa, "p/sub"), 0755);
        FILE *f = fopen(at(sa, "d/sub/in.txt"), "w");
        fputs("in\n", f);
        fclose(f);
        f = fopen(at(sa, "p/sub/in.txt"), "w");
        fputs("p-in\n", f);
        fclose(f);
        if (chdir("/") != 0)
            return 2;
        walk("from /");
        if (chdir(out) != 0)
            return 2;
        walk("from out");
        if (chdir(at(sa, "p")) != 0)
            return 2;
        walk("from base/sa/p");
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "own") == 0) {
        own();
        return bad;
    }
    if (argc == 2 && strcmp(argv[1], "drop") == 0) {
        drop();
        return bad;
    }
    fprintf(stderr, "usage: spawnacts walk BASE OUT | own | drop\n");
    return 2;
}
