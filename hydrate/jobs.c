/* jobs.c: the job handlers: what one write, delete or rename sends to the remote.
 * A write creates or PATCHes the file's text document, or uploads a binary file (upload.c); each
 * commits its outcome with the removal of its records. A file that turns from text to binary or
 * back gets a document of the new kind and the old one is deleted, so one stays. They run in a
 * worker, outside e->mu. */
#include "engine_int.h"

#include "binary.h"
#include "clock.h"
#include "content.h"
#include "sm_real.h"
#include "stray.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int smh_not_its_own(struct smh_engine *e, struct smh_call *k, const char *id, const char *key,
                    int answered)
{
    char other[PATH_MAX];
    if (!id[0] || smc_doc_others(e->c, id, key, other, sizeof other) <= 0)
        return 0;
    if (answered)
        snprintf(k->err, sizeof k->err,
                 "the server answered with document %.64s, the document of another file here "
                 "(%.3000s): not bound to it",
                 id, other);
    else
        snprintf(k->err, sizeof k->err,
                 "its document %.64s is the document of another file here (%.3000s): not "
                 "changed",
                 id, other);
    return 1;
}

/* Nothing (more) to send for this job: its records go. */
static int drop(struct smh_engine *e, const struct job *j)
{
    smc_queue_del(e->c, j->seqs, j->nseq);
    return SMH_OK;
}

/* Commit what was pushed for key, with the file's stat now (zeros when gone): see smc_push_done.
 * Its result: -EEXIST when the document is another file's here (the file is not bound to it). */
static int pushed(struct smh_engine *e, const struct job *j, const char *key,
                  const struct smc_entry *ent, struct smc_pushed *p)
{
    struct stat st;
    if (smc_tree_stat(e->tree, key, &st) == 0 && S_ISREG(st.st_mode)) {
        p->now_size = (uint64_t)st.st_size;
        p->now_mtime_ns = smc_mtime_ns(&st);
        p->now_ino = st.st_ino;
    }
    return smc_push_done(e->c, key, ent->custom_id, p, j->seqs, j->nseq);
}

/* Send the file's bytes (w) as key's document: PATCH the one it has (once the service is done
 * processing it), or create one (idempotent by customId) when it has none or it vanished
 * remotely. The exact bytes' metadata goes along (merged into the document's own). A document
 * renamed remotely while the file had local changes goes back to the local name: the local
 * change wins, name and content. */
static int send_content(struct smh_engine *e, struct smh_call *k, struct job *j, const char *key,
                        const struct smc_entry *ent, const struct smh_wire *w,
                        char id[sizeof ent->remote_id])
{
    int o = SMH_GONE;
    /* another file here is bound to its document too (a server that answered a create with
     * another file's document): moving the document here, or writing this file's bytes into it,
     * would change that file's document. Nothing is sent; the file is kept local (poisoned)
     * until its document is its own */
    if (smh_not_its_own(e, k, ent->remote_id, key, 0))
        return SMH_REJECT;
    if (ent->remote_id[0]) {
        struct smh_doc d;
        o = smh_api_get(k, ent->remote_id, &d);
        if (o == SMH_OK && strcmp(d.status, "done") != 0 && strcmp(d.status, "failed") != 0) {
            /* a content PATCH sent while processing may be dropped: wait for "done" */
            smh_doc_free(&d);
            j->defer_ms = SMH_PROCESSING_MS;
            return SMH_RETRY;
        }
        if (o == SMH_OK && d.filepath[0] && strcmp(d.filepath, key) != 0)
            o = smh_api_patch(k, ent->remote_id, NULL, key, NULL, NULL);
        if (o == SMH_OK) {
            o = smh_api_patch(k, ent->remote_id, w->content, NULL, &w->x, d.meta);
            snprintf(id, sizeof ent->remote_id, "%s", ent->remote_id);
        }
        smh_doc_free(&d);
    }
    if (o == SMH_GONE) /* never created, or vanished remotely: create (idempotent by customId) */
        o = smh_api_create(k, key, w->content, ent->custom_id, &w->x, id);
    /* a create answered with another file's document: the file is not bound to it */
    if (o == SMH_OK && strcmp(id, ent->remote_id) != 0 && smh_not_its_own(e, k, id, key, 1))
        return SMH_REJECT;
    return o;
}

/* A file that adopted the document at its filepath (SMC_E_ADOPTED) may have sent a create
 * before, whose answer was lost: that create made a document carrying its customId (one at most:
 * customId is the service's upsert key). It goes, so the adopted one is the only document there. */
