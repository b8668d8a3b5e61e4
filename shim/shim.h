/* shim.h: internal interfaces of libsmshim.so (sm_ prefix): configuration, the real-function
 * table, path resolution, the per-family cores and the change recorder.
 *
 * Error convention (musl/libuv): internal functions return >= 0 or -errno and never write errno;
 * the exported wrappers convert with sm_ret() and restore the caller's errno on success.
 */
#ifndef SM_SHIM_H
#define SM_SHIM_H

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <ftw.h>
#include <glob.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "sm_real.h"

#define SM_EXPORT __attribute__((visibility("default")))
/* A hidden alias of an exported wrapper, for the wrapper's ABI variants (__xstat -> stat,
 * __open_2 -> open): the call binds inside the library, never through the PLT. Declare it with
 * SM_INNER_ALIAS(name) after the wrapper's definition, call it as SM_INNER(name)(...). */
#define SM_INNER(name) sm_inner_##name
/* clang-format off */
#define SM_INNER_ALIAS(name)                                                                       \
    _Pragma("GCC diagnostic push")                                                                 \
    _Pragma("GCC diagnostic ignored \"-Wmissing-attributes\"")                                     \
    extern __typeof__(name) sm_inner_##name __attribute__((alias(#name), visibility("hidden")));   \
    _Pragma("GCC diagnostic pop")
/* clang-format on */
#define SM_LIKELY(x)   __builtin_expect(!!(x), 1)
#define SM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/** Set once this process has the cache's LMDB environment open (record.c). */
extern int sm_guard_on;
#define SM_GUARD_ON() __atomic_load_n(&sm_guard_on, __ATOMIC_RELAXED)

/* ---- configuration (config.c) ------------------------------------------------------------ */

/** What the settings decide once the file system is asked (config.c): published once, at the
 *  first call that needs it, then never written again (safe from any thread, from a vfork child
 *  and from a signal handler). Reach it through sm_w(). */
struct sm_where {
    int ok;            /* 0: refused (every string "", the shim stays off) */
    const char *cache; /* absolute, canonical cache directory */
    size_t clen;       /* strlen(cache) */
    const char *tree;  /* cache + "/tree": where the namespace is materialised */
    size_t tlen;
    const char *libpath; /* absolute path of this library, re-injected into LD_PRELOAD */
    /* "NAME=value" strings every exec'd child receives (exec.c); env_log, env_notes "" when the
     * variable is unset */
    const char *env_prefix, *env_cache, *env_tag, *env_log, *env_notes;
    /* sync (the key stays in this process's memory and is never logged) */
    const char *tag;       /* container tag (SMSHIM_TAG) */
    const char *key;       /* SUPERMEMORY_API_KEY, "" when unset: local-only */
    const char *base_url;  /* SUPERMEMORY_BASE_URL (or _API_URL) or the default */
    int url_env;           /* base_url came from the environment */
    const char *creds;     /* with no key: the credentials file (read when sync first starts) */
    long exit_timeout_ms;  /* SMSHIM_EXIT_TIMEOUT (seconds), default 10 */
    int exit_wait;         /* 0 when SMSHIM_NOWAIT=1 (the command of `smshim run`) */
    long pull_interval_ms; /* SMSHIM_PULL_INTERVAL (seconds), default 30 */
};

/** What the constructor decides (config.c): read-only afterwards, except that enabled drops to
 *  0 when the whole decision refuses the settings. */
struct sm_cfg {
    int enabled;              /* 0: every call passes straight through */
    size_t plen;              /* strlen(prefix) */
    const char *prefix;       /* virtual prefix, normalised, no trailing '/' ("/sm") */
    const struct sm_where *w; /* &sm_where_pending until decided: read it with sm_w() */
};
extern struct sm_cfg sm_cfg;
extern const struct sm_where sm_where_pending;
/** Decide the settings now (the first use), or return the decision another caller published. */
const struct sm_where *sm_where_slow(void);
/** The settings that need the file system, decided at the first call that asks. */
static inline const struct sm_where *sm_w(void)
{
    const struct sm_where *w = __atomic_load_n(&sm_cfg.w, __ATOMIC_ACQUIRE);
    return SM_LIKELY(w != &sm_where_pending) ? w : sm_where_slow();
}
/** A variable the settings read, as it was when the process started (NULL: unset). */
const char *sm_env_get(const char *name);

/** getenv that reads environ directly (never a host program's own getenv). */
const char *sm_getenv(const char *name);

