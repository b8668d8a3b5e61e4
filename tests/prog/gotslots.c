/* gotslots.c: what each lazily bound import of the preloaded libsmshim.so points at now.
 *
 *   gotslots
 *
 * Finds the library among the loaded objects, walks its PLT relocations and prints, for each
 * slot, "name -> object+offset (symbol)" (dladdr of the slot's value) or "name -> unbound" while the slot
 * still leads back into the library (to the loader's lazy resolver), then "unbound N of M".
 * Exits 2 when the library is not loaded. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct found {
    uintptr_t base, lo, hi;
    const ElfW(Dyn) * dyn;
};

static int find_lib(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct found *f = data;
    const char *b = strrchr(info->dlpi_name, '/');
    if (!b || strcmp(b + 1, "libsmshim.so") != 0)
        return 0;
    f->base = info->dlpi_addr;
    f->lo = UINTPTR_MAX;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_DYNAMIC)
            f->dyn = (const ElfW(Dyn) *)s;
        if (ph->p_type == PT_LOAD) {
            if (s < f->lo)
                f->lo = s;
            if (s + ph->p_memsz > f->hi)
                f->hi = s + ph->p_memsz;
        }
    }
    return 1;
}

static uintptr_t at(uintptr_t base, uintptr_t v)
{
    return v && v < base ? v + base : v;
}

int main(void)
{
    struct found f = {0};
    if (!dl_iterate_phdr(find_lib, &f) || !f.dyn) {
        fprintf(stderr, "gotslots: libsmshim.so is not loaded\n");
        return 2;
    }
    uintptr_t jmprel = 0, symtab = 0, strtab = 0;
    size_t relsz = 0;
    for (const ElfW(Dyn) *d = f.dyn; d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_JMPREL)
            jmprel = at(f.base, d->d_un.d_ptr);
        else if (d->d_tag == DT_PLTRELSZ)
            relsz = d->d_un.d_val;
        else if (d->d_tag == DT_SYMTAB)
            symtab = at(f.base, d->d_un.d_ptr);
        else if (d->d_tag == DT_STRTAB)
            strtab = at(f.base, d->d_un.d_ptr);
    }
    int unbound = 0, all = 0;
    for (size_t off = 0; jmprel && off + sizeof(ElfW(Rela)) <= relsz; off += sizeof(ElfW(Rela))) {
        const ElfW(Rela) *r = (const ElfW(Rela) *)(jmprel + off);
        const ElfW(Sym) *sym = (const ElfW(Sym) *)symtab + ELF64_R_SYM(r->r_info);
        const char *name = (const char *)strtab + sym->st_name;
        uintptr_t v = *(const uintptr_t *)(f.base + r->r_offset);
        all++;
        if (v >= f.lo && v < f.hi) {
            unbound++;
            printf("%s -> unbound\n", name);
            continue;
        }
        Dl_info di;
        if (dladdr((void *)v, &di) && di.dli_fname) {
            const char *o = strrchr(di.dli_fname, '/');
            printf("%s -> %s+%#lx (%s)\n", name, o ? o + 1 : di.dli_fname,
                   (unsigned long)(v - (uintptr_t)di.dli_fbase), di.dli_sname ? di.dli_sname : "?");
        } else {
            printf("%s -> %#lx\n", name, (unsigned long)v);
        }
    }
    printf("unbound %d of %d\n", unbound, all);
    return 0;
}
