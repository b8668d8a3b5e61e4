/* workers.c: the upload workers, the threads that run the jobs.
 * SMH_WORKERS threads, each with its own connection, each running the job in its slot of
 * e->jobs when the dispatcher marks it used, holding a slot of the cache's request budget
 * (budget.c) while the job's requests are in flight. */
#include "engine_int.h"

#include "budget.h"

#include "clock.h"
#include "http.h"
#include "sm_real.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct warg {
    struct smh_engine *e;
    int i;
};

/* A slot of the cache's request budget for the job's requests, waited for until the engine
 * stops (-1 then). The dispatcher hands out no more jobs than slots look free (smh_capacity), so
 * the wait is short unless another process took them meanwhile. */
static int budget_slot(struct smh_engine *e)
{
    for (;;) {
        int slot = smh_budget_take(e->c, SMH_BUDGET_UPLOAD, SMH_BUDGET_WAIT_MS);
        if (slot >= 0)
            return slot;
        if (slot == -ENOSPC)
            return -1; /* the map is full: the job is left queued for later */
        pthread_mutex_lock(&e->mu);
        int stop = e->stop;
        pthread_mutex_unlock(&e->mu);
        if (stop || __atomic_load_n(&e->quit, __ATOMIC_ACQUIRE))
            return -1;
    }
}

static void *worker_main(void *arg)
{
    struct warg *w = arg;
    struct smh_engine *e = w->e;
    struct job *j = &e->jobs[w->i];
    free(w);
    struct smh_conn *conn = smh_conn_new(e->base, e->key, SMH_REQ_TIMEOUT_MS);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->stop && !(j->used && !j->busy && !j->done))
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->stop)
            break;
        j->busy = 1;
        pthread_mutex_unlock(&e->mu);
        int slot = conn ? budget_slot(e) : -1;
        j->started_ms = smc_now_ms();
        if (slot >= 0) {
            smh_job_run(e, conn, j);
            smh_budget_give(e->c, slot);
        } else if (conn) {
            j->outcome = SMH_RETRY; /* the engine stops: sent later, by whoever holds the lease */
            j->retry_after = -1;
            j->status = 0;
            j->defer_ms = SMH_REREAD_MS;
            snprintf(j->err, sizeof j->err, "the engine stopped before the upload was sent");
        } else {
            j->outcome = SMH_RETRY;
            j->retry_after = -1;
            j->defer_ms = SMH_NO_HTTP_RETRY_MS;
            snprintf(j->err, sizeof j->err, "libcurl or libcjson cannot be loaded");
        }
        pthread_mutex_lock(&e->mu);
        if (j->status) { /* answered: progress, and a latency sample */
            uint64_t now = smc_now_ms();
            __atomic_store_n(&e->last_answer, now, __ATOMIC_RELEASE);
            e->lat[e->nlat++ % SMH_LAT_SAMPLES] = now - j->started_ms;
        }
        j->busy = 0;
        j->done = 1;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    smh_conn_free(conn);
    return NULL;
}

void smh_workers_start(struct smh_engine *e)
{
    for (int i = 0; i < SMH_WORKERS; i++) {
        struct warg *w = malloc(sizeof *w);
        if (!w)
            break;
        w->e = e;
        w->i = i;
        if (sm_thread_start(&e->th[i], NULL, worker_main, w) != 0) {
            free(w);
            break;
        }
        e->nth++;
    }
}
