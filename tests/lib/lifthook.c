/* lifthook.c: preloaded after the shim (LD_PRELOAD=libsmshim.so:lifthook.so), so the shim's real
 * open and openat reach it. At the first open of a path ending in $LIFTHOOK_MATCH it publishes
 * the new descriptor's number (lifthook_fd) before returning it to the shim, and returns only
 * once the program's hostile thread (lifthook_tid) has done its close or dup2 onto that number
 * (lifthook_done), or is waiting inside that call (lifthook_entered, and the thread sits in a
 * futex wait): the moment between a library open and its lift, held open for the program.
 * With $LIFTHOOK_HOLD set it returns only once the program's call is done: an open that hangs
 * in the kernel, which the program's call must not wait on for ever. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int lifthook_fd = -1, lifthook_tid, lifthook_entered, lifthook_done;
static int fired;

/* is thread tid in a futex wait (its system call 202 on x86_64, 98 on aarch64)? */
static int in_futex(int tid)
{
    char p[64], b[64] = "";
    snprintf(p, sizeof p, "/proc/self/task/%d/syscall", tid);
    int (*ro)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    int fd = ro(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    b[n > 0 ? n : 0] = '\0';
#if defined(__aarch64__)
    return strncmp(b, "98 ", 3) == 0;
#else
    return strncmp(b, "202 ", 4) == 0;
#endif
}

static int hook(const char *path, int fd)
{
    const char *m = getenv("LIFTHOOK_MATCH");
    size_t pl = path ? strlen(path) : 0, ml = m ? strlen(m) : 0;
    if (fd < 0 || !ml || pl < ml || strcmp(path + pl - ml, m) != 0 ||
        __atomic_exchange_n(&fired, 1, __ATOMIC_ACQ_REL))
        return fd;
    __atomic_store_n(&lifthook_fd, fd, __ATOMIC_RELEASE);
    struct timespec ms = {0, 1000000};
    while (!__atomic_load_n(&lifthook_done, __ATOMIC_ACQUIRE)) {
        int tid = __atomic_load_n(&lifthook_tid, __ATOMIC_ACQUIRE);
        if (!getenv("LIFTHOOK_HOLD") && __atomic_load_n(&lifthook_entered, __ATOMIC_ACQUIRE) &&
            tid && in_futex(tid))
            break; /* the program's call waits for this open's lift */
        nanosleep(&ms, NULL);
    }
    return fd;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (mode_t)va_arg(ap, int);
    va_end(ap);
    int (*r)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    return hook(path, r(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (mode_t)va_arg(ap, int);
    va_end(ap);
    int (*r)(int, const char *, int, ...) =
        (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
    return hook(path, r(dirfd, path, flags, mode));
}
