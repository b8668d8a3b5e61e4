/* test_elf.c: the loader's lists as the exec wrappers read them (sm_list_under, sm_elf_tls_need:
 * shim/elf.c). */
#include "../runner.h"

#include <dlfcn.h>
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

/* sm_elf_tls_need's directories: a plain copy */
static int plain_dir(const char *d, char *out, size_t size)
{
    return snprintf(out, size, "%s", d) < (int)size ? 0 : -1;
}

static unsigned long need(const char *ldpath)
{
    static _Alignas(16) char mem[SM_ELF_TLS_MEM];
    return sm_elf_tls_need("/proc/self/exe", ldpath, plain_dir, mem);
}

/* libc's directory, from where the loader mapped it */
static void libc_dir(char *out, size_t size)
{
    Dl_info di;
    ASSERT(dladdr((void *)printf, &di) && di.dli_fname && strrchr(di.dli_fname, '/'));
    snprintf(out, size, "%.*s", (int)(strrchr(di.dli_fname, '/') - di.dli_fname), di.dli_fname);
}

SM_TEST(elf_tls_need_lists)
{
    /* this runner needs libc.so.6, whose PT_TLS block counts once its directory is listed in
     * LD_LIBRARY_PATH, which the loader splits at ':' and ';' (a space is part of a name) */
    char dir[4096], l[8300];
    libc_dir(dir, sizeof dir);
    unsigned long none = need(NULL);
    unsigned long libc = need(dir);
    ASSERT_EQ_INT(none, 0);
    ASSERT(libc > 0);
    snprintf(l, sizeof l, "/nonexistent:%s", dir);
    ASSERT_EQ_INT(need(l), libc);
    snprintf(l, sizeof l, "/nonexistent;%s", dir);
    ASSERT_EQ_INT(need(l), libc);
    snprintf(l, sizeof l, ";;%s;", dir);
    ASSERT_EQ_INT(need(l), libc);
    snprintf(l, sizeof l, "/nonexistent %s", dir);
    ASSERT_EQ_INT(need(l), 0);
    return 0;
}