struct lost_create {
    const char *key, *custom_id, *keep;
    char ids[4][64];
    int n;
};

static int lost_seen(void *arg, const struct smh_doc *d)
{
    struct lost_create *l = arg;
    if (l->n < 4 && strcmp(d->filepath, l->key) == 0 && strcmp(d->custom_id, l->custom_id) == 0 &&
        strcmp(d->id, l->keep) != 0) /* (listings can be stale: the filepath is checked here) */
        snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", d->id);
    return 0;
}

static int drop_lost_create(struct smh_call *k, const char *key, const char *custom_id,
                            const char *keep)
{
    struct lost_create l = {.key = key, .custom_id = custom_id, .keep = keep};
    struct smh_list_info li;
    int o = custom_id[0] ? smh_api_list(k, key, 0, 1, SMH_LIST_LIMIT, lost_seen, &l, &li) : SMH_OK;
    for (int i = 0; i < l.n && o == SMH_OK; i++)
        if ((o = smh_api_delete(k, l.ids[i])) == SMH_GONE)
            o = SMH_OK;
    return o;
}

/* A write job's checks before the file is read: 1 when its bytes are to be sent (*ent and *st
 * filled), else 0 with the job's outcome in *o (its records dropped, deferred, a sibling's state
 * committed, a name refused). */
static int write_due(struct smh_engine *e, struct smh_call *k, struct job *j, const char *key,
                     struct smc_entry *ent, struct stat *st, int *o)
{
    int got = smc_entry_get(e->c, key, ent);
    if (got == -ENOENT) {
        *o = drop(e, j); /* never tracked (removed since): nothing to push */
        return 0;
    }
    if (got < 0) {
        j->defer_ms = SMH_REREAD_MS; /* LMDB trouble (a full reader table): never "absent" */
        *o = SMH_RETRY;
        return 0;
    }
    if (smc_tree_stat(e->tree, key, st) != 0 || !S_ISREG(st->st_mode)) {
        /* gone (or an open recorded before it failed): an entry never pushed goes too; a
         * pushed one is deleted by its own DELETE record or by the scan */
        if (!(ent->flags & SMC_E_REMOTE))
            smc_note_unlink(e->c, key, smh_now_ns());
        *o = drop(e, j);
        return 0;
    }
    if (!ent->dirty_since_ns && ent->synced_size == (uint64_t)st->st_size &&
        ent->synced_mtime_ns == smc_mtime_ns(st) && ent->synced_ino == st->st_ino) {
        *o = drop(e, j);
        return 0;
    }
    if (ent->flags & SMC_E_SIBLING) {
        /* a transcription or error file the engine wrote: never pushed, whatever is done to it */
        struct smc_pushed p = {.size = (uint64_t)st->st_size,
                               .mtime_ns = smc_mtime_ns(st),
                               .ino = st->st_ino,
                               .hash = ent->synced_hash};
        pushed(e, j, key, ent, &p);
        *o = SMH_OK;
        return 0;
    }
    const char *refused = smh_filepath_refused(key);
    if (refused) {
        /* a name the service or the pulls cannot hold: poisoned before anything is sent */
        snprintf(k->err, sizeof k->err, "%s", refused);
        *o = SMH_REJECT;
        return 0;
    }
    if (!__atomic_load_n(&e->drain, __ATOMIC_RELAXED)) {
        uint64_t m = smc_mtime_ns(st) / SMH_NS_PER_MS, now = smc_now_ms();
        if (now < m + SMH_DEBOUNCE_MS) {
            j->defer_ms = (long)(m + SMH_DEBOUNCE_MS - now);
            *o = SMH_RETRY;
            return 0;
        }
    }
    return 1;
}

/* The file's bytes are not sent: the document holds them already (same), or the service cannot
 * hold them (rc < 0: the file stays local, and a document of text it no longer has goes). */
