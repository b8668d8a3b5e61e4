/* rawcall.h: what the raw-call test programs (rawsys.c, rawedge.c) share: a `syscall`
 * instruction of the program's own (inline asm, as Bun does: only Syscall User Dispatch sees
 * it), the rawN shorthands for the program's raw6, and paths below the directory under test. */
#ifndef SM_TEST_RAWCALL_H
#define SM_TEST_RAWCALL_H

#include <stdio.h>

#if !defined(__x86_64__)
#error "the raw-call test programs need x86_64"
#endif

static inline long raw_insn(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* the includer defines raw6(n, a1, ..., a6) */
#define raw0(n)                raw6(n, 0, 0, 0, 0, 0, 0)
#define raw1(n, a)             raw6(n, (long)(a), 0, 0, 0, 0, 0)
#define raw2(n, a, b)          raw6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define raw3(n, a, b, c)       raw6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define raw4(n, a, b, c, d)    raw6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define raw5(n, a, b, c, d, e) raw6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* the directory under test */
static const char *D;
static char pbuf[8][4096];
static int pnext;

/* DIR + "/" + rel, in a rotating buffer */
static inline const char *P(const char *rel)
{
    char *b = pbuf[pnext++ & 7];
    snprintf(b, sizeof pbuf[0], "%s%s%s", D, *rel ? "/" : "", rel);
    return b;
}

#endif
