/* micro.c: the per-call micro-benchmarks (cases 1, 2, 3b and 6 of issue 5). One binary for every
 * side: it is run plainly on tmpfs and on a disk directory, with LD_PRELOAD on the prefix (and on
 * a disk directory, for pass-through), on a FUSE mount and under PRoot, so all sides execute the
 * same instructions and only the file system underneath differs.
 *
 *   micro setup DIR [-n N]       create the fixture: DIR/f4k (4096 bytes), DIR/d1000 (N files,
 *                                default 1000), DIR/cw (creates), DIR/md (mkdir, rmdir)
 *   micro run DIR [options]      time the operations, print one JSON object (ns per call)
 *       -o OPS     comma list (default: all of stat,lstat,stat_missing,access,open_read,readdir,
 *                  create_write,mkdir,rmdir); create_write and mkdir leave what they made (in
 *                  DIR/cw, DIR/md), rmdir removes the directories it finds in DIR/md
 *       -t SECS    time budget per operation (default 0.25), -n MAX and -m MIN iterations
 *       -f FILE    the file stat/access/open read, relative to DIR (default f4k)
 *       -d SUBDIR  the directory readdir lists (default d1000)
 *       -x TAG     tag in the names create_write and mkdir make, and the only names rmdir
 *                  removes (sides that share a directory keep apart)
 *       -p PATH    first create and write PATH, untimed (under the prefix this opens the
 *                  process's LMDB environment, which pass-through calls then also look at)
 *   micro first DIR              a fresh process's first calls: stat of DIR/f4k and a create in
 *                                DIR/cw, each timed, then the same again (hot); files are kept
 *   micro populate DIR FROM TO   create empty files DIR/sNNNN/fNNNN for i in [FROM, TO)
 *   micro rss DIR                stat, open+read and create files in DIR, print VmRSS/VmHWM
 *
 * Every call's result is checked: a wrong answer ends the program with exit 1 (the harness reports
 * the case as broken instead of printing a number for it).
 *
 * Nothing is deleted while timing except by rmdir, which the harness runs last: on ext4 without a
 * journal (this project's machines) the kernel skips every inode freed in the last 60-300 s when
 * it allocates a new one, so a create or mkdir after many deletions costs hundreds of microseconds
 * (fs/ext4/ialloc.c, recently_deleted) and would measure the last run's cleanup, not the call.
 */
#include "bench.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf4k[4096];

static void path_join(char *out, const char *a, const char *b)
{
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX) {
        errno = ENAMETOOLONG;
        BENCH_DIE("path too long: %s/%s", a, b);
    }
}

static void write_file(const char *path, size_t size)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        BENCH_DIE("create %s", path);
    if (size && write(fd, buf4k, size) != (ssize_t)size)
        BENCH_DIE("write %s", path);
    if (close(fd) != 0)
        BENCH_DIE("close %s", path);
}

static void mkdir_ok(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        BENCH_DIE("mkdir %s", path);
}

/* mkdir -p */
static void mkdir_parents(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        mkdir_ok(p);
        *s = '/';
    }
    mkdir_ok(p);
}

static int cmd_setup(const char *dir, int nfiles)
{
    char p[PATH_MAX], q[PATH_MAX];
    mkdir_parents(dir);
    path_join(p, dir, "f4k");
    write_file(p, sizeof buf4k);
    path_join(p, dir, "cw");
    mkdir_ok(p);
    path_join(p, dir, "md");
    mkdir_ok(p);
    path_join(p, dir, "d1000");
    mkdir_ok(p);
    for (int i = 0; i < nfiles; i++) {
        char name[32];
        snprintf(name, sizeof name, "entry-%05d.md", i);
        path_join(q, p, name);
        write_file(q, 0);
    }
    return 0;
}

/* ---- run ------------------------------------------------------------------------------------ */

