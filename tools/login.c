/* login.c: `smshim login`, `logout` and `whoami`: the key in the credentials file smfs shares
 * (hydrate/creds.h), checked with GET /v3/session. The key is never echoed, printed or logged. */
#include "cli.h"
#include "../hydrate/creds.h"
#include "../hydrate/http.h"
#include "../hydrate/search.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char login_help[] =
    "usage: smshim login [--url URL] [--stdin]\n"
    "\n"
    "Asks for a Supermemory API key (the terminal does not echo it; with --stdin, or when stdin\n"
    "is not a terminal, the first line of stdin), checks it with the server (GET /v3/session) and\n"
    "saves it in the credentials file smfs uses, created 0600 and replaced atomically; the\n"
    "file's other fields are kept. Exits 1 when the server refuses the key or cannot be reached.\n"
    "\n"
    "  --url URL  the API to use and to remember in the file (api_url)\n"
    "  --stdin    read the key from stdin\n"
    "\n"
    "Environment: XDG_CONFIG_HOME, HOME (the file: $XDG_CONFIG_HOME/supermemoryfs/\n"
    "credentials.json, else ~/.config/supermemoryfs/credentials.json), SUPERMEMORY_BASE_URL\n"
    "(SUPERMEMORY_API_URL), SMSHIM_ALLOW_INSECURE.\n";

static const char logout_help[] =
    "usage: smshim logout\n"
    "\n"
    "Removes the key from the credentials file (the file goes when nothing else is left in it).\n"
    "\n"
    "Environment: XDG_CONFIG_HOME, HOME (where the file is).\n";

static const char whoami_help[] =
    "usage: smshim whoami [--json]\n"
    "\n"
    "Prints the organisation and the user the key belongs to (GET /v3/session), and where the\n"
    "key comes from. Exits 1 when there is no key or the server refuses it.\n"
    "\n"
    "  --json  one JSON object\n"
    "\n"
    "Environment: SUPERMEMORY_API_KEY, SUPERMEMORY_BASE_URL (SUPERMEMORY_API_URL),\n"
    "XDG_CONFIG_HOME, HOME (the credentials file), SMSHIM_ALLOW_INSECURE.\n";

