/* api.h: the Supermemory documents API (the subset the sync engine speaks), over http.h. Everything that comes
 * back from the server is untrusted: every field is type-checked and every filepath validated. */
#ifndef SMH_API_H
#define SMH_API_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/** What a request came to; the push queue decides by it. */
enum smh_outcome {
    SMH_OK = 0,
    SMH_RETRY,  /* 429, 5xx, timeout, dropped connection, malformed answer: try again later */
    SMH_AUTH,   /* 401/403: the key is refused; pause everything */
    SMH_GONE,   /* 404 */
    SMH_REJECT, /* another 4xx: this request will never succeed as it is */
};

/** What the service does not keep of a file's exact bytes, kept in the document's metadata
 *  (SMH_META_HASH, SMH_META_TAIL): the FNV-1a 64 of the exact local bytes and their trailing
 *  whitespace (the service strips a trailing newline). Restored on pull only when the content
 *  still matches the hash (content.c); a document other clients wrote stays as it is. */
#define SMH_TAIL_MAX  256
#define SMH_META_HASH "smshim_hash"
#define SMH_META_TAIL "smshim_tail"
struct smh_exact {
    int set;
    uint64_t hash;
    char tail[SMH_TAIL_MAX + 1]; /* whitespace only: no NUL inside */
};

/** A remote document as the engine needs it. content and meta are malloc'd (NULL when not
 *  requested). */
struct smh_doc {
    char id[64];
    char filepath[4096]; /* validated (smh_filepath_ok) or "/<id>.md"; "" if unusable */
    char status[24];
    int64_t updated_ms; /* updatedAt; 0 when absent or unparseable */
    char *content;
    size_t content_len;
    struct smh_exact x;  /* from the metadata (x.set 0: none) */
    char *meta;          /* GET only: the whole metadata object as JSON text (NULL: none) */
    char type[16];       /* "text", "image", "pdf", ...; "" when absent or too long */
    char url[4096];      /* a binary document's bytes once done; "" when null or too long */
    char upload[96];     /* the metadata's SMH_META_UPLOAD marker, "" if none */
    char custom_id[104]; /* customId, "" when null or longer than the service allows */
};

/** A binary document (a type the service gives a file it extracts text from): its type's index in SMH_BINARY_TYPES (the order of
 *  smc_sibling_name's transcriptions), or -1 for a text document (type "text", none, unknown). */
#define SMH_BINARY_TYPES                                                                           \
    {                                                                                              \
        "image", "pdf", "video", "audio", "webpage"                                                \
    }
int smh_doc_binary(const struct smh_doc *d);

/** The file endpoint has no customId: an upload carries this metadata key, "<the entry's
 *  custom_id>.<the bytes' FNV-1a 64 in hex>", so a retry first finds an earlier attempt that
 *  reached the service (a filepath listing) instead of uploading a second document. */
#define SMH_META_UPLOAD "smshim_upload"

struct smh_call {
    struct smh_conn *conn;
    const char *tag;
    long retry_after; /* out: seconds from Retry-After, -1 if none */
    long status;      /* out: HTTP status (0: no answer) */
    char err[160];    /* out: what went wrong, for logs and smshim status (never the key) */
    long malformed;   /* out: listed documents skipped because a field had the wrong type */
    int too_large;    /* out: the last answer went past its size limit (SMH_RETRY) */
    int stalled;      /* out: the last request moved nothing for the stall time (SMH_RETRY, but a
                       * caller that waits only while something moves does not ask again) */
    int other_doc; /* out: the last GET was answered with another document than asked for (another
                       * id, or another filepath than expected): refused, SMH_RETRY; err says which */
};

/** x (or NULL): the exact bytes' metadata, sent with the content. */
int smh_api_create(struct smh_call *k, const char *filepath, const char *content,
                   const char *custom_id, const struct smh_exact *x, char id_out[64]);
