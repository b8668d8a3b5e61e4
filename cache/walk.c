/* walk.c: every entry below a directory of the tree, for the sync engine's scan and the recorder
 * of a directory that arrived from outside. Like the rest of the engine's way into the tree
 * (beneath.c) it follows no symbolic link, opens only directories (O_NOFOLLOW|O_DIRECTORY|
 * O_NONBLOCK) and holds only the library's own descriptors (sm_lib_openat: above the host's
 * range), never more than WALK_FDS at once, and has no path length limit: each directory is read
 * whole through its descriptor, then its entries are looked at relative to it. Deeper than
 * WALK_FDS levels, a directory's descriptor is closed while its subdirectories are walked and
 * found again from the tree afterwards (and the walk of it ends if it is no longer the same). */
#include "cache_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WALK_FDS  8 /* directory descriptors held open along the current path */
#define DENTS_BUF 32768

struct walk {
    const char *tree;
    char *key; /* the current directory's key ("" for the tree itself), then "/" and a name */
    size_t len, cap;
    smc_walk_fn fn;
    void *arg;
};

/* The names of a directory (each NUL-terminated, "." and ".." left out), malloc'd. */
static int read_names(int fd, char **out, size_t *len)
{
    char *buf = malloc(DENTS_BUF), *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t got = getdents64(fd, buf, DENTS_BUF);
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        for (ssize_t off = 0; off < got;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            const char *s = d->d_name;
            if (s[0] == '.' && (s[1] == '\0' || (s[1] == '.' && s[2] == '\0')))
                continue;
            size_t l = strlen(s) + 1;
            if (n + l > cap) {
                size_t nc = cap ? cap * 2 : 4096;
                while (nc < n + l)
                    nc *= 2;
                char *nv = realloc(v, nc);
                if (!nv) {
                    rc = -ENOMEM;
                    goto out;
                }
                v = nv;
                cap = nc;
            }
            memcpy(v + n, s, l);
            n += l;
        }
    }
out:
    free(buf);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *len = n;
    return 0;
}

/* w->key += "/" name (0 or -ENOMEM). */
static int key_push(struct walk *w, const char *name)
{
    size_t l = strlen(name);
    if (w->len + l + 2 > w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        while (nc < w->len + l + 2)
            nc *= 2;
        char *nk = realloc(w->key, nc);
        if (!nk)
            return -ENOMEM;
        w->key = nk;
        w->cap = nc;
    }
    w->key[w->len] = '/';
    memcpy(w->key + w->len + 1, name, l + 1);
    w->len += l + 1;
    return 0;
}

/* Open the directory w->key (beneath the tree, no link followed) for reading. */
static int open_dir(struct walk *w)
{
    if (w->len == 0) {
        int fd = sm_lib_openat(AT_FDCWD, w->tree, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
        return fd < 0 ? -errno : fd;
    }
    const char *leaf;
    int dfd = smc_tree_dir(w->tree, w->key, 0, &leaf);
    if (dfd < 0)
        return dfd;
    int fd = sm_lib_openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK, 0);
    int e = errno;
    sm_lib_close(dfd);
    return fd < 0 ? -e : fd;
}

/* Walk the directory w->key, open on fd (which this closes), `depth` levels below the start. */
static int walk_dir(struct walk *w, int fd, int depth)
{
    char *names = NULL;
    size_t nlen = 0;
    struct stat self;
    int rc = SM_REAL(fstat)(fd, &self) == 0 ? read_names(fd, &names, &nlen) : -errno;
    if (rc < 0) {
        sm_lib_close(fd);
        return rc == -ENOMEM ? rc : 0; /* unreadable (or gone): nothing below it to visit */
    }
    size_t here = w->len;
    for (size_t i = 0; rc == 0 && i < nlen; i += strlen(names + i) + 1) {
        const char *name = names + i;
        struct stat st;
        if (fd < 0) {
            /* closed while a subdirectory was walked: found again, and still the same */
            w->len = here;
            w->key[here] = '\0';
            fd = open_dir(w);
            if (fd >= 0 && (SM_REAL(fstat)(fd, &st) != 0 || st.st_dev != self.st_dev ||
                            st.st_ino != self.st_ino)) {
                sm_lib_close(fd);
                fd = -1;
            }
            if (fd < 0)
                break;
        }
        if (SM_REAL(fstatat)(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed meanwhile */
        if ((rc = key_push(w, name)) < 0)
            break;
        rc = w->fn(w->arg, w->key, &st);
        if (rc == 0 && S_ISDIR(st.st_mode)) {
            int sub = sm_lib_openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK, 0);
            if (sub >= 0) {
                if (depth + 1 >= WALK_FDS) {
                    sm_lib_close(fd);
                    fd = -1;
                }
                rc = walk_dir(w, sub, depth + 1);
            }
        }
        w->len = here;
        w->key[here] = '\0';
    }
    free(names);
    if (fd >= 0)
        sm_lib_close(fd);
    return rc;
}

int smc_tree_walk(const char *tree, const char *key, smc_walk_fn fn, void *arg)
{
    struct walk w = {tree, NULL, 0, 0, fn, arg};
    while (*key == '/')
        key++;
    int rc = 0;
    if (*key) {
        rc = key_push(&w, key);
        while (rc == 0 && w.len > 1 && w.key[w.len - 1] == '/')
            w.key[--w.len] = '\0';
    } else if (!(w.key = malloc(1))) {
        rc = -ENOMEM;
    } else {
        w.key[0] = '\0';
        w.cap = 1;
    }
    int fd = rc < 0 ? rc : open_dir(&w);
    rc = fd < 0 ? fd : walk_dir(&w, fd, 0);
    free(w.key);
    return rc;
}
