/* creds.h: the credentials file smfs writes (`smfs login`) and smshim shares:
 * $XDG_CONFIG_HOME/supermemoryfs/credentials.json, else ~/.config/supermemoryfs/credentials.json,
 * a JSON object {"api_key": "...", "api_url": "..."} (api_url optional; other fields are kept).
 * The key read from it is a secret like SUPERMEMORY_API_KEY: never printed, logged or cached. */
#ifndef SMH_CREDS_H
#define SMH_CREDS_H

#include <stddef.h>

#define SMH_CREDS_KEY_MAX 512 /* SMH_KEY_MAX + 1 (http.h) */
#define SMH_CREDS_URL_MAX 512

struct smh_creds {
    char key[SMH_CREDS_KEY_MAX]; /* "" when the file holds none (logged out) */
    char url[SMH_CREDS_URL_MAX]; /* "" when the file names none */
};

/** The file's path from the environment (get: a getenv), honouring XDG_CONFIG_HOME (absolute
 *  only, as the XDG spec says). 0, or -ENOENT (neither it nor HOME set), -ENAMETOOLONG. */
int smh_creds_path(const char *(*get)(const char *), char *out, size_t n);

/** Read the file (loads cJSON: smh_http_load). 1 with a key, 0 when there is no file or no key
 *  in it, -1 when it cannot be read or is malformed (why says so; never quotes the file). */
int smh_creds_read(const char *path, struct smh_creds *out, char *why, size_t n);

/** For a process's sync thread: smh_creds_read into memory of its own, left out of core dumps;
 *  *c points there (valid for the life of the process). Same return values. */
int smh_creds_take(const char *path, const struct smh_creds **c, char *why, size_t n);

/** Has the file been seen to exist? Checked once per process (access(2), nothing opened): a
 *  process that never syncs never reads it. */
int smh_creds_present(const char *path);

/** `smshim login`: set api_key (and api_url when url is not NULL), keeping every other field.
 *  Written to a new file created 0600 in the same directory, then renamed over the old one
 *  (missing directories are created 0700). 0, or -1 with why. */
int smh_creds_store(const char *path, const char *key, const char *url, char *why, size_t n);

/** `smshim logout`: remove api_key (the file goes when nothing else is left in it). 1 when a key
 *  was removed, 0 when there was none, -1 with why. */
int smh_creds_forget(const char *path, char *why, size_t n);

#endif

struct smc;
/** The sync thread of a process with no key in its environment, when it first starts: the key
 *  (and, when url_env is 0, the URL) from the file at path. A malformed or unreadable file is
 *  logged and flagged in the cache (kv SMC_KV_CREDS_ERROR, shown by `smshim status`), never a silent
 *  local-only mode; a good read clears the flag. 1 with *key (and maybe *url) set, else 0/-1. */
int smh_creds_for_sync(struct smc *c, const char *path, int url_env, const char **key,
                       const char **url, void (*log)(const char *));