/* ---- declarations the libc headers no longer carry ---------------------------------------- */

/* Prototypes glibc no longer declares (old stat ABI, fortify entry points, ...). */
int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __xstat64(int ver, const char *path, struct stat64 *st);
int __lxstat64(int ver, const char *path, struct stat64 *st);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len, size_t buflen);
char *__getcwd_chk(char *buf, size_t size, size_t buflen);
char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);

/* ---- small helpers --------------------------------------------------------------------------- */

/** Turn an internal result (>= 0 or -errno) into the libc contract: -1 with errno set. */
static inline long sm_ret(long r)
{
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

/** sm_ret for a wrapper that saved the caller's errno: on success errno is restored (internal
 *  calls may have changed it), on failure it is set from -r. */
static inline long sm_finish(long r, int saved)
{
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    errno = saved;
    return r;
}
/* A wrapper's call of its core, out of the wrapper's body: GCC gives a whole function the
 * registers its slowest path needs, so with the core called inline the pass-through saved and
 * restored four of them. */
#define SM_SLOW __attribute__((noinline, cold))
#define SM_CALL(expr)                                                                              \
    do {                                                                                           \
        int sm_saved_ = errno;                                                                     \
        long sm_r_ = (expr);                                                                       \
        return sm_finish(sm_r_, sm_saved_);                                                        \
    } while (0)

/** Is `p` (absolute) the virtual prefix or below it?  Returns the offset of the remainder
 *  ("" or "/..."), or -1. */
static inline long sm_under_prefix(const char *p)
{
    if (strncmp(p, sm_cfg.prefix, sm_cfg.plen) != 0)
        return -1;
    char c = p[sm_cfg.plen];
    return (c == '/' || c == '\0') ? (long)sm_cfg.plen : -1;
}

/* ---- the process's own descriptors as /proc shows them (procfd.c) ------------------------- */

/** abs (an absolute path) names one of the shim's descriptors (or a path below one) in this
 *  process's fd or fdinfo directory, by any of its names (/proc/self, /proc/<pid>,
 *  /proc/thread-self, /proc/<pid>/task/<tid>, /dev/fd). No system call unless the number is one
 *  of the shim's. */
int sm_procfd_names_own(const char *abs);
/** abs (an absolute path, as written) is the entry of one of the program's descriptors in this
 *  process's fd directory, by any of its names (/proc/self/fd/N, /proc/<pid>/fd/N,
 *  /proc/thread-self/fd/N, /dev/fd/N): N, else -1. An open of it opens again the file N is
 *  open on. */
int sm_procfd_number(const char *abs);
/** The same for (dirfd, path), a relative path joined to the directory it is relative to: the
 *  path the program must find missing (ENOENT). */
int sm_procfd_hidden(int dirfd, const char *path);
/** dirfd is open on this process's fd or fdinfo directory (asks the kernel its name). */
int sm_procfd_dir(int dirfd);
/** (dirfd, path) names this process's fd or fdinfo directory (resolved as the kernel would). */
int sm_procfd_dir_at(int dirfd, const char *path);
/** Take the shim's descriptors out of a getdents64 (is64) or getdents answer read from fd, when
 *  fd is this process's fd or fdinfo directory: the new length. */
long sm_procfd_strip(int is64, int fd, char *buf, long len);
/** abs (absolute) names a process's maps, smaps or numa_maps under /proc (any process: the
 *  text names files by their real paths). Reads the string only. */
int sm_procmaps_names(const char *abs);
/** fd was just opened for reading on such a file: the same number then holds the kernel's text
 *  with the tree's path written as the prefix (a memory file; the kernel's file itself when the
 *  text names nothing in the tree). fd, or -errno (fd then closed). */
int sm_procmaps_open(int fd);
/** abs (absolute, not "//") starts "/proc/", "/dev/fd" (then '/' or its end) or "/dev//": the
 *  only paths sm_procfd_names_own can answer 1 for without a "/." in them (which the caller
 *  looks at closer anyway), told apart by a few bytes inline (a call of it costs a pass-through
 *  call on /dev/null or /dev/shm about a hundred instructions). */
static inline int sm_procfd_maybe(const char *abs)
{
    if (abs[1] == 'p')
        return abs[2] == 'r' && abs[3] == 'o' && abs[4] == 'c' && abs[5] == '/';
    return abs[1] == 'd' && abs[2] == 'e' && abs[3] == 'v' && abs[4] == '/' &&
           ((abs[5] == 'f' && abs[6] == 'd' && (abs[7] == '/' || abs[7] == '\0')) || abs[5] == '/');
}

/** A directory entry that may be one of the shim's descriptors in a listing of the process's fd
 *  directory (a link) or fdinfo directory (a file): its name is one of the shim's numbers. The
 *  one test a listing of any other directory pays for each entry. */
static inline int sm_procfd_entry(unsigned char type, const char *name)
{
    if (SM_LIKELY((unsigned)(name[0] - '1') > 8u) || (type != DT_LNK && type != DT_REG))
        return 0;
    int n = 0;
    for (int i = 0; name[i]; i++) {
        if (name[i] < '0' || name[i] > '9' || i >= 5)
            return 0;
        n = n * 10 + (name[i] - '0');
    }
    return sm_fd_is_own(n);
}

/** Cheap pre-filter run by every wrapper: 0 when the call certainly does not concern the prefix
 *  (the common pass-through case), 1 when the core must look closer. */
/* glibc declares path parameters nonnull, and the compiler would drop a NULL check on them: the
 * empty asm hides what it knows, so a NULL path reaches libc (EFAULT) instead of crashing here. */
#define SM_OPAQUE(p) __asm__("" : "+r"(p))

/* ---- buffers a signal handler's call may take (keybuf.c) --------------------------------- */

/** A buffer of PATH_MAX bytes, or NULL: no lock, no malloc (async-signal-safe). */
char *sm_keybuf_get(void);
/** Give back a buffer of sm_keybuf_get (NULL: nothing). */
void sm_keybuf_put(char *p);

/* ---- room for the shim's work (stack.c) ---------------------------------------------------- */

#define SM_ROOM_NEED  (80 * 1024)  /* below this much stack left, the work moves */
#define SM_ROOM_STACK (256 * 1024) /* the size of a stack of the shim's */
/** The calling thread's own stack, [sm_stack_lo, sm_stack_hi) (lo an estimate); hi 0 when not
 *  known (stack.c). */
extern __thread uintptr_t sm_stack_lo, sm_stack_hi;
/** At a thread's start: its stack is size bytes, top lies above every frame it will have. */
void sm_stack_note(uintptr_t top, size_t size);
/** The main thread (the constructor): top lies above every frame; the bottom is read later. */
void sm_stack_note_main(uintptr_t top);
/** Is the calling thread armed for syscall user dispatch? (sud.c; weak: the unit tests' runner
 *  has no sud.c) */
int sm_sud_thread_armed(void) __attribute__((weak));
/** Define ret name params as an entry into the shim's work that runs on a stack of the shim's
 *  when the calling thread's has too little left (stack.c): `SM_ROOMY(int, f, (int a)) {...}`.
 *  Integer and pointer arguments (at most six in registers and four on the stack) and results
 *  only. */
#if defined(__x86_64__)
#define SM_ROOMY(ret, name, params)                                                                \
    __asm__(".text\n.globl " #name "\n.hidden " #name "\n.type " #name ",@function\n" #name        \
            ":\n  leaq " #name "_roomy(%rip), %r11\n  jmp sm_roomy_call\n.size " #name             \
            ", .-" #name "\n");                                                                    \
    __attribute__((used, noipa)) static ret name##_roomy params
#else
#define SM_ROOMY(ret, name, params) ret name params
#endif

/* ---- bad path pointers (fault.c) ----------------------------------------------------------- */

/** -1 when a byte of the string at p is not readable memory (the fault is caught: fault.c says
 *  how), else 1 when it holds "/." and 0 when not: the first read of every path the shim looks
 *  at, one pass over it. Call it through sm_probe. */
int sm_probe_path(const char *p) __attribute__((visibility("hidden")));
#if defined(__x86_64__)
/* the call as the routine's own convention (fault.c): below the red zone, and only the registers
 * it changes marked as changed */
static inline __attribute__((always_inline)) int sm_probe(const char *p)
{
    int r;
    __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
                     "call sm_probe_path\n\t"
                     "leaq 128(%%rsp), %%rsp"
                     : "=a"(r)
                     : "D"(p), "m"(*(const struct { char c[PATH_MAX]; } *)p)
                     : "r8", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "cc");
    return r;
}
#else
#define sm_probe sm_probe_path
#endif
/** setrlimit / prlimit64 as the kernel takes them (nr), issued, and the file size limit read
 *  again at the next call into the library when it changed: 0 or -errno (limits.c). */
long sm_limits_raw(long nr, long a1, long a2, long a3, long a4);
/** The program's sigaction for SIGSEGV and SIGBUS (the shim's handler stays installed):
 *  0 or -errno. Any other signal goes to the real sigaction. */
int sm_fault_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/** A raw rt_sigaction (the kernel's struct): 1 when it was SIGSEGV's or SIGBUS's, with the
 *  result (0 or -errno) in *out; 0 when the caller issues it. */
int sm_fault_raw(long sig, const void *kact, void *koact, long size, long *out);
/** Constructor: install the handler, adopting the dispositions found as the program's. */
void sm_fault_init(void);

/** The pre-filter with a third answer: 1 look closer, 0 pass through, -1 the path is NULL or
 *  not readable memory (pass through: the kernel answers EFAULT). Inline in every wrapper: the
 *  common pass-through costs the scan and a few compares, with the wrapper's arguments left in
 *  their registers: an absolute path with no "/." whose first name cannot start the prefix and
 *  that is not under /proc/ or /dev/fd; and, when cwd_rel says a relative path is relative to the cwd (no dirfd, or
 *  AT_FDCWD), a relative one with no "." or ".." component while the cwd is known to be plain
 *  (SM_CWD_PLAIN). sm_look_more decides the rest. */
int sm_look_more(const char *p, int dots, int cwd_rel);
/** What is known of the cwd (path.c): its class, SM_CWD_PLAIN while the cwd is known to lie
 *  outside the tree, above no part of the prefix and outside /proc and /dev (set when a relative
 *  path finds it so, cleared by every change of the cwd the shim sees), and what keeps a finding
 *  from being made known after such a change. */
extern uint64_t sm_cwd_word;
#define SM_CWD_PLAIN 4u
#define SM_PLAIN_ABS(p, c, dots)                                                                   \
    ((p)[0] == '/' && !(dots) && (c) != '/' && (c) != (unsigned char)sm_cfg.prefix[1] &&           \
     !sm_procfd_maybe(p))
#define SM_PLAIN_REL(p, dots, cwd_rel)                                                             \
    ((cwd_rel) && (p)[0] != '/' && (p)[0] != '.' && (p)[0] != '\0' && !(dots) &&                   \
     (__atomic_load_n(&sm_cwd_word, __ATOMIC_RELAXED) & SM_CWD_PLAIN))
/** A call that reaches a wrapper while its host thread is inside the library's code (sm_host_lib)
 *  and names the prefix: a signal handler's that interrupted the library's work (the library's
 *  own code never names the prefix). It is answered as any call, with nothing recorded
 *  (sm_record_env: the interrupted frame may hold the journal's or LMDB's lock; the scan finds
 *  the change); every other call of such a thread is the library's. */
int sm_handler_call(const char *p);
/** The part of the pre-filter inline in every wrapper: -1 the path is NULL or not readable
 *  memory, 0 the call surely passes through (or the shim is off, or the library calls), else
 *  1 + the probe's answer, for sm_look_more to decide. */
static inline __attribute__((always_inline)) int sm_look_first(const char *p, int cwd_rel)
{
    SM_OPAQUE(p);
    if (SM_UNLIKELY(!sm_cfg.enabled) || (SM_UNLIKELY(sm_in_lib) && SM_LIKELY(!sm_handler_call(p))))
        return 0;
    if (SM_UNLIKELY(p == NULL))
        return -1;
    int dots = sm_probe(p);
    if (SM_UNLIKELY(dots < 0))
        return -1;
    unsigned char c = (unsigned char)p[1];
    if (SM_LIKELY(SM_PLAIN_ABS(p, c, dots) || SM_PLAIN_REL(p, dots, cwd_rel)) &&
        SM_LIKELY(!SM_GUARD_ON()))
        return 0;
    return 1 + dots;
}
/** sm_look_first for the busiest wrappers, whose look closer is out of their body (SM_SLOW): 0
 *  when the call surely passes through (a NULL or unreadable path too: the kernel's EFAULT), else
 *  what sm_look_rest takes. */
static inline __attribute__((always_inline)) int sm_pre(const char *p, int cwd_rel)
{
    int f = sm_look_first(p, cwd_rel);
    return f > 0 ? f : 0;
}
/** sm_maybe_at's answer once sm_pre answered pre (> 0). */
static inline int sm_look_rest(const char *p, int pre, int cwd_rel)
{
    return sm_look_more(p, pre - 1, cwd_rel) > 0;
}
static inline __attribute__((always_inline)) int sm_look_in(const char *p, int cwd_rel)
{
    int f = sm_look_first(p, cwd_rel);
    return f > 0 ? sm_look_more(p, f - 1, cwd_rel) : f;
}
/** For a call whose relative paths may be relative to a directory fd the shim has not looked at
 *  (or to none): a relative path always looks closer. */
static inline __attribute__((always_inline)) int sm_look(const char *p)
{
    return sm_look_in(p, 0);
}
/** sm_look for a call without a dirfd (relative paths are relative to the cwd) or with dirfd. */
static inline __attribute__((always_inline)) int sm_maybe_at(int dirfd, const char *p)
{
    return sm_look_in(p, dirfd == AT_FDCWD) > 0;
}
#define sm_maybe_cwd(p) sm_maybe_at(AT_FDCWD, (p))

static inline int sm_maybe(const char *p)
{
    return sm_look(p) > 0;
}

/** For calls that take two paths: 0 (pass through) when either is NULL or unreadable, as the
 *  kernel then answers EFAULT whatever the other names. */
static inline int sm_maybe2(const char *a, const char *b)
{
    int x = sm_look(a), y = sm_look(b);
    return x >= 0 && y >= 0 && (x | y);
}

/* ---- path resolution (path.c) -------------------------------------------------------------- */

enum sm_kind {
    SM_PASS = 0, /* not virtual: call the real function with (r.fd, r.path) */
    SM_TREE = 1, /* virtual: (r.fd, r.path) names the entry inside the materialised tree */
};

/** Resolution of a (dirfd, path) pair. (fd, path) are what to hand the real *at() call. */
struct sm_res {
    int kind;
    int fd;
    const char *path;
    char buf[PATH_MAX];
};

#define SM_RES_MUT 1 /* the caller changes the namespace: relative paths must be classified */
#define SM_RES_ABS                                                                                 \
    2 /* the real call takes no dirfd: a virtual target comes back as an absolute
                        tree path with fd == AT_FDCWD (and no tree fd is opened: vfork-safe) */

#define SM_RES_FOLLOW 4 /* the call follows a symbolic link in the last component */

/* ---- what an open's flags ask (open.c, spawnfa.c) ------------------------------------------ */

/** Does an open with these flags change the file (write access, create, truncate)? */
static inline int sm_open_writes(int flags)
{
    return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
}
/** Does it follow a symbolic link in the last component (SM_RES_FOLLOW), or not (0)? */
static inline int sm_open_follows(int flags)
{
    return (flags & O_NOFOLLOW) || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)
               ? 0
               : SM_RES_FOLLOW;
}

