/* api_int.h: what the files of the documents API share (api.c the requests that change documents,
 * api_read.c the ones that read them, api_json.c the JSON both send and parse); not for other
 * files. */
#ifndef SMH_API_INT_H
#define SMH_API_INT_H

#include "api.h"

#include <stddef.h>

/** A whole answer body as JSON, with mark: what stands for NUL in its strings (api_json.c). */
cJSON *smh_api_parse_marked(const struct smh_resp *r, char mark[4]);
/** Whether body[0..len) holds more than SMH_JSON_VALUES_MAX JSON values, counted without parsing
 *  (each '[', '{' and ',' outside a string opens room for one): such an answer is not parsed. */
int smh_api_values_over(const char *body, size_t len);
/** s with each mark written back as the escape \u0000 (malloc'd, or NULL). */
char *smh_api_unmark(const char *s, const char *mark);
/** The string member name of o, or NULL (missing, or not a string). */
const char *smh_api_str(const cJSON *o, const char *name);
/** An id the engine may put in a URL path and a file name. */
int smh_api_id_ok(const char *id);
/** Send body (consumed; NULL: none) as JSON; smh_request's result. */
int smh_api_send_json(struct smh_call *k, const char *method, const char *path, cJSON *body,
                      size_t max, struct smh_resp *r);
/** smh_api_send_json of body (an object) with one more member, name, whose value is the JSON
 *  text raw. */
int smh_api_send_json_with(struct smh_call *k, const char *method, const char *path, cJSON *body,
                           const char *name, const char *raw, size_t max, struct smh_resp *r);

#endif