/* One line of the key: from the terminal without echo, or from stdin. */
static int read_key(int from_stdin, char *key, size_t n)
{
    int tty = -1;
    FILE *in = stdin;
    struct termios old, quiet;
    if (!from_stdin && isatty(0) && (tty = open("/dev/tty", O_RDWR | O_CLOEXEC)) >= 0 &&
        tcgetattr(tty, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        if (write(tty, "Supermemory API key: ", 21) < 0 || tcsetattr(tty, TCSAFLUSH, &quiet) != 0)
            die("cannot turn the terminal's echo off%s", "");
        in = fdopen(tty, "r");
    } else if (tty >= 0) {
        close(tty);
        tty = -1;
    }
    int ok = in && fgets(key, (int)n, in) != NULL;
    if (tty >= 0) {
        tcsetattr(tty, TCSAFLUSH, &old);
        fclose(in);
    }
    if (!ok)
        return -1;
    size_t len = strlen(key);
    while (len && (key[len - 1] == '\n' || key[len - 1] == '\r' || key[len - 1] == ' ' ||
                   key[len - 1] == '\t'))
        key[--len] = '\0';
    size_t lead = strspn(key, " \t");
    memmove(key, key + lead, len - lead + 1);
    return 0;
}

/* GET /v3/session with key at url: SMH_OK, or exits 1 saying why (2: the URL is refused). */
static void session(const char *url, const char *key, struct smh_session *s)
{
    cli_refuse_unsafe(url);
    struct smh_conn *conn = smh_conn_new(url, key, 15000);
    if (!conn)
        die("cannot load libcurl and cJSON (libcurl.so.4, libcjson.so.1)%s", "");
    struct smh_call k = {.conn = conn, .tag = ""};
    int o = smh_api_session(&k, s);
    smh_conn_free(conn);
    if (o == SMH_AUTH) {
        fprintf(stderr, "smshim: %s refuses this key (%s)\n", E(url), E(k.err));
        exit(1);
    }
    if (o != SMH_OK) {
        fprintf(stderr, "smshim: cannot check the key with %s: %s\n", E(url), E(k.err));
        exit(1);
    }
}

int cmd_login(int argc, char **argv)
{
    const char *url = NULL;
    int from_stdin = 0;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(login_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--stdin") == 0)
            from_stdin = 1;
        else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strncmp(argv[i], "--url=", 6) == 0)
            url = argv[i] + 6;
        else
            die("login: unknown option %s (smshim login --help)", argv[i]);
    }
    const char *path = cli_creds_path();
    const char *env_url = getenv(SMSHIM_ENV_BASE_URL);
    if (!env_url || !*env_url)
        env_url = getenv(SMSHIM_ENV_API_URL);
    if (!url && env_url && *env_url)
        url = env_url; /* the API the key is checked with is the one remembered */
    struct smh_creds old;
    char why[PATH_MAX + 128];
    if (smh_creds_read(path, &old, why, sizeof why) < 0)
        die("%s (fix or remove it, then log in again)", why);
    memset(old.key, 0, sizeof old.key);
    const char *check = url ? url : old.url[0] ? old.url : SMSHIM_DEFAULT_BASE_URL;

    static char key[SMH_CREDS_KEY_MAX + 2];
    if (read_key(from_stdin, key, sizeof key) != 0)
        die("login: no key was given%s", "");
    if (!smh_key_usable(key, NULL, 0))
        die("login: that is not an API key (printable characters, no spaces, at most 511)%s", "");
    struct smh_session s;
    session(check, key, &s);
    if (smh_creds_store(path, key, url, why, sizeof why) != 0) {
        memset(key, 0, sizeof key);
        die("%s", why);
    }
    memset(key, 0, sizeof key);
    fprintf(stderr, "smshim: logged in as %s <%s> in %s; the key is in %s\n", E(s.user_name),
            E(s.email), E(s.org_name), E(path));
    if (getenv(SMSHIM_ENV_KEY) && *getenv(SMSHIM_ENV_KEY))
        fprintf(stderr, "smshim: note: %s is set and comes first\n", SMSHIM_ENV_KEY);
    return 0;
}

int cmd_logout(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(logout_help, stdout);
            return 0;
        }
        die("logout: unknown option %s (smshim logout --help)", argv[i]);
    }
    const char *path = cli_creds_path();
    char why[PATH_MAX + 128];
    int rc = smh_creds_forget(path, why, sizeof why);
    if (rc < 0)
        die("%s", why);
    fprintf(stderr, rc ? "smshim: the key was removed from %s\n" : "smshim: no key in %s\n",
            E(path));
    if (getenv(SMSHIM_ENV_KEY) && *getenv(SMSHIM_ENV_KEY))
        fprintf(stderr, "smshim: note: %s is still set in this environment\n", SMSHIM_ENV_KEY);
    return 0;
}

int cmd_whoami(int argc, char **argv)
{
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(whoami_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            die("whoami: unknown option %s (smshim whoami --help)", argv[i]);
    }
    struct remote r;
    if (!remote_get(&r)) {
        fprintf(stderr, "smshim: not logged in (no %s, no key in %s): smshim login\n",
                SMSHIM_ENV_KEY, E(cli_creds_path()));
        return 1;
    }
    struct smh_session s;
    session(r.url, r.key, &s);
    memset(r.keybuf, 0, sizeof r.keybuf);
    if (json) {
        printf("{\"org\":{\"id\":\"%s\",\"name\":\"%s\"},\"user\":{\"id\":\"%s\",\"name\":\"%s\","
               "\"email\":\"%s\"},\"url\":\"%s\",\"key_from\":\"%s\"}\n",
               J(s.org_id), J(s.org_name), J(s.user_id), J(s.user_name), J(s.email), J(r.url),
               J(r.source));
        return 0;
    }
    printf("org:      %s (%s)\n", E(s.org_name), E(s.org_id));
    printf("user:     %s <%s> (%s)\n", E(s.user_name), E(s.email), E(s.user_id));
    printf("api:      %s\n", E(r.url));
    printf("key from: %s\n", E(r.source));
    return 0;
}
