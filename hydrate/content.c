/* content.c: the bytes a job sends: a file read whole, whether the service can hold them, and
 * the exact bytes kept beside what the service holds (content.h). A file that changes while it
 * is read is read again later; the service holds UTF-8 text. */
#include "engine_int.h"

#include "content.h"

#include "sm_real.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is s[0..n) well-formed UTF-8 without NUL (no overlong forms, no surrogates, <= U+10FFFF)? */
static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n || c == 0)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        if (len == 2 && c < 0xC2)
            return 0;
        if (len == 3) {
            unsigned cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        }
        if (len == 4) {
            unsigned cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) |
                          ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
            if (cp < 0x10000 || cp > 0x10FFFF)
                return 0;
        }
        i += len;
    }
    return 1;
}

int smh_text_ok(const char *s, size_t n)
{
    /* the service holds UTF-8 text only (an empty or blank file is sent as SMH_EMPTY_TEXT) */
    return utf8_ok((const unsigned char *)s, n);
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The length of s[0..n) without its trailing whitespace. */
static size_t stripped_len(const char *s, size_t n)
{
    while (n > 0 && blank(s[n - 1]))
        n--;
    return n;
}

void smh_wire_form(const char *s, size_t n, struct smh_wire *w)
{
    size_t base = stripped_len(s, n);
    memset(w, 0, sizeof *w);
    w->content = base ? s : SMH_EMPTY_TEXT;
    if (n - base <= SMH_TAIL_MAX) {
        memcpy(w->x.tail, s + base, n - base);
        w->x.tail[n - base] = '\0';
        w->x.hash = smc_hash64(s, n);
        w->x.set = 1;
    }
}

/* base[0..bl) + tail into a fresh buffer when its hash is want. 1 yes, 0 no, -ENOMEM. */
static int candidate(const char *base, size_t bl, const char *tail, uint64_t want, char **out,
                     size_t *len)
{
    size_t tl = strlen(tail);
    char *b = malloc(bl + tl + 1);
    if (!b)
        return -ENOMEM;
    memcpy(b, base, bl);
    memcpy(b + bl, tail, tl + 1);
    if (smc_hash64(b, bl + tl) != want) {
        free(b);
        return 0;
    }
    *out = b;
    *len = bl + tl;
    return 1;
}

int smh_exact_bytes(const struct smh_doc *d, char **out, size_t *len)
{
    if (!d->x.set || !d->content)
        return 0;
    size_t base = stripped_len(d->content, d->content_len);
    int r = candidate(d->content, base, d->x.tail, d->x.hash, out, len);
    if (r == 0 && base == sizeof SMH_EMPTY_TEXT - 1 &&
        memcmp(d->content, SMH_EMPTY_TEXT, base) == 0)
        r = candidate("", 0, d->x.tail, d->x.hash, out, len); /* a blank file */
    return r > 0;
}

/* The file is found beneath the tree without following a link (smc_tree_dir) and read through
 * one of the shim's own descriptors (a host closing every descriptor cannot swap its own file in
 * under it), never blocking (a FIFO in its place is refused, not waited on). */
int smh_read_whole(const char *tree, const char *key, char **out, size_t *len, struct stat *st)
{
    const char *leaf;
    int dfd = smc_tree_dir(tree, key, 0, &leaf);
    if (dfd < 0)
        return dfd == -ENOTDIR ? -EINVAL : dfd;
    int fd = smc_tree_open_file(dfd, leaf, NULL);
    sm_lib_close(dfd);
    if (fd < 0)
        return fd;
    if (fstat(fd, st) != 0) {
        sm_lib_close(fd);
        return -EINVAL;
    }
    if ((uint64_t)st->st_size > SMH_DOC_MAX) {
        sm_lib_close(fd);
        return -EFBIG;
    }
    size_t n = (size_t)st->st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        sm_lib_close(fd);
        return -ENOMEM;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    struct stat after;
    int changed = fstat(fd, &after) != 0 || after.st_size != st->st_size ||
                  smc_mtime_ns(&after) != smc_mtime_ns(st) || got != n;
    sm_lib_close(fd);
    if (changed) {
        free(buf);
        return -EAGAIN;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
