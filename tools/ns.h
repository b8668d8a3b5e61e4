/* ns.h: the namespace mode of `smshim run` (tools/ns.c says how it works). */
#ifndef SM_NS_H
#define SM_NS_H

#include <limits.h>
#include <stddef.h>

struct smns {
    int on;                /* the command runs in the namespace */
    char root[PATH_MAX];   /* the empty directory the new root is mounted on (removed after) */
    char tree[PATH_MAX];   /* the cache's tree */
    char prefix[PATH_MAX]; /* where the tree is bound */
};

/** Is the file a 64-bit ELF without an interpreter (statically linked)? */
int smns_is_static(const char *path);
/** Before the fork: does the command (path: its file, or NULL) run in a namespace? forced: --ns.
 *  Says on stderr why not (setuid, a refusing kernel) or that a static command goes there.
 *  1 and ns filled, or 0. */
int smns_decide(struct smns *ns, const char *path, int forced, const char *prefix,
                const char *cache);
/** In the child, before exec: enter the namespace; 0, or -errno with why filled. */
int smns_enter(const struct smns *ns, char *why, size_t n);
/** After the command: remove what the run made. */
void smns_done(struct smns *ns);

#endif
