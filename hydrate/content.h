/* content.h: the exact bytes of a file and what the service holds of them (content.c).
 * The service strips a trailing newline and cannot hold an empty document, so a push sends the
 * bytes (or SMH_EMPTY_TEXT when they are only whitespace) with metadata that restores them
 * exactly (api.h, struct smh_exact); a pull restores them only when the content still matches,
 * so a document written or edited by another client stays as the service gives it. */
#ifndef SMH_CONTENT_H
#define SMH_CONTENT_H

#include "api.h"

#include <stddef.h>

/** The content of a document whose file holds nothing but whitespace (an empty file). */
#define SMH_EMPTY_TEXT "(empty file)"

struct smh_wire {
    const char *content; /* NUL-terminated: the file's bytes, or SMH_EMPTY_TEXT */
    struct smh_exact x;  /* x.set 0: a whitespace tail too long to keep (SMH_TAIL_MAX) */
};
/** What to send for the exact bytes s[0..n) (UTF-8 text, NUL-terminated at s[n]). */
void smh_wire_form(const char *s, size_t n, struct smh_wire *w);
/** The bytes document d stands for: 1 and malloc'd *out (*len bytes) when its metadata restores
 *  the exact bytes of the file that was pushed; 0: its content as the service gives it. */
int smh_exact_bytes(const struct smh_doc *d, char **out, size_t *len);

#endif
