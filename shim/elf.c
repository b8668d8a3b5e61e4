/* elf.c: is an executable statically linked (an ELF64 file with no PT_INTERP)? The one check
 * the exec wrappers (exec.c: a shimmed process starting a program no preload reaches) and
 * `smshim run` (tools/ns.c) share. An open, one read, a close; no malloc, no lock (vfork). */
#include "sm_real.h"

#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int sm_elf_static(const char *path)
{
    if (!path) /* an exec of NULL: the kernel's EFAULT */
        return 0;
    int fd = sm_brief_openat(AT_FDCWD, path, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    /* the header and, in every executable seen, the program headers right after it */
    union {
        Elf64_Ehdr eh;
        char b[4096];
    } u;
    int st = 0;
    ssize_t n = pread(fd, u.b, sizeof u.b, 0);
    const Elf64_Ehdr *eh = &u.eh;
    if (n >= (ssize_t)sizeof *eh && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
        eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_phentsize == sizeof(Elf64_Phdr)) {
        st = 1;
        for (int i = 0; i < eh->e_phnum && st; i++) {
            Elf64_Phdr ph;
            uint64_t off = eh->e_phoff + (uint64_t)i * sizeof ph;
            if (off + sizeof ph <= (uint64_t)n)
                memcpy(&ph, u.b + off, sizeof ph);
            else if (pread(fd, &ph, sizeof ph, (off_t)off) != (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP)
                st = 0;
        }
    }
    sm_brief_close(fd);
    return st;
}
