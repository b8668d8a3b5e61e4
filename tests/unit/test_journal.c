/* test_journal.c: the record journal (cache/journal.c): order, fullness, the dirty_since guard,
 * records of processes that died, a dead owner of its mutex. */
#include "../runner.h"
#include "../../cache/cache_int.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void meta_path(char *out, size_t n)
{
    snprintf(out, n, "%s/meta", sm_test_tmpdir());
}

static struct smc *jopen(void)
{
    char meta[PATH_MAX];
    struct smc *c = NULL;
    meta_path(meta, sizeof meta);
    ASSERT_EQ_INT(smc_open(meta, &c), 0);
    return c;
}

/* The tree and tmp directories of the test's cache. */
static void tree_dirs(char *tree, char *tmp, size_t n)
{
    snprintf(tree, n, "%s/tree", sm_test_tmpdir());
    snprintf(tmp, n, "%s/tmp", sm_test_tmpdir());
    mkdir(tree, 0755);
    mkdir(tmp, 0700);
}

static void put_file(const char *tree, const char *name, const char *s)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", tree, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(write(fd, s, strlen(s)), (long)strlen(s));
    close(fd);
}

static void read_file(const char *tree, const char *name, char *buf, size_t n)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", tree, name);
    int fd = open(p, O_RDONLY);
    ASSERT(fd >= 0);
    ssize_t r = read(fd, buf, n - 1);
    ASSERT(r >= 0);
    buf[r] = '\0';
    close(fd);
}

static struct smc_remote remote(const char *key, const char *content)
{
    struct smc_remote d = {key, "doc1", 5000, content, strlen(content), 0};
    d.hash = smc_hash64(content, d.len);
    return d;
}

/* A write-open recorded in the journal and not folded yet still keeps a pull from the file. */
SM_TEST(journal_guard_keeps_local)
{
    char tree[PATH_MAX], tmp[PATH_MAX], buf[64];
    struct smc *c = jopen();
    tree_dirs(tree, tmp, sizeof tree);
    struct smc_remote d = remote("/a.md", "remote\n");
    ASSERT_EQ_INT(smc_apply_remote(c, tree, tmp, &d), SMC_APPLIED);
    ASSERT_EQ_INT(smc_note_write(c, "/a.md", 100), 0);
    ASSERT(smc_journal_pending(c)); /* in the journal only */
    put_file(tree, "a.md", "local\n");
    d = remote("/a.md", "remote 2\n");
    d.updated_ms = 6000;
    ASSERT_EQ_INT(smc_apply_remote(c, tree, tmp, &d), SMC_KEPT_LOCAL);
    read_file(tree, "a.md", buf, sizeof buf);
    ASSERT_EQ_STR(buf, "local\n");
    smc_close(c);
    return 0;
}

struct racer {
    struct smc *c;
    int ended; /* the guarding transaction has ended */
    int done;  /* the writer's record call has returned */
    int saw_ended;
};

