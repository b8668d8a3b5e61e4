/* empty.c: a shared library with nothing in it but one constructor that does nothing (case 3):
 * preloaded into /bin/true it measures what any preloaded library costs a process's start (the
 * loader's open, mappings and relocation of one more object, its page faults, its unmapping at
 * exit), the floor under the shim's own start cost. */
__attribute__((constructor)) static void nothing(void)
{
}
