/* stray.h: documents this cache made that no file stands for (stray.c). */
#ifndef SMH_STRAY_H
#define SMH_STRAY_H

#include "api.h"

struct smc;

/** A listed document d (a pull): 1 when it is one of this cache's that is not its file's
 *  document (it carries the entry's customId or upload marker, and the caller knows its id as no
 *  entry's), and its deletion is queued; then the pull leaves it alone. 0 otherwise. */
int smh_stray_seen(struct smc *c, const struct smh_doc *d);

#endif