/** Resolve a call's path. Fills r; returns 0 or -errno (ENAMETOOLONG, ELOOP, ...).
 *  Never touches LMDB and never allocates; safe in a vfork child. */
int sm_resolve(int dirfd, const char *path, int flags, struct sm_res *r);

/** The materialised tree's directory fd (O_PATH, one of the shim's own: sm_real.h), opening it (and creating
 *  the cache layout) on first use. Returns the fd or -errno. */
int sm_tree_fd(void);
/** Create the cache layout (cache 0700, tree 0755, tmp). 0 or -errno. */
int sm_layout_ensure(void);
static inline int sm_is_tree_fd(int fd);

/** If `real` (absolute, NUL-terminated, in a buffer of `size` bytes) lies in the tree, rewrite it
 *  in place to its virtual path. Returns 1 if rewritten, 0 if not in the tree, -ERANGE if the
 *  virtual path does not fit. */
int sm_untranslate(char *real, size_t size);
/** Write the absolute tree path of virtual remainder `rel` ("" or "a/b") into out. */
int sm_tree_path(const char *rel, char *out, size_t size);

/** Key (the remote filepath, "/a/b.md") of the entry (fd, path) names, where (fd, path) came from
 *  sm_resolve with kind SM_TREE. The last component is not followed. Returns 0 or -errno. */
