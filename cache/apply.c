/* apply.c: mirroring remote documents into the tree, guarded by dirty_since. */
#include "cache_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t smc_mtime_ns(const struct stat *st)
{
    return (uint64_t)st->st_mtim.tv_sec * SMC_NS_PER_S + (uint64_t)st->st_mtim.tv_nsec;
}

uint64_t smc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * SMC_MS_PER_S + (uint64_t)ts.tv_nsec / SMC_NS_PER_MS;
}

uint64_t smc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * SMC_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t smc_hash64(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ? h : 1;
}

/* Is the file leaf in dfd (the inode *st names) exactly content, or content plus the one trailing newline the service
 * strips? 1 yes, 0 no. Sets *st. */
static int same_bytes(int dfd, const char *leaf, const struct smc_remote *d, struct stat *st,
                      uint64_t *hash)
{
    int fd = smc_tree_open_file(dfd, leaf, st);
    if (fd < 0)
        return 0;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
        ((size_t)st->st_size != d->len && (size_t)st->st_size != d->len + 1)) {
        sm_lib_close(fd);
        return 0;
    }
    size_t n = (size_t)st->st_size, got = 0;
    char *buf = malloc(n + 1);
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    sm_lib_close(fd);
    int same = buf && got == n && memcmp(buf, d->content, d->len) == 0 &&
               (n == d->len || buf[n - 1] == '\n');
    if (same)
        *hash = smc_hash64(buf, n);
    free(buf);
    return same;
}

/* Write content to a fresh temporary file; its path in out. */
static int tmp_write(const char *tmp_dir, const struct smc_remote *d, uint32_t flags, char *out,
                     size_t size)
{
    static unsigned counter;
    snprintf(out, size, "%s/pull.%d.%u.%llx", tmp_dir, (int)getpid(),
             __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), (unsigned long long)d->hash);
    /* a sibling (a transcription, an error) is read-only: it is the service's, never pushed */
    mode_t mode = flags & SMC_E_SIBLING ? 0444 : 0644;
    int fd = sm_lib_openat(AT_FDCWD, out, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return -errno;
    (void)fchmod(fd, mode); /* the service's file: the same mode whatever this process's umask */
    size_t off = 0;
    while (off < d->len) {
        ssize_t w = write(fd, d->content + off, d->len - off);
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            sm_lib_close(fd);
            SM_REAL(unlink)(out);
            return -e;
        }
        off += (size_t)w;
    }
    sm_lib_close(fd);
    return 0;
}

int smc_apply_remote(struct smc *c, const char *tree_dir, const char *tmp_dir,
                     const struct smc_remote *d)
{
    return smc_apply_remote_as(c, tree_dir, tmp_dir, d, 0);
}

/* One remote document being applied (smc_apply_remote_as): what it found, step by step. */
struct apply {
    struct smc *c;
    MDB_txn *t;
    const char *tree_dir;
    const struct smc_remote *d;
    uint32_t flags;
    char tmp
        [SMC_PATH_BUF]; /* the document's bytes in a temporary file; "" once renamed into the tree */
    struct smc_entry e;
    struct smc_key at;
    int have;         /* e is the file's entry (else none) */
    int dfd;          /* the directory of the file in the tree, or -errno */
    const char *leaf; /* the file's name in it */
    struct stat st;   /* the file, when exists (after a rename: the new file) */
    int exists;
    uint64_t hash; /* the bytes' hash, when they are known to be the document's */
};

/* What a verdict leaves to do: nothing, record an unrecorded local file against the document, or
 * put the document's bytes into the tree. */
enum apply_act { APPLY_NOTHING, APPLY_KEEP_UNRECORDED, APPLY_PUT };

/* Inside the transaction, with the entry read: which of the SMC_* results the document comes to,
 * in this order (the first that holds wins); *act says what is left to do. */
