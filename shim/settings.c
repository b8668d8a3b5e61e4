/* settings.c: the settings rules and the escaping rule (settings.h), one copy linked into the
 * library and the CLI. libc is reached through SM_REAL, which from the library is libc itself
 * (never the library's own wrappers) and from the CLI is libc too. */
#include "settings.h"
#include "sm_real.h"
#include "smshim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Decode one UTF-8 character at s: its length (1-4) and code point, or 0 when the bytes there
 * are not well-formed UTF-8 (overlong forms and surrogates included). */
static size_t utf8_char(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0], min;
    size_t len;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0)
        len = 2, min = 0x80, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0)
        len = 3, min = 0x800, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0)
        len = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Characters that act on a terminal or on how text is read rather than being text: C0 controls,
 * DEL, C1 controls, the line and paragraph separators and the bidirectional-text controls. */
static int is_control(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
           cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* The one escaping rule (settings.h). */
char *sm_escape(char *out, size_t size, const char *s, int json)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = 0;
    while (*p) {
        char e[8];
        size_t el = 0, len;
        unsigned cp;
        if (!(len = utf8_char(p, &cp))) {
            len = 1;
            if (json)
                memcpy(e, "\\ufffd", el = 6);
            else
                e[0] = '\\', e[1] = 'x', e[2] = hex[*p >> 4], e[3] = hex[*p & 15], el = 4;
        } else if (cp == '\\' || (json && cp == '"')) {
            e[0] = '\\', e[1] = (char)cp, el = 2;
        } else if (cp == '\n' || cp == '\r' || cp == '\t') {
            e[0] = '\\', e[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't', el = 2;
        } else if (is_control(cp) && cp < 0x80 && !json) {
            e[0] = '\\', e[1] = 'x', e[2] = hex[cp >> 4], e[3] = hex[cp & 15], el = 4;
        } else if (is_control(cp)) {
            e[0] = '\\', e[1] = 'u', e[2] = hex[(cp >> 12) & 15], e[3] = hex[(cp >> 8) & 15];
            e[4] = hex[(cp >> 4) & 15], e[5] = hex[cp & 15], el = 6;
        } else {
            memcpy(e, p, el = len);
        }
        if (n + el >= size)
            break;
        memcpy(out + n, e, el);
        n += el;
        p += len;
    }
    out[n] = '\0';
    return out;
}

/* Lexically normalise an absolute path into out: collapse "//" and "/.", resolve "..", drop a
 * trailing '/'. Returns 0, or -1 if it is not absolute or does not fit. out may be in (the output
 * never runs ahead of what was read). */
SM_START static int norm_abs(const char *in, char *out, size_t size)
{
    size_t n = 0;
    if (in[0] != '/')
        return -1;
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        if (len == 0 || (len == 1 && s[0] == '.'))
            continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            continue;
        }
        if (n + 1 + len + 1 > size)
            return -1;
        out[n++] = '/';
        sm_s_move(out + n, s, len);
        n += len;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return 0;
}

/* Canonicalise the cache directory: resolve symlinks in the longest part that exists, so that
 * paths the kernel reports (getcwd, /proc/self/fd) compare equal to the tree's path. That part
 * (canonical) goes to found: a directory, or the file that stands where the cache or one of its
 * parents would be (a cache no directory can be made in). */
static void canon_cache(char *path, size_t size, char found[PATH_MAX])
{
    char head[PATH_MAX], res[PATH_MAX], out[PATH_MAX];
    snprintf(head, sizeof head, "%s", path);
    size_t cut = strlen(head);
    found[0] = '\0';
    while (cut > 0) {
        head[cut] = '\0';
        if (SM_REAL(realpath)(head, res) != NULL) {
            snprintf(found, PATH_MAX, "%s", res);
            if (strcmp(res, "/") == 0)
                res[0] = '\0';
            if (snprintf(out, sizeof out, "%s%s", res, path + cut) < (int)sizeof out)
                snprintf(path, size, "%s", out);
            return;
        }
        while (cut > 0 && head[cut - 1] != '/')
            cut--; /* drop the last component ... */
        if (cut > 0)
            cut--; /* ... and its '/' */
    }
}

