/* sibling.c: the read-only files beside a binary document (smfs's names): its transcription
 * "<key>.<type>-transcription.md" and, for a document the service failed to process,
 * "<key>.smfs-error.txt". The engine writes them (smc_apply_remote with SMC_E_SIBLING); they
 * follow their file when it is renamed and go when it goes, and are never pushed. Also the
 * pending fetch of a binary document's bytes (SMC_E_FETCH, indexed in kv "binfetch:<key>"). */
#include "cache_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const suffixes[SMC_SIBLINGS] = {
    ".image-transcription.md", ".pdf-transcription.md",     ".video-transcription.md",
    ".audio-transcription.md", ".webpage-transcription.md", ".smfs-error.txt"};

int smc_sibling_name(const char *key, int i, char *out, size_t n)
{
    if (i < 0 || i >= SMC_SIBLINGS)
        return -EINVAL;
    const char *leaf = strrchr(key, '/');
    if (strlen(leaf ? leaf + 1 : key) + strlen(suffixes[i]) > NAME_MAX)
        return -ENAMETOOLONG;
    int w = snprintf(out, n, "%s%s", key, suffixes[i]);
    return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

/* Is name a sibling the engine wrote? */
static int is_sibling(struct smc *c, const char *name)
{
    struct smc_entry e;
    return smc_entry_get(c, name, &e) == 0 && (e.flags & SMC_E_SIBLING);
}

int smc_siblings_drop(struct smc *c, const char *tree_dir, const char *key, int keep)
{
    char name[SMC_PATH_BUF];
    int n = 0;
    for (int i = 0; i < SMC_SIBLINGS; i++)
        if (i != keep && smc_sibling_name(key, i, name, sizeof name) == 0 && is_sibling(c, name) &&
            smc_remove_remote(c, tree_dir, name, "") == 1) /* unchanged since written, or gone */
            n++;
    return n;
}

int smc_siblings_move(struct smc *c, const char *tree_dir, const char *from, const char *to)
{
    char a[SMC_PATH_BUF], b[SMC_PATH_BUF];
    int n = 0;
    for (int i = 0; i < SMC_SIBLINGS; i++)
        if (smc_sibling_name(from, i, a, sizeof a) == 0 && is_sibling(c, a)) {
            if (smc_sibling_name(to, i, b, sizeof b) == 0 &&
                smc_move_remote(c, tree_dir, a, b, "") == SMC_MOVE_DONE)
                n++;
            else
                smc_remove_remote(c, tree_dir, a, ""); /* no place for it: it goes */
        }
    return n;
}

int smc_mark_fetch(struct smc *c, const char *tree_dir, const char *key, const char *remote_id,
                   uint64_t updated_ms, uint64_t hash)
{
    struct smc_entry e;
    struct stat st;
    struct smc_key at;
    MDB_txn *t;
    int exists = smc_tree_stat(tree_dir, key, &st) == 0;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if ((rc = smc_entry_at(t, c, key, &at, &e)) < 0)
        return smc_txn_end(t, rc, 0);
    int have = rc == 1;
    if ((rc = smc_ids_only(c, t, remote_id, key)) <= 0) { /* another file's document */
        mdb_txn_abort(t);
        return rc < 0 ? rc : SMC_SHARED;
    }
    if (have && (e.dirty_since_ns || (exists && (e.flags & (SMC_E_LOCALONLY | SMC_E_POISONED))))) {
        /* a pending local change, or bytes that never reached the server: kept. A file never
         * pushed is bound to this document, so its push replaces it instead of adding a second
         * document at the same filepath (upload.c, jobs.c) */
        if (e.dirty_since_ns && !e.remote_id[0] &&
            !(e.flags & (SMC_E_SIBLING | SMC_E_LOCALONLY | SMC_E_POISONED))) {
            snprintf(e.remote_id, sizeof e.remote_id, "%s", remote_id);
            e.flags |= SMC_E_REMOTE | SMC_E_BINARY;
            rc = smc_entry_store(c, t, &at, key, &e);
            return smc_txn_end(t, rc, SMC_KEPT_LOCAL);
        }
        mdb_txn_abort(t);
        return SMC_KEPT_LOCAL;
    }
    if (have && strcmp(e.remote_id, remote_id) == 0 && (e.flags & SMC_E_BINARY)) {
        /* this version's bytes are here, or known not to be fetched, or to be fetched already;
         * a version is known by its updatedAt, once fetched (smc_apply_remote_as) or found too
         * large (smc_fetch_done); a listing without one changes nothing */
        int known = exists || (e.flags & SMC_E_NOTFETCHED);
        if ((e.flags & SMC_E_FETCH) ||
            (known &&
             (!updated_ms || (e.remote_updated_ms && e.remote_updated_ms >= updated_ms)))) {
            mdb_txn_abort(t);
            return SMC_UP_TO_DATE;
        }
        if (exists && !e.remote_updated_ms && hash && hash == e.synced_hash) {
            /* the cache's own upload (its version not known yet), holding the bytes the file
             * holds: this listing tells its version, nothing is fetched */
            e.remote_updated_ms = updated_ms;
            rc = smc_entry_store(c, t, &at, key, &e);
            return smc_txn_end(t, rc, SMC_UP_TO_DATE);
        }
    }
    if (!have) {
        memset(&e, 0, sizeof e);
        e.version = SMC_ENTRY_V1;
        smc_custom_id(e.custom_id);
    }
    snprintf(e.remote_id, sizeof e.remote_id, "%s", remote_id);
    e.flags = (e.flags | SMC_E_REMOTE | SMC_E_BINARY | SMC_E_FETCH) &
              ~(uint32_t)(SMC_E_NOTFETCHED | SMC_E_SIBLING);
    e.remote_updated_ms = 0; /* the fetch applies it, whatever the date */
    if ((rc = smc_entry_store(c, t, &at, key, &e)) >= 0)
        rc = smc_rec_put(t, c->kv, SMC_KV_FETCH, "1", 1);
    return smc_txn_end(t, rc, SMC_APPLIED);
}

int smc_fetch_done(struct smc *c, const char *key, const char *remote_id, int not_fetched,
                   uint64_t updated_ms)
{
    struct smc_key at;
    struct smc_entry e;
    MDB_txn *t;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if (smc_entry_at(t, c, key, &at, &e) == 1 && strcmp(e.remote_id, remote_id) == 0 &&
        (e.flags & SMC_E_FETCH)) {
        e.flags &= ~(uint32_t)SMC_E_FETCH;
        if (not_fetched)
            e.flags |= SMC_E_NOTFETCHED;
        e.remote_updated_ms = updated_ms; /* that version is dealt with */
        rc = smc_entry_store(c, t, &at, key, &e);
    }
    return smc_txn_end(t, rc, 0);
}

int smc_move_unfetched(struct smc *c, const char *tree_dir, const char *from, const char *to,
                       const char *remote_id)
{
    struct smc_key af, at;
    MDB_val v;
    struct smc_entry e;
    MDB_txn *t;
    struct stat st;
    /* no file at either name: the entry alone moves (a file is smc_move_remote's) */
    if (smc_tree_stat(tree_dir, from, &st) == 0 || smc_tree_stat(tree_dir, to, &st) == 0)
        return SMC_MOVE_NONE;
    int rc = smc_txn(c, 0, &t);
    if (rc < 0)
        return rc;
    if (smc_entry_at(t, c, from, &af, &e) != 1) {
        mdb_txn_abort(t);
        return SMC_MOVE_NONE;
    }
    if (strcmp(e.remote_id, remote_id) != 0 || e.dirty_since_ns ||
        smc_ids_only(c, t, remote_id, from) != 1 || !(e.flags & (SMC_E_FETCH | SMC_E_NOTFETCHED)) ||
        smc_rec_find(t, c->entries, to, &at, &v) != 0) {
        mdb_txn_abort(t); /* not that document's bytes to come, or the new name is taken */
        return SMC_MOVE_NONE;
    }
    if ((rc = smc_entry_drop_at(c, t, &af, from)) >= 0)
        rc = smc_entry_store_key(c, t, to, &e);
    if ((rc = smc_txn_end(t, rc, 0)) < 0)
        return rc;
    smc_siblings_move(c, tree_dir, from, to); /* its siblings follow it */
    return SMC_MOVE_DONE;
}
