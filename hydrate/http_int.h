/* http_int.h: what the files of the HTTP client share (http_load.c loads libcurl and cJSON,
 * http_url.c says where the key may go, http.c makes the requests); not for other files. */
#ifndef SMH_HTTP_INT_H
#define SMH_HTTP_INT_H

#include "http.h"

#include <curl/curl.h>

/** The libcurl functions the client calls, resolved by smh_http_load (http_load.c). */
struct smh_curl_fns {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *init;
    __typeof__(curl_easy_setopt) *setopt;
    __typeof__(curl_easy_perform) *perform;
    __typeof__(curl_easy_getinfo) *getinfo;
    __typeof__(curl_easy_cleanup) *cleanup;
    __typeof__(curl_easy_reset) *reset;
    __typeof__(curl_easy_strerror) *strerror_;
};
extern struct smh_curl_fns smh_cu;

/** 1: https; 2: http to a loopback host; 3: http elsewhere; 0: anything else (http_url.c). */
int smh_url_kind(const char *url);

#endif