static int write_unsent(struct smh_engine *e, struct smh_call *k, struct job *j, const char *key,
                        const struct smc_entry *ent, struct smc_pushed *p, int same, int rc)
{
    if (!same) {
        p->set_flags = SMC_E_LOCALONLY; /* bytes the service cannot hold: the file stays local */
        if (ent->remote_id[0] && (rc == 0 || rc == -EFBIG)) {
            /* its document holds text the file no longer has: no machine may read it as
             * current, so it goes (the file is listed as local-only) */
            int o = smh_api_delete(k, ent->remote_id);
            if (o != SMH_OK && o != SMH_GONE)
                return o;
            p->remote_id = "";
            p->clear_flags = SMC_E_BINARY | SMC_E_FETCH | SMC_E_NOTFETCHED;
            smc_siblings_drop(e->c, e->tree, key, -1); /* a binary document's go with it */
        }
    }
    pushed(e, j, key, ent, p); /* remote_id NULL: the document's id is unchanged */
    return SMH_OK;
}

/* The file's text as key's text document (send_content); a binary document it had goes once the
 * text one exists, and so does a create an adopted file may have lost. The document's id in id. */
static int write_text(struct smh_engine *e, struct smh_call *k, struct job *j, const char *key,
                      const struct smc_entry *ent, const char *content, size_t len,
                      char id[sizeof ent->remote_id])
{
    struct smh_wire w;
    smh_wire_form(content, len, &w);
    struct smc_entry as = *ent;
    if (ent->flags & SMC_E_BINARY)
        as.remote_id[0] = '\0'; /* a binary document cannot hold text: a text one is created */
    int o = send_content(e, k, j, key, &as, &w, id);
    if (o == SMH_OK && (ent->flags & SMC_E_BINARY) && ent->remote_id[0] &&
        strcmp(ent->remote_id, id) != 0) {
        /* then the binary one goes (a retry updates the same text document: its customId) */
        o = smh_api_delete(k, ent->remote_id);
        o = o == SMH_GONE ? SMH_OK : o;
        if (o == SMH_OK)
            smc_siblings_drop(e->c, e->tree, key, -1); /* its transcription, its error */
    }
    if (o == SMH_OK && (ent->flags & SMC_E_ADOPTED))
        o = drop_lost_create(k, key, ent->custom_id, id);
    if (o == SMH_OK) /* an upload made while the file was binary, whose answer was lost */
        o = smh_bin_delete_attempts(e, k, ent->custom_id, id);
    return o;
}

/* Commit a push that binds key to the document id: refused (the file poisoned, kept local) when
 * another file here was bound to it meanwhile. */
static int bound_or_refused(struct smh_engine *e, struct smh_call *k, const struct job *j,
                            const char *key, const struct smc_entry *ent, struct smc_pushed *p,
                            const char *id)
{
    if (pushed(e, j, key, ent, p) != -EEXIST)
        return SMH_OK;
    smh_not_its_own(e, k, id, key, 1);
    return SMH_REJECT;
}

/* A write: the checks (write_due), the file read once, then by what it holds: a binary document,
 * nothing to send (write_unsent), or its text (write_text); each commits what was pushed. */
static int job_write(struct smh_engine *e, struct smh_call *k, struct job *j, const char *key)
{
    struct smc_entry ent;
    char id[sizeof ent.remote_id] = "";
    struct stat st;
    int o;
    if (!write_due(e, k, j, key, &ent, &st, &o))
        return o;
    char *content = NULL;
    size_t len = 0;
    int rc = smh_read_whole(e->tree, key, &content, &len, &st);
    if (rc == -EAGAIN || rc == -ENOENT) {
        j->defer_ms = SMH_REREAD_MS;
        return SMH_RETRY;
    }
    struct smc_pushed p = {.size = (uint64_t)st.st_size,
                           .mtime_ns = smc_mtime_ns(&st),
                           .ino = st.st_ino,
                           .hash = content ? smc_hash64(content, len) : 0};
    /* the same bytes as the document already holds: nothing to send */
    int same = rc == 0 && ent.remote_id[0] && p.hash == ent.synced_hash &&
               !(ent.flags & (SMC_E_LOCALONLY | SMC_E_POISONED | SMC_E_FETCH | SMC_E_NOTFETCHED));
    if (!same && rc == 0 && !smh_text_ok(content, len)) {
        /* not UTF-8 text: a binary document, through the file endpoint */
        o = smh_push_binary(e, k, key, &ent, content, len, &p, id);
        free(content);
        if (o != SMH_OK)
            return o;
        return bound_or_refused(e, k, j, key, &ent, &p, id);
    }
    if (same || rc < 0) {
        free(content);
        return write_unsent(e, k, j, key, &ent, &p, same, rc);
    }
    o = write_text(e, k, j, key, &ent, content, len, id);
    free(content);
    if (o != SMH_OK)
        return o;
    p.remote_id = id;
    p.clear_flags = SMC_E_LOCALONLY | SMC_E_POISONED | SMC_E_BINARY | SMC_E_FETCH |
                    SMC_E_NOTFETCHED | SMC_E_ADOPTED;
    return bound_or_refused(e, k, j, key, &ent, &p, id);
}

