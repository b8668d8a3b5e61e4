/* api.c: requests and answers of the documents API, with the quirks of the service (README, Syncing). */
#include "api.h"

#include "../cache/cache.h"
#include "engine_int.h" /* smh_text_ok */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define J smh_json

/* Every byte but NUL and '/' may be in a name, as in a real directory: the kernel and the service
 * take control characters, so a file named with one is pushed and must come back on every pull
 * (it is escaped wherever it is printed: sm_escape). What the rules below refuse is what would
 * leave the tree or name something else: an empty, "." or ".." component, a component or a path
 * the kernel refuses (over 255 or PATH_MAX bytes). A NUL ends the filepath (cJSON's strings). */
int smh_filepath_ok(const char *fp)
{
    size_t n = strlen(fp), comp = 0;
    if (n < 2 || n >= PATH_MAX || fp[0] != '/' || fp[n - 1] == '/')
        return 0;
    for (size_t i = 1; i <= n; i++) {
        unsigned char c = (unsigned char)fp[i];
        if (c == '/' || c == '\0') {
            const char *s = fp + i - comp;
            if (comp == 0 || comp > 255 || (comp == 1 && s[0] == '.') ||
                (comp == 2 && s[0] == '.' && s[1] == '.'))
                return 0;
            comp = 0;
            continue;
        }
        comp++;
    }
    return 1;
}

const char *smh_filepath_refused(const char *fp)
{
    if (!smh_filepath_ok(fp))
        return "an empty, \".\" or \"..\" component or an over-long name: not sent";
    if (!smh_text_ok(fp, strlen(fp)))
        return "the service holds only UTF-8 filepaths and this name is not UTF-8: not sent "
               "(rename the file)";
    return NULL;
}

int64_t smh_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    char frac[16] = "";
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    const char *dot = strchr(s, '.');
    if (dot && sscanf(dot + 1, "%9[0-9]", frac) == 1) {
        frac[3] = frac[3] ? frac[3] : '\0';
        for (int i = 0; i < 3; i++)
            ms = ms * 10 + (frac[i] >= '0' && frac[i] <= '9' ? frac[i] - '0' : 0);
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_year < 70)
        return 0;
    return (int64_t)t * 1000 + ms;
}

void smh_doc_free(struct smh_doc *d)
{
    free(d->content);
    d->content = NULL;
    free(d->meta);
    d->meta = NULL;
}

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

/* Set the exact bytes' keys in the metadata object m. */
static void exact_to(cJSON *m, const struct smh_exact *x)
{
    char hex[24];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)x->hash);
    J.DelItem(m, SMH_META_HASH);
    J.DelItem(m, SMH_META_TAIL);
    J.AddString(m, SMH_META_HASH, hex);
    J.AddString(m, SMH_META_TAIL, x->tail);
}

/* cJSON's strings end at their first NUL and keep no length, so a string holding the escape
 * \u0000 would read as its part before it ("/a.md\u0000x" as "/a.md"). A body with such escapes
 * is parsed from a copy where each one is the escape of a noncharacter the body does not hold
 * otherwise (U+FDD0..U+FDEF, raw or escaped; none left: not parsed), whose UTF-8 (mark) then
 * stands for NUL in every string of the answer: doc_from refuses a filepath holding it and puts
 * the NULs back into the content. NULL when the body holds no NUL escape (*copy NULL, mark ""),
 * or cannot be so parsed (*copy NULL, mark set: malformed). */
