/* api_read.c: the documents API's requests that read documents (one by id, a page of a listing)
 * and the checks of every field of a document that comes back (the remote is untrusted). */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define J smh_json

/* The exact bytes' keys of a metadata object (a value of the wrong shape is no value). */
static void exact_from(const cJSON *m, struct smh_exact *x)
{
    memset(x, 0, sizeof *x);
    const cJSON *h = m ? J.Get(m, SMH_META_HASH) : NULL, *t = m ? J.Get(m, SMH_META_TAIL) : NULL;
    if (!h || !smh_jstring(h) || !h->valuestring || strlen(h->valuestring) != 16)
        return;
    char *end;
    unsigned long long v = strtoull(h->valuestring, &end, 16);
    if (*end || !v)
        return;
    if (t && (!smh_jstring(t) || !t->valuestring || strlen(t->valuestring) > SMH_TAIL_MAX))
        return;
    x->hash = v;
    snprintf(x->tail, sizeof x->tail, "%s", t ? t->valuestring : "");
    x->set = 1;
}

/* Fill d from a JSON document; 0, or -1 when it is not a usable document. mark: what stands for
 * NUL in its strings ("" none: parse_marked). */
static int doc_from(const cJSON *o, struct smh_doc *d, int want_content, const char *mark)
{
    memset(d, 0, sizeof *d);
    if (!smh_jobject(o))
        return -1;
    const char *id = smh_api_str(o, "id"), *fp = smh_api_str(o, "filepath"),
               *st = smh_api_str(o, "status");
    const cJSON *fpv = J.Get(o, "filepath");
    if (!id || !smh_api_id_ok(id))
        return -1;
    if (fpv && !smh_jstring(fpv) && !SMH_JTYPE(fpv, cJSON_NULL))
        return -1; /* a filepath of the wrong type is malformed, not missing */
    snprintf(d->id, sizeof d->id, "%s", id);
    snprintf(d->status, sizeof d->status, "%s", st ? st : "");
    d->updated_ms = smh_doc_time(smh_api_str(o, "updatedAt")); /* (a time to come: 0) */
    /* the service: no usable filepath (missing, not absolute, ending in '/') -> "/<id>.md" */
    size_t fl = fp ? strlen(fp) : 0;
    if (fp && mark[0] && strstr(fp, mark))
        d->filepath[0] = '\0'; /* a NUL in it: it names no file (and would another one) */
    else if (!fp || fp[0] != '/' || fp[fl - 1] == '/')
        snprintf(d->filepath, sizeof d->filepath, "/%s.md", id);
    else if (smh_filepath_ok(fp))
        snprintf(d->filepath, sizeof d->filepath, "%s", fp);
    else
        d->filepath[0] = '\0'; /* hostile or unrepresentable: the caller skips and logs it */
    const char *cid = smh_api_str(o, "customId");
    if (cid && strlen(cid) < sizeof d->custom_id)
        snprintf(d->custom_id, sizeof d->custom_id, "%s", cid);
    const cJSON *meta = J.Get(o, "metadata");
    if (meta && smh_jobject(meta)) {
        exact_from(meta, &d->x);
        const char *up = smh_api_str(meta, SMH_META_UPLOAD);
        if (up && strlen(up) < sizeof d->upload)
            snprintf(d->upload, sizeof d->upload, "%s", up);
    }
    const char *ty = smh_api_str(o, "type"), *url = smh_api_str(o, "url");
    if (ty && strlen(ty) < sizeof d->type)
        snprintf(d->type, sizeof d->type, "%s", ty);
    if (url && strlen(url) < sizeof d->url && !(mark[0] && strstr(url, mark)))
        snprintf(d->url, sizeof d->url, "%s", url);
    if (want_content) {
        const cJSON *c = J.Get(o, "content");
        if (!c || !smh_jstring(c) || !c->valuestring)
            return -1;
        d->content_len = strlen(c->valuestring);
        d->content = malloc(d->content_len + 1);
        if (!d->content)
            return -1;
        memcpy(d->content, c->valuestring, d->content_len + 1);
        size_t ml = strlen(mark), w = 0;
        for (size_t i = 0; ml && i < d->content_len; i++) { /* the content's NULs, back */
            if (i + ml <= d->content_len && memcmp(d->content + i, mark, ml) == 0) {
                d->content[w++] = '\0';
                i += ml - 1;
            } else {
                d->content[w++] = d->content[i];
            }
        }
        if (ml) {
            d->content_len = w;
            d->content[w] = '\0';
        }
    }
    return 0;
}

