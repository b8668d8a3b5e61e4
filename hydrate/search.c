/* search.c: GET /v3/session and POST /v4/search (search.h), over api.c's classification. */
#include "search.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define J smh_json

static void copy_str(char *dst, size_t n, const cJSON *o, const char *name)
{
    const cJSON *v = o ? J.Get(o, name) : NULL;
    snprintf(dst, n, "%s", smh_jstring(v) && v->valuestring ? v->valuestring : "");
}

int smh_api_session(struct smh_call *k, struct smh_session *out)
{
    struct smh_resp r;
    memset(out, 0, sizeof *out);
    if (smh_request(k->conn, "GET", "/v3/session", NULL, SMH_ANSWER_SMALL, &r) != 0)
        return SMH_RETRY;
    int o = smh_api_outcome(k, &r);
    if (o == SMH_OK) {
        cJSON *j = smh_api_parse(&r);
        const cJSON *org = j ? J.Get(j, "org") : NULL, *user = j ? J.Get(j, "user") : NULL;
        if (!smh_jobject(j) || (org && !smh_jobject(org)) || (user && !smh_jobject(user))) {
            snprintf(k->err, sizeof k->err, "session: malformed answer");
            o = SMH_RETRY;
        } else {
            copy_str(out->org_id, sizeof out->org_id, org, "id");
            copy_str(out->org_name, sizeof out->org_name, org, "name");
            copy_str(out->user_id, sizeof out->user_id, user, "id");
            copy_str(out->user_name, sizeof out->user_name, user, "name");
            copy_str(out->email, sizeof out->email, user, "email");
        }
        if (j)
            J.Delete(j);
    }
    smh_resp_free(&r);
    return o;
}

/* One result of the answer; 0, or -1 when it is unusable. */
static int hit_from(const cJSON *o, struct smh_hit *h)
{
    memset(h, 0, sizeof *h);
    if (!smh_jobject(o))
        return -1;
    const cJSON *id = J.Get(o, "id"), *fp = J.Get(o, "filepath"), *ch = J.Get(o, "chunk"),
                *mem = J.Get(o, "memory"), *sim = J.Get(o, "similarity");
    if (!smh_jstring(id) || !id->valuestring[0] || strlen(id->valuestring) >= sizeof h->id)
        return -1;
    if ((fp && !smh_jstring(fp) && !SMH_JTYPE(fp, cJSON_NULL)) ||
        (ch && !smh_jstring(ch) && !SMH_JTYPE(ch, cJSON_NULL)) || (sim && !smh_jnumber(sim)) ||
        (sim && !isfinite(sim->valuedouble)))
        return -1; /* (a number past a double's range, 1e999, parses as infinity) */
    snprintf(h->id, sizeof h->id, "%s", id->valuestring);
    const char *f = smh_jstring(fp) ? fp->valuestring : NULL;
    size_t fl = f ? strlen(f) : 0;
    if (!f || f[0] != '/' || f[fl - 1] == '/') {
        for (const char *p = h->id; *p; p++)
            if (*p == '/' || (unsigned char)*p < 0x20)
                return -1;
        snprintf(h->filepath, sizeof h->filepath, "/%s.md", h->id); /* as the listing shows it */
    } else if (smh_filepath_ok(f)) {
        snprintf(h->filepath, sizeof h->filepath, "%s", f);
    } else {
        return -1;
    }
    h->chunk = smh_jstring(ch) ? ch->valuestring : smh_jstring(mem) ? mem->valuestring : "";
    h->similarity = sim ? sim->valuedouble : 0;
    return 0;
}

int smh_api_search(struct smh_call *k, const char *q, const char *scope, smh_hit_fn fn, void *arg,
                   long *skipped)
{
    struct smh_resp r;
    *skipped = 0;
    cJSON *b = J.CreateObject(), *inc = J.CreateObject();
    if (!b || !inc) {
        if (b)
            J.Delete(b);
        if (inc)
            J.Delete(inc);
        return SMH_RETRY;
    }
    J.AddString(b, "q", q);
    J.AddString(b, "containerTag", k->tag);
    J.AddString(b, "searchMode", "hybrid");
    if (scope)
        J.AddString(b, "filepath", scope);
    J.AddBool(inc, "documents", 1);
    J.AddItem(b, "include", inc);
    char *text = J.Print(b);
    J.Delete(b);
    if (!text)
        return SMH_RETRY;
    int rc = smh_request(k->conn, "POST", "/v4/search", text, SMH_ANSWER_LIST, &r);
    J.Free(text);
    if (rc != 0)
        return SMH_RETRY;
    int o = smh_api_outcome(k, &r);
    if (o == SMH_OK) {
        cJSON *j = smh_api_parse(&r);
        const cJSON *res = j ? J.Get(j, "results") : NULL;
        if (!smh_jarray(res)) {
            snprintf(k->err, sizeof k->err, "search: malformed answer");
            o = SMH_RETRY;
        } else {
            const cJSON *e; /* in one pass along the list, never by index */
            cJSON_ArrayForEach(e, res)
            {
                struct smh_hit h;
                if (hit_from(e, &h) != 0)
                    (*skipped)++;
                else if (fn(arg, &h) != 0)
                    break;
            }
        }
        if (j)
            J.Delete(j);
    }
    smh_resp_free(&r);
    return o;
}
