/* clock.h: the sync engine's time helpers (private to hydrate/).
 * On smc_now_ms's clock: CLOCK_REALTIME, the clock a pthread_cond_timedwait deadline is read
 * on by default. */
#ifndef SMH_CLOCK_H
#define SMH_CLOCK_H

#include "../cache/cache.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* unit conversions (not tunables) */
#define SMH_MS_PER_S  1000u
#define SMH_NS_PER_MS 1000000u
#define SMH_US_PER_MS 1000u

/** Now in nanoseconds, at millisecond precision (the unit of dirty_since_ns and the notes). */
static inline uint64_t smh_now_ns(void)
{
    return smc_now_ms() * SMH_NS_PER_MS;
}

/** The absolute time at_ms (smc_now_ms's clock) as a pthread_cond_timedwait deadline. */
static inline struct timespec smh_abstime(uint64_t at_ms)
{
    struct timespec ts = {(time_t)(at_ms / SMH_MS_PER_S),
                          (long)(at_ms % SMH_MS_PER_S) * (long)SMH_NS_PER_MS};
    return ts;
}

/** Sleep ms milliseconds. */
static inline void smh_sleep_ms(unsigned ms)
{
    usleep(ms * SMH_US_PER_MS);
}

#endif
