/* keybuf.c: buffers of PATH_MAX bytes that take no lock and call no malloc, for what a call
 * keeps past its return (the name of a file open for writing, until its close). open, close and
 * the other file calls are async-signal-safe for POSIX: a program's signal handler may make
 * them while the thread it interrupted is inside malloc, or inside the shim's own call, and a
 * malloc there waited for ever on the lock the interrupted frame holds.
 *
 * Buffers are carved from mapped chunks of KB_CHUNK and never unmapped; the free ones form a
 * stack whose head is an index and a tag in one 64-bit word (compare-and-swap: the tag makes a
 * buffer taken and given back meanwhile no ABA). Each buffer is preceded by its own index.
 * Async-signal-safe; a fork child inherits a consistent copy (a buffer a thread of the parent
 * had half taken is lost to the child, nothing else). */
#include "shim.h"

#include <sys/mman.h>

#define KB_CHUNK  64   /* buffers per chunk */
#define KB_CHUNKS 4096 /* chunks at most: 262,144 buffers (files open for writing at once) */
#define KB_SIZE   (8 + PATH_MAX)

static char *kb_chunks[KB_CHUNKS];
static unsigned kb_nchunks;
static uint64_t kb_head; /* tag << 32 | (index + 1), 0: empty */

static char *kb_slot(uint32_t i)
{
    return __atomic_load_n(&kb_chunks[i / KB_CHUNK], __ATOMIC_ACQUIRE) +
           (size_t)(i % KB_CHUNK) * KB_SIZE;
}

static void kb_push(uint32_t i)
{
    char *b = kb_slot(i);
    uint64_t h = __atomic_load_n(&kb_head, __ATOMIC_ACQUIRE), n;
    do {
        __atomic_store_n((uint32_t *)(b + 4), (uint32_t)h, __ATOMIC_RELAXED); /* the next */
        n = (((h >> 32) + 1) << 32) | (uint64_t)(i + 1);
    } while (!__atomic_compare_exchange_n(&kb_head, &h, n, 1, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE));
}

static int kb_grow(void)
{
    unsigned c = __atomic_fetch_add(&kb_nchunks, 1, __ATOMIC_ACQ_REL);
    if (c >= KB_CHUNKS)
        return -1;
    char *m = mmap(NULL, (size_t)KB_CHUNK * KB_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    __atomic_store_n(&kb_chunks[c], m, __ATOMIC_RELEASE);
    for (uint32_t k = 0; k < KB_CHUNK; k++) {
        uint32_t i = c * KB_CHUNK + k;
        *(uint32_t *)(m + (size_t)k * KB_SIZE) = i;
        kb_push(i);
    }
    return 0;
}

char *sm_keybuf_get(void)
{
    for (;;) {
        uint64_t h = __atomic_load_n(&kb_head, __ATOMIC_ACQUIRE);
        uint32_t i1 = (uint32_t)h;
        if (!i1) {
            if (kb_grow() != 0 && !(uint32_t)__atomic_load_n(&kb_head, __ATOMIC_ACQUIRE))
                return NULL;
            continue;
        }
        char *b = kb_slot(i1 - 1);
        uint32_t next = __atomic_load_n((uint32_t *)(b + 4), __ATOMIC_RELAXED);
        uint64_t n = (((h >> 32) + 1) << 32) | next;
        if (__atomic_compare_exchange_n(&kb_head, &h, n, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return b + 8;
    }
}

void sm_keybuf_put(char *p)
{
    if (p)
        kb_push(*(uint32_t *)(p - 8));
}
