/* log.c: opt-in diagnostics (SMSHIM_LOG="error|warn|info|debug[:FILE]"). Never writes to the
 * host's stdout or stderr unless FILE is "stderr". */
#include "shim.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int sm_log_level;
static int log_fd = -1;

void sm_log_init(const char *spec, const char *cache)
{
    static const char *names[] = {"off", "error", "warn", "info", "debug"};
    char level[16];
    const char *file = NULL;

    sm_log_level = 0;
    if (!spec || !*spec)
        return;
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n >= sizeof level)
        return;
    memcpy(level, spec, n);
    level[n] = '\0';
    if (colon)
        file = colon + 1;
    for (int i = 0; i < 5; i++)
        if (strcmp(level, names[i]) == 0)
            sm_log_level = i;
    if (level[0] >= '0' && level[0] <= '4' && level[1] == '\0')
        sm_log_level = level[0] - '0';
    if (sm_log_level == 0)
        return;
    char deflt[PATH_MAX];
    if (!file || !*file) {
        snprintf(deflt, sizeof deflt, "%s/log", cache);
        file = deflt;
    }
    if (strcmp(file, "stderr") == 0) {
        log_fd = 2;
        return;
    }
    log_fd = SM_REAL(openat)(AT_FDCWD, file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0)
        sm_log_level = 0;
}

void sm_logf(int level, const char *fn, int line, const char *fmt, ...)
{
    static const char *tags = "?EWID";
    char buf[1024];
    int saved = errno;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(buf, sizeof buf, "%lld.%03ld smshim[%d] %c %s:%d: ", (long long)ts.tv_sec,
                     ts.tv_nsec / 1000000, (int)getpid(), tags[level & 7], fn, line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && n < (int)sizeof buf)
        n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf - 1)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (log_fd >= 0)
        (void)!write(log_fd, buf, (size_t)n);
    errno = saved;
}

uint64_t sm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
