/* search.h: the requests beyond the documents CRUD that the CLI makes: who a key belongs to (GET /v3/session) and semantic search (POST /v4/search).
 * Answers are untrusted like every other: fields are type-checked, filepaths validated. */
#ifndef SMH_SEARCH_H
#define SMH_SEARCH_H

#include "api.h"

struct smh_session {
    char org_id[128], org_name[256];
    char user_id[128], user_name[256], email[256];
};

/** GET /v3/session: SMH_OK with *out filled (missing fields ""), or another smh_outcome. */
int smh_api_session(struct smh_call *k, struct smh_session *out);

/** One search result. chunk: text taken verbatim from the document ("" when the answer has
 *  none); filepath validated (smh_filepath_ok) or "/<id>.md" for a document without one. */
struct smh_hit {
    char id[64];
    char filepath[4096];
    const char *chunk;
    double similarity;
};
typedef int (*smh_hit_fn)(void *arg, const struct smh_hit *h);

/** POST /v4/search {"q", "containerTag": k->tag, "searchMode": "hybrid", "filepath": scope?,
 *  "include": {"documents": true}} (a scope ending in '/' is a directory). fn is called for each
 *  usable result, in the server's order; *skipped counts the unusable ones. */
int smh_api_search(struct smh_call *k, const char *q, const char *scope, smh_hit_fn fn, void *arg,
                   long *skipped);

#endif
