/* http.h: HTTP and JSON for the sync engine. libcurl and cJSON are loaded with dlopen(RTLD_LOCAL)
 * the first time the engine starts (the preload links neither: linking libcurl would load 33
 * libraries into every host process and put OpenSSL's symbols in its namespace). */
#ifndef SMH_HTTP_H
#define SMH_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/** Load libcurl and cJSON and run curl_global_init: once it succeeds, for the process; a failure
 *  is tried again at a later call (at most once a second). 0 or -errno. */
int smh_http_load(void);
/** Why the last smh_http_load failed (a dlerror text), for a log line. */
const char *smh_http_load_error(void);
/** Where http.c says what became of a handle given up to the program's dup2 (NULL: nowhere);
 *  set by the sync thread before its first request. */
extern void (*smh_http_log)(const char *msg);

/** The cJSON functions the engine uses, resolved by smh_http_load. */
struct smh_json {
    __typeof__(cJSON_Parse) *Parse;
    __typeof__(cJSON_ParseWithLength) *ParseWithLength;
    __typeof__(cJSON_ParseWithOpts) *ParseWithOpts;
    __typeof__(cJSON_Delete) *Delete;
    __typeof__(cJSON_GetObjectItemCaseSensitive) *Get;
    __typeof__(cJSON_GetArraySize) *ArraySize;
    __typeof__(cJSON_GetArrayItem) *ArrayItem;
    __typeof__(cJSON_CreateObject) *CreateObject;
    __typeof__(cJSON_CreateArray) *CreateArray;
    __typeof__(cJSON_CreateString) *CreateString;
    __typeof__(cJSON_AddStringToObject) *AddString;
    __typeof__(cJSON_AddNumberToObject) *AddNumber;
    __typeof__(cJSON_AddBoolToObject) *AddBool;
    __typeof__(cJSON_AddItemToObject) *AddItem;
    __typeof__(cJSON_AddItemToArray) *AddToArray;
    __typeof__(cJSON_PrintUnformatted) *Print;
    __typeof__(cJSON_free) *Free;
    __typeof__(cJSON_DeleteItemFromObjectCaseSensitive) *DelItem;
};
extern struct smh_json smh_json;

/* cJSON's type tests, without linking cJSON (its IsX functions read the same byte) */
#define SMH_JTYPE(j, t) ((j) != NULL && ((j)->type & 0xFF) == (t))
#define smh_jstring(j)  SMH_JTYPE(j, cJSON_String)
#define smh_jnumber(j)  SMH_JTYPE(j, cJSON_Number)
#define smh_jarray(j)   SMH_JTYPE(j, cJSON_Array)
#define smh_jobject(j)  SMH_JTYPE(j, cJSON_Object)

/* Size limits of one answer, counted on the decoded bytes (gzip included) as they arrive: a
 * transfer that goes past its limit is cut off (smh_resp.too_large). */
#define SMH_DOC_MAX      (50u << 20) /* a document holds up to 50 MB (the API) */
#define SMH_ENVELOPE_MAX (1u << 20)  /* everything around one document's content */
#define SMH_ANSWER_DOC   (SMH_DOC_MAX + SMH_ENVELOPE_MAX) /* a GET of one document */
#define SMH_ANSWER_LIST  (16u << 20) /* one page of a listing (smaller pages past it) */
#define SMH_ANSWER_SMALL (1u << 20)  /* create, update, delete; error bodies */
/* The most JSON values one answer may hold (cJSON makes a node of 64 bytes for each): an answer
 * of more is malformed, refused before it is parsed (smh_api_parse). A listing of 100 documents
 * holds a few thousand. */
#define SMH_JSON_VALUES_MAX (1u << 20)
/* The longest Retry-After honoured (seconds): the push queue's own longest backoff. */
#define SMH_RETRY_AFTER_MAX 60

/** One HTTP exchange's outcome. */
struct smh_resp {
    long status;      /* HTTP status, 0 when no answer came (see curl) */
    int curl;         /* CURLcode: 0, or why no answer came (timeout, refused, dropped) */
    long retry_after; /* seconds from Retry-After (at most SMH_RETRY_AFTER_MAX), -1 if absent */
    int too_large;    /* the answer went past its size limit (max) and was cut off */
    size_t max;       /* the size limit that applied */
    int refused;      /* nothing was sent: the key may not go to this URL (smh_key_allowed) */
    int stalled;      /* no answer: nothing moved for the connection's stall time (curl: timeout) */
    char *body;       /* NUL-terminated response body (malloc'd; may be NULL) */
    size_t len;
};
void smh_resp_free(struct smh_resp *r);

