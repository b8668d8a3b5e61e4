/* procfd.c: the process's own descriptors as /proc shows them. For the program the shim's
 * descriptors do not exist (fd.c), so a listing of the directories that hold one entry per open
 * descriptor of the process (/proc/self/fd and fdinfo, by every name: /proc/<pid>,
 * /proc/thread-self, /proc/<pid>/task/<tid>, /dev/fd) leaves them out, and the name of one of
 * them there (readlink, stat, open, ...) answers ENOENT, as for a number that is not open. Every
 * other entry, and every other directory, is the kernel's as it lists it.
 *
 * The cost elsewhere is one test of an entry's name (sm_procfd_entry: a digit first, then the
 * number one of the shim's); only a listing that shows such an entry asks the kernel what the
 * directory is (its name through /proc/self/fd), and only a path that names such a number is
 * looked at closer. */
#include "shim.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *skip_slashes(const char *p)
{
    while (*p == '/')
        p++;
    return p;
}

/* The component at *pp is word: *pp moves past it. */
static int word_at(const char **pp, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(*pp, word, n) != 0 || ((*pp)[n] != '/' && (*pp)[n] != '\0'))
        return 0;
    *pp += n;
    return 1;
}

/* The component at *pp is a number (no sign, at most 9 digits): its value, *pp moved past it;
 * else -1. */
static long number_at(const char **pp)
{
    const char *p = *pp;
    long v = 0;
    int k = 0;
    while (*p >= '0' && *p <= '9' && k < 10) {
        v = v * 10 + (*p++ - '0');
        k++;
    }
    if (k == 0 || k > 9 || (*p != '/' && *p != '\0'))
        return -1;
    *pp = p;
    return v;
}

/* Is pid (as the /proc at "/proc" numbers it) this process, or one of its threads? */
static int pid_ours(long pid)
{
    char b[32];
    if (pid == (long)SM_REAL(syscall)(SYS_getpid))
        return 1;
    /* /proc mounted for another pid namespace numbers this process otherwise */
    ssize_t n = SM_REAL(readlinkat)(AT_FDCWD, "/proc/self", b, sizeof b - 1);
    if (n > 0) {
        b[n] = '\0';
        if (atol(b) == pid)
            return 1;
    }
    snprintf(b, sizeof b, "/proc/self/task/%ld", pid);
    return SM_REAL(faccessat)(AT_FDCWD, b, F_OK, 0) == 0;
}

/* p (past the leading slashes) starts "proc/" then a process's directory (self, thread-self,
 * <pid>, each optionally followed by task/<tid>): what follows it, past its slashes, and in *pid
 * the process's number as written (0: self, thread-self), or NULL. Reads the string only. */
static const char *proc_dir_rest(const char *p, long *pid)
{
    *pid = 0;
    if (strncmp(p, "proc/", 5) != 0)
        return NULL;
    p = skip_slashes(p + 5);
    if (!word_at(&p, "self") && !word_at(&p, "thread-self") && (*pid = number_at(&p)) < 0)
        return NULL;
    p = skip_slashes(p);
    if (word_at(&p, "task")) { /* a thread of the process's: it shares the process's table */
        p = skip_slashes(p);
        if (number_at(&p) < 0)
            return NULL;
        p = skip_slashes(p);
    }
    return p;
}

/* abs (an absolute path) names, or lies below, a directory of one entry per descriptor of a
 * process: what follows that directory's name ("" or "/..."), and in *pid the process's number
 * as written (0: self, thread-self, /dev/fd), or NULL. Reads the string only. */
static const char *fd_dir_rest(const char *abs, long *pid)
{
    const char *p = abs;
    *pid = 0;
    while (p[0] == '/' && p[1] == '/')
        p++;
    if (strncmp(p, "/dev/fd", 7) == 0 && (p[7] == '/' || p[7] == '\0'))
        return p + 7; /* a link to /proc/self/fd */
    p = proc_dir_rest(p + 1, pid);
    if (!p || (!word_at(&p, "fdinfo") && !word_at(&p, "fd")))
        return NULL;
    return p;
}

