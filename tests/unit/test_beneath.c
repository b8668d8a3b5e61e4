/* test_beneath.c: the sync engine's way into the tree (cache/beneath.c), through openat2 where
 * the kernel has it and through the component walk: both give the same answers, and neither
 * crosses a symbolic link planted in the tree. */
#include "../runner.h"
#include "../../cache/cache.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static char tree[PATH_MAX], outside[PATH_MAX];

static void plant(void)
{
    char p[PATH_MAX + 64];
    snprintf(tree, sizeof tree, "%s/tree", sm_test_tmpdir());
    snprintf(outside, sizeof outside, "%s/outside", sm_test_tmpdir());
    mkdir(tree, 0755);
    mkdir(outside, 0755);
    snprintf(p, sizeof p, "%s/a", tree);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/a/b", tree);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/a/f", tree);
    close(open(p, O_CREAT | O_WRONLY, 0644));
    snprintf(p, sizeof p, "%s/a/link", tree);
    ASSERT_EQ_INT(symlink(outside, p), 0); /* the planted way out */
    snprintf(p, sizeof p, "%s/a/rel", tree);
    ASSERT_EQ_INT(symlink("b", p), 0); /* a link that stays inside is still not followed */
}

/* smc_tree_dir's answer for key: the error, or 0 with the directory checked to be want */
static int dir_of(const char *key, int mkdirs, const char *want, const char *want_leaf)
{
    const char *leaf;
    int fd = smc_tree_dir(tree, key, mkdirs, &leaf);
    if (fd < 0)
        return fd;
    char w[PATH_MAX + 8];
    struct stat a, b;
    snprintf(w, sizeof w, "%s%s", tree, want);
    ASSERT_EQ_INT(fstat(fd, &a), 0);
    ASSERT_EQ_INT(stat(w, &b), 0);
    ASSERT(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
    ASSERT_EQ_STR(leaf, want_leaf);
    ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    return 0;
}

static void same_answers(void)
{
    struct stat st;
    char p[PATH_MAX + 64], lng[NAME_MAX + 8];
    ASSERT_EQ_INT(dir_of("/x.md", 0, "", "x.md"), 0);
    ASSERT_EQ_INT(dir_of("/a/b/x.md", 0, "/a/b", "x.md"), 0);
    ASSERT_EQ_INT(dir_of("//a//b/x.md", 0, "/a/b", "x.md"), 0);
    ASSERT_EQ_INT(dir_of("/a/link/x.md", 0, "", ""), -ENOTDIR);
    ASSERT_EQ_INT(dir_of("/a/link/sub/x.md", 1, "", ""), -ENOTDIR);
    ASSERT_EQ_INT(dir_of("/a/rel/x.md", 0, "", ""), -ENOTDIR);
    ASSERT_EQ_INT(dir_of("/a/f/x.md", 0, "", ""), -ENOTDIR);
    ASSERT_EQ_INT(dir_of("/a/none/x.md", 0, "", ""), -ENOENT);
    ASSERT_EQ_INT(dir_of("/a/../a/x.md", 0, "", ""), -EINVAL);
    ASSERT_EQ_INT(dir_of("/a/./x.md", 0, "", ""), -EINVAL);
    ASSERT_EQ_INT(dir_of("/none/../x.md", 0, "", ""), -ENOENT); /* in walk order */
    ASSERT_EQ_INT(dir_of("/a/..", 0, "", ""), -EINVAL);
    memset(lng, 'n', NAME_MAX + 1);
    lng[NAME_MAX + 1] = '\0';
    snprintf(p, sizeof p, "/a/%s/x.md", lng);
    ASSERT_EQ_INT(dir_of(p, 0, "", ""), -ENAMETOOLONG);
    ASSERT_EQ_INT(dir_of("/a/n1/n2/x.md", 1, "/a/n1/n2", "x.md"), 0);
    ASSERT_EQ_INT(dir_of("/a/n1/n2/x.md", 0, "/a/n1/n2", "x.md"), 0);
    ASSERT_EQ_INT(smc_tree_stat(tree, "/a/link/anything", &st), -ENOTDIR);
    ASSERT_EQ_INT(smc_tree_stat(tree, "/a/link", &st), 0);
    ASSERT(S_ISLNK(st.st_mode));
    snprintf(p, sizeof p, "%s/sub", outside);
    ASSERT_EQ_INT(stat(p, &st), -1); /* nothing was made outside */
    snprintf(p, sizeof p, "%s/a/n1", tree);
    ASSERT_EQ_INT(rmdir(p) == 0 || errno == ENOTEMPTY, 1);
}

SM_TEST(cache_beneath_both_paths)
{
    plant();
    int was = smc_beneath_walk_only(0);
    same_answers();
    int fast = smc_beneath_fast_seen();
    smc_beneath_walk_only(1);
    unsigned long long before = smc_beneath_fast_count();
    same_answers();
    ASSERT_EQ_INT(smc_beneath_fast_count(), before); /* the walk alone answered */
    smc_beneath_walk_only(was);
    /* openat2 answers where the kernel has it (5.6+, not refused by a sandbox) */
    if (fast)
        ASSERT(smc_beneath_fast_count() > 0);
    else
        fprintf(stderr, "  note: openat2 is not available here, only the walk was tested\n");
    return 0;
}