int sm_key_at(int fd, const char *path, char key[PATH_MAX]);
/** Key of the file an open descriptor refers to (readlink of /proc/self/fd/N); -ENOENT when the
 *  descriptor is not in the tree. */
int sm_key_fd(int fd, char key[PATH_MAX]);
/** A symbolic link with this (stored) target was made in the tree: when it could lead out of
 *  the tree (a ".." component, or a name in the cache), every process of the cache checks its
 *  paths beneath the tree from now on (path.c). */
void sm_links_note(const char *target);
/** Set once this process changed its user or group ids (or adopted the tree after such a
 *  change): paths that must be absolute name the tree through /proc/self/fd (path.c). */
extern int sm_privs_changed;
/** Constructor: adopt the tree fd an exec'd parent handed on ("FD:DEV:INO", checked). */
void sm_tree_adopt(const char *spec);
/** A call that may change what the cwd is (chdir, fchdir, chroot, setns, a rename of a
 *  directory) begins: until the matching sm_cwd_changed, what any thread finds of the cwd is
 *  not made known. */
void sm_cwd_changing(void);
/** Such a call ended (whatever its result): what was known of the cwd is forgotten, and what a
 *  thread found before (or while the call ran) is never made known. */
void sm_cwd_changed(void);
/** A thread or process of this memory now has a cwd of its own (unshare(CLONE_FS)): nothing is
 *  made known of the cwd from now on, every relative path looks at the cwd it has. */