static int get_doc(struct smh_call *k, const char *id, const char *fp, struct smh_doc *out,
                   int content)
{
    char path[128];
    struct smh_resp r;
    memset(out, 0, sizeof *out);
    if (!smh_api_id_ok(id))
        return SMH_GONE;
    snprintf(path, sizeof path, "/v3/documents/%s", id);
    /* a GET always carries the content: one document and its envelope */
    if (smh_request(k->conn, "GET", path, NULL, SMH_ANSWER_DOC, &r) != 0)
        return SMH_RETRY;
    int o = smh_api_outcome(k, &r);
    k->other_doc = 0;
    if (o == SMH_OK) {
        char mark[4];
        cJSON *j = smh_api_parse_marked(&r, mark);
        const cJSON *m = j ? J.Get(j, "metadata") : NULL;
        if (!j || doc_from(j, out, content, mark) != 0) {
            smh_doc_free(out);
            snprintf(k->err, sizeof k->err, "get: malformed answer");
            o = SMH_RETRY;
        } else if (strcmp(out->id, id) != 0 || (fp && strcmp(out->filepath, fp) != 0)) {
            /* another document than the one asked for (a confused or hostile server): none of
             * it is taken, nothing is written from it */
            int fp_only = strcmp(out->id, id) == 0;
            snprintf(k->err, sizeof k->err, "get %.64s: refused an answer for another %s (%.48s)",
                     id, fp_only ? "filepath" : "document", fp_only ? out->filepath : out->id);
            smh_doc_free(out);
            memset(out, 0, sizeof *out);
            k->other_doc = 1;
            o = SMH_RETRY;
        } else if (m && smh_jobject(m)) {
            char *t = J.Print(m); /* NULL when out of memory: merged as none */
            out->meta = t ? smh_api_unmark(t, mark) : NULL; /* its NULs as the answer had them */
            if (t)
                J.Free(t);
        }
        if (j)
            J.Delete(j);
    }
    smh_resp_free(&r);
    return o;
}

int smh_api_get(struct smh_call *k, const char *id, struct smh_doc *out)
{
    return get_doc(k, id, NULL, out, 0);
}

int smh_api_fetch(struct smh_call *k, const char *id, const char *fp, struct smh_doc *out)
{
    return get_doc(k, id, fp, out, 1);
}

int smh_api_list(struct smh_call *k, const char *fp, int content, int page, int limit,
                 smh_doc_fn fn, void *arg, struct smh_list_info *info)
{
    struct smh_resp r;
    cJSON *b = J.CreateObject(), *tags = J.CreateArray();
    if (!b || !tags)
        return SMH_RETRY;
    J.AddToArray(tags, J.CreateString(k->tag));
    J.AddItem(b, "containerTags", tags);
    if (fp)
        J.AddString(b, "filepath", fp);
    J.AddBool(b, "includeContent", content);
    J.AddNumber(b, "limit", limit);
    J.AddNumber(b, "page", page);
    J.AddString(b, "sort", "updatedAt");
    J.AddString(b, "order", "desc");
    memset(info, 0, sizeof *info);
    if (smh_api_send_json(k, "POST", "/v3/documents/list", b, SMH_ANSWER_LIST, &r) != 0)
        return SMH_RETRY;
    int o = smh_api_outcome(k, &r);
    if (o != SMH_OK) {
        smh_resp_free(&r);
        return o;
    }
    char mark[4];
    cJSON *j = smh_api_parse_marked(&r, mark);
    const cJSON *mem = j ? J.Get(j, "memories") : NULL;
    const cJSON *pg = j ? J.Get(j, "pagination") : NULL;
    const cJSON *tp = pg ? J.Get(pg, "totalPages") : NULL;
    if (!mem || !smh_jarray(mem) || !pg || !smh_jobject(pg) || !tp || !smh_jnumber(tp)) {
        if (!j && r.body && smh_api_values_over(r.body, r.len))
            snprintf(k->err, sizeof k->err,
                     "list: malformed answer (%zu bytes): more than %u JSON values", r.len,
                     SMH_JSON_VALUES_MAX);
        else
            snprintf(k->err, sizeof k->err, "list: malformed answer (%zu bytes)", r.len);
        o = SMH_RETRY;
    } else {
        double tpv = tp->valuedouble;
        info->total_pages = tpv > 1e9 ? 1000000000LL : tpv >= 0 ? (long long)tpv : 0;
        const cJSON *ti = J.Get(pg, "totalItems");
        double tiv = ti && smh_jnumber(ti) ? ti->valuedouble : -1;
        info->total_items = tiv > 1e12 ? 1000000000000LL : tiv >= 0 ? (long long)tiv : -1;
        /* in one pass along the list (an index would walk it from its start each time) */
        const cJSON *e;
        cJSON_ArrayForEach(e, mem)
        {
            info->items++;
            if (o != SMH_OK)
                continue;
            struct smh_doc d;
            if (doc_from(e, &d, content, mark) != 0) {
                smh_doc_free(&d);
                k->malformed++;
                continue;
            }
            if (fn(arg, &d) != 0)
                o = SMH_RETRY;
            smh_doc_free(&d);
        }
    }
    if (j)
        J.Delete(j);
    smh_resp_free(&r);
    return o;
}
