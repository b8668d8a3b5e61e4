/* binary.h: binary documents both ways (the service keeps images, PDFs, audio, video and web
 * pages as documents of their type, with the text it extracts as their content and a url for
 * their bytes).
 * A local file that is not UTF-8 text goes up through the file endpoint (upload.c); a remote
 * binary document comes down as its bytes, fetched from its url by the sync engine after the
 * pull that listed it, beside a read-only transcription of the text the service extracted, and a
 * failed one as a read-only error file (fetch.c; the siblings' names: smc_sibling_name). */
#ifndef SMH_BINARY_H
#define SMH_BINARY_H

#include "api.h"

#include <stddef.h>
#include <stdint.h>

struct smc;
struct smc_entry;
struct smc_pushed;
struct smh_engine;
struct job;

/** The largest binary document whose bytes are fetched (smfs's limit): a larger one is listed
 *  in `smshim status --list` as not-fetched, and has no file. */
#define SMH_BIN_FETCH_MAX (20u << 20)

/** Push bytes[0..len) (not UTF-8 text) as key's document through the file endpoint, once: an
 *  earlier attempt that reached the service is found by its marker (SMH_META_UPLOAD) and
 *  adopted; then the document the file had before (text or an older upload) and the entry's
 *  other earlier uploads are deleted. The outcome; on SMH_OK the new document's id is in id
 *  and p's flags are set. Runs in a worker (one request at a time: one slot of the 8). */
int smh_push_binary(struct smh_engine *e, struct smh_call *k, const char *key,
                    const struct smc_entry *ent, const char *bytes, size_t len,
                    struct smc_pushed *p, char id[64]);

/** The file whose entry had custom_id is gone, or its text went up as document keep, and an
 *  upload of it may have reached the service without its answer being heard: delete the
 *  documents such attempts made (found by their marker at the filepath they were sent with), and
 *  any but keep of its customId. SMH_OK when there are none (left). */
int smh_bin_delete_attempts(struct smh_engine *e, struct smh_call *k, const char *custom_id,
                            const char *keep);

/** A listed document (with its content), before it is applied as text: 1 when it is a binary
 *  or failed one and was handled here (its sibling written, its bytes marked to be fetched), 2
 *  the same when a file changed meanwhile (a sibling written or removed), 0 for a text document
 *  (the caller applies it). Never waits on the network. */
int smh_bin_on_doc(struct smc *c, const char *tree, const char *tmp, const struct smh_doc *d);

/** The backoff of a binary document whose fetch failed (kv SMC_KV_FETCH_RETRY + its key). */
struct smh_fetch_retry {
    long failures;      /* in a row */
    uint64_t next_ms;   /* not fetched again before (smc_now_ms's clock) */
    int64_t updated_ms; /* the version that failed (0: not known) */
};
struct smh_keyset;
/** Add to keys the keys whose fetch failed and backs off. 0 or -errno. */
int smh_bin_backing_off(struct smc *c, struct smh_keyset *keys);
/** Forget what the fetch of key's bytes kept (the listing's url, the backoff): its entry moved. */
void smh_bin_forget(struct smc *c, const char *key);

/** Fetch the bytes of the binary documents marked by smh_bin_on_doc, over k's connection (its
 *  timeouts and deadline), until done or the deadline (past it the rest waits for the next
 *  pull). The caller holds a slot of the request budget for k's requests; up to 3 more fetches
 *  run at once, each with a read slot free when the pass starts. A document whose fetch failed
 *  waits for its backoff (SMC_KV_FETCH_RETRY), and a newer version of it does not. A document is asked again (a fresh url), its url fetched up to SMH_BIN_FETCH_MAX and
 *  the bytes applied like any pulled file. The count of files written (a file that held
 *  those bytes already is not). */
long smh_bin_fetch(struct smc *c, const char *tree, const char *tmp, struct smh_call *k,
                   uint64_t deadline, void (*log)(const char *));

#endif
