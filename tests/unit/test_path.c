/* test_path.c: prefix matching, resolution and translation, without the preload. */
#include "../runner.h"
#include "../../shim/shim.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <unistd.h>

void sm_config_load(void);

static void setup(const char *prefix)
{
    char cache[PATH_MAX];
    snprintf(cache, sizeof cache, "%s/cache", sm_test_tmpdir());
    setenv("SMSHIM_PREFIX", prefix, 1);
    setenv("SMSHIM_CACHE", cache, 1);
    sm_config_load();
    ASSERT(sm_cfg.enabled);
}

SM_TEST(path_prefix_match)
{
    setup("/sm/");
    ASSERT_EQ_STR(sm_cfg.prefix, "/sm");
    ASSERT(sm_under_prefix("/sm") == 3);
    ASSERT(sm_under_prefix("/sm/a") == 3);
    ASSERT(sm_under_prefix("/smx") < 0);
    ASSERT(sm_under_prefix("/s") < 0);
    ASSERT(sm_under_prefix("/other/sm") < 0);
    ASSERT(!sm_maybe("/usr/lib/x"));
    ASSERT(sm_maybe("/sm/x"));
    ASSERT(sm_maybe("//sm/x"));
    ASSERT(sm_maybe("/tmp/../sm"));
    ASSERT(sm_maybe("relative"));
    ASSERT(!sm_maybe(NULL));
    setenv("SMSHIM_PREFIX", "relative/prefix", 1);
    sm_config_load();
    ASSERT(!sm_cfg.enabled);
    setenv("SMSHIM_PREFIX", "/", 1);
    sm_config_load();
    ASSERT(!sm_cfg.enabled);
    return 0;
}

SM_TEST(path_resolve_absolute)
{
    struct sm_res r;
    setup("/sm");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm/a/b.md", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    ASSERT(sm_is_tree_fd(r.fd));
    ASSERT_EQ_STR(r.path, "a/b.md");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm", 0, &r), 0);
    ASSERT_EQ_STR(r.path, ".");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm//a", 0, &r), 0);
    ASSERT_EQ_STR(r.path, "a");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "//sm/a/", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    ASSERT_EQ_STR(r.path, "a/");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/smx/a", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_PASS);
    ASSERT_EQ_STR(r.path, "/smx/a");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm/a", SM_RES_ABS, &r), 0);
    ASSERT_EQ_INT(r.fd, AT_FDCWD);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/a", sm_w()->tree);
    ASSERT_EQ_STR(r.path, want);
    /* the tree exists once resolved */
    struct stat st;
    ASSERT_EQ_INT(stat(sm_w()->tree, &st), 0);
    ASSERT(S_ISDIR(st.st_mode));
    return 0;
}

SM_TEST(path_resolve_dotdot)
{
    struct sm_res r;
    char p[PATH_MAX];
    setup("/sm");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm/..", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_PASS);
    ASSERT_EQ_STR(r.path, "/."); /* a final ".." still names a directory */
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm/../etc/passwd", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_PASS);
    ASSERT_EQ_STR(r.path, "/etc/passwd");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/tmp/../sm/x", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    ASSERT_EQ_STR(r.path, "x");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/usr/./lib/../bin", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_PASS);
    ASSERT_EQ_STR(r.path, "/usr/./lib/../bin"); /* untouched: the kernel resolves it */
    /* ".." after a symlink applies to the link's target, as in the kernel */
    snprintf(p, sizeof p, "%s/d1/d2", sm_w()->tree);
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm/x", 0, &r), 0); /* creates the tree */
    mkdir(p, 0755) == 0 || (mkdir(strrchr(p, '/') ? (*strrchr(p, '/') = 0, p) : p, 0755), 0);
    snprintf(p, sizeof p, "%s/d1", sm_w()->tree);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/d1/d2", sm_w()->tree);
    ASSERT_EQ_INT(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/link", sm_w()->tree);
    ASSERT_EQ_INT(symlink("d1/d2", p), 0);
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm/link/../f", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    ASSERT_EQ_STR(r.path, "d1/f");
    /* relative paths from a cwd inside the tree */
    snprintf(p, sizeof p, "%s/d1", sm_w()->tree);
    ASSERT_EQ_INT(chdir(p), 0);
    sm_cwd_changed();
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "x", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_PASS); /* the kernel resolves it in the tree */
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "x", SM_RES_MUT, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "../..", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_PASS);
    ASSERT_EQ_STR(r.path, "/.");
    ASSERT_EQ_INT(chdir("/"), 0);
    sm_cwd_changed();
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "sm/d1", 0, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    ASSERT_EQ_STR(r.path, "d1");
    return 0;
}

