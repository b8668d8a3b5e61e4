/* test_probe.c: the first look at every path (sm_probe_path, fault.c) finds "/." exactly as
 * strstr does, wherever the string starts and ends in its 16-byte blocks, never reads past a
 * page the string does not reach, and answers -1 for memory that cannot be read. */
#include "../runner.h"
#include "../../shim/shim.h"

#include <sys/mman.h>
#include <unistd.h>

/* strings over the bytes that matter ('/', '.', another) at every alignment, from a fixed
 * sequence: 300,000 of up to 50 bytes, each compared with strstr */
SM_TEST(probe_path_matches_strstr)
{
    static char buf[256] __attribute__((aligned(16)));
    const char alphabet[] = {'a', '/', '.', '/'};
    unsigned long x = 88172645463325252UL; /* xorshift64 */
    long checked = 0;
    for (int n = 0; n < 300000; n++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int off = (int)(x & 15), len = (int)((x >> 4) % 51);
        for (int i = 0; i < (int)sizeof buf; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = alphabet[x & 3]; /* and around the string too */
        }
        char *p = buf + off;
        p[len] = '\0';
        int want = strstr(p, "/.") != NULL;
        int got = sm_probe_path(p);
        if (got != want) {
            fprintf(stderr, "off %d len %d: \"%s\": %d, strstr %d\n", off, len, p, got, want);
            ASSERT(got == want);
        }
        checked += want;
    }
    ASSERT(checked > 1000 && checked < 300000);
    /* a '.' right after p's start, with a '/' before p in the same block: no "/." in p */
    strcpy(buf, "x/");
    strcpy(buf + 2, ".a");
    ASSERT(sm_probe_path(buf + 2) == 0);
    /* a "/." across a block boundary */
    memset(buf, 'a', 64);
    buf[15] = '/', buf[16] = '.', buf[40] = '\0';
    ASSERT(sm_probe_path(buf + 3) == 1);
    buf[16] = 'a';
    ASSERT(sm_probe_path(buf + 3) == 0);
    return 0;
}

SM_TEST(probe_path_page_edges)
{
    sm_fault_init();
    long pg = sysconf(_SC_PAGESIZE);
    char *m =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(m != MAP_FAILED);
    ASSERT(mprotect(m + pg, (size_t)pg, PROT_NONE) == 0);
    /* strings that end in the last bytes of the readable page: read in full, never past it */
    for (int len = 0; len < 40; len++) {
        char *p = m + pg - 1 - len;
        memset(p, 'b', (size_t)len);
        p[len] = '\0';
        if (len >= 2)
            p[len - 2] = '/', p[len - 1] = '.';
        ASSERT(sm_probe_path(p) == (len >= 2));
    }
    /* a string that runs into the unreadable page, and a pointer into it: -1, not a crash */
    memset(m + pg - 20, 'c', 20);
    ASSERT(sm_probe_path(m + pg - 20) == -1);
    ASSERT(sm_probe_path(m + pg + 5) == -1);
    ASSERT(sm_probe_path((const char *)0xdeadc0deUL) == -1);
    munmap(m, (size_t)pg * 2);
    return 0;
}
