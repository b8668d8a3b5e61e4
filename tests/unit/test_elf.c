/* test_elf.c: the loader's lists as the exec wrappers read them (sm_list_under, shim/elf.c). */
#include "../runner.h"
#include "../../include/sm_real.h"

static int lib(const char *l)
{
    return sm_list_under(l, strlen(l), "/sm", 3, SM_SEPS_LIBPATH);
}

static int pre(const char *l)
{
    return sm_list_under(l, strlen(l), "/sm", 3, SM_SEPS_PRELOAD);
}

static int run(const char *l)
{
    return sm_list_under(l, strlen(l), "/sm", 3, SM_SEPS_RUNPATH);
}

SM_TEST(elf_list_under)
{
    /* LD_LIBRARY_PATH: ':' and ';' separate entries (glibc); a space is part of a name */
    ASSERT(lib("/sm"));
    ASSERT(lib("/sm/lib"));
    ASSERT(lib("/sm/lib/"));
    ASSERT(lib("/usr/lib:/sm/lib"));
    ASSERT(lib("/usr/lib;/sm/lib"));
    ASSERT(!lib("/usr/lib /sm/lib"));
    ASSERT(!lib("/smx/lib"));
    ASSERT(!lib("/usr/sm/lib"));
    ASSERT(!lib(""));
    ASSERT(!lib("::;")); /* empty entries: the cwd */
    ASSERT(!lib(":/usr/lib:"));
    ASSERT(!lib("lib:./lib"));          /* below the cwd */
    ASSERT(!lib("/home/u/.local/lib")); /* a name that starts with a dot is a name */
    /* LD_PRELOAD: ' ' and ':' separate entries; ';' is part of a name */
    ASSERT(pre("/usr/lib/x.so /sm/y.so"));
    ASSERT(pre("/usr/lib/x.so:/sm/y.so"));
    ASSERT(!pre("/usr/lib/x.so;/sm/y.so"));
    ASSERT(!pre("libx.so liby.so"));
    /* DT_RUNPATH and DT_RPATH: ':' only */
    ASSERT(run("/a:/sm/lib"));
    ASSERT(!run("/a;/sm/lib"));
    ASSERT(!run("/a /sm/lib"));
    ASSERT(!run("$ORIGIN/../lib")); /* relative to the object, which lies where it lies */
    /* spellings this reading does not follow: taken as under the prefix (the module, to be
     * safe), since the kernel may resolve them there */
    ASSERT(lib("//sm/lib"));
    ASSERT(lib("/./sm/lib"));
    ASSERT(lib("/usr/../sm/lib"));
    ASSERT(lib("../sm/lib"));
    ASSERT(run("/opt/x/..//sm"));
    /* n bytes, not up to the NUL */
    ASSERT(!sm_list_under("/usr/lib:/sm/lib", 8, "/sm", 3, SM_SEPS_LIBPATH));
    ASSERT(sm_list_under("/sm/lib:/usr", 7, "/sm", 3, SM_SEPS_LIBPATH));
    return 0;
}
