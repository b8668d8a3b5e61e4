/* smshim.h: names shared by the preload, the CLI and the tests (settings, layout, version). */
#ifndef SMSHIM_H
#define SMSHIM_H

#define SMSHIM_VERSION "0.1.0"

/** @defgroup env Environment variables
 * The preload copies these once, in its constructor, and re-injects them into every child it execs.
 * @{ */
#define SMSHIM_ENV_PREFIX        "SMSHIM_PREFIX" /**< virtual prefix, absolute, default "/sm" */
#define SMSHIM_ENV_CACHE         "SMSHIM_CACHE" /**< cache directory, default $XDG_CACHE_HOME/smshim */
#define SMSHIM_ENV_TAG           "SMSHIM_TAG" /**< container tag the prefix maps to, default "smshim" */
#define SMSHIM_ENV_LOG           "SMSHIM_LOG" /**< "LEVEL[:FILE]", off by default */
#define SMSHIM_ENV_SUD           "SMSHIM_SUD" /**< 1 forces syscall user dispatch, 0 forbids it */
#define SMSHIM_ENV_KEY           "SUPERMEMORY_API_KEY"
#define SMSHIM_ENV_BASE_URL      "SUPERMEMORY_BASE_URL"
#define SMSHIM_ENV_API_URL       "SUPERMEMORY_API_URL" /**< accepted alias of SUPERMEMORY_BASE_URL */
#define SMSHIM_ENV_EXIT_TIMEOUT  "SMSHIM_EXIT_TIMEOUT" /**< seconds a process may wait at exit */
#define SMSHIM_ENV_NOWAIT        "SMSHIM_NOWAIT" /**< 1: never wait at exit (set by smshim run) */
#define SMSHIM_ENV_PULL_INTERVAL "SMSHIM_PULL_INTERVAL" /**< seconds between delta pulls */
#define SMSHIM_ENV_TREE_FD       "SMSHIM_TREE_FD"       /**< "FD:DEV:INO", after a privilege drop */
/** "1": the image that exec'd this one had recorded changes its sync thread, which the exec
 *  ended, may not have pushed: this image starts its own at once and waits for them at exit */
#define SMSHIM_ENV_SYNC_OWED "SMSHIM_SYNC_OWED"
#define SMSHIM_ENV_RUN_NOTES                                                                       \
    "SMSHIM_RUN_NOTES" /**< file smshim run reads: static programs exec'd */
/** @} */

#define SMSHIM_DEFAULT_PREFIX   "/sm"
#define SMSHIM_DEFAULT_TAG      "smshim"
#define SMSHIM_DEFAULT_BASE_URL "https://api.supermemory.ai"

/** @defgroup layout Cache directory layout
 * <cache>/tree   the materialised namespace: real directories, real files holding the local bytes,
 *                real symbolic links. Every virtual path /<prefix>/a/b maps to <cache>/tree/a/b.
 * <cache>/meta   the LMDB environment (sync state of each file, the push queue, settings).
 * <cache>/tmp    staging for files written by the sync engine (same filesystem as tree/, so a
 *                finished download is renamed into place atomically).
 * @{ */
#define SMSHIM_TREE_DIR "tree"
#define SMSHIM_META_DIR "meta"
#define SMSHIM_TMP_DIR  "tmp"
/** @} */

/* Caveats (the rules every module follows; see README "Architecture"):
 *  - The constructor only copies the settings' variables, decides what needs no system call and
 *    sets UV_USE_IO_URING=0 when unset. No system call of the settings' (realpath of the cache),
 *    no thread, no LMDB, no network before the first call that needs them.
 *  - A call under the prefix never waits on the network: it is answered by the kernel on the
 *    materialised tree and by LMDB.
 *  - An LMDB environment is used only in the process that opened it: after fork the child drops
 *    the pointer (never closes it) and reopens lazily.
 *  - The preload never exits, aborts or writes to the host's stdout/stderr; an internal failure
 *    becomes EIO (or a pass-through) and a log line when SMSHIM_LOG asks for one.
 */

#endif