/* abs, as written, names (or lies below) one of the shim's descriptors in the fd or fdinfo
 * directory of this process */
static int names_own(const char *abs)
{
    long pid;
    const char *p = fd_dir_rest(abs, &pid);
    if (!p || *p != '/')
        return 0;
    p = skip_slashes(p);
    long fd = number_at(&p);
    if (fd < 0 || fd >= SM_FD_MAX || !sm_fd_is_own((int)fd))
        return 0;
    int saved = errno, ours = pid == 0 || pid_ours(pid);
    errno = saved;
    return ours;
}

int sm_procfd_number(const char *abs)
{
    long pid = 0;
    const char *p = abs;
    while (p[0] == '/' && p[1] == '/')
        p++;
    if (strncmp(p, "/dev/fd", 7) == 0 && p[7] == '/') {
        p += 7;
    } else {
        p = proc_dir_rest(p + 1, &pid);
        if (!p || !word_at(&p, "fd") || *p != '/')
            return -1;
    }
    p = skip_slashes(p);
    long fd = number_at(&p);
    if (fd < 0 || *p != '\0' || fd > INT32_MAX || sm_fd_is_own((int)fd))
        return -1;
    int saved = errno, ours = pid == 0 || pid_ours(pid);
    errno = saved;
    return ours ? (int)fd : -1;
}

/* abs holds "//", "." or ".." components: walked component by component (runs of '/' as one,
 * "." dropped, ".." taking the last component back), as the kernel walks it up to its links.
 * It names one of the shim's descriptors when any point of that walk is one: the kernel passes
 * the descriptor's link there, and whatever follows ("/..", "/.") goes on from what it is open
 * on (the tree's parent is the cache's directory). */