/* Is the normalised path p the directory d or below it? */
SM_START static int path_within(const char *p, const char *d)
{
    size_t n = sm_s_len(d);
    if (n == 1)
        return 1; /* "/" */
    return sm_s_ncmp(p, d, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* The system trees a prefix must not hide: the prefix's first component. */
SM_START static int system_tree(const char *prefix)
{
    static const char *const trees[] = {"proc", "sys", "dev", "etc", "usr", "bin", "sbin", "boot"};
    const char *c = prefix + 1;
    size_t n = 0;
    while (c[n] && c[n] != '/') /* no strcspn: the constructor calls this (no libc code paged in) */
        n++;
    if (n >= 3 && sm_s_ncmp(c, "lib", 3) == 0)
        return 1; /* /lib, /lib64, /libx32, ... */
    for (size_t i = 0; i < sizeof trees / sizeof trees[0]; i++)
        if (sm_s_len(trees[i]) == n && sm_s_ncmp(c, trees[i], n) == 0)
            return 1;
    return 0;
}

__attribute__((format(printf, 2, 3))) static int refuse(struct sm_settings *st, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->why, sizeof st->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* The ids and owners the cache's checks compare are the kernel's, asked past every interposer:
 * fakeroot answers geteuid with 0 and stat with the owners it fakes (0 for a file it does not
 * know), so under fakeroot a user's own cache was refused as another user's (the process then
 * ran without the shim) and the fallback cache was /tmp/smshim-0. */
static unsigned kernel_euid(void)
{
    return (unsigned)SM_REAL(syscall)(SYS_geteuid);
}
static int kernel_stat(const char *path, struct stat *sb, int flags)
{
#if defined(SYS_newfstatat)
    return SM_REAL(syscall)(SYS_newfstatat, AT_FDCWD, path, sb, flags) == 0 ? 0 : -1;
#else
    return SM_REAL(fstatat)(AT_FDCWD, path, sb, flags);
#endif
}

/* The fallback cache must be this user's own directory: made 0700 if missing, then checked
 * without following a symlink; and no other user may replace it (its parent is this user's or
 * root's, and sticky if others can write to it). 0, or -1 with st->why set. */
static int fallback_check(struct sm_settings *st)
{
    struct stat sb;
    char parent[PATH_MAX];
    const char *p = st->cache;
    unsigned uid = kernel_euid();
    int made = SM_REAL(mkdir)(st->cache, 0700) == 0 ? 0 : errno;
    if (kernel_stat(st->cache, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return refuse(st, "cannot create the fallback cache %s: %s", p,
                      strerror(made ? made : errno));
    if (S_ISLNK(sb.st_mode))
        return refuse(st, "the fallback cache %s is a symbolic link", p);
    if (!S_ISDIR(sb.st_mode))
        return refuse(st, "the fallback cache %s is not a directory", p);
    if (sb.st_uid != uid)
        return refuse(st, "the fallback cache %s belongs to uid %u, not to this user (uid %u)", p,
                      (unsigned)sb.st_uid, uid);
    if (sb.st_mode & 022)
        return refuse(st, "the fallback cache %s is writable by other users (mode %03o)", p,
                      (unsigned)(sb.st_mode & 0777));
    snprintf(parent, sizeof parent, "%s", st->cache);
    *strrchr(parent, '/') = '\0';
    if (kernel_stat(parent[0] ? parent : "/", &sb, 0) != 0 ||
        (sb.st_uid != uid && sb.st_uid != 0) || ((sb.st_mode & 022) && !(sb.st_mode & S_ISVTX)))
        return refuse(st, "the fallback cache %s lies in a directory other users can change", p);
    return 0;
}

static int refuse_to(char *why, size_t wsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse_to(char *why, size_t wsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, wsize, fmt, ap);
    va_end(ap);
    return -1;
}

/* The rules that need no system call (settings.h). */
SM_START int sm_settings_prefix(const char *(*get)(const char *), char *prefix, size_t size,
                                char *why, size_t wsize)
{
    const char *v = get(SMSHIM_ENV_PREFIX);
    if (!v || !*v)
        v = SMSHIM_DEFAULT_PREFIX;
    if (norm_abs(v, prefix, size) != 0)
        return refuse_to(why, wsize, "%s=%s is not an absolute path (or is too long)",
                         SMSHIM_ENV_PREFIX, v);
    if (sm_s_eq(prefix, "/"))
        return refuse_to(why, wsize, "the prefix / would take over every path");
    if (system_tree(prefix))
        return refuse_to(why, wsize, "the prefix %s would hide a system directory", prefix);
    return 0;
}

SM_START int sm_settings_cache_lexical(const char *(*get)(const char *), const char *prefix,
                                       char *cache, size_t size, char *why, size_t wsize)
{
    const char *v, *base, *tail;
    if ((v = get(SMSHIM_ENV_CACHE)) && *v) {
        if (v[0] != '/')
            return 1; /* relative to the working directory */
        base = v, tail = "";
    } else if ((v = get("XDG_CACHE_HOME")) && v[0] == '/') {
        base = v, tail = "/smshim";
    } else if ((v = get("HOME")) && v[0] == '/') {
        base = v, tail = "/.cache/smshim";
    } else {
        return 1; /* the fallback: its checks ask the file system */
    }
    /* base + tail, normalised in place */
    size_t bl = sm_s_len(base), tl = sm_s_len(tail);
    if (bl + tl + 1 > size)
        return refuse_to(why, wsize, "the cache directory's path is too long");
    sm_s_move(cache, base, bl);
    sm_s_move(cache + bl, tail, tl + 1);
    if (norm_abs(cache, cache, size) != 0 || sm_s_len(cache) + sizeof("/" SMSHIM_TREE_DIR) > size)
        return refuse_to(why, wsize, "the cache directory's path is too long");
    if (path_within(cache, prefix))
        return refuse_to(why, wsize, "the prefix %s contains the cache %s", prefix, cache);
    if (path_within(prefix, cache))
        return refuse_to(why, wsize, "the prefix %s lies inside the cache %s", prefix, cache);
    return 0;
}

/* A refused value is shown up to this many bytes (then "..."): a reason stays one short line. */
#define SHOWN_MAX 120

/* The container tag (settings.h): no libc call, the constructor decides it. */
SM_START int sm_settings_tag(const char *(*get)(const char *), char *tag, size_t size, char *why,
                             size_t wsize)
{
    const char *v = get(SMSHIM_ENV_TAG);
    size_t n = 0, bad = 0;
    if (!v || !*v)
        v = SMSHIM_DEFAULT_TAG;
    for (; v[n]; n++) {
        char c = v[n];
        bad += !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == ':' || c == '-');
    }
    if (bad || n > SM_TAG_MAX)
        return refuse_to(why, wsize,
                         "%s=%.*s%s is not a container tag: 1 to %d of A-Z a-z 0-9 _ : -",
                         SMSHIM_ENV_TAG, SHOWN_MAX, v, n > SHOWN_MAX ? "..." : "", SM_TAG_MAX);
    if (n >= size)
        return refuse_to(why, wsize, "%s is too long", SMSHIM_ENV_TAG);
    for (size_t i = 0; i <= n; i++)
        tag[i] = v[i];
    return 0;
}

/* The duration settings and their defaults (seconds). */
static const struct {
    const char *name;
    long dflt_ms;
} durations[] = {
    {SMSHIM_ENV_EXIT_TIMEOUT, 10000},
    {SMSHIM_ENV_PULL_INTERVAL, 30000},
    {"SMSHIM_PULL_TIMEOUT", 10000},
    {"SMSHIM_SYNC_TIMEOUT", 120000},
};

int sm_settings_seconds(const char *(*get)(const char *), const char *name, long *ms, char *why,
                        size_t wsize)
{
    long dflt = 0;
    for (size_t i = 0; i < sizeof durations / sizeof *durations; i++)
        if (strcmp(durations[i].name, name) == 0)
            dflt = durations[i].dflt_ms;
    *ms = dflt;
    const char *v = get(name);
    if (!v || !*v)
        return 0;
    /* digits and at most one '.' with a digit somewhere: what strtod then reads whole */
    size_t digits = 0, dots = 0, n = 0;
    for (; v[n]; n++) {
        if (v[n] >= '0' && v[n] <= '9')
            digits++;
        else if (v[n] == '.')
            dots++;
        else
            break;
    }
    double s = digits && dots <= 1 && !v[n] ? strtod(v, NULL) : -1;
    if (s < 0 || s > SM_SECONDS_MAX)
        return refuse_to(
            why, wsize, "%s=%.*s%s is not a number of seconds from 0 to %d (the default is %ld s)",
            name, SHOWN_MAX, v, strlen(v) > SHOWN_MAX ? "..." : "", SM_SECONDS_MAX, dflt / 1000);
    *ms = (long)(s * 1000);
    return 0;
}

int sm_settings_seconds_all(const char *(*get)(const char *), char *why, size_t wsize)
{
    long ms;
    for (size_t i = 0; i < sizeof durations / sizeof *durations; i++)
        if (sm_settings_seconds(get, durations[i].name, &ms, why, wsize) != 0)
            return -1;
    return 0;
}

/* The one decision on the settings (settings.h). */
int sm_settings_resolve(const char *(*get)(const char *), int flags, struct sm_settings *st)
{
    char raw[PATH_MAX], lex[PATH_MAX];
    const char *v;
    st->why[0] = st->warn[0] = '\0';
    st->fallback = 0;
    if (sm_settings_prefix(get, st->prefix, sizeof st->prefix, st->why, sizeof st->why) != 0)
        return -1;
    if (sm_settings_tag(get, st->tag, sizeof st->tag, st->why, sizeof st->why) != 0)
        return -1;
    int r = sm_settings_cache_lexical(get, st->prefix, st->cache, sizeof st->cache, st->why,
                                      sizeof st->why);
    if (r < 0)
        return -1;
    if (r == 0) {
        snprintf(raw, sizeof raw, "%s", st->cache);
    } else if ((v = get(SMSHIM_ENV_CACHE)) && *v) {
        char cwd[PATH_MAX];
        if (SM_REAL(getcwd)(cwd, sizeof cwd))
            snprintf(raw, sizeof raw, "%s/%s", cwd, v);
        else
            return refuse(st, "%s is relative and the working directory is unknown",
                          SMSHIM_ENV_CACHE);
    } else {
        struct stat sb;
        st->fallback = 1;
        if ((v = get("XDG_RUNTIME_DIR")) && v[0] == '/' && SM_REAL(stat)(v, &sb) == 0 &&
            S_ISDIR(sb.st_mode))
            snprintf(raw, sizeof raw, "%s/smshim", v);
        else
            snprintf(raw, sizeof raw, "/tmp/smshim-%u", kernel_euid());
    }
    if (norm_abs(raw, st->cache, sizeof st->cache) != 0 ||
        strlen(st->cache) + sizeof("/" SMSHIM_TREE_DIR) > sizeof st->cache)
        return refuse(st, "the cache directory's path is too long");
    if (st->fallback && fallback_check(st) != 0)
        return -1;
    snprintf(lex, sizeof lex, "%s", st->cache);
    char found[PATH_MAX];
    struct stat fsb;
    canon_cache(st->cache, sizeof st->cache, found);
    int have = found[0] && kernel_stat(found, &fsb, 0) == 0;
    if (have && !S_ISDIR(fsb.st_mode))
        return strcmp(found, st->cache) == 0
                   ? refuse(st, "the cache %s is not a directory", st->cache)
                   : refuse(st, "the cache %s lies under %s, which is not a directory", st->cache,
                            found);
    if (strlen(st->cache) + sizeof("/" SMSHIM_TREE_DIR) > sizeof st->cache)
        return refuse(st, "the cache directory's path is too long");
    /* another user's cache that this process may write to: what it made there (LMDB's files,
     * the journal) would be its own, 0600, and the cache's owner could no longer open it (root
     * under sudo, which keeps HOME). One it may not write to is a privilege drop's: the process
     * uses the tree its parent opened, and the cache stays as it is. */
    if (have && strcmp(found, st->cache) == 0 && fsb.st_uid != kernel_euid() &&
        SM_REAL(faccessat)(AT_FDCWD, st->cache, W_OK, AT_EACCESS) == 0)
        return refuse(st,
                      "the cache %s belongs to uid %u, not to this user (uid %u): set %s to a "
                      "cache of this user's",
                      st->cache, (unsigned)fsb.st_uid, kernel_euid(), SMSHIM_ENV_CACHE);
    for (int i = 0; i < 2; i++) {
        const char *c = i ? st->cache : lex;
        if (path_within(c, st->prefix))
            return refuse(st, "the prefix %s contains the cache %s", st->prefix, c);
        if (path_within(st->prefix, c))
            return refuse(st, "the prefix %s lies inside the cache %s", st->prefix, c);
    }
    if (flags & SM_SET_WARN) {
        sm_brief_begin(); /* the listing's descriptor is the library's until it is closed */
        DIR *d = SM_REAL(opendir)(st->prefix);
        struct dirent *de;
        while (d && (de = SM_REAL(readdir)(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                snprintf(st->warn, sizeof st->warn,
                         "the prefix %s hides the real directory there, which is not empty",
                         st->prefix);
                break;
            }
        if (d)
            closedir(d);
        sm_brief_end();
    }
    return 0;
}
