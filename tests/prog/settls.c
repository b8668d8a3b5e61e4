/* settls.c: a thread that replaces its thread pointer under Syscall User Dispatch (as Go without
 * cgo does with runtime.settls). The shim's handler reads errno and its own state through the
 * thread pointer, so the thread is disarmed first, with a warning; its raw calls then go to the
 * kernel unchanged (they miss the prefix), its libc calls still see it, and other threads stay
 * armed.
 *
 *   settls DIR   (DIR under the prefix, made by the caller; run with SMSHIM_SUD=1)
 *
 * The new thread pointer is the old one (ARCH_GET_FS, then ARCH_SET_FS with that value): the
 * program keeps working, the shim cannot tell the difference. One line per step. */
#include "rawcall.h"

#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define raw6 raw_insn

static const char *res(long r)
{
    static char b[32];
    if (r >= 0)
        return "ok";
    snprintf(b, sizeof b, "%s", strerrorname_np((int)-r));
    return b;
}

static long create(const char *name)
{
    long fd = raw4(SYS_openat, AT_FDCWD, P(name), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0)
        raw1(SYS_close, fd);
    return fd;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int step;

/* an armed thread that waits until the main thread has replaced its thread pointer */
static void *other(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (step == 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    printf("other thread: raw create after: %s\n", res(create("other")));
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: settls DIR\n");
        return 2;
    }
    D = argv[1];
    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    printf("raw create before: %s\n", res(create("before")));
    unsigned long fs = 0;
    printf("arch_prctl get: %s\n", res(raw2(SYS_arch_prctl, ARCH_GET_FS, &fs)));
    printf("arch_prctl set: %s\n", res(raw2(SYS_arch_prctl, ARCH_SET_FS, fs)));
    printf("raw create after: %s\n", res(create("after")));
    int fd = open(P("libc"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    printf("libc create after: %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
    if (fd >= 0)
        close(fd);
    errno = 0;
    printf("raw getppid after: %s\n", res(raw0(SYS_getppid)));
    pthread_mutex_lock(&mu);
    step = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    return 0;
}