void sm_cwd_split(void);
/** A clone with these flags is about to be made: sm_cwd_split when the child shares the memory
 *  but not the fs (a vfork-like child aside) or the fs but not the memory. */
void sm_cwd_cloning(unsigned long flags);
/** Tests only (NULL otherwise): called by a thread that found where the cwd is, right before
 *  it makes that known to the other threads. */
extern void (*sm_cwd_learn_hook)(void);

/* ---- cores -------------------------------------------------------------------------------------
 * One implementation per call family, in the family's file. A core takes explicit arguments,
 * returns a result (>= 0) or -errno and never sets errno for its caller. The libc wrappers call
 * them after their pass-through test; the raw door (syscall() and the SIGSYS handler) reaches
 * them through the one table in sys.c. No core calls an exported wrapper. */

/* open.c */
int sm_openat_core(int dirfd, const char *path, int flags, mode_t mode);
/** A directory of the tree was removed or renamed: forget the directories write-opens found
 *  (open.c). */
void sm_vdir_forget(void);
/** The directory rel (relative to the tree fd) was made: a write-open in it needs no look at it
 *  (open.c). */
void sm_vdir_made(const char *rel);
/* stat.c */
int sm_fstatat_core(int dirfd, const char *path, struct stat *st, int flags);
int sm_statx_core(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx);
int sm_faccessat_core(int dirfd, const char *path, int mode, int flags);
int sm_statfs_core(const char *path, struct statfs *buf);
int sm_inotify_add_watch_core(int fd, const char *path, uint32_t mask);
/* mutate.c */
int sm_mkdirat_core(int dirfd, const char *path, mode_t mode);
int sm_unlinkat_core(int dirfd, const char *path, int flags);
int sm_renameat2_core(int ofd, const char *opath, int nfd, const char *npath, unsigned flags);
int sm_linkat_core(int ofd, const char *opath, int nfd, const char *npath, int flags);
int sm_readlinkat_core(int dirfd, const char *path, char *buf, size_t len);
int sm_symlinkat_core(const char *target, int dirfd, const char *path);
int sm_mknodat_core(int dirfd, const char *path, mode_t mode, dev_t dev);
int sm_truncate_core(const char *path, off_t len);
int sm_fchmodat_core(int dirfd, const char *path, mode_t mode, int flags);
int sm_fchownat_core(int dirfd, const char *path, uid_t u, gid_t g, int flags);
int sm_utimensat_core(int dirfd, const char *path, const struct timespec ts[2], int flags);
/** utimes/futimesat: struct timeval[2] (NULL: now) */
int sm_futimesat_core(int dirfd, const char *path, const struct timeval tv[2], int flags);
int sm_utime_core(const char *path, const struct utimbuf *ub);
/* xattr.c: op is 'g'et, 'l'ist, 's'et or 'r'emove; follow 0 for the l* forms */
long sm_xattr_core(int op, int follow, const char *path, const char *name, void *value, size_t size,
                   int flags);