/** The longest base URL and API key a connection takes (bytes). A longer one is refused, never
 *  cut: a buffer that copies one on its way to smh_conn_new holds one byte more than this, so
 *  what it cuts is still too long there. */
#define SMH_URL_MAX 511
#define SMH_KEY_MAX 511
/** Can key be the API key: 1 to SMH_KEY_MAX printable ASCII characters, no space (it goes into
 *  an HTTP header, where a CR or LF would add headers of its own)? 1, or 0 with a one-line reason
 *  (that never holds the key) in why. The one rule, for the environment's key and the
 *  credentials file's alike. */
int smh_key_usable(const char *key, char *why, size_t n);

/** May the API key be sent to base_url? 1 for https://, for http:// to a loopback host
 *  (127.0.0.0/8, [::1], localhost) and for any http:// URL when SMSHIM_ALLOW_INSECURE=1 was set
 *  at start-up, when it is at most SMH_URL_MAX bytes long; else 0, with a one-line reason (naming SMSHIM_ALLOW_INSECURE) in why. The one
 *  place this is decided: a connection made for a URL it refuses sends nothing at all. */
int smh_key_allowed(const char *base_url, char *why, size_t n);

/** A connection to the remote: one per thread (libcurl easy handles are not shared). Its copy of
 *  the key lives in a page excluded from core dumps (MADV_DONTDUMP). */
struct smh_conn;
/** base_url: "https://api.supermemory.ai"; key: the bearer token (kept only in memory). With a
 *  key smh_key_allowed refuses for base_url, every request answers refused without sending. */
struct smh_conn *smh_conn_new(const char *base_url, const char *key, long timeout_ms);
/** A new connection like c (its URL, key, timeout, deadline and stall limit), for another thread:
 *  c itself is never used by two threads. NULL when out of memory. */
struct smh_conn *smh_conn_like(const struct smh_conn *c);
void smh_conn_free(struct smh_conn *c);
/** Why this connection sends nothing (see smh_key_allowed), or NULL. */
const char *smh_conn_refused(const struct smh_conn *c);
/** Milliseconds on a monotonic clock (for deadlines). */
uint64_t smh_mono_ms(void);
/** No request of c lasts past at_ms (smh_mono_ms clock; 0: no deadline): each one's timeout is
 *  cut to what is left, and none is sent once it has passed (curl CURLE_OPERATION_TIMEDOUT). */
void smh_conn_deadline(struct smh_conn *c, uint64_t at_ms);
/** Connections the calling thread makes from now on end a request that moves no byte for ms
 *  (0: no such limit). One thread at a time uses it (the CLI's main thread, or the sync thread
 *  of a host process); connections of other threads are not affected. */
void smh_conn_default_stall(long ms);
/** No request of this process starts from now on (the process is ending): each one is answered
 *  as not sent (no answer, curl CURLE_ABORTED_BY_CALLBACK); those in flight go on. */
void smh_http_close(void);
/** Whether smh_http_close was called in this process: a request that got no answer since may
 *  never have been sent (it says nothing about the server). */
int smh_http_closed(void);
/** The requests of this process in flight now. */
int smh_http_inflight(void);
/** In a fork child: no request is in flight (the parent's threads are not here), and requests
 *  may start. */
void smh_http_atfork_child(void);
/** method "GET"/"POST"/"PATCH"/"DELETE"; path "/v3/..."; body JSON or NULL; max: the largest
 *  decoded answer accepted (SMH_ANSWER_*). 0, or -ENOMEM. */
int smh_request(struct smh_conn *c, const char *method, const char *path, const char *body,
                size_t max, struct smh_resp *out);
/** The same with a body of Content-Type ctype sent from the nv pieces v, in order, as libcurl
 *  asks for it (a multipart upload: the file's bytes are not copied), on a connection of its own. */
struct smh_piece {
    const char *p;
    size_t n;
};
int smh_request_body(struct smh_conn *c, const char *method, const char *path, const char *ctype,
                     const struct smh_piece *v, int nv, size_t max, struct smh_resp *out);
/** Is url on c's base URL's origin (scheme, host and port, as written)? */
int smh_url_same_origin(const struct smh_conn *c, const char *url);
/** GET an absolute http(s) url (a binary document's bytes): with the key and no redirect when it
 *  is on the API's own origin (smh_url_same_origin), else without the key (up to 3 redirects, to
 *  http(s) only). Same timeouts, deadline and size limit (max) as every request; a url that is
 *  not http(s) answers curl CURLE_UNSUPPORTED_PROTOCOL without sending anything. */
int smh_fetch_url(struct smh_conn *c, const char *url, size_t max, struct smh_resp *out);
/** A short description of a transport failure (for logs; never holds the key). */
const char *smh_curl_strerror(int code);

#endif
