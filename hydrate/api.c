/* api.c: the documents API's requests that change documents (create, upload, patch, delete) and
 * the checks of what they send, with the quirks of the service (README, Syncing); reading is
 * api_read.c, the JSON both speak api_json.c. */
#include "api_int.h"

#include "../cache/cache.h"
#include "clock.h"
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
            if (comp == 0 || comp > NAME_MAX || (comp == 1 && s[0] == '.') ||
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
    return (int64_t)t * SMH_MS_PER_S + ms;
}

int64_t smh_doc_time(const char *s)
{
    int64_t t = smh_parse_time(s);
    return t > 0 && (uint64_t)t > smc_now_ms() + SMH_TIME_AHEAD_MS ? 0 : t;
}

void smh_doc_free(struct smh_doc *d)
{
    free(d->content);
    d->content = NULL;
    free(d->meta);
    d->meta = NULL;
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

/* The outcome of an answer that makes a document, its id into id_out; an accepted answer without
 * a usable id is SMH_RETRY (what makes the retry safe is the caller's). Frees r. */
static int answer_id(struct smh_call *k, struct smh_resp *r, const char *what, char id_out[64])
{
    int o = smh_api_outcome(k, r);
    if (o == SMH_OK) {
        cJSON *j = smh_api_parse(r);
        const char *id = j ? smh_api_str(j, "id") : NULL;
        if (id && smh_api_id_ok(id)) {
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
    if (smh_api_send_json(k, "POST", "/v3/documents", b, SMH_ANSWER_SMALL, &r) != 0)
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
    if (!smh_api_id_ok(id))
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
        cJSON *m = meta_base ? smh_api_parse_marked(&base, mark) : NULL;
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
        meta = t ? smh_api_unmark(t, mark) : NULL;
        if (t)
            J.Free(t);
        if (!meta) {
            J.Delete(b);
            return SMH_RETRY;
        }
    }
    snprintf(path, sizeof path, "/v3/documents/%s", id);
    int rc =
        meta ? smh_api_send_json_with(k, "PATCH", path, b, "metadata", meta, SMH_ANSWER_SMALL, &r)
             : smh_api_send_json(k, "PATCH", path, b, SMH_ANSWER_SMALL, &r);
    free(meta);
    if (rc != 0)
        return SMH_RETRY;
    int o = smh_api_outcome(k, &r);
    smh_resp_free(&r);
    return o;
}

int smh_api_delete(struct smh_call *k, const char *id)
{
    char path[128];
    struct smh_resp r;
    if (!smh_api_id_ok(id))
        return SMH_GONE;
    snprintf(path, sizeof path, "/v3/documents/%s", id);
    if (smh_request(k->conn, "DELETE", path, NULL, SMH_ANSWER_SMALL, &r) != 0)
        return SMH_RETRY;
    int o = smh_api_outcome(k, &r);
    smh_resp_free(&r);
    return o;
}