static int apply_verdict(struct apply *a, enum apply_act *act)
{
    const struct smc_remote *d = a->d;
    *act = APPLY_NOTHING;
    int only = smc_ids_only(a->c, a->t, d->remote_id, d->key);
    if (only < 0)
        return only;
    if (!only)
        return SMC_SHARED; /* another file's document: this one is not bound to it too */
    int pending = smc_qdoc_pending(a->c, a->t, d->remote_id);
    if (pending < 0)
        return pending;
    if (a->have && a->e.dirty_since_ns)
        return SMC_KEPT_LOCAL; /* the dirty_since guard: a pending local write always wins */
    if (pending) {
        /* the document's local removal or rename is not pushed yet: it wins too (the document
         * is still listed at its old filepath until then) */
        return SMC_KEPT_LOCAL;
    }
    if (a->dfd == -ENOTDIR)
        return SMC_UNSAFE;
    if (a->have && a->exists && (a->e.flags & (SMC_E_LOCALONLY | SMC_E_POISONED))) {
        /* bytes that never reached the server (not text, or refused): never overwritten by a
         * remote version */
        return SMC_KEPT_LOCAL;
    }
    if (a->have && strcmp(a->e.remote_id, d->remote_id) == 0 && a->e.remote_updated_ms &&
        d->updated_ms && a->e.remote_updated_ms >= d->updated_ms)
        return SMC_UP_TO_DATE;
    if (a->exists && !S_ISREG(a->st.st_mode))
        return SMC_CONFLICT;
    if (a->exists && same_bytes(a->dfd, a->leaf, d, &a->st, &a->hash))
        return SMC_SAME;
    if (a->exists &&
        (!a->have || a->st.st_size != (off_t)a->e.synced_size ||
         smc_mtime_ns(&a->st) != a->e.synced_mtime_ns || a->st.st_ino != a->e.synced_ino)) {
        *act = APPLY_KEEP_UNRECORDED;
        return SMC_KEPT_LOCAL;
    }
    *act = APPLY_PUT;
    return SMC_APPLIED;
}

/* A local edit nobody recorded, or a local file never pushed: it wins, and it pushes onto this
 * document rather than creating a second one at the same filepath. SMC_KEPT_LOCAL or -errno. */
static int apply_keep_unrecorded(struct apply *a)
{
    const struct smc_remote *d = a->d;
    struct smc_entry *e = &a->e;
    int rc;
    if (!a->have) {
        memset(e, 0, sizeof *e);
        e->version = SMC_ENTRY_V1;
        smc_custom_id(e->custom_id);
    }
    if (!(a->flags & SMC_E_SIBLING)) { /* a sibling has no document of its own */
        if (!e->remote_id[0])
            e->flags |= SMC_E_ADOPTED; /* never pushed: see SMC_E_ADOPTED */
        snprintf(e->remote_id, sizeof e->remote_id, "%s", d->remote_id);
        e->flags |= SMC_E_REMOTE;
    }
    e->remote_updated_ms = d->updated_ms;
    uint64_t now = smc_now_ns();
    if (!e->dirty_since_ns)
        e->dirty_since_ns = now;
    if ((rc = smc_entry_store(a->c, a->t, &a->at, d->key, e)) < 0 ||
        (rc = smc_queue_put(a->c, a->t, SMC_Q_WRITE, d->key, NULL, NULL, now)) < 0)
        return rc;
    return SMC_KEPT_LOCAL;
}

/* The document's bytes into the tree (the missing directories made, beneath it): SMC_APPLIED,
 * SMC_UNSAFE (a link or a file came in the way meanwhile) or -errno. */
static int apply_put(struct apply *a)
{
    if (a->dfd < 0)
        a->dfd = smc_tree_dir(a->tree_dir, a->d->key, 1, &a->leaf);
    if (a->dfd == -ENOTDIR)
        return SMC_UNSAFE;
    if (a->dfd < 0)
        return a->dfd;
    if (SM_REAL(renameat)(AT_FDCWD, a->tmp, a->dfd, a->leaf) != 0)
        return -errno;
    a->tmp[0] = '\0';
    if (SM_REAL(fstatat)(a->dfd, a->leaf, &a->st, AT_SYMLINK_NOFOLLOW) != 0)
        return -errno;
    a->hash = a->d->hash;
    return SMC_APPLIED;
}

/* The file holds the document's bytes (SMC_APPLIED, SMC_SAME): its entry says so, clean. */
static int apply_record_synced(struct apply *a)
{
    const struct smc_remote *d = a->d;
    struct smc_entry *e = &a->e;
    if (!a->have) {
        memset(e, 0, sizeof *e);
        e->version = SMC_ENTRY_V1;
        smc_custom_id(e->custom_id);
    }
    snprintf(e->remote_id, sizeof e->remote_id, "%s", d->remote_id);
    /* the document's kind (text, binary, sibling) is what was applied */
    uint32_t kind = SMC_E_BINARY | SMC_E_SIBLING | SMC_E_FETCH | SMC_E_NOTFETCHED;
    e->flags = ((e->flags | SMC_E_REMOTE) & ~(uint32_t)(SMC_E_LOCALONLY | SMC_E_POISONED | kind)) |
               (a->flags & kind);
    if (a->flags & SMC_E_SIBLING)
        e->flags &= ~(uint32_t)SMC_E_REMOTE;
    e->dirty_since_ns = 0;
    e->remote_updated_ms = d->updated_ms;
    e->synced_size = (uint64_t)a->st.st_size;
    e->synced_mtime_ns = smc_mtime_ns(&a->st);
    e->synced_ino = a->st.st_ino;
    e->synced_hash = a->hash;
    return smc_entry_store(a->c, a->t, &a->at, d->key, e);
}