__attribute__((noinline)) static int names_own_walked(const char *abs)
{
    char w[PATH_MAX];
    size_t n = 0;
    for (const char *p = abs;;) {
        p = skip_slashes(p);
        if (!*p)
            return 0;
        size_t c = strcspn(p, "/");
        if (c == 1 && p[0] == '.') {
            /* nothing */
        } else if (c == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && w[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
        } else {
            if (n + 1 + c + 1 > sizeof w)
                return 0;
            w[n++] = '/';
            memcpy(w + n, p, c);
            n += c;
        }
        w[n] = '\0';
        if (n > 0 && names_own(w))
            return 1;
        p += c;
    }
}

/* p (an absolute path past all but the last of its leading slashes) holds a "//" or a "/.", and
 * an "fd": the only paths another spelling of the fd directories can be (one pass) */
static int odd_spelling(const char *p)
{
    for (const char *s = p; *s; s++)
        if (*s == '/' && (s[1] == '/' || s[1] == '.'))
            return strstr(p, "fd") != NULL;
    return 0;
}

int sm_procfd_names_own(const char *abs)
{
    const char *q = abs;
    while (q[0] == '/' && q[1] == '/')
        q++;
    if (sm_procfd_maybe(q) && names_own(abs))
        return 1;
    /* another spelling of the same directories: "/dev//fd/N", "/proc/self/./fd/N",
     * "/dev/fd/../fd/N" (rare; a path with no "fd" in it names none, however it is walked:
     * ~/.cache and its like are not walked) */
    return odd_spelling(q) && names_own_walked(abs);
}

/* The directory a descriptor is open on (the kernel's name for it), into buf. 0 or -1. */
static int fd_name(int fd, char *buf, size_t size)
{
    char l[40];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = SM_REAL(readlinkat)(AT_FDCWD, l, buf, size - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* abs (canonical: a name the kernel gave) is this process's fd or fdinfo directory. */
static int is_own_fd_dir(const char *abs)
{
    long pid;
    const char *p = fd_dir_rest(abs, &pid);
    return p && *skip_slashes(p) == '\0' && (pid == 0 || pid_ours(pid));
}

int sm_procfd_dir(int dirfd)
{
    char b[PATH_MAX];
    int saved = errno, ours = fd_name(dirfd, b, sizeof b) == 0 && is_own_fd_dir(b);
    errno = saved;
    return ours;
}

int sm_procfd_dir_at(int dirfd, const char *path)
{
    char b[PATH_MAX], j[PATH_MAX], real[PATH_MAX];
    int saved = errno, ours = 0;
    if (path[0] != '/') {
        if (dirfd == AT_FDCWD ? !SM_REAL(getcwd)(b, sizeof b) : fd_name(dirfd, b, sizeof b) != 0)
            goto out;
        if (snprintf(j, sizeof j, "%s/%s", b, path) >= (int)sizeof j)
            goto out;
        path = j;
    }
    /* by the name the kernel resolves it to (/dev/fd and any link to such a directory) */
    ours = SM_REAL(realpath)(path, real) && is_own_fd_dir(real);
out:
    errno = saved;
    return ours;
}

/* Does the relative path hold a component that is a number of the shim's? (reads it only) */
static int holds_own_number(const char *p)
{
    while (*p) {
        p = skip_slashes(p);
        long n = number_at(&p);
        if (n >= 0 && n < SM_FD_MAX && sm_fd_is_own((int)n))
            return 1;
        while (*p && *p != '/')
            p++;
    }
    return 0;
}

int sm_procfd_hidden(int dirfd, const char *path)
{
    if (path[0] == '/')
        return sm_procfd_names_own(path);
    if (SM_LIKELY(!holds_own_number(path)))
        return 0;
    char b[PATH_MAX], j[PATH_MAX];
    int saved = errno, hidden = 0;
    if (dirfd == AT_FDCWD ? SM_REAL(getcwd)(b, sizeof b) != NULL : fd_name(dirfd, b, sizeof b) == 0)
        hidden = snprintf(j, sizeof j, "%s/%s", b, path) < (int)sizeof j && sm_procfd_names_own(j);
    errno = saved;
    return hidden;
}

/* The records of a getdents64 (is64) or getdents answer, len bytes at buf, read from fd: those
 * of the shim's descriptors are taken out when fd is this process's fd or fdinfo directory;
 * the others keep their bytes and their order. Returns the new length. */
long sm_procfd_strip(int is64, int fd, char *buf, long len)
{
    int verdict = -1;
    long out = 0;
    for (long off = 0; off < len;) {
        unsigned short reclen;
        const char *name;
        unsigned char type;
        if (is64) {
            const struct dirent64 *e = (const struct dirent64 *)(buf + off);
            reclen = e->d_reclen;
            name = e->d_name;
            type = e->d_type;
        } else {
            /* struct linux_dirent: d_ino, d_off (longs), d_reclen, d_name; d_type last */
            memcpy(&reclen, buf + off + 2 * sizeof(long), sizeof reclen);
            name = buf + off + 2 * sizeof(long) + sizeof reclen;
            type = reclen ? (unsigned char)buf[off + reclen - 1] : 0;
        }
        if (reclen == 0 || off + reclen > len)
            return len; /* not what the kernel writes: left as it is */
        int drop = 0;
        if (SM_UNLIKELY(sm_procfd_entry(type, name))) {
            if (verdict < 0)
                verdict = sm_procfd_dir(fd);
            drop = verdict;
        }
        if (!drop) {
            if (out != off)
                memmove(buf + out, buf + off, reclen);
            out += reclen;
        }
        off += reclen;
    }
    return out;
}

/* ---- the files of a process's mappings ------------------------------------------------------
 * /proc/<pid>/maps, smaps and numa_maps name each mapped file by the kernel's path for it, which
 * for a file under the prefix (a program or library run from it, a file mapped with mmap) is its
 * path in the cache's tree. An open of one for reading gets the kernel's text with the tree's
 * path written as the prefix, as /proc/self/fd/N's links read back: a snapshot at the open
 * (the kernel's own file is generated as it is read), in a memory file at the same number. A
 * text that names no tree path is the kernel's file itself. */

int sm_procmaps_names(const char *abs)
{
    long pid;
    const char *p = proc_dir_rest(skip_slashes(abs), &pid);
    if (!p)
        return 0;
    return word_at(&p, "maps") || word_at(&p, "smaps") || word_at(&p, "numa_maps")
               ? *skip_slashes(p) == '\0'
               : 0;
}

/* Where in b[0..n) the tree's path starts as a whole name or a name's first part, from i; -1. */
static long tree_at(const char *b, size_t n, size_t i, const char *tree, size_t tl)
{
    for (; i + tl <= n; i++) {
        const char *m = memchr(b + i, tree[0], n - i - tl + 1);
        if (!m)
            return -1;
        i = (size_t)(m - b);
        if (memcmp(m, tree, tl) == 0 &&
            (i + tl == n || m[tl] == '/' || m[tl] == '\n' || m[tl] == ' '))
            return (long)i;
    }
    return -1;
}

static int write_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static void *map_grow(void *old, size_t oldsz, size_t sz)
{
    void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (old) {
        memcpy(m, old, oldsz);
        munmap(old, oldsz);
    }
    return m;
}

int sm_procmaps_open(int fd)
{
    const struct sm_where *w = sm_w();
    if (w->tlen == 0)
        return fd;
    /* the whole text, in memory of its own (no malloc: a trapped open under syscall user
     * dispatch runs in the SIGSYS handler) */
    size_t cap = 1 << 16, n = 0;
    int mfd = -1;
    char *b = map_grow(NULL, 0, cap);
    if (!b)
        return fd;
    for (;;) {
        if (n == cap) {
            char *g = map_grow(b, cap, cap * 2);
            if (!g)
                goto plain;
            b = g;
            cap *= 2;
        }
        ssize_t k = read(fd, b + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            goto plain;
        if (k == 0)
            break;
        n += (size_t)k;
    }
    long at = tree_at(b, n, 0, w->tree, w->tlen);
    if (at < 0)
        goto plain;
    int flags = SM_REAL(fcntl)(fd, F_GETFD);
    mfd = (int)SM_REAL(syscall)(SYS_memfd_create, "maps", MFD_CLOEXEC);
    if (mfd < 0 || flags < 0)
        goto failed;
    /* the file size limit binds a memory file too: past it, the kernel's file */
    int h = sm_fsize_begin();
    size_t from = 0;
    while (from < n) {
        size_t to = at < 0 ? n : (size_t)at;
        if (write_all(mfd, b + from, to - from) != 0 ||
            (at >= 0 && write_all(mfd, sm_cfg.prefix, sm_cfg.plen) != 0))
            break;
        if (at < 0) {
            from = n;
            break;
        }
        from = to + w->tlen;
        at = tree_at(b, n, from, w->tree, w->tlen);
    }
    sm_fsize_end(h);
    if (from < n)
        goto failed;
    if (lseek(mfd, 0, SEEK_SET) != 0 ||
        SM_REAL(dup3)(mfd, fd, (flags & FD_CLOEXEC) ? O_CLOEXEC : 0) != fd)
        goto failed;
    SM_REAL(close)(mfd);
    munmap(b, cap);
    return fd;
failed:
    if (mfd >= 0)
        SM_REAL(close)(mfd);
plain:
    munmap(b, cap);
    if (lseek(fd, 0, SEEK_SET) != 0) { /* the kernel's file, read again from its start */
        int e = errno;
        SM_REAL(close)(fd);
        return -e;
    }
    return fd;
}
