/* rawedge.c: the raw system calls of extended attributes, device nodes and unix domain sockets
 * on a directory, one line per call, the directory printed as $D, for comparing a real directory
 * with the prefix.
 *
 *   rawedge [libc] xattr DIR   set/get/list/remove, path and l* and f* forms, on DIR
 *   rawedge [libc] mknod DIR   mknod/mknodat of FIFOs, sockets, files and (as root) devices
 *   rawedge [libc] sock DIR    bind/connect/sendto/sendmsg/accept/getsockname/getpeername/
 *                              recvfrom/recvmsg of AF_UNIX sockets at DIR's absolute paths
 *
 * By default every call is a `syscall` instruction of this program's own (inline asm, as Bun
 * does: only Syscall User Dispatch sees it); with `libc` first, it goes through libc's syscall()
 * (the shim's syscall() wrapper). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <stddef.h>
#include <unistd.h>

#include "rawcall.h"

static int use_libc;

static long raw6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
    if (use_libc) {
        long r = syscall(n, a1, a2, a3, a4, a5, a6);
        return r == -1 ? -errno : r;
    }
    return raw_insn(n, a1, a2, a3, a4, a5, a6);
}
#define raw6_(n, a, b, c, d, e, f)                                                                 \
    raw6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* a path with DIR shown as $D */
static void show(const char *p, size_t n)
{
    size_t dl = strlen(D);
    if (n >= dl && strncmp(p, D, dl) == 0) {
        printf("$D");
        p += dl;
        n -= dl;
    }
    printf("%.*s", (int)n, p);
}

static void res(const char *what, long r)
{
    if (r < 0 && r > -4096)
        printf("%s -> %s\n", what, strerrorname_np((int)-r));
    else
        printf("%s -> ok\n", what);
}

static void res_n(const char *what, long r)
{
    if (r < 0 && r > -4096)
        printf("%s -> %s\n", what, strerrorname_np((int)-r));
    else
        printf("%s -> %ld\n", what, r);
}

/* ---- extended attributes ------------------------------------------------------------------------ */

/* the user.* names of a listxattr buffer, in order */
static void show_list(const char *what, long r, const char *buf)
{
    if (r < 0) {
        res(what, r);
        return;
    }
    printf("%s ->", what);
    for (long off = 0; off < r; off += (long)strlen(buf + off) + 1)
        if (strncmp(buf + off, "user.", 5) == 0)
            printf(" %s", buf + off);
    printf("\n");
}

static void show_get(const char *what, long r, const char *buf)
{
    if (r < 0)
        res(what, r);
    else
        printf("%s -> %ld '%.*s'\n", what, r, (int)r, buf);
}