SM_TEST(path_untranslate)
{
    char buf[PATH_MAX];
    setup("/sm");
    snprintf(buf, sizeof buf, "%s/a/b", sm_w()->tree);
    ASSERT_EQ_INT(sm_untranslate(buf, sizeof buf), 1);
    ASSERT_EQ_STR(buf, "/sm/a/b");
    snprintf(buf, sizeof buf, "%s", sm_w()->tree);
    ASSERT_EQ_INT(sm_untranslate(buf, sizeof buf), 1);
    ASSERT_EQ_STR(buf, "/sm");
    snprintf(buf, sizeof buf, "%sx/a", sm_w()->tree);
    ASSERT_EQ_INT(sm_untranslate(buf, sizeof buf), 0);
    /* keys name the remote filepath */
    struct sm_res r;
    char key[PATH_MAX];
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm/k.md", 0, &r), 0);
    ASSERT_EQ_INT(sm_key_at(r.fd, r.path, key), 0);
    ASSERT_EQ_STR(key, "/k.md");
    return 0;
}

SM_TEST(path_too_long)
{
    struct sm_res r;
    setup("/sm");
    char *p = malloc(PATH_MAX + 10);
    memset(p, 'a', PATH_MAX + 9);
    memcpy(p, "/sm/", 4);
    p[PATH_MAX + 9] = '\0';
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, p, 0, &r), -ENAMETOOLONG);
    free(p);
    return 0;
}

/* A thread that found where the cwd is while another thread's chdir moved it makes nothing
 * known: the chdir lands while the finder is parked right before it would make its finding
 * known (sm_cwd_learn_hook), and relative paths afterwards are taken from the new cwd; nor does
 * one that looks while a chdir is in flight. */
static sem_t learn_parked, learn_go;

static void learn_park(void)
{
    sem_post(&learn_parked);
    while (sem_wait(&learn_go) != 0)
        ;
}

static void *learn_thread(void *arg)
{
    struct sm_res r;
    (void)arg;
    sm_resolve(AT_FDCWD, "f", 0, &r); /* finds the cwd outside the tree */
    return NULL;
}

SM_TEST(path_cwd_learn_race)
{
    struct sm_res r;
    char p[PATH_MAX];
    setup("/sm");
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "/sm/x", 0, &r), 0); /* creates the tree */
    snprintf(p, sizeof p, "%s/in", sm_w()->tree);
    ASSERT_EQ_INT(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/out", sm_test_tmpdir());
    ASSERT_EQ_INT(mkdir(p, 0755), 0);
    ASSERT_EQ_INT(chdir(p), 0);
    sm_cwd_changed();
    sem_init(&learn_parked, 0, 0);
    sem_init(&learn_go, 0, 0);
    sm_cwd_learn_hook = learn_park;
    pthread_t t;
    ASSERT_EQ_INT(pthread_create(&t, NULL, learn_thread, NULL), 0);
    while (sem_wait(&learn_parked) != 0)
        ;
    sm_cwd_learn_hook = NULL;
    /* the chdir into the tree, as the wrapper makes it, while the other thread is parked */
    snprintf(p, sizeof p, "%s/in", sm_w()->tree);
    ASSERT_EQ_INT(chdir(p), 0);
    sm_cwd_changed();
    sem_post(&learn_go);
    pthread_join(t, NULL);
    /* from inside the tree: a relative path looks closer, and a change is the tree's */
    ASSERT_EQ_INT(sm_maybe_cwd("f"), 1);
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "f", SM_RES_MUT, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    /* a finding made while a change is in flight (the kernel's cwd not moved yet) is not made
     * known: once the kernel moved it, before the change ends, relative paths follow it */
    snprintf(p, sizeof p, "%s/out", sm_test_tmpdir());
    ASSERT_EQ_INT(chdir(p), 0);
    sm_cwd_changing();
    sm_cwd_changed();
    sm_cwd_changing();
    ASSERT_EQ_INT(pthread_create(&t, NULL, learn_thread, NULL), 0);
    pthread_join(t, NULL);
    snprintf(p, sizeof p, "%s/in", sm_w()->tree);
    ASSERT_EQ_INT(chdir(p), 0);
    ASSERT_EQ_INT(sm_maybe_cwd("f"), 1);
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "f", SM_RES_MUT, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    sm_cwd_changed();
    ASSERT_EQ_INT(sm_resolve(AT_FDCWD, "f", SM_RES_MUT, &r), 0);
    ASSERT_EQ_INT(r.kind, SM_TREE);
    return 0;
}