struct ctx {
    const char *dir;
    char file[PATH_MAX];    /* stat, lstat, access, open_read */
    char missing[PATH_MAX]; /* stat_missing */
    char ldir[PATH_MAX];    /* readdir */
    char mdir[PATH_MAX];    /* mkdir_rmdir */
    char cwdir[PATH_MAX];   /* create_write */
    long creates;           /* names used by create_write so far */
    long mkdirs;            /* names used by mkdir so far */
    uint64_t run_id;        /* makes this process's names unique across runs */
    const char *tag;        /* -x */
    char **rm;              /* rmdir: the directories found in DIR/md */
    long nrm, rmnext;
};

static void op_stat(struct ctx *c)
{
    struct stat st;
    if (stat(c->file, &st) != 0 || !S_ISREG(st.st_mode))
        BENCH_DIE("stat %s", c->file);
}

static void op_lstat(struct ctx *c)
{
    struct stat st;
    if (lstat(c->file, &st) != 0 || !S_ISREG(st.st_mode))
        BENCH_DIE("lstat %s", c->file);
}

static void op_stat_missing(struct ctx *c)
{
    struct stat st;
    if (stat(c->missing, &st) == 0 || errno != ENOENT)
        BENCH_DIE("stat of a missing name %s did not fail with ENOENT", c->missing);
}

static void op_access(struct ctx *c)
{
    if (access(c->file, R_OK) != 0)
        BENCH_DIE("access %s", c->file);
}

static void op_open_read(struct ctx *c)
{
    char b[4096];
    int fd = open(c->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        BENCH_DIE("open %s", c->file);
    if (read(fd, b, sizeof b) < 0)
        BENCH_DIE("read %s", c->file);
    if (close(fd) != 0)
        BENCH_DIE("close %s", c->file);
}

static void op_readdir(struct ctx *c)
{
    DIR *d = opendir(c->ldir);
    if (!d)
        BENCH_DIE("opendir %s", c->ldir);
    long n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    if (n < 2)
        BENCH_DIE("readdir %s: %ld entries", c->ldir, n);
}

static void op_mkdir(struct ctx *c)
{
    char p[PATH_MAX], name[64];
    snprintf(name, sizeof name, "m-%s-%d-%llx-%ld", c->tag, (int)getpid(),
             (unsigned long long)c->run_id, c->mkdirs++);
    path_join(p, c->mdir, name);
    if (mkdir(p, 0755) != 0)
        BENCH_DIE("mkdir %s", p);
}

static void op_rmdir(struct ctx *c)
{
    char p[PATH_MAX];
    if (c->rmnext >= c->nrm) {
        errno = ENOENT;
        BENCH_DIE("rmdir: nothing left in %s", c->mdir);
    }
    path_join(p, c->mdir, c->rm[c->rmnext++]);
    if (rmdir(p) != 0)
        BENCH_DIE("rmdir %s", p);
}

/* Untimed, before rmdir: list this tag's directories in DIR/md; returns how many there are. */
static long prep_rmdir(struct ctx *c)
{
    DIR *d = opendir(c->mdir);
    struct dirent *e;
    long cap = 0;
    char pre[80];
    snprintf(pre, sizeof pre, "m-%s-", c->tag);
    if (!d)
        BENCH_DIE("opendir %s", c->mdir);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, pre, strlen(pre)) != 0)
            continue;
        if (c->nrm == cap) {
            cap = cap ? cap * 2 : 1024;
            c->rm = realloc(c->rm, (size_t)cap * sizeof *c->rm);
            if (!c->rm)
                BENCH_DIE("out of memory");
        }
        c->rm[c->nrm++] = strdup(e->d_name);
    }
    closedir(d);
    return c->nrm;
}

static void create_name(struct ctx *c, long i, char *out)
{
    char name[64];
    snprintf(name, sizeof name, "c-%s-%d-%llx-%ld.md", c->tag, (int)getpid(),
             (unsigned long long)c->run_id, i);
    path_join(out, c->cwdir, name);
}

