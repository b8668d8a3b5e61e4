/* http.h: HTTP and JSON for the sync engine. libcurl and cJSON are loaded with dlopen(RTLD_LOCAL)
 * the first time the engine starts (the preload links neither: linking libcurl would load 33
 * libraries into every host process and put OpenSSL's symbols in its namespace). */
#ifndef SMH_HTTP_H
#define SMH_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>

/** Load libcurl and cJSON and run curl_global_init, once per process. 0 or -errno. */
int smh_http_load(void);

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
};
extern struct smh_json smh_json;

/* cJSON's type tests, without linking cJSON (its IsX functions read the same byte) */
#define SMH_JTYPE(j, t) ((j) != NULL && ((j)->type & 0xFF) == (t))
#define smh_jstring(j)  SMH_JTYPE(j, cJSON_String)
#define smh_jnumber(j)  SMH_JTYPE(j, cJSON_Number)
#define smh_jarray(j)   SMH_JTYPE(j, cJSON_Array)
#define smh_jobject(j)  SMH_JTYPE(j, cJSON_Object)

/** One HTTP exchange's outcome. */
struct smh_resp {
    long status;      /* HTTP status, 0 when no answer came (see curl) */
    int curl;         /* CURLcode: 0, or why no answer came (timeout, refused, dropped) */
    long retry_after; /* seconds from Retry-After, -1 if absent */
    char *body;       /* NUL-terminated response body (malloc'd; may be NULL) */
    size_t len;
};
void smh_resp_free(struct smh_resp *r);

/** A connection to the remote: one per thread (libcurl easy handles are not shared). */
struct smh_conn;
/** base_url: "https://api.supermemory.ai"; key: the bearer token (kept only in memory). */
struct smh_conn *smh_conn_new(const char *base_url, const char *key, long timeout_ms);
void smh_conn_free(struct smh_conn *c);
/** method "GET"/"POST"/"PATCH"/"DELETE"; path "/v3/..."; body JSON or NULL. 0, or -ENOMEM. */
int smh_request(struct smh_conn *c, const char *method, const char *path, const char *body,
                struct smh_resp *out);
/** A short description of a transport failure (for logs; never holds the key). */
const char *smh_curl_strerror(int code);

#endif
