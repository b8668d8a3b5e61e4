/* stray.h: documents this cache made that no file stands for (stray.c). */
#ifndef SMH_STRAY_H
#define SMH_STRAY_H

#include "api.h"

#include <stdint.h>

struct smc;

/** A listed document d (a pull): 1 when it is one of this cache's that is not its file's
 *  document (it carries the entry's customId or upload marker, and the caller knows its id as no
 *  entry's), and its deletion is queued; then the pull leaves it alone. 0 otherwise. */
int smh_stray_seen(struct smc *c, const struct smh_doc *d);

/** The removal of the file key, whose entry had custom_id, was pushed: a push of it the service
 *  applies later is deleted by the pull that lists it (for the grace time, stray.c). */
void smh_stray_gone(struct smc *c, const char *key, const char *custom_id);

/** After a pull that started at pull_started_ms (smc_now_ms) and ended well: forget the removals
 *  whose grace ended before it started (it listed everything made until then). */
void smh_stray_prune(struct smc *c, uint64_t pull_started_ms);

#endif