static void op_create_write(struct ctx *c)
{
    char p[PATH_MAX];
    create_name(c, c->creates++, p);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        BENCH_DIE("create %s", p);
    if (write(fd, buf4k, sizeof buf4k) != (ssize_t)sizeof buf4k)
        BENCH_DIE("write %s", p);
    if (close(fd) != 0)
        BENCH_DIE("close %s", p);
}

struct op {
    const char *name;
    void (*fn)(struct ctx *);
    long max_iter;               /* cap per run, whatever the time budget */
    long (*prep)(struct ctx *c); /* untimed set-up; returns a lower cap */
};

static const struct op ops[] = {
    {"stat", op_stat, 200000, NULL},
    {"lstat", op_lstat, 200000, NULL},
    {"stat_missing", op_stat_missing, 200000, NULL},
    {"access", op_access, 200000, NULL},
    {"open_read", op_open_read, 100000, NULL},
    {"readdir", op_readdir, 3000, NULL},
    {"create_write", op_create_write, 2000, NULL},
    {"mkdir", op_mkdir, 1000, NULL},
    {"rmdir", op_rmdir, 1000000, prep_rmdir},
};
#define NOPS (sizeof ops / sizeof ops[0])

static int wanted(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && memcmp(p, name, n) == 0)
            return 1;
        p += m;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int cmd_run(const char *dir, int argc, char **argv)
{
    struct ctx c;
    const char *list = NULL, *file = "f4k", *ldir = "d1000", *prime = NULL;
    double budget = 0.25;
    long max = 0, min = 20;
    int opt;
    const char *tag = "x";
    while ((opt = getopt(argc, argv, "o:t:n:m:f:d:p:x:")) != -1) {
        switch (opt) {
        case 'o': list = optarg; break;
        case 't': budget = atof(optarg); break;
        case 'n': max = atol(optarg); break;
        case 'm': min = atol(optarg); break;
        case 'f': file = optarg; break;
        case 'd': ldir = optarg; break;
        case 'p': prime = optarg; break;
        case 'x': tag = optarg; break;
        default: return 2;
        }
    }
    memset(&c, 0, sizeof c);
    c.dir = dir;
    c.run_id = bench_now_ns();
    c.tag = tag;
    path_join(c.file, dir, file);
    snprintf(c.missing, sizeof c.missing, "%s", c.file);
    char *slash = strrchr(c.missing, '/');
    snprintf(slash + 1, sizeof c.missing - (size_t)(slash + 1 - c.missing), "no-such-name.md");
    path_join(c.ldir, dir, ldir);
    path_join(c.mdir, dir, "md");
    path_join(c.cwdir, dir, "cw");
    if (prime)
        write_file(prime, sizeof buf4k);

    printf("{\"dir\": \"%s\", \"budget_s\": %.3f, \"ops\": {", dir, budget);
    int first = 1;
    for (size_t k = 0; k < NOPS; k++) {
        const struct op *o = &ops[k];
        if (!wanted(list, o->name))
            continue;
        long cap = max > 0 && max < o->max_iter ? max : o->max_iter;
        if (o->prep) {
            long avail = o->prep(&c);
            cap = avail < cap ? avail : cap;
        }
        long warm = cap / 20 < 50 ? cap / 20 : 50;
        for (long i = 0; i < warm; i++)
            o->fn(&c);
        cap -= warm;
        struct bench_samples s = {0};
        uint64_t start = bench_now_ns(), limit = (uint64_t)(budget * 1e9);
        for (long i = 0; i < cap; i++) {
            uint64_t t0 = bench_now_ns();
            o->fn(&c);
            uint64_t t1 = bench_now_ns();
            bench_add(&s, t1 - t0);
            if (i + 1 >= min && t1 - start >= limit)
                break;
        }
        printf("%s", first ? "" : ", ");
        first = 0;
        bench_json_stats(stdout, o->name, &s);
        free(s.v);
        fflush(stdout);
    }
    printf("}}\n");
    return 0;
}

/* ---- first calls of a fresh process ---------------------------------------------------------- */