/* sock.c: unix domain socket addresses (a virtual path in, the virtual path back out) */
/** Is a an AF_UNIX pathname address the shim may have to translate? */
int sm_sock_concerns(const struct sockaddr *a, socklen_t len);
/** A name the kernel returned into a buffer of cap bytes (*len its full length): rewritten to
 *  the virtual path when it names a socket in the tree. Returns 1 if rewritten. */
int sm_sock_name_out(struct sockaddr *a, socklen_t *len, socklen_t cap);
int sm_bind_core(int fd, const struct sockaddr *a, socklen_t len);
int sm_connect_core(int fd, const struct sockaddr *a, socklen_t len);
ssize_t sm_sendto_core(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
                       socklen_t len);
ssize_t sm_sendmsg_core(int fd, const struct msghdr *m, int flags);
int sm_sendmmsg_core(int fd, struct mmsghdr *v, unsigned vlen, int flags);
/** getsockname (peer 0) or getpeername (peer 1) */
int sm_sockname_core(int peer, int fd, struct sockaddr *a, socklen_t *len);
/** accept (four 0) or accept4 */
int sm_accept_core(int fd, struct sockaddr *a, socklen_t *len, int flags, int four);
ssize_t sm_recvfrom_core(int fd, void *buf, size_t n, int flags, struct sockaddr *a,
                         socklen_t *len);