/* Inside the guarded transaction: the verdict, then what it leaves to do. The result, or -errno
 * (the caller aborts). */
static int apply_in_txn(struct apply *a)
{
    enum apply_act act;
    int rc = smc_entry_at(a->t, a->c, a->d->key, &a->at, &a->e);
    if (rc < 0)
        return rc; /* unreadable is not absent: nothing is renamed into the tree */
    a->have = rc == 1;
    a->exists = a->dfd >= 0 && SM_REAL(fstatat)(a->dfd, a->leaf, &a->st, AT_SYMLINK_NOFOLLOW) == 0;
    int result = apply_verdict(a, &act);
    if (result < 0)
        return result;
    if (act == APPLY_KEEP_UNRECORDED)
        result = apply_keep_unrecorded(a);
    else if (act == APPLY_PUT)
        result = apply_put(a);
    if (result < 0)
        return result;
    if ((result == SMC_APPLIED || result == SMC_SAME) && (rc = apply_record_synced(a)) < 0)
        return rc;
    return result;
}

int smc_apply_remote_as(struct smc *c, const char *tree_dir, const char *tmp_dir,
                        const struct smc_remote *d, uint32_t flags)
{
    struct apply a = {.c = c, .tree_dir = tree_dir, .d = d, .flags = flags};
    int rc;
    /* beneath the tree, no link followed: -ENOENT is a directory still missing, -ENOTDIR a link
     * or a file in the way (the document cannot be applied: its filepath is unsafe here) */
    a.dfd = smc_tree_dir(tree_dir, d->key, 0, &a.leaf);
    if (a.dfd < 0 && a.dfd != -ENOENT && a.dfd != -ENOTDIR)
        return a.dfd;
    if ((rc = tmp_write(tmp_dir, d, flags, a.tmp, sizeof a.tmp)) < 0) {
        if (a.dfd >= 0)
            sm_lib_close(a.dfd);
        return rc;
    }
    if ((rc = smc_txn(c, 0, &a.t)) < 0) {
        SM_REAL(unlink)(a.tmp);
        if (a.dfd >= 0)
            sm_lib_close(a.dfd);
        return rc;
    }
    /* the dirty_since guard also covers changes recorded in the journal meanwhile */
    if ((rc = smc_guard_on(c, a.t, d->key, NULL)) >= 0)
        rc = apply_in_txn(&a);
    if (rc >= 0) {
        smc_guard_off(c); /* before the transaction ends: the next one may guard its own keys */
        int cr = smc_errno(mdb_txn_commit(a.t));
        if (cr < 0)
            rc = cr;
    } else {
        smc_guard_off(c);
        mdb_txn_abort(a.t);
    }
    if (a.tmp[0])
        SM_REAL(unlink)(a.tmp);
    if (a.dfd >= 0)
        sm_lib_close(a.dfd);
    return rc;
}

/* End t, a transaction that guarded keys: the guard is lifted first (commit: 1, abort: 0). */
static int guarded_end(struct smc *c, MDB_txn *t, int commit)
{
    smc_guard_off(c);
    if (commit)
        return smc_errno(mdb_txn_commit(t));
    mdb_txn_abort(t);
    return 0;
}

