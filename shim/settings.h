/* settings.h: the settings rules (what the prefix and the cache are, and whether they are safe)
 * and the escaping rule for printed text: one copy of each, linked into the library and the CLI
 * (settings.c). */
#ifndef SM_SETTINGS_H
#define SM_SETTINGS_H

#include <limits.h>
#include <stddef.h>

/** The longest a container tag may be (api.md: 1 to 100 of [A-Za-z0-9_:-]). */
#define SM_TAG_MAX 100

/** What the settings resolve to. */
struct sm_settings {
    char prefix[PATH_MAX];    /* normalised: absolute, no "//", "." or "..", no trailing '/' */
    char cache[PATH_MAX];     /* absolute, canonical */
    char tag[SM_TAG_MAX + 1]; /* the container tag (sm_settings_tag) */
    int fallback;             /* no SMSHIM_CACHE, XDG_CACHE_HOME or HOME: the per-user fallback */
    char why[2 * PATH_MAX];   /* refused: the reason, one line */
    char warn[2 * PATH_MAX];  /* accepted, with this warning (SM_SET_WARN) */
};
#define SM_SET_WARN 1 /* also look whether the prefix hides a non-empty real directory */

/** Copy s into out (size > 0, always terminated, cut at a character's boundary when it does not
 *  fit) as data that is safe to print: every control character escaped (\n \r \t, \xHH below
 *  0x80, \uHHHH above), a byte that is not UTF-8 as \xHH, a backslash as \\. json: the escapes
 *  of a JSON string instead (\uHHHH, \" too; a byte that is not UTF-8 becomes U+FFFD). The one
 *  escaping rule for text that comes from a server, a file name or a setting. Returns out. */
char *sm_escape(char *out, size_t size, const char *s, int json);

/** Resolve the prefix and the cache from the settings (get: getenv or an equivalent) and decide
 *  whether they are safe: the prefix is absolute and not "/", not a system tree (/proc, /sys,
 *  /dev, /etc, /usr, /bin, /sbin, /lib*, /boot) and neither contains the cache nor lies in it;
 *  the fallback cache is this user's own directory; the tag is one the service takes
 *  (sm_settings_tag). The one decision, made by the library's
 *  constructor and by the CLI alike. Returns 0 (st filled; st->warn set when SM_SET_WARN finds
 *  the prefix hides a non-empty directory), or -1 with st->why. The texts hold the settings as
 *  they are: print them through sm_escape. */
int sm_settings_resolve(const char *(*get)(const char *), int flags, struct sm_settings *st);

/** The part of those rules that needs no system call, in two steps (the library's constructor
 *  decides them at start; sm_settings_resolve applies them first, so the two never disagree).
 *  The prefix: normalised into prefix (size bytes) and checked; 0, or -1 with the reason in
 *  why. */
int sm_settings_prefix(const char *(*get)(const char *), char *prefix, size_t size, char *why,
                       size_t wsize);
/** Then the cache, when it comes from an absolute SMSHIM_CACHE, XDG_CACHE_HOME or HOME: its
 *  lexical form in cache (size bytes) and whether it and the prefix contain one another.
 *  Returns 0 (decided; what is left is the check of its canonical form), 1 (it needs the file
 *  system: a relative SMSHIM_CACHE or the fallback), or -1 with why. */
int sm_settings_cache_lexical(const char *(*get)(const char *), const char *prefix, char *cache,
                              size_t size, char *why, size_t wsize);

/** The container tag: SMSHIM_TAG, or SMSHIM_DEFAULT_TAG when it is unset or empty, into tag
 *  (size > SM_TAG_MAX). A tag the service would refuse is refused here, before anything is
 *  bound to it or sent (every create would be refused, and the file poisoned). Needs no system
 *  call (the constructor decides it). 0, or -1 with the reason in why. */
int sm_settings_tag(const char *(*get)(const char *), char *tag, size_t size, char *why,
                    size_t wsize);

/** The most seconds a duration setting may say (a larger value is refused, not cut). */
#define SM_SECONDS_MAX 1000000
/** A duration setting in seconds: name is one of SMSHIM_EXIT_TIMEOUT, SMSHIM_PULL_INTERVAL,
 *  SMSHIM_PULL_TIMEOUT, SMSHIM_SYNC_TIMEOUT. Unset or empty: its default. Else a decimal number
 *  of seconds, 0 to SM_SECONDS_MAX (digits with at most one '.', nothing else: no sign, no
 *  exponent, no "nan", no trailing text). *ms: the value in milliseconds, or the default when the
 *  value is refused. 0, or -1 with the reason (naming the default) in why. The one reader of
 *  these values, the library's and the CLI's. */
int sm_settings_seconds(const char *(*get)(const char *), const char *name, long *ms, char *why,
                        size_t wsize);
/** Every duration setting's check (sm_settings_seconds), in turn: 0, or -1 with the first
 *  refusal in why. */
int sm_settings_seconds_all(const char *(*get)(const char *), char *why, size_t wsize);

#endif