static int job_delete(struct smh_engine *e, struct smh_call *k, struct job *j)
{
    if (smh_not_its_own(e, k, j->remote_id, NULL, 0)) {
        /* a file here is bound to the document the removed file was bound to: it is that
         * file's document, and stays. The removal waits, queued (smshim status counts it),
         * until no file here is bound to the document any more */
        j->defer_ms = SMH_HELD_MS;
        return SMH_RETRY;
    }
    const char *id = j->remote_id[0] ? j->remote_id : j->custom_id;
    int o = id[0] ? smh_api_delete(k, id) : SMH_OK;
    if (o == SMH_GONE)
        o = SMH_OK; /* already gone counts as done */
    if (o == SMH_OK && !j->remote_id[0] && j->custom_id[0])
        o = smh_bin_delete_attempts(e, k, j->custom_id, ""); /* an upload never answered */
    if (o == SMH_OK) {
        smc_siblings_drop(e->c, e->tree, j->key, -1); /* a binary file's siblings go with it */
        smh_stray_gone(e->c, j->key, j->custom_id);   /* a push of it applied later goes too */
    }
    return o == SMH_OK ? drop(e, j) : o;
}

static int job_rename(struct smh_engine *e, struct smh_call *k, struct job *j)
{
    struct smc_entry ent;
    int got = smc_entry_get(e->c, j->to, &ent);
    if (got == -ENOENT)
        return drop(e, j);
    if (got < 0) {
        j->defer_ms = SMH_REREAD_MS; /* LMDB trouble: retried, never dropped */
        return SMH_RETRY;
    }
    const char *id = ent.remote_id[0] ? ent.remote_id : j->remote_id;
    if (!id[0])
        return job_write(e, k, j, j->to); /* not created yet: create it under its new name */
    if (smh_not_its_own(e, k, id, j->to, 0))
        return SMH_REJECT; /* another file's document keeps its name; this file is poisoned */
    const char *refused = smh_filepath_refused(j->to);
    if (refused) { /* the document keeps its old name; the file is poisoned under the new one */
        snprintf(k->err, sizeof k->err, "%s", refused);
        return SMH_REJECT;
    }
    int o = smh_api_patch(k, id, NULL, j->to, NULL, NULL);
    if (o == SMH_OK)
        smc_siblings_move(e->c, e->tree, j->key, j->to); /* a binary file's siblings follow it */
    if (o == SMH_OK && (ent.flags & SMC_E_POISONED)) {
        /* poisoned under a name that could not be sent, now sent under one that can: its
         * write settles what is left (the same bytes: only the dirty mark goes) */
        ent.flags &= ~(uint32_t)SMC_E_POISONED;
        smc_entry_put(e->c, j->to, &ent);
        smc_queue_put_op(e->c, SMC_Q_WRITE, j->to, NULL);
    }
    if (o == SMH_GONE) {
        /* vanished remotely: the file is created again under its new name */
        ent.remote_id[0] = '\0';
        ent.flags &= ~(uint32_t)SMC_E_REMOTE;
        ent.synced_size = ent.synced_mtime_ns = ent.synced_ino = 0;
        smc_entry_put(e->c, j->to, &ent);
        smc_queue_put_op(e->c, SMC_Q_WRITE, j->to, NULL);
        o = SMH_OK;
    }
    return o == SMH_OK ? drop(e, j) : o;
}

void smh_job_run(struct smh_engine *e, struct smh_conn *conn, struct job *j)
{
    struct smh_call k = {.conn = conn, .tag = e->tag, .retry_after = -1};
    j->defer_ms = 0;
    switch (j->op) {
    case SMC_Q_WRITE: j->outcome = job_write(e, &k, j, j->key); break;
    case SMC_Q_DELETE: j->outcome = job_delete(e, &k, j); break;
    case SMC_Q_RENAME: j->outcome = job_rename(e, &k, j); break;
    case SMC_Q_STRAY: j->outcome = smh_job_stray(e, &k, j); break;
    default: j->outcome = drop(e, j);
    }
    j->retry_after = k.retry_after;
    j->status = k.status;
    snprintf(j->err, sizeof j->err, "%s", k.err);
}