static int xattrs(void)
{
    char buf[4096];
    long r, fd;
    fd = raw4(SYS_openat, AT_FDCWD, P("f"), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    res("openat creat f", fd);
    res("symlinkat l -> f", raw3(SYS_symlinkat, "f", AT_FDCWD, P("l")));
    res("mkdirat d", raw3(SYS_mkdirat, AT_FDCWD, P("d"), 0755));
    res("setxattr f user.a", raw5(SYS_setxattr, P("f"), "user.a", "alpha", 5, 0));
    res("setxattr f user.a CREATE", raw5(SYS_setxattr, P("f"), "user.a", "x", 1, XATTR_CREATE));
    res("setxattr f user.z REPLACE", raw5(SYS_setxattr, P("f"), "user.z", "x", 1, XATTR_REPLACE));
    res("lsetxattr l user.b (symlink)", raw5(SYS_lsetxattr, P("l"), "user.b", "beta", 4, 0));
    res("setxattr l user.c (followed)", raw5(SYS_setxattr, P("l"), "user.c", "gamma", 5, 0));
    res("fsetxattr fd user.d", raw5(SYS_fsetxattr, fd, "user.d", "delta", 5, 0));
    res("setxattr d user.e", raw5(SYS_setxattr, P("d"), "user.e", "", 0, 0));
    res("setxattr bad namespace", raw5(SYS_setxattr, P("f"), "bogus.x", "1", 1, 0));
    res("setxattr missing", raw5(SYS_setxattr, P("nope"), "user.a", "1", 1, 0));
    r = raw4(SYS_getxattr, P("f"), "user.a", buf, sizeof buf);
    show_get("getxattr f user.a", r, buf);
    r = raw4(SYS_getxattr, P("l"), "user.c", buf, sizeof buf);
    show_get("getxattr l user.c", r, buf);
    r = raw4(SYS_lgetxattr, P("l"), "user.c", buf, sizeof buf);
    show_get("lgetxattr l user.c", r, buf);
    r = raw4(SYS_fgetxattr, fd, "user.c", buf, sizeof buf);
    show_get("fgetxattr fd user.c", r, buf);
    r = raw4(SYS_getxattr, P("f"), "user.a", buf, 2);
    show_get("getxattr small buffer", r, buf);
    r = raw4(SYS_getxattr, P("f"), "user.a", NULL, 0);
    res_n("getxattr size query", r);
    r = raw4(SYS_getxattr, P("f"), "user.none", buf, sizeof buf);
    show_get("getxattr f user.none", r, buf);
    r = raw4(SYS_getxattr, P("d"), "user.e", buf, sizeof buf);
    show_get("getxattr d user.e", r, buf);
    r = raw3(SYS_listxattr, P("f"), buf, sizeof buf);
    show_list("listxattr f", r, buf);
    r = raw3(SYS_llistxattr, P("l"), buf, sizeof buf);
    show_list("llistxattr l", r, buf);
    r = raw3(SYS_flistxattr, fd, buf, sizeof buf);
    show_list("flistxattr fd", r, buf);
    res("removexattr f user.a", raw2(SYS_removexattr, P("f"), "user.a"));
    res("removexattr f user.a again", raw2(SYS_removexattr, P("f"), "user.a"));
    res("lremovexattr l user.c", raw2(SYS_lremovexattr, P("l"), "user.c"));
    res("fremovexattr fd user.c", raw2(SYS_fremovexattr, fd, "user.c"));
    r = raw3(SYS_listxattr, P("f"), buf, sizeof buf);
    show_list("listxattr f after", r, buf);
    raw1(SYS_close, fd);
    return 0;
}

/* ---- device nodes and other special files --------------------------------------------------- */

static void show_stat(const char *rel)
{
    struct stat st;
    long r = raw4(SYS_newfstatat, AT_FDCWD, P(rel), &st, AT_SYMLINK_NOFOLLOW);
    if (r < 0) {
        printf("  %s: %s\n", rel, strerrorname_np((int)-r));
        return;
    }
    printf("  %s: type=%o mode=%o rdev=%u,%u\n", rel, st.st_mode & S_IFMT, st.st_mode & 07777,
           major(st.st_rdev), minor(st.st_rdev));
}

static int nodes(void)
{
    res("mknod fifo", raw3(SYS_mknod, P("fifo"), S_IFIFO | 0640, 0));
    res("mknodat sock", raw4(SYS_mknodat, AT_FDCWD, P("sock"), S_IFSOCK | 0600, 0));
    res("mknodat reg", raw4(SYS_mknodat, AT_FDCWD, P("reg"), S_IFREG | 0644, 0));
    res("mknod chr 1,3", raw3(SYS_mknod, P("null"), S_IFCHR | 0666, makedev(1, 3)));
    res("mknodat blk 7,0", raw4(SYS_mknodat, AT_FDCWD, P("blk"), S_IFBLK | 0600, makedev(7, 0)));
    res("mknod chr again", raw3(SYS_mknod, P("null"), S_IFCHR | 0666, makedev(1, 3)));
    res("mknod bad type", raw3(SYS_mknod, P("bad"), 0170000 | 0644, 0));
    res("mknod in missing dir", raw3(SYS_mknod, P("nope/x"), S_IFCHR | 0600, makedev(1, 3)));
    show_stat("fifo");
    show_stat("sock");
    show_stat("reg");
    show_stat("null");
    show_stat("blk");
    long fd = raw4(SYS_openat, AT_FDCWD, P("null"), O_WRONLY | O_CLOEXEC, 0);
    res("open chr 1,3 for writing", fd);
    if (fd >= 0) {
        res_n("write to it", raw3(SYS_write, fd, "xyz", 3));
        raw1(SYS_close, fd);
    }
    return 0;
}

/* ---- unix domain sockets -------------------------------------------------------------------- */

static socklen_t mkaddr(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n > sizeof a->sun_path)
        n = sizeof a->sun_path;
    memcpy(a->sun_path, path, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static void show_addr(const char *what, long r, const struct sockaddr_un *a, socklen_t len)
{
    if (r < 0) {
        res(what, r);
        return;
    }
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (len <= off) {
        printf("%s -> unnamed (len %u)\n", what, (unsigned)len);
        return;
    }
    size_t n = strnlen(a->sun_path, len - off);
    printf("%s -> family=%d '", what, a->sun_family);
    show(a->sun_path, n);
    printf("' len=%s\n", len == off + n + 1 || len == off + n ? "exact" : "other");
}

static int socks(void)
{
    struct sockaddr_un a, b;
    socklen_t len;
    char buf[256];
    long r;

    /* stream: bind, listen, connect, accept, names on both ends */
    long srv = raw3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t al = mkaddr(&a, P("s.sock"));
    res("bind stream", raw3(SYS_bind, srv, &a, al));
    res("bind again (in use)", raw3(SYS_bind, raw3(SYS_socket, AF_UNIX, SOCK_STREAM, 0), &a, al));
    res("listen", raw2(SYS_listen, srv, 4));
    len = sizeof b;
    r = raw3(SYS_getsockname, srv, &b, &len);
    show_addr("getsockname server", r, &b, len);
    long cli = raw3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    res("connect", raw3(SYS_connect, cli, &a, al));
    len = sizeof b;
    r = raw3(SYS_getpeername, cli, &b, &len);
    show_addr("getpeername client", r, &b, len);
    len = sizeof b;
    memset(&b, 0x55, sizeof b);
    long acc = raw4(SYS_accept4, srv, &b, &len, SOCK_CLOEXEC);
    show_addr("accept4 (unnamed peer)", acc < 0 ? acc : 0, &b, len);
    len = sizeof b;
    r = raw3(SYS_getsockname, acc, &b, &len);
    show_addr("getsockname accepted", r, &b, len);
    res_n("send", raw6_(SYS_sendto, cli, "ping", 4, 0, NULL, 0));
    r = raw6_(SYS_recvfrom, acc, buf, sizeof buf, 0, NULL, NULL);
    printf("recv -> %ld '%.*s'\n", r, r > 0 ? (int)r : 0, buf);
    raw1(SYS_close, cli);
    raw1(SYS_close, acc);
    /* a bound client: accept reports its path */
    cli = raw3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t cl = mkaddr(&b, P("c.sock"));
    res("bind client", raw3(SYS_bind, cli, &b, cl));
    res("connect bound client", raw3(SYS_connect, cli, &a, al));
    len = sizeof b;
    acc = raw3(SYS_accept, srv, &b, &len);
    show_addr("accept (bound peer)", acc < 0 ? acc : 0, &b, len);
    len = sizeof b;
    r = raw3(SYS_getpeername, acc, &b, &len);
    show_addr("getpeername accepted", r, &b, len);
    len = 4; /* truncated: the full length is reported */
    r = raw3(SYS_getpeername, acc, &b, &len);
    printf("getpeername short buffer -> %s len=%s\n", r < 0 ? strerrorname_np((int)-r) : "ok",
           len == mkaddr(&a, P("c.sock")) ? "full" : "other");
    raw1(SYS_close, cli);
    raw1(SYS_close, acc);
    raw1(SYS_close, srv);
    res("connect after close (refused)",
        raw3(SYS_connect, raw3(SYS_socket, AF_UNIX, SOCK_STREAM, 0), &a, mkaddr(&a, P("s.sock"))));
    res("connect missing", raw3(SYS_connect, raw3(SYS_socket, AF_UNIX, SOCK_STREAM, 0), &a,
                                mkaddr(&a, P("none.sock"))));
    res("bind in missing dir", raw3(SYS_bind, raw3(SYS_socket, AF_UNIX, SOCK_STREAM, 0), &a,
                                    mkaddr(&a, P("nodir/x.sock"))));

    /* datagrams: sendto and sendmsg to a path, recvfrom and recvmsg report the sender's */
    long d1 = raw3(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    long d2 = raw3(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    al = mkaddr(&a, P("d1.sock"));
    res("bind dgram 1", raw3(SYS_bind, d1, &a, al));
    cl = mkaddr(&b, P("d2.sock"));
    res("bind dgram 2", raw3(SYS_bind, d2, &b, cl));
    res_n("sendto d1", raw6_(SYS_sendto, d2, "one", 3, 0, &a, al));
    struct iovec iov = {.iov_base = "two", .iov_len = 3};
    struct msghdr mh = {.msg_name = &a, .msg_namelen = al, .msg_iov = &iov, .msg_iovlen = 1};
    res_n("sendmsg d1", raw3(SYS_sendmsg, d2, &mh, 0));
    len = sizeof b;
    memset(&b, 0, sizeof b);
    r = raw6_(SYS_recvfrom, d1, buf, sizeof buf, 0, &b, &len);
    printf("recvfrom -> %ld '%.*s'\n", r, r > 0 ? (int)r : 0, buf);
    show_addr("  from", r < 0 ? r : 0, &b, len);
    struct sockaddr_un from;
    memset(&from, 0, sizeof from);
    struct iovec riov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr rm = {
        .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &riov, .msg_iovlen = 1};
    r = raw3(SYS_recvmsg, d1, &rm, 0);
    printf("recvmsg -> %ld '%.*s'\n", r, r > 0 ? (int)r : 0, buf);
    show_addr("  from", r < 0 ? r : 0, &from, rm.msg_namelen);
    res_n("sendto missing", raw6_(SYS_sendto, d2, "x", 1, 0, &a, mkaddr(&a, P("none.sock"))));
    res("connect dgram", raw3(SYS_connect, d2, &a, mkaddr(&a, P("d1.sock"))));
    len = sizeof b;
    r = raw3(SYS_getpeername, d2, &b, &len);
    show_addr("getpeername dgram", r, &b, len);
    raw1(SYS_close, d1);
    raw1(SYS_close, d2);
    struct stat st;
    r = raw4(SYS_newfstatat, AT_FDCWD, P("s.sock"), &st, 0);
    printf("stat s.sock -> %s\n", r < 0                  ? strerrorname_np((int)-r)
                                  : S_ISSOCK(st.st_mode) ? "socket"
                                                         : "other");
    res("unlink s.sock", raw1(SYS_unlink, P("s.sock")));
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "libc") == 0) {
        use_libc = 1;
        i++;
    }
    if (argc != i + 2) {
        fprintf(stderr, "usage: rawedge [libc] xattr|mknod|sock DIR\n");
        return 2;
    }
    D = argv[i + 1];
    if (strcmp(argv[i], "xattr") == 0)
        return xattrs();
    if (strcmp(argv[i], "mknod") == 0)
        return nodes();
    if (strcmp(argv[i], "sock") == 0)
        return socks();
    fprintf(stderr, "rawedge: unknown mode %s\n", argv[i]);
    return 2;
}