static void *writer(void *arg)
{
    struct racer *r = arg;
    smc_note_write(r->c, "/b.md", 200);
    r->saw_ended = __atomic_load_n(&r->ended, __ATOMIC_ACQUIRE);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A change recorded while the sync engine guards its key returns only after the engine's
 * transaction ended (the caller then opens the file after the engine changed it). */
SM_TEST(journal_guard_waits)
{
    struct racer r = {jopen(), 0, 0, 0};
    MDB_txn *t;
    pthread_t th;
    ASSERT_EQ_INT(smc_txn(r.c, 0, &t), 0);
    ASSERT_EQ_INT(smc_guard_on(r.c, t, "/b.md", NULL), 0);
    ASSERT_EQ_INT(pthread_create(&th, NULL, writer, &r), 0);
    /* the event: the writer's record is in the journal (it is then waiting on this txn) */
    while (!smc_journal_pending(r.c))
        sched_yield();
    ASSERT_EQ_INT(__atomic_load_n(&r.done, __ATOMIC_ACQUIRE), 0);
    __atomic_store_n(&r.ended, 1, __ATOMIC_RELEASE);
    smc_guard_off(r.c);
    ASSERT_EQ_INT(mdb_txn_commit(t), 0);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(r.saw_ended, 1);
    struct smc_entry e;
    ASSERT_EQ_INT(smc_entry_get(r.c, "/b.md", &e), 0);
    ASSERT_EQ_INT(e.dirty_since_ns, 200);
    smc_close(r.c);
    return 0;
}

/* About 9 MB of changes through the journal's 4 MiB, with a settle once early so that records
 * meet the ring's end at odd places: every change arrives once, in order, across the folds and
 * the wraps. Returns the most bytes the journal held unfolded after a change. */
static uint64_t many_changes(struct smc *c)
{
    struct smc_counts n;
    struct smc_entry e;
    char a[64], b[64];
    const int files = 120000;
    uint64_t most = 0;
    for (int i = 0; i < files; i++) {
        snprintf(a, sizeof a, "/d/f%06d.md", i);
        ASSERT_EQ_INT(smc_note_write(c, a, (uint64_t)i + 1), 0);
        if (i % 3 == 0) {
            snprintf(b, sizeof b, "/e/g%06d.md", i);
            ASSERT_EQ_INT(smc_note_rename(c, a, b, 0, (uint64_t)i + 1), 0);
        }
        if (i % 5 == 0) {
            snprintf(b, sizeof b, "/e/g%06d.md", i);
            ASSERT_EQ_INT(smc_note_unlink(c, i % 3 == 0 ? b : a, (uint64_t)i + 1), 0);
        }
        if (i == 7919)
            ASSERT_EQ_INT(smc_journal_settle(c), 0); /* moves the ring's start off zero */
        if (smc_journal_unfolded(c) > most)
            most = smc_journal_unfolded(c);
    }
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.entries, files - files / 5);
    ASSERT_EQ_INT(n.dirty, files - files / 5);
    ASSERT(!smc_journal_pending(c));
    ASSERT_EQ_INT(smc_entry_get(c, "/e/g000003.md", &e), 0);
    ASSERT_EQ_INT(e.dirty_since_ns, 4);
    ASSERT_EQ_INT(smc_entry_get(c, "/d/f000003.md", &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, "/e/g000015.md", &e), -ENOENT);
    return most;
}

/* With no early folds the journal fills, and the writer that finds it full folds it whole. */
SM_TEST(journal_full_and_wrap)
{
    struct smc *c = jopen();
    smc_journal_early(c, 0);
    ASSERT(many_changes(c) > (3u << 20)); /* it did fill */
    smc_close(c);
    return 0;
}

/* A process that only appends (no sync thread, no reader) folds early: its writers fold a part
 * of the journal past a mark, so it never holds more than a fraction of its 4 MiB (and is never
 * folded whole at once), and every change still arrives once, in order. */
SM_TEST(journal_folds_early)
{
    struct smc *c = jopen();
    uint64_t most = many_changes(c);
    ASSERT(most > 0);
    ASSERT(most <= (1u << 20));
    smc_close(c);
    return 0;
}

/* Records of 48 bytes end at 16 bytes before the ring's end (4 MiB is not a multiple of 48): the
 * pad record there is shorter than a record's header, and the records after it are folded. */
SM_TEST(journal_short_pad)
{
    struct smc *c = jopen();
    struct smc_counts n;
    char k[64];
    const int files = 100000; /* 4.8 MB: past the ring's end once */
    for (int i = 0; i < files; i++) {
        snprintf(k, sizeof k, "/d/%015d.md", i); /* 21 bytes: a record of 24 + 22, padded to 48 */
        ASSERT_EQ_INT(smc_note_write(c, k, (uint64_t)i + 1), 0);
    }
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.entries, files);
    smc_close(c);
    return 0;
}

struct appender {
    struct smc *c;
    int id;
};

static void *appender(void *arg)
{
    struct appender *a = arg;
    char k[64], k2[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "/t%d/f%05d.md", a->id, i);
        if (smc_note_write(a->c, k, (uint64_t)i + 1) != 0)
            return arg;
        if (i % 4 == 0) {
            snprintf(k2, sizeof k2, "/t%d/r%05d.md", a->id, i);
            if (smc_note_rename(a->c, k, k2, 0, (uint64_t)i + 1) != 0)
                return arg;
        }
    }
    return NULL;
}

/* Threads appending while one of them folds early (or finds the journal full): each change
 * arrives once, in each thread's order. */