/** content and/or filepath (NULL: leave as is). A PATCH with content ignores filepath (the service).
 *  x (with content): the exact bytes' metadata, merged into meta_base (the document's metadata
 *  as JSON text, or NULL) so the keys of other clients stay. */
int smh_api_patch(struct smh_call *k, const char *id, const char *content, const char *filepath,
                  const struct smh_exact *x, const char *meta_base);
int smh_api_delete(struct smh_call *k, const char *id);
/** POST /v3/documents/file: bytes[0..len) as the file (named after filepath's last component),
 *  with containerTag, filepath and metadata {SMH_META_UPLOAD: marker}. The new id in id_out. */
int smh_api_upload(struct smh_call *k, const char *filepath, const char *bytes, size_t len,
                   const char *marker, char id_out[64]);
/** GET one document (its fields, not its content). An answer whose id is not id is refused
 *  (SMH_RETRY, k->other_doc): the remote is untrusted, and another document's fields taken for
 *  this one's would be written, merged or compared as this one's. */
int smh_api_get(struct smh_call *k, const char *id, struct smh_doc *out);
/** GET one document with its content (out->content, malloc'd), as smh_api_get; fp (or NULL): the
 *  filepath the document is expected at (the listing that named it), and an answer at another
 *  filepath is refused too (SMH_RETRY, k->other_doc): its content is never written at either. */
int smh_api_fetch(struct smh_call *k, const char *id, const char *fp, struct smh_doc *out);

/** What one page of a listing said about the listing. */
struct smh_list_info {
    long long total_pages; /* totalPages, clamped to [0, 1e9] */
    long long total_items; /* totalItems, clamped to [0, 1e12]; -1 when absent */
    int items;             /* entries in this page (usable or not) */
};
/** One page of a listing. fp: filepath filter or NULL. Calls fn for each usable document
 *  (fn owns nothing; copy what you keep). An answer larger than SMH_ANSWER_LIST is SMH_RETRY
 *  with k->too_large set: ask again with a smaller limit. */
/** The most documents the sync engine asks for in one page of a listing. */
#define SMH_LIST_LIMIT 100
typedef int (*smh_doc_fn)(void *arg, const struct smh_doc *d);
int smh_api_list(struct smh_call *k, const char *fp, int content, int page, int limit,
                 smh_doc_fn fn, void *arg, struct smh_list_info *info);

void smh_doc_free(struct smh_doc *d);
/** Classify an answer as every request above does (k gets status, Retry-After and err). */
int smh_api_outcome(struct smh_call *k, const struct smh_resp *r);
/** An answer's whole body as JSON (nothing but whitespace after the value), or NULL. */
cJSON *smh_api_parse(const struct smh_resp *r);
/** Is fp a filepath the engine may write locally? Absolute, no "." or ".." or empty
 *  components, components <= 255 bytes, < PATH_MAX bytes in all: any path the kernel accepts
 *  below the tree, control characters included (every name a push may send). */
int smh_filepath_ok(const char *fp);
/** Why a local file's name cannot be sent as a filepath (one a pull would refuse, or one the
 *  service refuses: not UTF-8), or NULL when it can. */
const char *smh_filepath_refused(const char *fp);
/** ISO-8601 UTC ("2026-05-10T23:28:10.123Z") to milliseconds since the epoch; 0 if invalid. */
int64_t smh_parse_time(const char *s);
/** A document's updatedAt later than this past the local clock is no time the engine orders by:
 *  read as absent (0). A delta pull stops at its watermark, the newest updatedAt seen, so one
 *  document dated in the year 9999 would hide every later change; a server whose clock runs
 *  further ahead only makes every pull list everything. */
#define SMH_TIME_AHEAD_MS (3600u * 1000u)
/** updatedAt as the engine may use it (smh_parse_time, or 0 when past SMH_TIME_AHEAD_MS). */
int64_t smh_doc_time(const char *s);

#endif
