/* ns.c: `smshim run --ns`: the command in a private user + mount namespace where the tree is
 * bound at the prefix, for the programs no preload reaches (static ones: static Go, gcc -static).
 *
 * The namespace: a new user namespace mapping only the user's own uid and gid (files stay the
 * user's), a new mount namespace whose mounts are private, and a new root: a tmpfs that holds
 * a recursive bind of every top-level entry of / (a link is copied as a link), and the tree
 * bound at the prefix. The command is chrooted there and starts in the directory it was started
 * in; every path but the prefix is what it was. LD_PRELOAD is kept, so dynamic programs started
 * from it are shimmed as before (recording, hydration); what static programs change is found by
 * the scan that `smshim run` makes before pushing when the command ends.
 *
 * The tmpfs is mounted on an empty directory made for the run in the cache (removed after it);
 * the mount there is undone inside the new root, so the new root has no loop.
 *
 * Chosen automatically for a statically linked command when the kernel allows user namespaces
 * (one line says so); never for a setuid/setgid one (set-user-ID is ignored in such a namespace:
 * it would silently lose its privilege). Where the kernel refuses namespaces that is said once
 * and the command runs with the preload alone. */
#include "ns.h"

#include "../cache/cache.h"
#include "sm_real.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A name made safe to print: control bytes (and DEL) become '?'. */
static char esc1[PATH_MAX], esc2[PATH_MAX];
static const char *esc(char *out, size_t size, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    out[i] = '\0';
    return out;
}
#define E1(s) esc(esc1, sizeof esc1, (s))
#define E2(s) esc(esc2, sizeof esc2, (s))

int smns_is_static(const char *path)
{
    return sm_elf_static(path);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -(n < 0 ? e : EIO);
}

/* The user + mount namespace, with the caller's ids mapped; 0 or -errno. */
static int ns_unshare(void)
{
    uid_t u = getuid();
    gid_t g = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return -errno;
    char m[64];
    snprintf(m, sizeof m, "%u %u 1\n", (unsigned)u, (unsigned)u);
    int rc = write_file("/proc/self/uid_map", m);
    if (rc == 0)
        rc = write_file("/proc/self/setgroups", "deny");
    snprintf(m, sizeof m, "%u %u 1\n", (unsigned)g, (unsigned)g);
    if (rc == 0)
        rc = write_file("/proc/self/gid_map", m);
    return rc;
}

/* Does the kernel give this user a user + mount namespace? Tried in a child, which exits. */
static int ns_available(char *why, size_t n)
{
    int p[2];
    if (pipe(p) != 0)
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        int rc = ns_unshare();
        if (rc == 0)
            rc = mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 ? 0 : -errno;
        int e = -rc;
        if (write(p[1], &e, sizeof e) < 0)
            _exit(2);
        _exit(rc == 0 ? 0 : 1);
    }
    close(p[1]);
    int e = 0, st = 0;
    if (pid < 0 || read(p[0], &e, sizeof e) != (ssize_t)sizeof e)
        e = pid < 0 ? errno : EIO;
    close(p[0]);
    if (pid > 0)
        waitpid(pid, &st, 0);
    if (e)
        snprintf(why, n, "%s", strerror(e));
    return e == 0;
}