ssize_t sm_recvmsg_core(int fd, struct msghdr *m, int flags);
int sm_recvmmsg_core(int fd, struct mmsghdr *v, unsigned vlen, int flags, struct timespec *tmo);
/* cwd.c */
int sm_chdir_core(const char *path);
int sm_fchdir_core(int fd);
/** chroot, setns and unshare: what the cwd is may change (cwd.c) */
int sm_chroot_core(const char *path);
int sm_setns_core(int fd, int type);
int sm_unshare_core(int flags);
/** The virtual cwd into buf (size > 0): its length with the NUL, or -errno. */
int sm_getcwd_core(char *buf, size_t size);
/* exec.c: each returns only on failure */
int sm_execve_core(const char *path, char *const argv[], char *const envp[]);
int sm_fexecve_core(int fd, char *const argv[], char *const envp[]);
/** After a posix_spawn with the file actions fa (NULL: none): the files they opened for writing
 *  under the prefix are recorded (spawnfa.c). */
void sm_spawn_actions_ran(const posix_spawn_file_actions_t *fa);
/* fd.c: the descriptors the shim must know about */
int sm_close_core(int fd);
int sm_close_range_core(unsigned first, unsigned last, unsigned flags);
/** The host duplicates old onto nfd (dup2/dup3): 0 when it may, after moving a descriptor of the
 *  shim's away from nfd, or -EBADF/-EBUSY. */
int sm_fd_replacing(int old, int nfd);
int sm_dup_core(int old, int nfd, int flags, int three);
/** fsync (0), fdatasync (1) or syncfs (2) of fd; a virtual file also flushes the cache. */
int sm_fsync_core(int fd, int kind);

/* ---- raw system calls and Syscall User Dispatch (sys.c, sud.c) ------------------------------ */

/** The raw call `nr`, answered by the cores and wrappers when it concerns the shim (a path under
 *  the prefix, the cwd, exec, the shim's descriptors): sets *handled and returns the raw result
 *  (>= 0 or -errno); else leaves *handled 0 and the caller makes the call. Shared by syscall()
 *  and the SUD handler. */
long sm_sys_dispatch(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *handled);
/** Would sm_sys_dispatch answer the call nr itself (it concerns the shim)? Reads the paths only. */
int sm_sys_wants(long nr, long a1, long a2, long a3, long a4);
/** Set once this process armed Syscall User Dispatch (sud.c). */
extern int sm_sud_on;
/** Constructor hook: arm SUD when SMSHIM_SUD=1 or the program is Bun (never with SMSHIM_SUD=0).
 *  Weak: the unit-test runner links config.o without sud.o. */
void sm_sud_init(void) __attribute__((weak));
/** Constructor hook: the loader's names of objects it loaded from the tree become their virtual
 *  paths (dlopen.c; weak: the unit-test runner links config.o without it). */
void sm_dl_names_init(void) __attribute__((weak));
/** syscall() while SUD is on: signal-state calls keep SIGSYS usable, then sm_sys_dispatch. */
long sm_sud_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *handled);
/** "SMSHIM_SUD=<value>" if the variable was set when this process started (exec.c passes it on
 *  to children), else NULL. */
const char *sm_sud_env(void);

/* ---- change recorder (record.c): the shim's only door into LMDB --------------------------- */

/** A regular file under the prefix was created, opened for writing or truncated. */
void sm_note_write(const char *key);
struct smc_wtok;
/** sm_note_write, and *tok: where its record lies in the journal (zeros: not there). */
void sm_note_write_tok(const char *key, struct smc_wtok *tok);
/** 1 when no fold has read tok's record yet: a second record of the same write would be folded
 *  with it and change nothing (cache.h: smc_wtok_unread). */
