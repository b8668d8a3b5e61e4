/* api_json.c: the JSON of the documents API: bodies sent, answers parsed with their NUL escapes
 * kept (the marks), an answer's outcome, and the checks of a field (a string, an id). */
#include "api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define J smh_json

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

/* Does the body hold more than SMH_JSON_VALUES_MAX values? Counted as the parser would place
 * them, without building anything: each '[', '{' or ',' outside a string opens room for one
 * value more (the first of a container, the next of one); a string ends at its first unescaped
 * quote. */
int smh_api_values_over(const char *body, size_t len)
{
    size_t n = 1;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = body[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if ((ch == ',' || ch == '[' || ch == '{') && ++n > SMH_JSON_VALUES_MAX) {
            return 1;
        }
    }
    return 0;
}

/* A whole answer body as JSON: nothing but whitespace may follow the value (an answer with
 * trailing garbage is malformed, not accepted by its first half). NULL if it is not JSON, or
 * holds more values than any answer may (smh_api_values_over: never made into that many nodes).
 * mark (NULL: NUL escapes are left to cJSON): the UTF-8 that stands for NUL in its strings, ""
 * when none does (nul_marked). */
cJSON *smh_api_parse_marked(const struct smh_resp *r, char mark[4])
{
    if (!r->body || strlen(r->body) != r->len)
        return NULL; /* a NUL inside the body */
    if (smh_api_values_over(r->body, r->len)) {
        if (mark)
            mark[0] = '\0';
        return NULL;
    }
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
    return smh_api_parse_marked(r, NULL);
}

/* s with each mark (what stands for NUL: parse_marked) written back as the escape \u0000, so
 * JSON text printed from a marked parse says what the answer said (malloc'd, or NULL). */
char *smh_api_unmark(const char *s, const char *mark)
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
    /* a redirect is never followed (the key would go along): the server, or a proxy in front of
     * it, is not answering the request; tried again later, never taken as the request's refusal */
    if (r->status >= 300 && r->status < 400) {
        size_t n = strlen(k->err);
        snprintf(k->err + n, sizeof k->err - n, " (a redirect: not followed)");
        return SMH_RETRY;
    }
    return SMH_REJECT;
}

const char *smh_api_str(const cJSON *o, const char *name)
{
    const cJSON *v = J.Get(o, name);
    return (v && smh_jstring(v) && v->valuestring) ? v->valuestring : NULL;
}

int smh_api_send_json(struct smh_call *k, const char *method, const char *path, cJSON *body,
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
int smh_api_send_json_with(struct smh_call *k, const char *method, const char *path, cJSON *body,
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
int smh_api_id_ok(const char *id)
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

int smh_api_outcome(struct smh_call *k, const struct smh_resp *r)
{
    return outcome(k, r);
}

cJSON *smh_api_parse(const struct smh_resp *r)
{
    return parse(r);
}
