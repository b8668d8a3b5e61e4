/* bg.h: how a host process configures its background sync thread (the shim's side). */
#ifndef SMH_BG_H
#define SMH_BG_H

struct smc;

struct smh_bg_opts {
    struct smc *cache;
    const char *cache_dir, *base_url, *key, *tag;
    const char *creds;     /* with no key: the credentials file, read when the thread starts */
    int url_env;           /* base_url came from the environment (it wins over the file's) */
    int exit_wait;         /* 0: never wait at exit (children of `smshim run`) */
    long exit_timeout_ms;  /* SMSHIM_EXIT_TIMEOUT */
    long pull_interval_ms; /* SMSHIM_PULL_INTERVAL */
    void (*log)(const char *msg);
};

/** A change was recorded: start the thread on first use and wake it. *o is copied; the strings
 *  it points to must stay valid for the life of the process. */
void smh_bg_kick(const struct smh_bg_opts *o);

/** Would an exec of this process now end a sync thread it started (it records changes that
 *  thread may not have pushed yet)? A fork child's, or a vfork child's, is never its parent's. */
int smh_bg_owed(void);

/** A lookup under the prefix missed `filepath`: queue it for hydration (singleflight, 2 s
 *  negative TTL) and start the thread if needed. Never waits. */
void smh_bg_miss(const struct smh_bg_opts *o, const char *filepath);

#endif
