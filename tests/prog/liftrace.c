/* liftrace.c: a program thread closes, or duplicates onto, the number a library open has just
 * got, before the shim has lifted it out of the program's range (tests/lib/lifthook.c holds that
 * moment open). Usage: liftrace MODE DIR OWN, MODE close (close the number, then open OWN: the
 * kernel hands out the freed number) or dup2 (dup2 a descriptor on OWN onto the number), or
 * hold (the hook holds the open until the close is done: the close must not wait for ever). The
 * main thread writes DIR/a.txt (the shim opens its environment: LMDB's data.mdb is the hooked
 * open), then DIR/b.txt; then the program's descriptor must still be OWN, hold only what the
 * program wrote, and both files read back. Prints "ok" or what went wrong. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "progfd.h"

static const char *mode, *own;
static int *hk_fd, *hk_tid, *hk_entered, *hk_done;
static int mine = -1, target = -1, call_rc, call_errno;

static void *hostile(void *arg)
{
    (void)arg;
    struct timespec ms = {0, 1000000};
    int pre = -1;
    if (strcmp(mode, "dup2") == 0)
        pre = open(own, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    __atomic_store_n(hk_tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
    while ((target = __atomic_load_n(hk_fd, __ATOMIC_ACQUIRE)) < 0)
        nanosleep(&ms, NULL);
    __atomic_store_n(hk_entered, 1, __ATOMIC_RELEASE);
    if (strcmp(mode, "hold") == 0) { /* the library's open never ends: the close must */
        call_rc = close(target);
        call_errno = errno;
        mine = open(own, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    } else if (pre < 0) {
        call_rc = close(target);
        call_errno = errno;
        mine = open(own, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    } else {
        call_rc = dup2(pre, target);
        call_errno = errno;
        mine = call_rc;
        close(pre);
    }
    __atomic_store_n(hk_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    mode = argv[1];
    own = argv[3];
    hk_fd = dlsym(RTLD_DEFAULT, "lifthook_fd");
    hk_tid = dlsym(RTLD_DEFAULT, "lifthook_tid");
    hk_entered = dlsym(RTLD_DEFAULT, "lifthook_entered");
    hk_done = dlsym(RTLD_DEFAULT, "lifthook_done");
    if (!hk_fd || !hk_tid || !hk_entered || !hk_done) {
        printf("lifthook.so is not preloaded\n");
        return 2;
    }
    pthread_t t;
    pthread_create(&t, NULL, hostile, NULL);
    while (!__atomic_load_n(hk_tid, __ATOMIC_ACQUIRE))
        sched_yield();
    if (put_named_env(argv[2], "a.txt") != 0)
        return 1;
    pthread_join(t, NULL);
    if (put_named(argv[2], "b.txt") != 0)
        return 1;
    struct stat ms, os;
    if (mine < 0 || fstat(mine, &ms) != 0) {
        printf("%s onto %d (rc %d, %s): the program's descriptor %d is gone: %s\n", mode, target,
               call_rc, call_rc < 0 ? strerror(call_errno) : "ok", mine, strerror(errno));
        return 1;
    }
    if (stat(own, &os) != 0 || os.st_ino != ms.st_ino || os.st_dev != ms.st_dev) {
        printf("%s onto %d: descriptor %d is not the program's file\n", mode, target, mine);
        return 1;
    }
    if (write(mine, "mine", 4) != 4 || fstat(mine, &ms) != 0 || ms.st_size != 4) {
        printf("%s onto %d: the program's file holds %lld bytes, 4 written\n", mode, target,
               (long long)ms.st_size);
        return 1;
    }
    printf("ok\n");
    return 0;
}
