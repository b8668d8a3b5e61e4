/* env.c: the lifecycle of a cache's LMDB environment (open, schema check, flush, close). */
#include "cache_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int smc_errno(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return 0;
    case MDB_NOTFOUND: return -ENOENT;
    case MDB_MAP_FULL: return -ENOSPC;
    case MDB_READERS_FULL:
    case MDB_TXN_FULL: return -EAGAIN;
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID: return -EPROTO;
    default: return rc > 0 ? -rc : -EIO;
    }
}

#define LOCK_PRIOR_MAX 8
static int lock_prior(const char *meta_dir, int prior[LOCK_PRIOR_MAX]);
static void lock_find(struct smc *c, const char *meta_dir, const int *prior, int nprior);

int smc_txn(struct smc *c, unsigned flags, MDB_txn **t)
{
    if (!(flags & SMC_TXN_OPENING) && __atomic_load_n(&c->env_state, __ATOMIC_ACQUIRE) != 1) {
        int rc = smc_env_ensure(c);
        if (rc < 0)
            return rc;
    }
    flags &= ~SMC_TXN_OPENING;
    smc_gate_enter(); /* before c->env is read: a reopen may replace it (lmdb_dl.h) */
    if (!c->env) {
        smc_gate_leave();
        return -EIO; /* a reopen failed: this process records nothing more */
    }
    int fold = !(flags & (MDB_RDONLY | SMC_TXN_NOFOLD)) && c->dbis_open;
    flags &= ~SMC_TXN_NOFOLD;
    int rc = mdb_txn_begin(c->env, NULL, flags, t);
    if (rc == MDB_READERS_FULL) {
        int dead = 0;
        mdb_reader_check(c->env, &dead); /* slots of processes that died */
        if (dead > 0)
            rc = mdb_txn_begin(c->env, NULL, flags, t);
    }
    if (rc != 0)
        smc_gate_leave(); /* a transaction holds the gate until its commit or abort */
    else if (fold && (rc = smc_journal_fold(c, *t)) < 0) {
        mdb_txn_abort(*t); /* every write transaction starts from every recorded change */
        *t = NULL;
        if (rc == -ENOSPC)
            smc_journal_unfoldable(c, -rc);
        return rc;
    }
    return smc_errno(rc);
}

int smc_txn_end(MDB_txn *t, int rc, int ok)
{
    if (rc < 0) {
        mdb_txn_abort(t);
        return rc;
    }
    rc = smc_errno(mdb_txn_commit(t));
    return rc < 0 ? rc : ok;
}

/* mdb_env_open with the largest map the address space allows: a limit (ulimit -v) makes the map
 * fail with ENOMEM, and the environment is tried again with half the map, down to
 * SMC_MAPSIZE_MIN. Sets c->mapsize. */
static int env_open(struct smc *c, const char *meta_dir)
{
    for (size_t map = SMC_MAPSIZE;; map /= 2) {
        int rc = mdb_env_create(&c->env);
        if (rc != 0)
            return smc_errno(rc);
        mdb_env_set_maxdbs(c->env, 8);
        mdb_env_set_maxreaders(c->env, SMC_MAXREADERS);
        mdb_env_set_mapsize(c->env, map);
        /* NOTLS: host threads are arbitrary and a read txn may migrate. NOSYNC: a commit is a
         * write to the page cache, like a file create; a killed process leaves a consistent
         * environment. */
        /* LMDB makes its files with 0600 less the umask: a new cache's are made here first */
        if ((rc = smc_file_exact(meta_dir, "data.mdb", 0600)) < 0 ||
            (rc = smc_file_exact(meta_dir, "lock.mdb", 0600)) < 0) {
            mdb_env_close(c->env);
            c->env = NULL;
            return rc;
        }
        rc = mdb_env_open(c->env, meta_dir, MDB_NOTLS | MDB_NOSYNC, 0600);
        if (rc == 0) {
            c->mapsize = map;
            return 0;
        }
        mdb_env_close(c->env);
        c->env = NULL;
        if (rc != ENOMEM || map / 2 < SMC_MAPSIZE_MIN)
            return smc_errno(rc);
    }
}

/* Check (or, on a new cache, write) the schema number. A cache of SMC_SCHEMA_NO_IDS gets its
 * document -> files index built from its entries, in this transaction, and SMC_SCHEMA. */