int sm_note_unread(const struct smc_wtok *tok);
/** The file `key` was removed. */
void sm_note_unlink(const char *key);
/** `from` was renamed to `to` (is_dir: a whole directory moved). */
void sm_note_rename(const char *from, const char *to, int is_dir);
/** A write to the file `key` whose stat is st: with more than one link, every name of the inode
 *  that still is it becomes dirty (st NULL: only key; key NULL: the names the index holds). */
void sm_note_write_st(const char *key, const struct stat *st);
/** The directory `key` arrived from outside the prefix (a rename): every regular file below it
 *  is recorded now. */
void sm_note_tree_in(const char *key);
/** `added` is a new hard link to the file `existing` (stat st, after the link). */
void sm_note_link(const char *existing, const char *added, const struct stat *st);
/** In the names of the linked file st, `from` became `to` (either NULL: only added / dropped). */
void sm_note_relink(const char *from, const char *to, const struct stat *st);
/** A lookup of the tree-relative path rel (from sm_resolve, fd == the tree fd) found nothing:
 *  with sync on, ask the sync engine to look for it remotely. Never waits. */
void sm_note_miss(const char *rel);
struct smc;
/** The process's cache handle, opened on first use; NULL if it cannot be opened. */
struct smc *sm_record_env(void);
/** sm_record_env with the LMDB environment opened now, for a caller whose later calls must not
 *  open it (arming syscall user dispatch: its SIGSYS handler must not dlopen or start a thread,
 *  and a trapped write may need a transaction: a fold, a guarded file, an fsync). */
struct smc *sm_record_env_ready(void);
/** The host duplicates onto nfd, one of LMDB's descriptors (data.mdb, lock.mdb): the
 *  environment is opened again elsewhere, nfd left holding a placeholder the host's dup2
 *  replaces. 0, or -EBUSY when nfd is not LMDB's or it cannot move now (record.c). */
int sm_record_vacate(int nfd);
/** While the library closes nfd (LMDB closing its environment for sm_record_vacate), the number
 *  keeps a placeholder instead of being freed (fd.c); -1 ends it. */
void sm_fd_park(int nfd);
/** With an API key: start the sync thread (on first use) and wake it. */
void sm_sync_kick(struct smc *c);
/** An exec now would end this process's sync thread with changes it may not have pushed: the
 *  new image is told to take them over (SMSHIM_ENV_SYNC_OWED, exec.c). */
int sm_sync_owed(void);
/** In the constructor of an image told so: start the sync thread now (its exit then waits for
 *  the queue as the recording image's would have). */
void sm_sync_take_over(void) __attribute__((weak)); /* (not in the unit tests) */
/** fsync/sync under the prefix: make the cache's committed state durable. */
void sm_note_sync(void);
/** fd was opened for writing on the file `key` under the prefix: its close records the file
 *  again (fd.c), unless tok (or NULL), the open's record, is still unread by any fold then. */
void sm_wfd_set(int fd, const char *key, const struct smc_wtok *tok);
/** The program opened fd on a path that may be the cache's LMDB lock file: remember it. */
void sm_guard_opened(int fd);
/** The program is closing fd; returns 1 if it was a descriptor on the lock file (the caller then
 *  calls sm_guard_relock() after the real close, which dropped this process's locks). */
int sm_guard_closing(int fd);
void sm_guard_relock(void);
/** _exit(status) after the exit-time work: the core of _exit and of a raw exit_group. */
void sm_exit_now(int status) __attribute__((noreturn));
/** atfork child: drop the inherited LMDB environment without using it. */
void sm_record_atfork_child(void);

/* ---- logging (log.c) ------------------------------------------------------------------------ */

enum { SM_LOG_ERROR = 1, SM_LOG_WARN, SM_LOG_INFO, SM_LOG_DEBUG };
extern int sm_log_level;
/** Parse SMSHIM_LOG ("LEVEL[:FILE]"; FILE defaults to <cache>/log, "stderr" is allowed). */
void sm_log_init(const char *spec, const char *cache);
void sm_logf(int level, const char *fn, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define sm_log(level, ...)                                                                         \
    do {                                                                                           \
        if (SM_UNLIKELY(sm_log_level >= (level)))                                                  \
            sm_logf((level), __func__, __LINE__, __VA_ARGS__);                                     \
    } while (0)

/* ---- misc ------------------------------------------------------------------------------------ */

uint64_t sm_now_ns(void);

extern int sm_treefd_value;
static inline int sm_is_tree_fd(int fd)
{
    return fd >= 0 && fd == sm_treefd_value;
}

#endif
