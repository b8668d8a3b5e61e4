/* cli.h: what the smshim commands share (tools/cli.c): settings, the remote and its key, the
 * cache, printing safely, progress. Each command lives in a file of its own. */
#ifndef SMSHIM_CLI_H
#define SMSHIM_CLI_H

#include "smshim.h"
#include "../hydrate/http.h"

#include <stddef.h>
#include <stdint.h>

struct smc;
struct smh_progress;

/* Text from the server, the cache, a file name or a setting, made safe to print (sm_escape): E
 * for the terminal, J inside a JSON string. Each call takes the next of a few buffers, so that
 * one printf can hold several. */
const char *cli_esc(const char *s, int json);
#define E(s) cli_esc((s), 0)
#define J(s) cli_esc((s), 1)

/** Print "smshim: " fmt (arg escaped) on stderr and exit 2. */
_Noreturn void die(const char *fmt, const char *arg);

/** The prefix and the cache (normal form), decided as the library decides them: refused
 *  settings (and a duration setting that is not one, sm_settings_seconds) end the command with
 *  their reason (exit 2). warn: print the warnings. */
void settings(int warn, const char **prefix, const char **cache);
/** A duration setting in milliseconds (sm_settings_seconds): its default when unset; a value
 *  that is not one ends the command with the reason (exit 2). */
long cli_seconds(const char *name);

/** Options every command that names a cache takes: --prefix P, --cache DIR, --tag TAG (each
 *  exported as its SMSHIM_* variable). 1 when argv[*i] was one (and *i moved past its value). */
int cli_common_opt(int argc, char **argv, int *i);
/** "--help"/"-h"? */
int cli_is_help(const char *a);

struct remote {
    char url[SMH_URL_MAX + 2]; /* (a URL too long stays too long: smh_key_allowed refuses it) */
    char tag[160];
    const char *key; /* the environment's, or keybuf */
    char keybuf[512];
    const char *source; /* "SUPERMEMORY_API_KEY" or the credentials file's path */
};

/** The credentials file's path (creds.h); exits 2 when neither XDG_CONFIG_HOME nor HOME is set. */
const char *cli_creds_path(void);
/** The remote: SUPERMEMORY_API_KEY (and SUPERMEMORY_BASE_URL / _API_URL), else the
 *  credentials file. 0 when there is no key (local-only); a malformed or unreadable credentials
 *  file ends the command (exit 2) with the reason. */
int remote_get(struct remote *r);
/** The key is never sent where it is not safe (hydrate/http.c decides): say why and exit 2. */
void refuse_unsafe_url(const struct remote *r);
/* The API key may not go to url (smh_key_allowed): say so, the URL escaped, and exit 2. */
void cli_refuse_unsafe(const char *url);
/** Why files could not be recorded (smc_unrecorded_get's errno), for status and sync. */
const char *cli_unrecorded_why(int err);

/** Open the cache's LMDB environment (creating the layout). NULL with a message printed. */
struct smc *cache_open(const char *cache);

/** Push the cache's queue; returns the records left. show: a progress bar on a terminal, one
 *  summary line otherwise. */
long push_all(struct smc *c, const char *cache, const struct remote *r, long timeout_ms, int show,
              int retry_poisoned, int stall, struct smh_progress *out);
/** Pull into the cache (full: the whole container). 0, or -1 with a message printed. show: a
 *  progress bar on a terminal, one summary line otherwise. */
int pull(struct smc *c, const char *cache, const struct remote *r, int full, long timeout_ms,
         long retry_ms, int show);

/** A progress bar on stderr (only when it is a terminal): done/total, rate, time left. */
struct bar {
    int tty;
    const char *what;
    uint64_t t0_ms;
    int drawn;
};
void bar_init(struct bar *b, const char *what);
void bar_draw(struct bar *b, size_t done, size_t total, const char *unit);
void bar_end(struct bar *b);
uint64_t cli_now_ms(void);

/** The commands in files of their own: status.c, grep.c, login.c, logs.c. */
int cmd_status(int argc, char **argv);
int cmd_grep(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_logs(int argc, char **argv);

#endif