int smc_remove_remote(struct smc *c, const char *tree_dir, const char *key, const char *remote_id)
{
    struct smc_entry e;
    struct stat st;
    struct smc_key at;
    MDB_txn *t;
    const char *leaf;
    /* beneath the tree, no link followed: a link or a file in the way, or a missing directory,
     * means the file is not in the tree (nothing outside it is ever removed) */
    int dfd = smc_tree_dir(tree_dir, key, 0, &leaf);
    if (dfd < 0 && dfd != -ENOENT && dfd != -ENOTDIR)
        return dfd;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0) {
        if (dfd >= 0)
            sm_lib_close(dfd);
        return rc;
    }
    int removed = 0;
    e.flags = SMC_E_SIBLING;
    if (smc_guard_on(c, t, key, NULL) == 0 && smc_entry_at(t, c, key, &at, &e) == 1) {
        if (!e.dirty_since_ns && strcmp(e.remote_id, remote_id) == 0 &&
            smc_ids_only(c, t, remote_id, key) == 1) { /* (no other file's document) */
            int here = dfd >= 0 && SM_REAL(fstatat)(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
            int same = here && S_ISREG(st.st_mode) && (uint64_t)st.st_size == e.synced_size &&
                       smc_mtime_ns(&st) == e.synced_mtime_ns && st.st_ino == e.synced_ino;
            if (same && SM_REAL(unlinkat)(dfd, leaf, 0) != 0)
                same = 0;
            if (same || !here) {
                smc_entry_drop_at(c, t, &at, key);
                removed = 1;
            }
        }
    }
    smc_guard_off(c);
    rc = smc_errno(mdb_txn_commit(t));
    if (dfd >= 0)
        sm_lib_close(dfd);
    if (rc == 0 && removed && !(e.flags & SMC_E_SIBLING))
        smc_siblings_drop(c, tree_dir, key, -1); /* its siblings go with it */
    return rc < 0 ? rc : removed;
}

int smc_move_remote(struct smc *c, const char *tree_dir, const char *from, const char *to,
                    const char *remote_id)
{
    struct smc_entry e;
    struct stat st;
    struct smc_key af, atk;
    MDB_val v;
    MDB_txn *t;
    const char *lf, *lt;
    /* both beneath the tree, no link followed (a link or a file in the way: not moved) */
    int dfrom = smc_tree_dir(tree_dir, from, 0, &lf);
    if (dfrom < 0)
        return dfrom == -ENOENT || dfrom == -ENOTDIR ? SMC_MOVE_NONE : dfrom;
    int dto = smc_tree_dir(tree_dir, to, 1, &lt);
    if (dto < 0) {
        sm_lib_close(dfrom);
        return dto == -ENOTDIR ? SMC_MOVE_NONE : dto;
    }
    int rc = smc_txn(c, 0, &t), result = SMC_MOVE_NONE;
    if (rc < 0)
        goto out;
    if ((rc = smc_guard_on(c, t, from, to)) < 0) {
        guarded_end(c, t, 0);
        goto out;
    }
    if (smc_entry_at(t, c, from, &af, &e) != 1) {
        guarded_end(c, t, 0);
        goto out;
    }
    int here = SM_REAL(fstatat)(dfrom, lf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    if (strcmp(e.remote_id, remote_id) != 0 || !here || smc_ids_only(c, t, remote_id, from) != 1) {
        guarded_end(c, t, 0);
        goto out;
    }
    /* a local rename of the document not pushed yet: `from` is its new name, and stays */
    int pending = smc_qdoc_pending(c, t, remote_id);
    if (pending != 0) {
        guarded_end(c, t, 0);
        rc = pending < 0 ? pending : 0;
        result = SMC_MOVE_KEPT;
        goto out;
    }
    if (e.dirty_since_ns || (uint64_t)st.st_size != e.synced_size ||
        smc_mtime_ns(&st) != e.synced_mtime_ns || st.st_ino != e.synced_ino) {
        /* a local change pending: the file keeps its name (the push decides) */
        guarded_end(c, t, 0);
        result = SMC_MOVE_KEPT;
        goto out;
    }
    struct stat tst;
    if (smc_rec_find(t, c->entries, to, &atk, &v) != 0 ||
        SM_REAL(fstatat)(dto, lt, &tst, AT_SYMLINK_NOFOLLOW) == 0 ||
        SM_REAL(renameat)(dfrom, lf, dto, lt) != 0) {
        guarded_end(c, t, 0); /* something is at the new name: the document is applied there */
        goto out;
    }
    if ((rc = smc_entry_drop_at(c, t, &af, from)) < 0 ||
        (rc = smc_entry_store_key(c, t, to, &e)) < 0) {
        SM_REAL(renameat)(dto, lt, dfrom, lf); /* the entry did not move: neither does the file */
        guarded_end(c, t, 0);
        goto out;
    }
    if ((rc = guarded_end(c, t, 1)) < 0) {
        SM_REAL(renameat)(dto, lt, dfrom, lf);
        goto out;
    }
    result = SMC_MOVE_DONE;
out:
    sm_lib_close(dfrom);
    sm_lib_close(dto);
    if (result == SMC_MOVE_DONE && !(e.flags & SMC_E_SIBLING))
        smc_siblings_move(c, tree_dir, from, to); /* its siblings follow it */
    return rc < 0 ? rc : result;
}
