/* errno_table.c: run the calls real programs get wrong with bad input, in directory BASE, and
 * print each result as "case: ret errno". Run once on a real directory and once under the shim:
 * the two outputs must be identical. Usage: errno_table BASE */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char base[PATH_MAX];

static const char *P(const char *rel)
{
    static char bufs[4][PATH_MAX * 2];
    static int i;
    char *b = bufs[i++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", base, rel);
    return b;
}

static void show(const char *name, long rc)
{
    printf("%-28s %ld %s\n", name,
           rc < 0    ? -1L
           : rc >= 0 ? 0L
                     : rc,
           rc < 0 ? strerrorname_np(errno) : "-");
}
#define T(name, call)                                                                              \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long rc_ = (long)(call);                                                                   \
        show(name, rc_);                                                                           \
    } while (0)
#define TFD(name, call)                                                                            \
    do {                                                                                           \
        errno = 0;                                                                                 \
        int fd_ = (call);                                                                          \
        show(name, fd_ < 0 ? -1 : 0);                                                              \
        if (fd_ >= 0)                                                                              \
            close(fd_);                                                                            \
    } while (0)

int main(int argc, char **argv)
{
    struct stat st;
    char big[PATH_MAX + 64], name256[300], cwd[8];
    if (argc != 2)
        return 2;
    snprintf(base, sizeof base, "%s", argv[1]);
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* fixtures */
    T("mkdir d", mkdir(P("d"), 0755));
    T("mkdir d/sub", mkdir(P("d/sub"), 0755));
    TFD("create f", open(P("f"), O_CREAT | O_WRONLY, 0644));
    TFD("create d/g", open(P("d/g"), O_CREAT | O_WRONLY, 0644));
    T("symlink loop a->b", symlink("b", P("la")));
    T("symlink loop b->a", symlink("la", P("b")));

    T("stat empty", stat("", &st));
    T("stat NULL", syscall(SYS_newfstatat, AT_FDCWD, NULL, &st, 0));
    const char *volatile nullp = NULL;
    T("open NULL", open(nullp, O_RDONLY));
    T("stat NULL path", stat(nullp, &st));
    T("mkdir NULL", mkdir(nullp, 0755));
    T("chdir NULL", chdir(nullp));
    T("stat f", stat(P("f"), &st));
    T("stat ./f", stat(P("./f"), &st));
    T("stat d/../f", stat(P("d/../f"), &st));
    T("stat d//g", stat(P("d//g"), &st));
    T("stat d/sub/../../f", stat(P("d/sub/../../f"), &st));
    T("stat f/", stat(P("f/"), &st));
    T("stat f/x", stat(P("f/x"), &st));
    T("stat missing", stat(P("missing"), &st));
    T("stat missing/x", stat(P("missing/x"), &st));
    T("stat loop", stat(P("la"), &st));
    T("lstat loop", lstat(P("la"), &st));
    T("stat d/.", stat(P("d/."), &st));
    T("stat d/..", stat(P("d/.."), &st));
    snprintf(big, sizeof big, "%s/../../../../../../../../../../etc/passwd", base);
    T("stat climb to /etc/passwd", stat(big, &st));

    memset(name256, 'n', 256);
    name256[256] = '\0';
    T("stat name 256", stat(P(name256), &st));
    TFD("create name 256", open(P(name256), O_CREAT | O_WRONLY, 0644));
    T("mkdir name 256", mkdir(P(name256), 0755));
    name256[255] = '\0';
    TFD("create name 255", open(P(name256), O_CREAT | O_WRONLY, 0644));
    T("unlink name 255", unlink(P(name256)));
    size_t bl = strlen(base);
    memcpy(big, base, bl);
    for (size_t i = bl; i < PATH_MAX + 10; i += 2)
        memcpy(big + i, "/.", 2);
    big[PATH_MAX + 10] = '\0';
    T("stat path 4096+", stat(big, &st));
    TFD("open path 4096+", open(big, O_RDONLY));

    TFD("open f/ rdonly", open(P("f/"), O_RDONLY));
    TFD("open d wronly", open(P("d"), O_WRONLY));
    TFD("open d rdwr", open(P("d"), O_RDWR));
    TFD("open d rdonly", open(P("d"), O_RDONLY));
    TFD("open f O_DIRECTORY", open(P("f"), O_RDONLY | O_DIRECTORY));
    TFD("open f O_CREAT|O_EXCL", open(P("f"), O_CREAT | O_EXCL | O_WRONLY, 0644));
    TFD("open missing/x O_CREAT", open(P("missing/x"), O_CREAT | O_WRONLY, 0644));
    TFD("open O_CREAT|O_DIRECTORY", open(P("newdir"), O_CREAT | O_DIRECTORY | O_RDONLY, 0644));
    TFD("open missing", open(P("missing"), O_RDONLY));
    TFD("openat bad dirfd", openat(12345, "f", O_RDONLY));
    TFD("openat file as dirfd", openat(open(P("f"), O_RDONLY), "x", O_RDONLY));
    T("fopen bad mode", fopen(P("f"), "q") ? 0 : -1);
    T("fopen missing r", fopen(P("missing"), "r") ? 0 : -1);

    T("mkdir existing", mkdir(P("d"), 0755));
    T("mkdir existing file", mkdir(P("f"), 0755));
    T("mkdir empty", mkdir("", 0755));
    T("mkdir missing/x", mkdir(P("missing/x"), 0755));
    T("mkdir trailing /", mkdir(P("new/"), 0755));
    T("rmdir trailing /.", rmdir(P("new/.")));
    T("rmdir new", rmdir(P("new")));
    T("rmdir nonempty", rmdir(P("d")));
    T("rmdir file", rmdir(P("f")));
    T("rmdir missing", rmdir(P("missing")));
    T("rmdir d/sub/..", rmdir(P("d/sub/..")));
    T("rmdir d/sub/../sub/..", rmdir(P("d/sub/../sub/..")));
    T("mkdir d/sub/..", mkdir(P("d/sub/.."), 0755));
    T("unlink d/sub/..", unlink(P("d/sub/..")));
    T("unlink dir", unlink(P("d")));
    T("unlink missing", unlink(P("missing")));
    T("unlinkat bad flag", unlinkat(AT_FDCWD, P("f"), 0x1234));
    T("rename dir into itself", rename(P("d"), P("d/sub/x")));
    T("rename file onto dir", rename(P("f"), P("d")));
    T("rename dir onto file", rename(P("d"), P("f")));
    T("rename missing", rename(P("missing"), P("x")));
    T("renameat2 bad flags", renameat2(AT_FDCWD, P("f"), AT_FDCWD, P("x"), 0x40000));
    T("renameat2 noreplace", renameat2(AT_FDCWD, P("f"), AT_FDCWD, P("d/g"), RENAME_NOREPLACE));
    T("readlink file", readlink(P("f"), big, sizeof big));
    T("readlink missing", readlink(P("missing"), big, sizeof big));
    T("access missing", access(P("missing"), F_OK));
    T("access f X_OK", access(P("f"), X_OK));
    T("access bad mode", access(P("f"), 0100));
    T("faccessat bad flags", faccessat(AT_FDCWD, P("f"), F_OK, 0x8000));
    T("chdir file", chdir(P("f")));
    T("chdir missing", chdir(P("missing")));
    T("opendir file", opendir(P("f")) ? 0 : -1);
    T("opendir missing", opendir(P("missing")) ? 0 : -1);
    T("truncate dir", truncate(P("d"), 0));
    T("truncate negative", truncate(P("f"), -1));
    T("truncate missing", truncate(P("missing"), 0));
    T("realpath missing", realpath(P("missing"), NULL) ? 0 : -1);
    T("realpath loop", realpath(P("la"), NULL) ? 0 : -1);
    T("symlink existing", symlink("x", P("f")));
    T("chmod missing", chmod(P("missing"), 0644));
    T("utimensat bad flags", utimensat(AT_FDCWD, P("f"), NULL, 0x4000));
    T("statx bad flags",
      statx(AT_FDCWD, P("f"), 0x40000000, STATX_BASIC_STATS, (struct statx *)big));
    T("chdir d", chdir(P("d")));
    T("getcwd buf 1", getcwd(cwd, 1) ? 0 : -1);
    T("getcwd buf 0", getcwd(cwd, 0) ? 0 : -1);
    T("stat ../f from d", stat("../f", &st));
    T("mkdir rel sub2", mkdir("sub2", 0755));
    T("stat rel sub2/..", stat("sub2/..", &st));
    return 0;
}