static int schema_check(struct smc *c, MDB_txn *t)
{
    char want[16], prev[16];
    MDB_val k = {strlen(SMC_KV_SCHEMA), (void *)SMC_KV_SCHEMA}, v;
    int n = snprintf(want, sizeof want, "%d", SMC_SCHEMA);
    int pn = snprintf(prev, sizeof prev, "%d", SMC_SCHEMA_NO_IDS);
    int rc = mdb_get(t, c->kv, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return smc_errno(rc);
    if (rc == 0 && v.mv_size == (size_t)n && memcmp(v.mv_data, want, (size_t)n) == 0)
        return 0;
    if (rc == 0 && (v.mv_size != (size_t)pn || memcmp(v.mv_data, prev, (size_t)pn) != 0))
        return -EPROTO;
    if (rc == 0 && (rc = smc_ids_rebuild(c, t)) < 0)
        return rc;
    v.mv_size = (size_t)n;
    v.mv_data = want;
    return smc_errno(mdb_put(t, c->kv, &k, &v, 0));
}

/* Open the environment at meta_dir into c (its databases, the schema check, its lock file). */
static int env_setup(struct smc *c, const char *meta_dir)
{
    MDB_txn *t = NULL;
    int rc;
    int prior[LOCK_PRIOR_MAX], nprior;
    if ((rc = smc_mkdirat_exact(AT_FDCWD, meta_dir, 0700)) < 0 && rc != -EEXIST)
        return rc;
    nprior = lock_prior(meta_dir, prior);
    if ((rc = env_open(c, meta_dir)) < 0)
        return rc;
    int dead = 0;
    mdb_reader_check(c->env, &dead); /* slots of killed processes */
    if ((rc = smc_txn(c, SMC_TXN_OPENING, &t)) < 0)
        goto fail;
    if ((rc = smc_errno(mdb_dbi_open(t, SMC_DB_ENTRIES, MDB_CREATE, &c->entries))) < 0 ||
        (rc = smc_errno(mdb_dbi_open(t, SMC_DB_QUEUE, MDB_CREATE, &c->queue))) < 0 ||
        (rc = smc_errno(mdb_dbi_open(t, SMC_DB_KV, MDB_CREATE, &c->kv))) < 0 ||
        (rc = smc_errno(mdb_dbi_open(t, SMC_DB_INODES, MDB_CREATE, &c->inodes))) < 0 ||
        (rc = smc_errno(mdb_dbi_open(t, SMC_DB_IDS, MDB_CREATE, &c->ids))) < 0 ||
        (rc = schema_check(c, t)) < 0 ||
        (rc = c->journal ? 0 : smc_journal_open(c, meta_dir)) < 0) /* (a reopen keeps it) */
        goto fail;
    rc = smc_errno(mdb_txn_commit(t));
    t = NULL;
    if (rc < 0)
        goto fail;
    c->dbis_open = 1;
    lock_find(c, meta_dir, prior, nprior);
    return 0;
fail:
    if (t)
        mdb_txn_abort(t);
    mdb_env_close(c->env);
    c->env = NULL;
    return rc;
}

/* A handle with nothing open yet. */
static struct smc *smc_new(const char *meta_dir)
{
    struct smc *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    snprintf(c->meta, sizeof c->meta, "%s", meta_dir);
    c->lock_fd = -1;
    pthread_mutex_init(&c->env_mu, NULL);
    return c;
}

static int env_load_setup(struct smc *c)
{
#ifdef SMC_LMDB_DLOPEN
    int rc = smc_lmdb_load();
    if (rc < 0)
        return rc;
#endif
    return env_setup(c, c->meta);
}

int smc_open(const char *meta_dir, struct smc **out)
{
    struct smc *c = smc_new(meta_dir);
    if (!c)
        return -ENOMEM;
    int rc = env_load_setup(c);
    if (rc < 0) {
        smc_journal_close(c);
        free(c);
        return rc;
    }
    c->env_state = 1;
    *out = c;
    return 0;
}

int smc_open_journal(const char *meta_dir, void (*on_env)(struct smc *c), struct smc **out)
{
    struct smc *c = smc_new(meta_dir);
    if (!c)
        return -ENOMEM;
    c->on_env = on_env;
    int rc = smc_mkdirat_exact(AT_FDCWD, meta_dir, 0700);
    if (rc == -EEXIST)
        rc = 0;
    if (rc < 0 || (rc = smc_journal_open(c, meta_dir)) < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int smc_env_ready(struct smc *c)
{
    return __atomic_load_n(&c->env_state, __ATOMIC_ACQUIRE) == 1;
}

int smc_env_ensure(struct smc *c)
{
    int st = __atomic_load_n(&c->env_state, __ATOMIC_ACQUIRE);
    if (st != 0)
        return st > 0 ? 0 : c->env_rc;
    pthread_mutex_lock(&c->env_mu);
    if (c->env_state == 0) {
        int rc = env_load_setup(c);
        c->env_rc = rc;
        __atomic_store_n(&c->env_state, rc == 0 ? 1 : -1, __ATOMIC_RELEASE);
        if (rc == 0 && c->on_env)
            c->on_env(c);
    }
    int rc = c->env_state > 0 ? 0 : c->env_rc;
    pthread_mutex_unlock(&c->env_mu);
    return rc;
}

int smc_reopen(struct smc *c)
{
    if (c->env)
        mdb_env_close(c->env); /* every descriptor on data.mdb and lock.mdb, its locks with them */
    c->env = NULL;
    c->dbis_open = 0;
    return env_setup(c, c->meta);
}

int smc_env_holds(struct smc *c, int fd)
{
    struct stat st, d;
    int dfd = -1;
    if (!c->env || fstat(fd, &st) != 0)
        return 0;
    if ((dev_t)st.st_dev == c->lock_dev && (ino_t)st.st_ino == c->lock_ino)
        return 1; /* lock.mdb */
    return mdb_env_get_fd(c->env, &dfd) == 0 && fstat(dfd, &d) == 0 && d.st_dev == st.st_dev &&
           d.st_ino == st.st_ino; /* data.mdb (LMDB may hold it twice) */
}

/* The library's descriptors on <meta_dir>/lock.mdb before its environment opens (those of an
 * environment left behind by a fork: the child never uses them), up to LOCK_PRIOR_MAX. */
static int lock_prior(const char *meta_dir, int prior[LOCK_PRIOR_MAX])
{
    char p[SMC_PATH_BUF];
    struct stat st, f;
    int n = 0;
    snprintf(p, sizeof p, "%s/lock.mdb", meta_dir);
    if (SM_REAL(stat)(p, &st) != 0)
        return 0;
    for (int fd = sm_fd_next_own(0); fd >= 0 && n < LOCK_PRIOR_MAX; fd = sm_fd_next_own(fd + 1))
        if (SM_REAL(fstat)(fd, &f) == 0 && f.st_dev == st.st_dev && f.st_ino == st.st_ino)
            prior[n++] = fd;
    return n;
}

/* Find LMDB's own descriptor on lock.mdb. In the preload every open of LMDB's is one of the
 * library's (placed high and marked): its descriptor is the library's one on the file that was
 * not there before the environment opened, never one the program opened on the file itself.
 * Elsewhere (the CLI, whose opens are not marked) nothing but LMDB opens the file: the one
 * descriptor on it. */
static void lock_find(struct smc *c, const char *meta_dir, const int *prior, int nprior)
{
    char p[SMC_PATH_BUF];
    struct stat st;
    c->lock_fd = -1;
    snprintf(p, sizeof p, "%s/lock.mdb", meta_dir);
    if (SM_REAL(stat)(p, &st) != 0)
        return;
    c->lock_dev = st.st_dev;
    c->lock_ino = st.st_ino;
    int own = 0;
    for (int fd = sm_fd_next_own(0); fd >= 0; fd = sm_fd_next_own(fd + 1)) {
        if (SM_REAL(fstat)(fd, &st) != 0 || st.st_dev != c->lock_dev || st.st_ino != c->lock_ino)
            continue;
        own = 1;
        int old = 0;
        for (int i = 0; i < nprior; i++)
            old |= prior[i] == fd;
        if (!old) {
            c->lock_fd = fd;
            return;
        }
    }
    if (own)
        return; /* only descriptors of an environment left behind: not LMDB's (none to take) */
    sm_brief_begin(); /* the listing's descriptor is the library's until it is closed */
    DIR *d = SM_REAL(opendir)("/proc/self/fd");
    struct dirent *de;
    while (d && (de = SM_REAL(readdir)(d))) {
        int fd = atoi(de->d_name);
        if (de->d_name[0] == '.' || fd == dirfd(d))
            continue;
        if (SM_REAL(fstat)(fd, &st) == 0 && st.st_dev == c->lock_dev && st.st_ino == c->lock_ino) {
            c->lock_fd = fd;
            break;
        }
    }
    if (d)
        closedir(d);
    sm_brief_end();
}

void smc_lock_ident(struct smc *c, uint64_t *dev, uint64_t *ino)
{
    *dev = c->lock_dev;
    *ino = c->lock_ino;
}

/* LMDB (0.9) holds a shared lock on byte 0 of lock.mdb while the environment is open (others
 * use it to tell whether they are alone) and an exclusive lock on byte <pid> once it has a
 * reader slot (others use it to find dead readers). */
void smc_relock(struct smc *c)
{
    if (c->lock_fd < 0)
        return;
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    (void)SM_REAL(fcntl)(c->lock_fd, F_SETLK, &fl);
    fl.l_type = F_WRLCK;
    fl.l_start = getpid();
    (void)SM_REAL(fcntl)(c->lock_fd, F_SETLK, &fl);
}

void smc_close(struct smc *c)
{
    if (!c)
        return;
    smc_journal_settle(c);
    smc_journal_close(c);
    if (c->env)
        mdb_env_close(c->env);
    free(c);
}

void smc_abandon(struct smc *c)
{
    (void)c; /* the mapping and descriptors stay until exec or exit: never used again */
}

int smc_flush(struct smc *c)
{
    int rc = smc_journal_settle(c);
    if (rc < 0)
        return rc;
    smc_gate_enter();
    rc = c->env ? smc_errno(mdb_env_sync(c->env, 1)) : -EIO;
    smc_gate_leave();
    return rc;
}

size_t smc_map_size(struct smc *c)
{
    return c->mapsize;
}
