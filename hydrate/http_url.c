/* http_url.c: where the API key may go: https, http to a loopback host, or anywhere when
 * SMSHIM_ALLOW_INSECURE=1 (read once at start-up); a URL's kind is read strictly. */
#include "http_int.h"
#include "../include/sm_real.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

extern char **environ;
static int allow_insecure; /* SMSHIM_ALLOW_INSECURE=1, read once at start-up */

/* Read at load time, before the host's main runs: through environ itself (a host may export its
 * own getenv), and never later from a thread while the host may be changing its environment. */
__attribute__((constructor)) SM_START static void smh_http_env(void)
{
    static const char name[] = "SMSHIM_ALLOW_INSECURE=";
    for (char **e = environ; e && *e; e++) /* no libc call: every process runs this */
        if ((*e)[0] == 'S' && sm_s_ncmp(*e, name, sizeof name - 1) == 0)
            allow_insecure = sm_s_eq(*e + sizeof name - 1, "1");
}

/* Is the host part of an http:// URL's authority a loopback address? Strict: anything that is
 * not plainly "localhost", an IPv4 literal in 127.0.0.0/8 or [::1] (or [::ffff:127.x.y.z]) is
 * not, whatever a resolver or libcurl's lenient parsing might make of it. */
static int loopback_authority(const char *a, size_t n)
{
    char host[256];
    const char *colon;
    if (n == 0 || n >= sizeof host || memchr(a, '@', n) || memchr(a, '\\', n) || memchr(a, '%', n))
        return 0; /* user info, backslashes and escapes: ambiguous between parsers, refused */
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return 0;
        size_t hl = (size_t)(close - a - 1);
        memcpy(host, a + 1, hl);
        host[hl] = '\0';
        colon = close + 1;
    } else {
        const char *c = memchr(a, ':', n);
        size_t hl = c ? (size_t)(c - a) : n;
        memcpy(host, a, hl);
        host[hl] = '\0';
        colon = a + hl;
    }
    /* what follows the host: nothing, or ":" and a port number */
    if (colon < a + n) {
        if (*colon != ':' || colon + 1 == a + n)
            return 0;
        for (const char *p = colon + 1; p < a + n; p++)
            if (*p < '0' || *p > '9')
                return 0;
    }
    if (a[0] == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return 0;
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    }
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    struct in_addr a4;
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* 1: https; 2: http to a loopback host; 3: http elsewhere; 0: anything else */
int smh_url_kind(const char *url)
{
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return 0;
    if (strncasecmp(url, "https://", 8) == 0)
        return 1;
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    const char *a = url + 7;
    size_t n = strcspn(a, "/?#");
    return loopback_authority(a, n) ? 2 : 3;
}

int smh_key_usable(const char *key, char *why, size_t n)
{
    size_t len = strlen(key);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f) {
            if (why && n)
                snprintf(why, n,
                         "the API key holds a space or a control character (at byte %zu): it "
                         "cannot go into an HTTP header",
                         i + 1);
            return 0;
        }
    if (len == 0 || len > SMH_KEY_MAX) {
        if (why && n)
            snprintf(why, n, "the API key is %s (%zu bytes; at most %d)",
                     len ? "too long" : "empty", len, SMH_KEY_MAX);
        return 0;
    }
    return 1;
}

int smh_key_allowed(const char *base_url, char *why, size_t n)
{
    if (strlen(base_url) > SMH_URL_MAX) {
        if (why && n)
            snprintf(why, n, "the base URL is longer than %d bytes (%zu)", SMH_URL_MAX,
                     strlen(base_url));
        return 0;
    }
    int kind = smh_url_kind(base_url);
    if (kind == 1 || kind == 2 || (kind == 3 && allow_insecure))
        return 1;
    if (why && n) {
        char shown[201]; /* the URL as given, with its control characters made visible */
        size_t i = 0;
        for (; i < sizeof shown - 1 && base_url[i]; i++)
            shown[i] = (unsigned char)base_url[i] < 0x20 || base_url[i] == 0x7f ? '?' : base_url[i];
        shown[i] = '\0';
        snprintf(why, n,
                 "the API key is not sent to %s: only https:// is safe (or http:// to a "
                 "loopback host, or anywhere with SMSHIM_ALLOW_INSECURE=1)",
                 shown);
    }
    return 0;
}
