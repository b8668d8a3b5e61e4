/* outcome.c: what a finished job leads to: done, backoff, pause, or poison.
 * Progress is counted; a failing path backs off; a refused key pauses the queue; a file the
 * server refuses for good is poisoned. */
#include "engine_int.h"

#include "clock.h"

#include <stdio.h>

/* The backoff of a failed path: doubling from SMH_BACKOFF_MIN_MS to SMH_BACKOFF_MAX_MS, or what
 * Retry-After asks when longer. */
static uint64_t backoff_ms(const struct smh_kv *b, const struct job *j)
{
    uint64_t delay = b && b->b ? b->b * 2 : SMH_BACKOFF_MIN_MS;
    if (delay > SMH_BACKOFF_MAX_MS)
        delay = SMH_BACKOFF_MAX_MS;
    if (j->retry_after >= 0 && (uint64_t)j->retry_after * SMH_MS_PER_S > delay)
        delay = (uint64_t)j->retry_after * SMH_MS_PER_S;
    return delay;
}

enum smh_fate smh_job_finish(struct smh_engine *e, struct job *j)
{
    uint64_t now = smc_now_ms();
    const char *key = smh_job_path(j);
    if (j->outcome == SMH_OK) {
        e->prog.done += j->nseq;
        e->prog.unreachable = 0;
        smh_ks_del(&e->backoff, key);
        return SMH_FATE_DONE;
    }
    if (j->outcome == SMH_RETRY) {
        struct smh_kv *b = smh_ks_put(&e->backoff, key);
        uint64_t delay;
        if (j->defer_ms > 0) {
            delay = (uint64_t)j->defer_ms; /* waiting on purpose (debounce, processing) */
        } else {
            delay = backoff_ms(b, j);
            e->prog.failed++;
            e->prog.unreachable = j->status == 0 && !smh_http_closed();
            snprintf(e->prog.last_error, sizeof e->prog.last_error, "%s: %s", key, j->err);
            if (b)
                b->b = delay;
        }
        if (b)
            b->a = now + delay;
        return SMH_FATE_RETRY;
    }
    if (j->outcome == SMH_AUTH) {
        e->paused_until = now + SMH_AUTH_PAUSE_MS;
        e->prog.paused = 1;
        snprintf(e->prog.last_error, sizeof e->prog.last_error, "paused: %s", j->err);
        return SMH_FATE_PAUSED;
    }
    /* SMH_REJECT, or SMH_GONE where it cannot be handled: poison the file */
    e->prog.poisoned++;
    snprintf(e->prog.last_error, sizeof e->prog.last_error, "poisoned %s: %s", key, j->err);
    return SMH_FATE_POISONED;
}

void smh_job_poison(struct smh_engine *e, const struct job *j)
{
    struct smc_entry ent;
    const char *key = smh_job_path(j);
    struct smc_pushed p = {0};
    if (smc_entry_get(e->c, key, &ent) == 0) {
        p.set_flags = SMC_E_POISONED;
        p.size = ent.synced_size;
        p.mtime_ns = ent.synced_mtime_ns;
        p.ino = ent.synced_ino;
        p.now_size = p.size;
        p.now_mtime_ns = p.mtime_ns;
        p.now_ino = p.ino;
        smc_push_done(e->c, key, ent.custom_id, &p, j->seqs, j->nseq);
        /* push_done clears dirty only when the stat matches: keep it dirty */
        if (smc_entry_get(e->c, key, &ent) == 0 && !ent.dirty_since_ns) {
            ent.dirty_since_ns = smh_now_ns();
            smc_entry_put(e->c, key, &ent);
        }
    } else {
        smc_queue_del(e->c, j->seqs, j->nseq);
    }
    /* the dispatcher's own last error (it alone writes it): why the latest file was poisoned */
    smc_kv_set_str(e->c, SMC_KV_PUSH_POISONED, NULL, e->prog.last_error);
}
