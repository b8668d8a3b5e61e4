/* runner.h: a small test framework after libuv's: each test runs in a forked child with a
 * timeout; typed asserts print file, line and expression. */
#ifndef SM_RUNNER_H
#define SM_RUNNER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SM_TEST(name)                                                                              \
    int test_##name(void);                                                                         \
    int test_##name(void)

#define SM_FAIL_(fmt, ...)                                                                         \
    do {                                                                                           \
        fprintf(stderr, "  assertion failed %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);   \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c))                                                                                  \
            SM_FAIL_("%s", #c);                                                                    \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            SM_FAIL_("%s == %s (%lld != %lld)", #a, #b, a_, b_);                                   \
    } while (0)
#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0)                                                                   \
            SM_FAIL_("%s == %s (\"%s\" != \"%s\")", #a, #b, a_, b_);                               \
    } while (0)
/* call returns -1 with errno e */
#define ASSERT_ERRNO(call, e)                                                                      \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(call);                                                                    \
        if (r_ != -1 || errno != (e))                                                              \
            SM_FAIL_("%s: want -1/%s, got %ld/%s", #call, #e, r_, strerror(errno));                \
    } while (0)

/** A fresh temporary directory for the current test (removed by the runner). */
const char *sm_test_tmpdir(void);

#endif
