/* logs.c: `smshim logs [-f] [-n LINES]`: the cache's log (SMSHIM_LOG writes <cache>/log). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static const char logs_help[] =
    "usage: smshim logs [--prefix P] [--cache DIR] [-f] [-n LINES]\n"
    "\n"
    "Shows the cache's log, <cache>/log, where processes write when SMSHIM_LOG=LEVEL asks them\n"
    "to (error, warn, info or debug). Lines are escaped when they are written. Exits 1 when\n"
    "there is no log yet.\n"
    "\n"
    "  -f        keep showing lines as they are written (until interrupted)\n"
    "  -n LINES  the last LINES lines only (default: all)\n"
    "  --cache DIR  the cache (SMSHIM_CACHE)\n"
    "\n"
    "Environment: SMSHIM_CACHE, XDG_CACHE_HOME, HOME, SMSHIM_LOG (what is written).\n";

/* Copy fd from its current offset to stdout. -1 on a write error. */
static int copy_out(int fd)
{
    char buf[65536];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
            return -1;
    return fflush(stdout) == 0 ? 0 : -1;
}

/* Offset of the start of the last n lines. */
static off_t tail_start(int fd, long n)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0)
        return 0;
    char buf[4096];
    off_t pos = st.st_size;
    long seen = 0;
    int first = 1;
    while (pos > 0) {
        size_t len = pos > (off_t)sizeof buf ? sizeof buf : (size_t)pos;
        pos -= (off_t)len;
        if (pread(fd, buf, len, pos) != (ssize_t)len)
            return 0;
        for (size_t i = len; i-- > 0;) {
            if (buf[i] != '\n')
                continue;
            if (first && pos + (off_t)i == st.st_size - 1) {
                first = 0; /* the newline that ends the last line */
                continue;
            }
            first = 0;
            if (++seen == n)
                return pos + (off_t)i + 1;
        }
    }
    return 0;
}

int cmd_logs(int argc, char **argv)
{
    int follow = 0;
    long lines = -1;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(logs_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
            follow = 1;
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            lines = atol(argv[++i]);
        else if (!cli_common_opt(argc, argv, &i))
            die("logs: unknown option %s (smshim logs --help)", argv[i]);
    }
    const char *prefix, *cache;
    settings(0, &prefix, &cache);
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/log", cache);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        fprintf(stderr, "smshim: no log at %s: %s (processes log there with SMSHIM_LOG=info)\n",
                E(path), strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "smshim: %s is not a regular file\n", E(path));
        return 1;
    }
    /* watched before the first copy: a line written meanwhile is either copied or announced */
    int in = follow ? inotify_init1(IN_CLOEXEC) : -1;
    if (follow && (in < 0 || inotify_add_watch(in, path, IN_MODIFY) < 0))
        die("logs -f: cannot watch the log: %s", strerror(errno));
    if (lines >= 0)
        lseek(fd, lines ? tail_start(fd, lines) : st.st_size, SEEK_SET);
    if (copy_out(fd) != 0)
        return 2;
    if (!follow)
        return 0;
    for (;;) {
        char ev[4096];
        struct pollfd p = {in, POLLIN, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return 2;
        if (read(in, ev, sizeof ev) < 0 && errno != EINTR && errno != EAGAIN)
            return 2;
        if (fstat(fd, &st) == 0 && lseek(fd, 0, SEEK_CUR) > st.st_size)
            lseek(fd, 0, SEEK_SET); /* truncated: from its start again */
        if (copy_out(fd) != 0)
            return 2;
    }
}
