/* creds.c: the credentials file shared with smfs (creds.h). Read by the CLI and, once, by a
 * process's sync thread; written only by `smshim login` / `smshim logout`, always as a new file
 * created 0600 and renamed into place, so that no reader ever sees a half-written file and the
 * key is never readable by others, not even for a moment. */
#include "creds.h"
#include "http.h"
#include "../cache/cache.h"
#include "sm_real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define J         smh_json
#define CREDS_MAX (64u << 10) /* a credentials file larger than this is not one */

int smh_creds_path(const char *(*get)(const char *), char *out, size_t n)
{
    const char *x = get("XDG_CONFIG_HOME"), *h = get("HOME");
    int w;
    out[0] = '\0';
    if (x && x[0] == '/')
        w = snprintf(out, n, "%s/supermemoryfs/credentials.json", x);
    else if (h && h[0] == '/')
        w = snprintf(out, n, "%s/.config/supermemoryfs/credentials.json", h);
    else
        return -ENOENT;
    if (w < 0 || (size_t)w >= n) {
        out[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

/* The whole file, NUL-terminated (malloc'd). 0, or -errno (-EFBIG, -EINVAL: not a file). */
static int slurp(const char *path, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO in the file's place is refused below, never waited on */
    int fd = sm_lib_openat(AT_FDCWD, path, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    if (SM_REAL(fstat)(fd, &st) != 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = -EINVAL;
    else if ((size_t)st.st_size > CREDS_MAX)
        rc = -EFBIG;
    else if (!(buf = malloc(CREDS_MAX + 1)))
        rc = -ENOMEM;
    size_t got = 0;
    while (rc == 0) {
        ssize_t r = read(fd, buf + got, CREDS_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -errno;
        else if (r == 0)
            break;
        else if ((got += (size_t)r) > CREDS_MAX)
            rc = -EFBIG;
    }
    sm_lib_close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

static const char *why_errno(int rc)
{
    return rc == -EINVAL  ? "not a regular file"
           : rc == -EFBIG ? "larger than 64 KiB"
                          : strerror(-rc);
}

/* The file's JSON object (NULL: *why set). text may hold anything. */
static cJSON *parse_obj(const char *path, const char *text, size_t len, char *why, size_t n)
{
    cJSON *j = strlen(text) == len ? J.ParseWithOpts(text, NULL, 1) : NULL;
    if (!j || !smh_jobject(j)) {
        snprintf(why, n, "%s is malformed: not a JSON object", path);
        if (j)
            J.Delete(j);
        return NULL;
    }
    return j;
}

static int load_json(const char *path, cJSON **out, char *why, size_t n)
{
    char *text;
    size_t len;
    *out = NULL;
    if (smh_http_load() != 0) {
        snprintf(why, n, "cannot read %s: libcjson.so.1 or libcurl.so.4 cannot be loaded", path);
        return -1;
    }
    int rc = slurp(path, &text, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0) {
        snprintf(why, n, "cannot read %s: %s", path, why_errno(rc));
        return -1;
    }
    *out = parse_obj(path, text, len, why, n);
    free(text);
    return *out ? 1 : -1;
}

int smh_creds_read(const char *path, struct smh_creds *out, char *why, size_t n)
{
    cJSON *j;
    memset(out, 0, sizeof *out);
    int rc = load_json(path, &j, why, n);
    if (rc <= 0)
        return rc;
    const cJSON *k = J.Get(j, "api_key"), *u = J.Get(j, "api_url");
    rc = -1;
    if (k && !smh_jstring(k) && !SMH_JTYPE(k, cJSON_NULL))
        snprintf(why, n, "%s is malformed: api_key is not a string", path);
    else if (u && !smh_jstring(u) && !SMH_JTYPE(u, cJSON_NULL))
        snprintf(why, n, "%s is malformed: api_url is not a string", path);
    else if (smh_jstring(k) && (strlen(k->valuestring) >= sizeof out->key ||
                                (k->valuestring[0] && !smh_key_usable(k->valuestring, NULL, 0))))
        snprintf(why, n, "%s is malformed: api_key is not a usable key", path);
    else if (smh_jstring(u) && u->valuestring[0] &&
             (strlen(u->valuestring) >= sizeof out->url ||
              (strncmp(u->valuestring, "https://", 8) != 0 &&
               strncmp(u->valuestring, "http://", 7) != 0)))
        snprintf(why, n, "%s is malformed: api_url is not an http(s) URL", path);
    else
        rc = 0;
    if (rc == 0) {
        if (smh_jstring(k))
            snprintf(out->key, sizeof out->key, "%s", k->valuestring);
        if (smh_jstring(u))
            snprintf(out->url, sizeof out->url, "%s", u->valuestring);
        rc = out->key[0] ? 1 : 0;
    }
    J.Delete(j);
    return rc;
}

int smh_creds_take(const char *path, const struct smh_creds **c, char *why, size_t n)
{
    size_t bytes = (sizeof(struct smh_creds) + 4095) & ~(size_t)4095;
    struct smh_creds *p =
        mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *c = NULL;
    if (p == MAP_FAILED) {
        snprintf(why, n, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    madvise(p, bytes, MADV_DONTDUMP); /* best effort, as for the connection's copy */
    int rc = smh_creds_read(path, p, why, n);
    if (rc <= 0) {
        memset(p, 0, sizeof *p);
        munmap(p, bytes);
        return rc;
    }
    *c = p;
    return rc;
}

int smh_creds_present(const char *path)
{
    static int seen; /* 0: not looked yet, 1: present, 2: absent (a race only looks twice) */
    int s = __atomic_load_n(&seen, __ATOMIC_ACQUIRE);
    if (!s) {
        s = path && path[0] && SM_REAL(access)(path, F_OK) == 0 ? 1 : 2;
        __atomic_store_n(&seen, s, __ATOMIC_RELEASE);
    }
    return s == 1;
}

/* mkdir -p of path's directory, each missing one 0700. */
static int make_dirs(const char *path, char *why, size_t n)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d)
        return 0;
    *slash = '\0';
    for (char *p = d + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (SM_REAL(mkdir)(d, 0700) != 0 && errno != EEXIST) {
                snprintf(why, n, "cannot create %s: %s", d, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c)
                return 0;
        }
    }
}

/* Write text as path, atomically: a new file created 0600 next to it, renamed over it. A path
 * that is a symbolic link (a dotfiles repository) is written where the link points. */
static int write_atomic(const char *path, const char *text, char *why, size_t n)
{
    char real[PATH_MAX], tmp[PATH_MAX + 32];
    struct stat st;
    if (SM_REAL(lstat)(path, &st) == 0 && S_ISLNK(st.st_mode) && SM_REAL(realpath)(path, real))
        path = real;
    if (make_dirs(path, why, n) != 0)
        return -1;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    SM_REAL(unlink)(tmp);
    int fd = sm_brief_openat(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(why, n, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    int rc = fchmod(fd, 0600); /* exactly 0600 whatever the umask took away (never wider) */
    while (rc == 0 && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = -1;
        else
            off += (size_t)w;
    }
    if (rc == 0)
        rc = SM_REAL(fsync)(fd);
    int e = errno;
    sm_brief_close(fd);
    if (rc == 0 && SM_REAL(rename)(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        SM_REAL(unlink)(tmp);
        snprintf(why, n, "cannot write %s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

static int write_obj(const char *path, cJSON *j, char *why, size_t n)
{
    char *text = J.Print(j);
    if (!text) {
        snprintf(why, n, "cannot write %s: out of memory", path);
        return -1;
    }
    size_t len = strlen(text);
    char *nl = malloc(len + 2);
    int rc = -1;
    if (nl) {
        memcpy(nl, text, len);
        memcpy(nl + len, "\n", 2);
        rc = write_atomic(path, nl, why, n);
        memset(nl, 0, len); /* the key does not linger in freed memory */
        free(nl);
    }
    memset(text, 0, len);
    J.Free(text);
    return rc;
}

static void set_string(cJSON *j, const char *name, const char *value)
{
    J.DelItem(j, name);
    J.AddString(j, name, value);
}

int smh_creds_store(const char *path, const char *key, const char *url, char *why, size_t n)
{
    cJSON *j;
    int rc = load_json(path, &j, why, n);
    if (rc < 0)
        return -1; /* a file we cannot read or parse is never overwritten: it may hold more */
    if (rc == 0 && !(j = J.CreateObject())) {
        snprintf(why, n, "cannot write %s: out of memory", path);
        return -1;
    }
    set_string(j, "api_key", key);
    if (url)
        set_string(j, "api_url", url);
    rc = write_obj(path, j, why, n);
    J.Delete(j);
    return rc;
}

int smh_creds_forget(const char *path, char *why, size_t n)
{
    cJSON *j;
    int rc = load_json(path, &j, why, n);
    if (rc <= 0)
        return rc;
    if (!J.Get(j, "api_key")) {
        J.Delete(j);
        return 0;
    }
    J.DelItem(j, "api_key");
    if (J.ArraySize(j) == 0) { /* nothing else in it: the file goes */
        rc = SM_REAL(unlink)(path) == 0 || errno == ENOENT ? 1 : -1;
        if (rc < 0)
            snprintf(why, n, "cannot remove %s: %s", path, strerror(errno));
    } else {
        rc = write_obj(path, j, why, n) == 0 ? 1 : -1;
    }
    J.Delete(j);
    return rc;
}

int smh_creds_for_sync(struct smc *c, const char *path, int url_env, const char **key,
                       const char **url, void (*log)(const char *))
{
    const struct smh_creds *cr;
    char why[PATH_MAX + 128], msg[PATH_MAX + 160];
    if (!path || !path[0])
        return 0;
    int rc = smh_creds_take(path, &cr, why, sizeof why);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "credentials: %s; this process stays local-only", why);
        if (log)
            log(msg);
        smc_kv_set_str(c, SMC_KV_CREDS_ERROR, NULL, why);
        return -1;
    }
    smc_kv_unset(c, SMC_KV_CREDS_ERROR, NULL);
    if (rc == 0)
        return 0; /* logged out: local-only, as with no key in the environment */
    *key = cr->key;
    if (!url_env && cr->url[0])
        *url = cr->url;
    return 1;
}