SM_TEST(journal_folds_early_threads)
{
    struct smc *c = jopen();
    struct appender a[4];
    pthread_t th[4];
    struct smc_counts n;
    struct smc_entry e;
    for (int i = 0; i < 4; i++) {
        a[i] = (struct appender){c, i};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, appender, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *rv;
        ASSERT_EQ_INT(pthread_join(th[i], &rv), 0);
        ASSERT(rv == NULL);
    }
    ASSERT_EQ_INT(smc_counts(c, &n), 0);
    ASSERT_EQ_INT(n.entries, 4 * 20000);
    ASSERT_EQ_INT(smc_entry_get(c, "/t2/r00004.md", &e), 0);
    ASSERT_EQ_INT(e.dirty_since_ns, 5);
    ASSERT_EQ_INT(smc_entry_get(c, "/t2/f00004.md", &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, "/t3/f19999.md", &e), 0);
    smc_close(c);
    return 0;
}

/* Run child(c) in a forked process on the test's cache and wait for it: it must exit 0. The
 * child ends with _exit and no close: nothing it recorded is folded, as after kill -9. */
static void in_child(int (*child)(struct smc *c))
{
    char meta[PATH_MAX];
    meta_path(meta, sizeof meta);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct smc *c = NULL;
        _exit(smc_open(meta, &c) != 0 || child(c) != 0);
    }
    int st;
    ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int record_x(struct smc *c)
{
    return smc_note_write(c, "/x.md", 10) != 0 || !smc_journal_pending(c);
}

/* A process that recorded and died without folding: its records come first, in order, for the
 * next process. */
SM_TEST(journal_dead_process_records)
{
    in_child(record_x);
    struct smc *c = jopen();
    struct smc_entry e;
    ASSERT_EQ_INT(smc_note_rename(c, "/x.md", "/y.md", 0, 20), 0);
    ASSERT_EQ_INT(smc_entry_get(c, "/x.md", &e), -ENOENT);
    ASSERT_EQ_INT(smc_entry_get(c, "/y.md", &e), 0);
    ASSERT_EQ_INT(e.dirty_since_ns, 10);
    smc_close(c);
    return 0;
}

static int hold_lock(struct smc *c)
{
    smc_journal_lock(c);
    return 0;
}

/* A process killed holding the journal's mutex does not stop the others. */
SM_TEST(journal_dead_owner)
{
    in_child(hold_lock);
    struct smc *c = jopen();
    struct smc_entry e;
    ASSERT_EQ_INT(smc_note_write(c, "/z.md", 30), 0);
    ASSERT_EQ_INT(smc_entry_get(c, "/z.md", &e), 0);
    ASSERT_EQ_INT(e.dirty_since_ns, 30);
    smc_close(c);
    return 0;
}

/* A write's token says whether any fold has read its record: until one has, a second record of
 * the same write would be folded with it; a fold of any kind (a flush, the guard of a pull, an
 * other process's transaction) ends that. A write recorded nowhere (the file dirty already, the
 * journal folded) has no token. */
SM_TEST(journal_write_token)
{
    char tree[PATH_MAX], tmp[PATH_MAX];
    struct smc *c = jopen();
    struct smc_wtok a, b;
    tree_dirs(tree, tmp, sizeof tree);
    ASSERT_EQ_INT(smc_note_write_tok(c, "/t1.md", 10, &a), 0);
    ASSERT(a.epoch != 0);
    ASSERT(smc_wtok_unread(c, &a));
    ASSERT_EQ_INT(smc_note_write_tok(c, "/t2.md", 11, &b), 0);
    ASSERT(smc_wtok_unread(c, &a) && smc_wtok_unread(c, &b));
    ASSERT_EQ_INT(smc_flush(c), 0);
    ASSERT(!smc_wtok_unread(c, &a) && !smc_wtok_unread(c, &b));
    ASSERT_EQ_INT(smc_note_write_tok(c, "/t1.md", 12, &a), 0); /* dirty, nothing pending */
    ASSERT(a.epoch == 0 && !smc_wtok_unread(c, &a));
    ASSERT_EQ_INT(smc_note_write_tok(c, "/t3.md", 13, &a), 0);
    ASSERT(smc_wtok_unread(c, &a));
    struct smc_remote d = remote("/t4.md", "remote\n");
    ASSERT_EQ_INT(smc_apply_remote(c, tree, tmp, &d), SMC_APPLIED); /* guards: folds */
    ASSERT(!smc_wtok_unread(c, &a));
    smc_close(c);
    return 0;
}