int smns_decide(struct smns *ns, const char *path, int forced, const char *prefix,
                const char *cache)
{
    memset(ns, 0, sizeof *ns);
    struct stat st;
    int st_ok = path && stat(path, &st) == 0;
    int setid = st_ok && (st.st_mode & (S_ISUID | S_ISGID));
    int stat_prog = st_ok && !setid && smns_is_static(path);
    if (!forced && !stat_prog) {
        if (setid)
            fprintf(stderr,
                    "smshim: %s is setuid/setgid: not moved into a namespace (the kernel ignores "
                    "set-user-ID there)\n",
                    E1(path));
        return 0;
    }
    if (prefix[0] != '/' || strcmp(prefix, "/") == 0) {
        fprintf(stderr, "smshim: the prefix %s cannot be bound in a namespace\n", E1(prefix));
        return 0;
    }
    char why[160] = "";
    if (!ns_available(why, sizeof why)) {
        fprintf(stderr,
                "smshim: this kernel refuses user namespaces (%s): %s runs with the preload "
                "only\n",
                why, path ? E1(path) : "the command");
        return 0;
    }
    if (smc_layout_ensure(cache) != 0 ||
        smc_layout_path(cache, SMC_TREE, NULL, ns->tree, sizeof ns->tree) != 0) {
        fprintf(stderr, "smshim: the cache %s cannot be laid out: no namespace\n", E1(cache));
        return 0;
    }
    snprintf(ns->root, sizeof ns->root, "%s/ns.XXXXXX", cache);
    if (!mkdtemp(ns->root)) {
        fprintf(stderr, "smshim: %s: %s: no namespace\n", E1(ns->root), strerror(errno));
        return 0;
    }
    snprintf(ns->prefix, sizeof ns->prefix, "%s", prefix);
    ns->on = 1;
    if (stat_prog && !forced)
        fprintf(stderr,
                "smshim: %s is statically linked: running it in a private mount namespace "
                "where the tree is at %s\n",
                E1(path), E2(prefix));
    return 1;
}

/* mkdir -p of path (absolute, inside the new root) */
static int mkdirs(char *path)
{
    for (char *s = path + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = '\0';
            int rc = mkdir(path, 0755);
            *s = c;
            if (rc != 0 && errno != EEXIST)
                return -errno;
            if (!c)
                return 0;
        }
    }
}

int smns_enter(const struct smns *ns, char *why, size_t n)
{
    char cwd[PATH_MAX], p[PATH_MAX * 2], q[PATH_MAX];
    const char *root = ns->root;
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "/");
    int rc = ns_unshare();
    if (rc != 0) {
        snprintf(why, n, "unshare: %s", strerror(-rc));
        return rc;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("smshim", root, "tmpfs", 0, "mode=0755") != 0) {
        snprintf(why, n, "mount: %s", strerror(errno));
        return -errno;
    }
    /* the prefix's first component: made in the tmpfs unless / has it */
    char top[NAME_MAX + 1];
    const char *pe = strchrnul(ns->prefix + 1, '/');
    snprintf(top, sizeof top, "%.*s", (int)(pe - ns->prefix - 1), ns->prefix + 1);
    DIR *d = opendir("/");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        snprintf(q, sizeof q, "/%s", de->d_name);
        snprintf(p, sizeof p, "%s/%s", root, de->d_name);
        if (lstat(q, &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            char t[PATH_MAX];
            ssize_t k = readlink(q, t, sizeof t - 1);
            if (k > 0) {
                t[k] = '\0';
                (void)symlink(t, p);
            }
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (mkdir(p, st.st_mode & 07777) != 0)
                continue;
        } else {
            int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
            if (fd < 0)
                continue;
            close(fd);
        }
        if (mount(q, p, NULL, MS_BIND | MS_REC, NULL) != 0 && strcmp(de->d_name, top) != 0)
            fprintf(stderr, "smshim: namespace: cannot bind %s: %s\n", E1(q), strerror(errno));
    }
    if (d)
        closedir(d);
    /* this run's own mount point, inside the new root: undone (no loop) */
    snprintf(p, sizeof p, "%s%s", root, root);
    (void)umount2(p, MNT_DETACH);
    /* the tree at the prefix */
    snprintf(p, sizeof p, "%s%s", root, ns->prefix);
    if (access(p, F_OK) != 0 && (rc = mkdirs(p)) != 0) {
        snprintf(why, n, "the prefix %s has no mount point (%s)", ns->prefix, strerror(-rc));
        return rc;
    }
    if (mount(ns->tree, p, NULL, MS_BIND | MS_REC, NULL) != 0) {
        snprintf(why, n, "bind %s at %s: %s", ns->tree, ns->prefix, strerror(errno));
        return -errno;
    }
    if (chdir(root) != 0 || chroot(".") != 0) {
        snprintf(why, n, "chroot: %s", strerror(errno));
        return -errno;
    }
    if (chdir(cwd) != 0)
        (void)chdir("/");
    return 0;
}

void smns_done(struct smns *ns)
{
    if (ns->on)
        (void)rmdir(ns->root);
    ns->on = 0;
}