#define MARK_FIRST 0xFDD0u
#define MARK_COUNT 32u
static int hexval(const char *h)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = h[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static char *nul_marked(const char *body, size_t len, char mark[4], char **copy)
{
    uint32_t used = 0; /* bit i: U+FDD0+i appears escaped */
    size_t nuls = 0;
    *copy = NULL;
    mark[0] = '\0';
    for (size_t i = 0; i + 1 < len; i++) {
        if (body[i] != '\\')
            continue;
        if (body[i + 1] == 'u' && i + 5 < len) {
            int v = hexval(body + i + 2);
            if (v == 0)
                nuls++;
            else if (v >= (int)MARK_FIRST && v < (int)(MARK_FIRST + MARK_COUNT))
                used |= 1u << (v - (int)MARK_FIRST);
            i += 5;
        } else {
            i++; /* an escaped character: never the start of another escape */
        }
    }
    if (!nuls)
        return NULL;
    unsigned cp = 0;
    for (unsigned k = 0; k < MARK_COUNT && !cp; k++) {
        unsigned c = MARK_FIRST + k;
        char u[3] = {(char)(0xE0 | (c >> 12)), (char)(0x80 | ((c >> 6) & 0x3F)),
                     (char)(0x80 | (c & 0x3F))};
        if (!(used & (1u << k)) && !memmem(body, len, u, 3)) {
            cp = c;
            memcpy(mark, u, 3);
            mark[3] = '\0';
        }
    }
    if (!cp) {
        mark[0] = '\1'; /* every mark is taken: malformed */
        return NULL;
    }
    char *b = malloc(len + 1), hex[5];
    if (!b)
        return NULL;
    memcpy(b, body, len + 1);
    snprintf(hex, sizeof hex, "%04x", cp);
    for (size_t i = 0; i + 1 < len; i++) {
        if (b[i] != '\\')
            continue;
        if (b[i + 1] == 'u' && i + 5 < len) {
            if (hexval(b + i + 2) == 0)
                memcpy(b + i + 2, hex, 4);
            i += 5;
        } else {
            i++;
        }
    }
    *copy = b;
    return b;
}

/* A whole answer body as JSON: nothing but whitespace may follow the value (an answer with
 * trailing garbage is malformed, not accepted by its first half). NULL if it is not JSON.
 * mark (NULL: NUL escapes are left to cJSON): the UTF-8 that stands for NUL in its strings, ""
 * when none does (nul_marked). */
static cJSON *parse_marked(const struct smh_resp *r, char mark[4])
{
    if (!r->body || strlen(r->body) != r->len)
        return NULL; /* a NUL inside the body */
    if (!mark)
        return J.ParseWithOpts(r->body, NULL, 1);
    char *copy;
    if (!nul_marked(r->body, r->len, mark, &copy))
        return mark[0] ? NULL : J.ParseWithOpts(r->body, NULL, 1);
    cJSON *j = J.ParseWithOpts(copy, NULL, 1);
    free(copy);
    return j;
}

static cJSON *parse(const struct smh_resp *r)
{
    return parse_marked(r, NULL);
}

/* s with each mark (what stands for NUL: parse_marked) written back as the escape \u0000, so
 * JSON text printed from a marked parse says what the answer said (malloc'd, or NULL). */
static char *unmark(const char *s, const char *mark)
{
    size_t ml = strlen(mark), n = 0;
    for (const char *p = ml ? strstr(s, mark) : NULL; p; p = strstr(p + ml, mark))
        n++;
    char *out = malloc(strlen(s) + n * 6 + 1), *w = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p;) {
        if (ml && strncmp(p, mark, ml) == 0) {
            memcpy(w, "\\u0000", 6);
            w += 6;
            p += ml;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

/* Classify an answer; leaves the details in k. */
static int outcome(struct smh_call *k, const struct smh_resp *r)
{
    k->status = r->status;
    k->retry_after = r->retry_after;
    k->too_large = r->too_large;
    k->stalled = r->stalled;
    k->err[0] = '\0';
    if (r->refused) {
        /* the key may not go to this URL: like a refused key, everything waits */
        const char *why = smh_conn_refused(k->conn);
        snprintf(k->err, sizeof k->err, "%s", why ? why : "the API key is not sent to this URL");
        return SMH_AUTH;
    }
    if (r->too_large) {
        snprintf(k->err, sizeof k->err, "the answer was larger than the %zu MB it may hold",
                 r->max >> 20);
        return SMH_RETRY;
    }
    if (r->curl != 0) {
        snprintf(k->err, sizeof k->err, "no answer: %s", smh_curl_strerror(r->curl));
        return SMH_RETRY;
    }
    if (r->status >= 200 && r->status < 300)
        return SMH_OK;
    snprintf(k->err, sizeof k->err, "HTTP %ld", r->status);
    if (r->body && r->len) {
        cJSON *j = parse(r);
        cJSON *e = j ? J.Get(j, "error") : NULL;
        if (e && smh_jstring(e))
            snprintf(k->err, sizeof k->err, "HTTP %ld: %.120s", r->status, e->valuestring);
        if (j)
            J.Delete(j);
    }
    if (r->status == 401 || r->status == 403)
        return SMH_AUTH;
    if (r->status == 404)
        return SMH_GONE;
    if (r->status == 429 || r->status >= 500 || r->status == 408)
        return SMH_RETRY;
    return SMH_REJECT;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = J.Get(o, name);
    return (v && smh_jstring(v) && v->valuestring) ? v->valuestring : NULL;
}

static int send_json(struct smh_call *k, const char *method, const char *path, cJSON *body,
                     size_t max, struct smh_resp *r)
{
    char *text = body ? J.Print(body) : NULL;
    if (body)
        J.Delete(body);
    if (body && !text)
        return -ENOMEM;
    int rc = smh_request(k->conn, method, path, text, max, r);
    if (text)
        J.Free(text);
    return rc;
}

/* send_json of body (an object) with one more member, name, whose value is the JSON text raw. */
static int send_json_with(struct smh_call *k, const char *method, const char *path, cJSON *body,
                          const char *name, const char *raw, size_t max, struct smh_resp *r)
{
    char *text = J.Print(body);
    J.Delete(body);
    if (!text)
        return -ENOMEM;
    size_t tl = strlen(text), n = tl + strlen(name) + strlen(raw) + 8;
    char *all = tl >= 2 && text[tl - 1] == '}' ? malloc(n) : NULL;
    if (all)
        snprintf(all, n, "%.*s%s\"%s\":%s}", (int)(tl - 1), text, tl > 2 ? "," : "", name, raw);
    J.Free(text);
    if (!all)
        return -ENOMEM;
    int rc = smh_request(k->conn, method, path, all, max, r);
    free(all);
    return rc;
}

/* An id the engine may put in a URL path and a file name. */
static int id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
              (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-' || id[i] == '.'))
            return 0;
    return !(n <= 2 && id[0] == '.');
}

/* The outcome of an answer that makes a document, its id into id_out; an accepted answer without
 * a usable id is SMH_RETRY (what makes the retry safe is the caller's). Frees r. */
static int answer_id(struct smh_call *k, struct smh_resp *r, const char *what, char id_out[64])
{
    int o = outcome(k, r);
    if (o == SMH_OK) {
        cJSON *j = parse(r);
        const char *id = j ? str(j, "id") : NULL;
        if (id && id_ok(id)) {
            snprintf(id_out, 64, "%s", id);
        } else {
            snprintf(k->err, sizeof k->err, "%s: answer without a usable id", what);
            o = SMH_RETRY;
        }
        if (j)
            J.Delete(j);
    }
    smh_resp_free(r);
    return o;
}

int smh_api_create(struct smh_call *k, const char *filepath, const char *content,
                   const char *custom_id, const struct smh_exact *x, char id_out[64])
{
    struct smh_resp r;
    cJSON *b = J.CreateObject();
    if (!b)
        return SMH_RETRY;
    J.AddString(b, "content", content);
    J.AddString(b, "containerTag", k->tag);
    J.AddString(b, "filepath", filepath);
    if (custom_id && *custom_id)
        J.AddString(b, "customId", custom_id);
    if (x && x->set) {
        cJSON *m = J.CreateObject();
        if (!m) {
            J.Delete(b);
            return SMH_RETRY;
        }
        exact_to(m, x);
        J.AddItem(b, "metadata", m);
    }
    if (send_json(k, "POST", "/v3/documents", b, SMH_ANSWER_SMALL, &r) != 0)
        return SMH_RETRY;
    /* the customId makes a retry an update of the same document */
    return answer_id(k, &r, "create", id_out);
}

int smh_doc_binary(const struct smh_doc *d)
{
    static const char *const types[] = SMH_BINARY_TYPES;
    for (int i = 0; i < (int)(sizeof types / sizeof *types); i++)
        if (strcmp(d->type, types[i]) == 0)
            return i;
    return -1;
}

/* Append n bytes to the growing buffer b (len, cap); -1 when out of memory. */
static int put(char **b, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        char *nb = realloc(*b, c);
        if (!nb)
            return -1;
        *b = nb;
        *cap = c;
    }
    memcpy(*b + *len, p, n);
    *len += n;
    return 0;
}

/* One text form field (after the part before it). */
static int part(char **b, size_t *len, size_t *cap, const char *bd, const char *name, const char *v,
                size_t vn)
{
    char head[300];
    snprintf(head, sizeof head, "\r\n--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n",
             bd, name);
    return put(b, len, cap, head, strlen(head)) || put(b, len, cap, v, vn) ? -1 : 0;
}

int smh_api_upload(struct smh_call *k, const char *filepath, const char *bytes, size_t len,
                   const char *marker, char id_out[64])
{
    char bd[64], fname[256], ctype[128];
    /* a boundary the bytes do not hold */
    for (unsigned n = 0;; n++) {
        snprintf(bd, sizeof bd, "smshim-%016llx-%u",
                 (unsigned long long)smc_hash64(bytes, len) ^ (0x9e3779b97f4a7c15ull * n), n);
        if (!memmem(bytes, len, bd, strlen(bd)))
            break;
    }
    /* the file's name, without what would end or escape the header's quoted string */
    const char *leaf = strrchr(filepath, '/');
    snprintf(fname, sizeof fname, "%s", leaf ? leaf + 1 : filepath);
    for (char *p = fname; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '_';
    cJSON *m = J.CreateObject();
    char *meta = NULL;
    if (m) {
        J.AddString(m, SMH_META_UPLOAD, marker);
        meta = J.Print(m);
        J.Delete(m);
    }
    if (!meta)
        return SMH_RETRY;
    /* the file part's head, its bytes (sent from where they are), then the other fields */
    char head[600];
    snprintf(head, sizeof head,
             "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n",
             bd, fname);
    char *b = NULL;
    size_t bl = 0, cap = 0;
    int bad = part(&b, &bl, &cap, bd, "containerTag", k->tag, strlen(k->tag)) ||
              part(&b, &bl, &cap, bd, "filepath", filepath, strlen(filepath)) ||
              part(&b, &bl, &cap, bd, "metadata", meta, strlen(meta)) ||
              put(&b, &bl, &cap, "\r\n--", 4) || put(&b, &bl, &cap, bd, strlen(bd)) ||
              put(&b, &bl, &cap, "--\r\n", 4);
    J.Free(meta);
    if (bad) {
        free(b);
        return SMH_RETRY;
    }
    snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=%s", bd);
    struct smh_resp r;
    const struct smh_piece body[] = {{head, strlen(head)}, {bytes, len}, {b, bl}};
    int rc = smh_request_body(k->conn, "POST", "/v3/documents/file", ctype, body, 3,
                              SMH_ANSWER_SMALL, &r);
    free(b);
    if (rc != 0)
        return SMH_RETRY;
    /* the marker lets a retry find the document if it was made */
    return answer_id(k, &r, "upload", id_out);
}

int smh_api_patch(struct smh_call *k, const char *id, const char *content, const char *filepath,
                  const struct smh_exact *x, const char *meta_base)
{
    char path[128];
    struct smh_resp r;
    if (!id_ok(id))
        return SMH_GONE;
    cJSON *b = J.CreateObject();
    if (!b)
        return SMH_RETRY;
    if (content)
        J.AddString(b, "content", content);
    if (filepath)
        J.AddString(b, "filepath", filepath);
    char *meta = NULL; /* the document's metadata and the exact bytes' keys, as JSON text */
    if (content && x && x->set) {
        /* parsed with its NULs marked (parse_marked) and printed back with them: a value of
         * another client's holding a NUL goes back as it came */
        struct smh_resp base = {.body = (char *)meta_base,
                                .len = meta_base ? strlen(meta_base) : 0};
        char mark[4] = "";
        cJSON *m = meta_base ? parse_marked(&base, mark) : NULL;
        if (m && !smh_jobject(m)) {
            J.Delete(m);
            m = NULL;
        }
        if (!m) {
            mark[0] = '\0';
            m = J.CreateObject();
        }
        char *t = NULL;
        if (m) {
            exact_to(m, x);
            t = J.Print(m);
            J.Delete(m);
        }
        meta = t ? unmark(t, mark) : NULL;
        if (t)
            J.Free(t);
        if (!meta) {
            J.Delete(b);
            return SMH_RETRY;
        }
    }
    snprintf(path, sizeof path, "/v3/documents/%s", id);
    int rc = meta ? send_json_with(k, "PATCH", path, b, "metadata", meta, SMH_ANSWER_SMALL, &r)
                  : send_json(k, "PATCH", path, b, SMH_ANSWER_SMALL, &r);
    free(meta);
    if (rc != 0)
        return SMH_RETRY;
    int o = outcome(k, &r);
    smh_resp_free(&r);
    return o;
}

int smh_api_delete(struct smh_call *k, const char *id)
{
    char path[128];
    struct smh_resp r;
    if (!id_ok(id))
        return SMH_GONE;
    snprintf(path, sizeof path, "/v3/documents/%s", id);
    if (smh_request(k->conn, "DELETE", path, NULL, SMH_ANSWER_SMALL, &r) != 0)
        return SMH_RETRY;
    int o = outcome(k, &r);
    smh_resp_free(&r);
    return o;
}

/* Fill d from a JSON document; 0, or -1 when it is not a usable document. mark: what stands for
 * NUL in its strings ("" none: parse_marked). */
static int doc_from(const cJSON *o, struct smh_doc *d, int want_content, const char *mark)
{
    memset(d, 0, sizeof *d);
    if (!smh_jobject(o))
        return -1;
    const char *id = str(o, "id"), *fp = str(o, "filepath"), *st = str(o, "status");
    const cJSON *fpv = J.Get(o, "filepath");
    if (!id || !id_ok(id))
        return -1;
    if (fpv && !smh_jstring(fpv) && !SMH_JTYPE(fpv, cJSON_NULL))
        return -1; /* a filepath of the wrong type is malformed, not missing */
    snprintf(d->id, sizeof d->id, "%s", id);
    snprintf(d->status, sizeof d->status, "%s", st ? st : "");
    d->updated_ms = smh_parse_time(str(o, "updatedAt"));
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
    const char *cid = str(o, "customId");
    if (cid && strlen(cid) < sizeof d->custom_id)
        snprintf(d->custom_id, sizeof d->custom_id, "%s", cid);
    const cJSON *meta = J.Get(o, "metadata");
    if (meta && smh_jobject(meta)) {
        exact_from(meta, &d->x);
        const char *up = str(meta, SMH_META_UPLOAD);
        if (up && strlen(up) < sizeof d->upload)
            snprintf(d->upload, sizeof d->upload, "%s", up);
    }
    const char *ty = str(o, "type"), *url = str(o, "url");
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

static int get_doc(struct smh_call *k, const char *id, struct smh_doc *out, int content)
{
    char path[128];
    struct smh_resp r;
    memset(out, 0, sizeof *out);
    if (!id_ok(id))
        return SMH_GONE;
    snprintf(path, sizeof path, "/v3/documents/%s", id);
    /* a GET always carries the content: one document and its envelope */
    if (smh_request(k->conn, "GET", path, NULL, SMH_ANSWER_DOC, &r) != 0)
        return SMH_RETRY;
    int o = outcome(k, &r);
    if (o == SMH_OK) {
        char mark[4];
        cJSON *j = parse_marked(&r, mark);
        const cJSON *m = j ? J.Get(j, "metadata") : NULL;
        if (!j || doc_from(j, out, content, mark) != 0) {
            smh_doc_free(out);
            snprintf(k->err, sizeof k->err, "get: malformed answer");
            o = SMH_RETRY;
        } else if (m && smh_jobject(m)) {
            char *t = J.Print(m);                   /* NULL when out of memory: merged as none */
            out->meta = t ? unmark(t, mark) : NULL; /* its NULs as the answer had them */
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
    return get_doc(k, id, out, 0);
}

int smh_api_fetch(struct smh_call *k, const char *id, struct smh_doc *out)
{
    return get_doc(k, id, out, 1);
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
    if (send_json(k, "POST", "/v3/documents/list", b, SMH_ANSWER_LIST, &r) != 0)
        return SMH_RETRY;
    int o = outcome(k, &r);
    if (o != SMH_OK) {
        smh_resp_free(&r);
        return o;
    }
    char mark[4];
    cJSON *j = parse_marked(&r, mark);
    const cJSON *mem = j ? J.Get(j, "memories") : NULL;
    const cJSON *pg = j ? J.Get(j, "pagination") : NULL;
    const cJSON *tp = pg ? J.Get(pg, "totalPages") : NULL;
    if (!mem || !smh_jarray(mem) || !pg || !smh_jobject(pg) || !tp || !smh_jnumber(tp)) {
        snprintf(k->err, sizeof k->err, "list: malformed answer (%zu bytes)", r.len);
        o = SMH_RETRY;
    } else {
        double tpv = tp->valuedouble;
        info->total_pages = tpv > 1e9 ? 1000000000LL : tpv >= 0 ? (long long)tpv : 0;
        const cJSON *ti = J.Get(pg, "totalItems");
        double tiv = ti && smh_jnumber(ti) ? ti->valuedouble : -1;
        info->total_items = tiv > 1e12 ? 1000000000000LL : tiv >= 0 ? (long long)tiv : -1;
        int n = J.ArraySize(mem);
        info->items = n;
        for (int i = 0; i < n && o == SMH_OK; i++) {
            struct smh_doc d;
            if (doc_from(J.ArrayItem(mem, i), &d, content, mark) != 0) {
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

int smh_api_outcome(struct smh_call *k, const struct smh_resp *r)
{
    return outcome(k, r);
}

cJSON *smh_api_parse(const struct smh_resp *r)
{
    return parse(r);
}
