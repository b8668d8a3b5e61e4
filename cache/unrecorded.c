/* unrecorded.c: the files that could not be recorded (the environment's map is full, or no free
 * probe is left for a hashed key), kept where LMDB is not needed: <meta>/unrecorded, records of
 * "<errno> <key>" each ended by a NUL (a key holds no NUL), one per key. A process that fails to
 * record a change adds the file; a scan drops every key that is now recorded (it has an entry)
 * or no longer a regular file in the tree. `smshim status` shows them, and `smshim sync` exits
 * non-zero while there are any. Lock order: <meta>/unrecorded.lock (flock) is taken with no
 * LMDB transaction open; the list is replaced whole (a temporary file renamed over it), so a
 * reader without the lock sees the old list or the new one. */
#include "cache_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_MAX (1u << 20) /* at most this many bytes of keys are kept (the count goes on) */

static void path_of(const struct smc *c, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", c->meta, name);
}

/* The list, read whole: malloc'd bytes (*len of them) or NULL with *len 0 (none, unreadable). */
static char *list_read(const struct smc *c, size_t *len)
{
    char p[PATH_MAX + 32];
    struct stat st;
    *len = 0;
    path_of(c, "unrecorded", p, sizeof p);
    int fd = sm_lib_openat(AT_FDCWD, p, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0)
        return NULL;
    char *b = NULL;
    if (SM_REAL(fstat)(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (size_t)st.st_size <= 2 * LIST_MAX && (b = malloc((size_t)st.st_size + 1))) {
        ssize_t r = pread(fd, b, (size_t)st.st_size, 0);
        if (r > 0) {
            *len = (size_t)r;
            if (b[*len - 1] != '\0') /* a torn last record is dropped */
                while (*len > 0 && b[*len - 1] != '\0')
                    (*len)--;
        }
    }
    sm_lib_close(fd);
    return b;
}

/* Replace the list with the len bytes at b (none: the file goes). 0 or -errno. */
static int list_write(const struct smc *c, const char *b, size_t len)
{
    char p[PATH_MAX + 32], tmp[PATH_MAX + 32];
    path_of(c, "unrecorded", p, sizeof p);
    if (len == 0)
        return SM_REAL(unlink)(p) == 0 || errno == ENOENT ? 0 : -errno;
    path_of(c, "unrecorded.tmp", tmp, sizeof tmp);
    int fd = sm_lib_openat(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    (void)fchmod(fd, 0600); /* whatever the umask took */
    int rc = write(fd, b, len) == (ssize_t)len ? 0 : -EIO;
    sm_lib_close(fd);
    if (rc == 0 && SM_REAL(rename)(tmp, p) != 0)
        rc = -errno;
    if (rc < 0)
        SM_REAL(unlink)(tmp);
    return rc;
}

static int lock_take(const struct smc *c)
{
    char p[PATH_MAX + 32];
    path_of(c, "unrecorded.lock", p, sizeof p);
    int fd = sm_lib_openat(AT_FDCWD, p, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0)
        smc_fd_exact(fd, &st, 0600);
    if (fd >= 0 && smc_flock(fd, LOCK_EX) != 0) {
        sm_lib_close(fd);
        fd = -1;
    }
    return fd;
}

/* The record of key in the len bytes at b, or NULL. */
static const char *find(const char *b, size_t len, const char *key)
{
    for (size_t i = 0; i < len; i += strlen(b + i) + 1) {
        const char *sp = strchr(b + i, ' ');
        if (sp && strcmp(sp + 1, key) == 0)
            return b + i;
    }
    return NULL;
}

int smc_unrecorded_add(struct smc *c, const char *key, int err)
{
    int lk = lock_take(c);
    if (lk < 0)
        return -errno;
    size_t len, kl = strlen(key);
    char *b = list_read(c, &len);
    int rc = 0;
    if (!find(b, len, key) && len + kl + 16 <= LIST_MAX) {
        char *nb = realloc(b, len + kl + 16);
        if (!nb) {
            rc = -ENOMEM;
        } else {
            b = nb;
            len += (size_t)snprintf(b + len, kl + 16, "%d %s", err, key) + 1;
            rc = list_write(c, b, len);
        }
    }
    free(b);
    sm_lib_close(lk);
    return rc;
}

int smc_unrecorded_get(struct smc *c, unsigned long long *n, char *last, size_t lastn, int *err)
{
    size_t len;
    char *b = list_read(c, &len);
    *n = 0;
    if (last && lastn)
        last[0] = '\0';
    if (err)
        *err = 0;
    for (size_t i = 0; i < len; i += strlen(b + i) + 1) {
        const char *sp = strchr(b + i, ' ');
        if (!sp)
            continue;
        (*n)++;
        if (last && lastn)
            snprintf(last, lastn, "%s", sp + 1);
        if (err)
            *err = atoi(b + i);
    }
    free(b);
    return 0;
}

long smc_unrecorded_sweep(struct smc *c, const char *tree)
{
    size_t len;
    char *b = list_read(c, &len);
    if (!b)
        return 0;
    free(b);
    int lk = lock_take(c);
    if (lk < 0)
        return -errno;
    b = list_read(c, &len); /* again, under the lock */
    size_t out = 0;
    long dropped = 0;
    for (size_t i = 0; i < len;) {
        size_t rl = strlen(b + i) + 1;
        const char *sp = strchr(b + i, ' ');
        struct smc_entry e;
        struct stat st;
        int keep = sp && smc_entry_get(c, sp + 1, &e) == -ENOENT &&
                   smc_tree_stat(tree, sp + 1, &st) == 0 && S_ISREG(st.st_mode);
        if (keep) {
            memmove(b + out, b + i, rl);
            out += rl;
        } else {
            dropped++;
        }
        i += rl;
    }
    if (dropped)
        list_write(c, b, out);
    free(b);
    sm_lib_close(lk);
    return dropped;
}
