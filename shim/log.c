/* log.c: opt-in diagnostics (SMSHIM_LOG="error|warn|info|debug[:FILE]"). Never writes to the
 * host's stdout or stderr unless FILE is "stderr", with one exception: the line that says the
 * settings were refused (sm_log_refused). A message is escaped (sm_escape) before it is written:
 * file names and server text in it can neither drive a terminal nor forge a line. */
#include "shim.h"
#include "settings.h"
#include "smshim.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void sm_log_refused(const char *why);

int sm_log_level;
static int log_fd = -1; /* the log's descriptor (the shim's own), -1 until it is open */
/* The default file lives in the cache, which the first process of a new cache makes only at its
 * first call under the prefix, after sm_log_init: that file is opened at the first message
 * instead (log_later holds its path; log_opening lets one thread try at a time). */
static char log_later[PATH_MAX];
static int log_opening;

static void log_open(const char *file)
{
    /* one of the shim's own descriptors (sm_real.h): out of the host's range, moved away when the
     * host dup2s onto it, never closed by the host */
    int fd = sm_lib_openat(AT_FDCWD, file, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        __atomic_store_n(&log_fd, fd, __ATOMIC_RELEASE);
        sm_fd_movable(&log_fd);
    }
}

/* SMSHIM_LOG asks for a log this process cannot keep: one line on stderr says why, escaped (the
 * log stays off; nothing else is said unasked). */
static void log_unusable(const char *spec, const char *why)
{
    char esc[300], buf[600];
    sm_escape(esc, sizeof esc, spec, 0);
    int n =
        snprintf(buf, sizeof buf, "smshim: %s=%s: %s; the log is off\n", SMSHIM_ENV_LOG, esc, why);
    if (n >= (int)sizeof buf)
        n = (int)sizeof buf - 1, buf[n - 1] = '\n';
    if (n > 0) {
        int h = sm_fsize_begin();
        (void)!write(2, buf, (size_t)n);
        sm_fsize_end(h);
    }
}

void sm_log_init(const char *spec, const char *cache)
{
    static const char *names[] = {"off", "error", "warn", "info", "debug"};
    char level[16];
    const char *file = NULL;

    sm_log_level = 0;
    if (log_fd > 2)
        sm_lib_close(log_fd); /* loaded again (the unit tests) */
    log_fd = -1;
    if (!spec || !*spec)
        return;
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    int known = 0;
    if (n < sizeof level) {
        memcpy(level, spec, n);
        level[n] = '\0';
        for (int i = 0; i < 5; i++)
            if (strcmp(level, names[i]) == 0)
                sm_log_level = i, known = 1;
        if (level[0] >= '0' && level[0] <= '4' && level[1] == '\0')
            sm_log_level = level[0] - '0', known = 1;
    }
    if (!known) {
        log_unusable(spec, "the level is none of off, error, warn, info, debug, 0-4");
        return;
    }
    if (colon)
        file = colon + 1;
    if (sm_log_level == 0)
        return;
    char deflt[PATH_MAX];
    if (!file || !*file) {
        if (!cache) { /* no cache to hold the default file */
            sm_log_level = 0;
            return;
        }
        snprintf(deflt, sizeof deflt, "%s/log", cache);
        file = deflt;
    }
    if (strcmp(file, "stderr") == 0) {
        log_fd = 2;
        return;
    }
    log_later[0] = '\0';
    log_open(file);
    if (log_fd >= 0)
        return;
    if (file == deflt && errno == ENOENT) {
        snprintf(log_later, sizeof log_later, "%s", deflt); /* the cache is not made yet */
    } else {
        char why[128];
        snprintf(why, sizeof why, "the file cannot be opened: %s", strerror(errno));
        sm_log_level = 0;
        log_unusable(spec, why);
    }
}

void sm_logf(int level, const char *fn, int line, const char *fmt, ...)
{
    static const char *tags = "?EWID";
    char msg[1024], buf[2048];
    int saved = errno;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n = snprintf(buf, sizeof buf, "%lld.%03ld smshim[%d] %c %s:%d: ", (long long)ts.tv_sec,
                     ts.tv_nsec / 1000000, (int)getpid(), tags[level & 7], fn, line);
    if (n < 0 || n >= (int)sizeof buf - 1)
        n = 0;
    sm_escape(buf + n, sizeof buf - 1 - (size_t)n, msg, 0);
    n += (int)strlen(buf + n);
    buf[n++] = '\n';
    int fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
    if (fd < 0 && log_later[0] && !__atomic_exchange_n(&log_opening, 1, __ATOMIC_ACQUIRE)) {
        if (__atomic_load_n(&log_fd, __ATOMIC_ACQUIRE) < 0)
            log_open(log_later);
        __atomic_store_n(&log_opening, 0, __ATOMIC_RELEASE);
        fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
    }
    if (fd >= 0) { /* a log past the file size limit loses the line, never the process */
        int h = sm_fsize_begin();
        (void)!write(fd, buf, (size_t)n);
        sm_fsize_end(h);
    }
    errno = saved;
}

/** The settings are refused (the shim stays off): say why in one line on stderr, whatever
 *  SMSHIM_LOG says (a process would otherwise write to the real disk in silence), and in the log
 *  file too when there is one. */
void sm_log_refused(const char *why)
{
    char esc[1024], buf[1200];
    int saved = errno;
    sm_escape(esc, sizeof esc, why, 0);
    int n =
        snprintf(buf, sizeof buf, "smshim: refused: %s; this process runs without the shim\n", esc);
    if (n >= (int)sizeof buf)
        n = (int)sizeof buf - 1, buf[n - 1] = '\n';
    if (n > 0) {
        int h = sm_fsize_begin();
        (void)!write(2, buf, (size_t)n);
        sm_fsize_end(h);
    }
    if (log_fd >= 0 && log_fd != 2)
        sm_logf(SM_LOG_ERROR, __func__, __LINE__, "refused: %s", why);
    errno = saved;
}

uint64_t sm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
