/* links.c: the inode -> names index. The kernel cannot list the names of an inode, and the
 * remote has no links (each name is its own document), so the names of a file with more than one
 * link are kept here: a write through one name marks every name dirty. Only files that were
 * linked through the shim have a record; a file of one name has none. The record is a hint, the
 * tree is the truth: the shim checks each name against the inode before using it and writes back
 * what it found. Key: the file's dev and ino (16 bytes); value: the names, each NUL-terminated. */
#include "cache_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static MDB_val ino_key(const struct smc_ino *id, unsigned char b[16])
{
    memcpy(b, &id->dev, 8);
    memcpy(b + 8, &id->ino, 8);
    MDB_val k = {16, b};
    return k;
}

/* Does the NUL-separated list (len bytes) hold name? */
static int has_name(const char *l, size_t len, const char *name)
{
    for (size_t i = 0; i < len; i += strlen(l + i) + 1)
        if (strcmp(l + i, name) == 0)
            return 1;
    return 0;
}

/* Inside t: the record of id becomes the n names (removed when fewer than two). */
static int put_names(struct smc *c, MDB_txn *t, const struct smc_ino *id, const char *const *names,
                     size_t n)
{
    unsigned char kb[16];
    MDB_val k = ino_key(id, kb), v;
    if (n < 2) {
        int rc = mdb_del(t, c->inodes, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : smc_errno(rc);
    }
    size_t sz = 0;
    for (size_t i = 0; i < n; i++)
        sz += strlen(names[i]) + 1;
    v.mv_size = sz;
    int rc = smc_errno(mdb_put(t, c->inodes, &k, &v, MDB_RESERVE));
    if (rc < 0)
        return rc;
    char *w = v.mv_data;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]) + 1;
        memcpy(w, names[i], l);
        w += l;
    }
    return 0;
}

int smc_links_names(struct smc *c, const struct smc_ino *id, char **out, size_t *len)
{
    MDB_txn *t;
    unsigned char kb[16];
    MDB_val k = ino_key(id, kb), v;
    *out = NULL;
    *len = 0;
    int rc = smc_txn(c, MDB_RDONLY, &t);
    if (rc < 0)
        return rc;
    rc = mdb_get(t, c->inodes, &k, &v);
    if (rc == 0 && v.mv_size > 0) {
        if (!(*out = malloc(v.mv_size + 1))) {
            rc = ENOMEM;
        } else {
            memcpy(*out, v.mv_data, v.mv_size);
            (*out)[v.mv_size] = '\0'; /* a truncated value still ends */
            *len = v.mv_size;
        }
    }
    mdb_txn_abort(t);
    return rc == MDB_NOTFOUND ? -ENOENT : smc_errno(rc);
}

int smc_links_note_write(struct smc *c, const struct smc_ino *id, const char *const *names,
                         size_t n, uint64_t now_ns)
{
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    for (size_t i = 0; rc >= 0 && i < n; i++)
        rc = smc_mark_dirty(c, t, names[i], now_ns);
    if (rc >= 0)
        rc = put_names(c, t, id, names, n);
    return smc_txn_end(t, rc, 0);
}

/* Inside t: change the record of id by removing `drop` and adding `add` (either may be NULL). */
static int edit_names(struct smc *c, MDB_txn *t, const struct smc_ino *id, const char *keep,
                      const char *drop, const char *add)
{
    unsigned char kb[16];
    MDB_val k = ino_key(id, kb), v = {0, NULL};
    int rc = mdb_get(t, c->inodes, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return smc_errno(rc);
    char *l = malloc(v.mv_size + 1);
    const char **names = malloc((v.mv_size / 2 + 3) * sizeof *names);
    size_t n = 0;
    if (!l || !names) {
        free(l);
        free(names);
        return -ENOMEM;
    }
    if (v.mv_size)
        memcpy(l, v.mv_data, v.mv_size);
    l[v.mv_size] = '\0';
    for (size_t i = 0; i < v.mv_size; i += strlen(l + i) + 1)
        if (!drop || strcmp(l + i, drop) != 0)
            names[n++] = l + i;
    if (keep && !has_name(l, v.mv_size, keep) && (!drop || strcmp(keep, drop) != 0))
        names[n++] = keep;
    if (add && !has_name(l, v.mv_size, add))
        names[n++] = add;
    rc = put_names(c, t, id, names, n);
    free(names);
    free(l);
    return rc;
}

int smc_links_note_link(struct smc *c, const struct smc_ino *id, const char *existing,
                        const char *added, uint64_t now_ns)
{
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    rc = smc_mark_dirty(c, t, added, now_ns);
    if (rc >= 0)
        rc = edit_names(c, t, id, existing, NULL, added);
    return smc_txn_end(t, rc, 0);
}

int smc_links_rename(struct smc *c, const struct smc_ino *id, const char *from, const char *to)
{
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    rc = edit_names(c, t, id, NULL, from, to);
    return smc_txn_end(t, rc, 0);
}

/* One record to rewrite after the walk (LMDB's cursors are not moved through changes). */
struct pending {
    unsigned char kb[16];
    char *names; /* NULL: remove the record */
    size_t sz;
};

int smc_links_move_dir(struct smc *c, MDB_txn *t, const char *from, const char *to)
{
    MDB_cursor *cur;
    MDB_val k, v;
    struct pending *p = NULL;
    size_t np = 0, cap = 0;
    size_t fl = strlen(from), tl = to ? strlen(to) : 0;
    int rc = smc_errno(mdb_cursor_open(t, c->inodes, &cur));
    if (rc < 0)
        return rc;
    for (int op = MDB_FIRST; rc >= 0 && mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
        const char *l = v.mv_data;
        size_t len = v.mv_size, hit = 0, n = 0;
        if (k.mv_size != 16 || len == 0 || l[len - 1] != '\0')
            continue;
        for (size_t i = 0; i < len; i += strlen(l + i) + 1)
            hit += strncmp(l + i, from, fl) == 0 && l[i + fl] == '/';
        if (!hit)
            continue;
        if (np == cap) {
            cap = cap ? cap * 2 : 8;
            struct pending *q = realloc(p, cap * sizeof *p);
            if (!q) {
                rc = -ENOMEM;
                break;
            }
            p = q;
        }
        char *nl = malloc(len + hit * tl + 1), *w = nl;
        if (!nl) {
            rc = -ENOMEM;
            break;
        }
        for (size_t i = 0; i < len; i += strlen(l + i) + 1) {
            const char *s = l + i;
            if (strncmp(s, from, fl) == 0 && s[fl] == '/') {
                if (!to)
                    continue; /* moved out of the prefix: no longer a name here */
                memcpy(w, to, tl);
                w += tl;
                s += fl;
            }
            size_t sl = strlen(s) + 1;
            memcpy(w, s, sl);
            w += sl;
            n++;
        }
        memcpy(p[np].kb, k.mv_data, 16);
        p[np].sz = (size_t)(w - nl);
        p[np].names = n < 2 ? NULL : nl;
        if (n < 2)
            free(nl);
        np++;
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < np; i++) {
        MDB_val kk = {16, p[i].kb}, nv = {p[i].sz, p[i].names};
        if (rc >= 0) {
            int r =
                p[i].names ? mdb_put(t, c->inodes, &kk, &nv, 0) : mdb_del(t, c->inodes, &kk, NULL);
            rc = r == MDB_NOTFOUND ? 0 : smc_errno(r);
        }
        free(p[i].names);
    }
    free(p);
    return rc;
}