static int cmd_first(const char *dir)
{
    char f[PATH_MAX], a[PATH_MAX], b[PATH_MAX], cw[PATH_MAX], name[64];
    struct stat st;
    uint64_t t_id = bench_now_ns();
    path_join(f, dir, "f4k");
    path_join(cw, dir, "cw");
    snprintf(name, sizeof name, "first-%d-%llx-a.md", (int)getpid(), (unsigned long long)t_id);
    path_join(a, cw, name);
    snprintf(name, sizeof name, "first-%d-%llx-b.md", (int)getpid(), (unsigned long long)t_id);
    path_join(b, cw, name);

    uint64_t t0 = bench_now_ns();
    if (stat(f, &st) != 0)
        BENCH_DIE("stat %s", f);
    uint64_t t1 = bench_now_ns();
    if (stat(f, &st) != 0)
        BENCH_DIE("stat %s", f);
    uint64_t t2 = bench_now_ns();
    write_file(a, sizeof buf4k);
    uint64_t t3 = bench_now_ns();
    write_file(b, sizeof buf4k);
    uint64_t t4 = bench_now_ns();
    printf("{\"first_stat\": %llu, \"second_stat\": %llu, \"first_create\": %llu, "
           "\"second_create\": %llu}\n",
           (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
           (unsigned long long)(t3 - t2), (unsigned long long)(t4 - t3));
    return 0;
}

/* ---- scale: population ----------------------------------------------------------------------- */

static int cmd_populate(const char *dir, long from, long to)
{
    char d[PATH_MAX], p[PATH_MAX];
    uint64_t t0 = bench_now_ns();
    mkdir_ok(dir);
    for (long i = from; i < to; i++) {
        snprintf(p, sizeof p, "%s/s%04ld", dir, i / 1000);
        if (i == from || i % 1000 == 0) {
            mkdir_ok(p);
            snprintf(d, sizeof d, "%s", p);
        }
        snprintf(p, sizeof p, "%s/f%04ld.md", d, i % 1000);
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            BENCH_DIE("create %s", p);
        close(fd);
    }
    printf("{\"created\": %ld, \"secs\": %.6f}\n", to - from, (double)(bench_now_ns() - t0) / 1e9);
    return 0;
}

/* ---- resident memory ------------------------------------------------------------------------- */

static void status_kb(long *rss, long *hwm)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *rss = *hwm = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = atol(line + 6);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = atol(line + 6);
    }
    if (f)
        fclose(f);
}

static int cmd_rss(const char *dir)
{
    long rss0, hwm0, rss, hwm;
    status_kb(&rss0, &hwm0);
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.dir = dir;
    c.run_id = bench_now_ns();
    c.tag = "rss";
    path_join(c.file, dir, "f4k");
    path_join(c.ldir, dir, "d1000");
    path_join(c.cwdir, dir, "cw");
    for (int i = 0; i < 100; i++) {
        op_stat(&c);
        op_open_read(&c);
        op_create_write(&c);
    }
    op_readdir(&c);
    status_kb(&rss, &hwm);
    printf("{\"rss_start_kb\": %ld, \"rss_kb\": %ld, \"hwm_kb\": %ld}\n", rss0, rss, hwm);
    return 0;
}

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof buf4k; i++)
        buf4k[i] = (char)('a' + i % 26);
    if (argc < 3) {
        fprintf(stderr, "usage: micro setup|run|first|populate|rss DIR [...]\n");
        return 2;
    }
    const char *cmd = argv[1], *dir = argv[2];
    if (strcmp(cmd, "setup") == 0)
        return cmd_setup(dir, argc > 4 && strcmp(argv[3], "-n") == 0 ? atoi(argv[4]) : 1000);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(dir, argc - 2, argv + 2);
    if (strcmp(cmd, "first") == 0)
        return cmd_first(dir);
    if (strcmp(cmd, "populate") == 0 && argc == 5)
        return cmd_populate(dir, atol(argv[3]), atol(argv[4]));
    if (strcmp(cmd, "rss") == 0)
        return cmd_rss(dir);
    fprintf(stderr, "micro: unknown command %s\n", cmd);
    return 2;
}
