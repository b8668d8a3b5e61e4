#!/bin/bash
# More everyday programs in the prefix, as in a real directory (the parity harness: the same
# script in both, outputs and trees compared): the names /proc shows for the prefix's files
# (descriptors, the cwd, a process's mappings by maps, smaps and numa_maps, opened with open or
# fopen, this process's or another's) and the names the loader gives libraries loaded from it
# (dladdr, dl_iterate_phdr, dlinfo, backtrace_symbols) and the loader run as a program (ldd); a
# library with a large TLS block loaded by a child that gets the loader's audit module;
# getcwd in a directory renamed under it; links made relative and Perl's Cwd and File:: modules;
# in-place editors (sed -i, sort -o, perl -i, dd conv=notrunc), install -D, mktemp -p, truncate
# and fallocate; moves and copies across the prefix's boundary; flock and fcntl locks between
# processes; renameat2's flags; openat through directory descriptors; gcc and ar; compressors in
# place; forty writers at once.
. "$(dirname "$0")/../lib/common.sh"
need gcc perl flock fallocate python3 xz bzip2 readelf
FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }
export TZ=UTC LC_ALL=C
export OUT="$T/outside"

# The mapped files' names: the column after the inode, for the files this scenario made
check proc_maps '
mkdir -p d && cp /bin/cat d/mapcat && printf "mapped bytes\n" > d/mapme
d/mapcat /proc/self/maps | awk "\$6 ~ /mapcat/ {print \$6}" | sort -u
d/mapcat /proc/self/smaps | awk "NF == 6 && \$6 ~ /mapcat/ {print \$6}" | sort -u
d/mapcat /proc/self/numa_maps 2>/dev/null | grep -o "file=[^ ]*mapcat" | sort -u
python3 - <<PY
import mmap, os, subprocess, threading
f = open("d/mapme", "r+b"); m = mmap.mmap(f.fileno(), 0)
def names(path):
    with open(path) as fh:
        return sorted({l.split()[5] for l in fh if l.rstrip().endswith("mapme")})
print("open", names("/proc/self/maps"))
print("by pid", names("/proc/%d/maps" % os.getpid()))
print("thread", names("/proc/thread-self/maps"))
print("task", names("/proc/self/task/%d/smaps" % threading.get_native_id()))
fd = os.open("/proc/self/maps", os.O_RDONLY)
t = b""
while True:
    b = os.read(fd, 100)
    if not b: break
    t += b
os.close(fd)
print("read by 100 bytes", sorted({l.split()[5] for l in t.decode().splitlines() if l.endswith("mapme")}))
p = subprocess.Popen(["d/mapcat"], stdin=subprocess.PIPE)
while not any("mapcat" in l for l in open("/proc/%d/maps" % p.pid)): pass
print("another", names("/proc/%d/maps" % p.pid) or sorted({l.split()[5] for l in open("/proc/%d/maps" % p.pid) if "mapcat" in l}))
p.stdin.close(); p.wait()
PY
cat > fm.c <<C
#include <stdio.h>
#include <string.h>
int main(int c, char **v) {
    FILE *f = fopen(v[1], "re"); char l[4096];
    while (f && fgets(l, sizeof l, f)) if (strstr(l, "mapme")) fputs(strrchr(l, 32) + 1, stdout);
    return f ? fclose(f) : 1;
}
C
gcc -o fm fm.c && python3 -c "import mmap, subprocess
f = open(\"d/mapme\", \"rb\"); m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
subprocess.run([\"sh\", \"-c\", \"exec ./fm /proc/\$PPID/maps\"])"
rm fm
'

# Libraries loaded from the prefix as the loader names them: by the rpath at start, by dlopen of
# an absolute path, through dladdr, dladdr1, dl_iterate_phdr, dlinfo and backtrace_symbols; the
# loader run as a program (ld.so PROGRAM, ldd) on a program named under the prefix
check dl_names '
printf "int add(int a, int b) { return a + b; }\n" > add.c
cat > main.c <<C
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
int add(int, int);
static int cb(struct dl_phdr_info *i, size_t s, void *d)
{
    if (strstr(i->dlpi_name, "libadd")) printf("phdr %s\n", i->dlpi_name);
    return 0;
}
int main(int c, char **v)
{
    Dl_info di; struct link_map *lm; char o[4096];
    dladdr((void *)add, &di); printf("%d dladdr %s\n", add(2, 3), di.dli_fname);
    dladdr1((void *)add, &di, (void **)&lm, RTLD_DL_LINKMAP); printf("dladdr1 %s\n", lm->l_name);
    dl_iterate_phdr(cb, 0);
    void *h = dlopen(v[1], RTLD_NOW);
    if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
    int (*f)(int, int) = (int (*)(int, int))dlsym(h, "add");
    dladdr((void *)f, &di); printf("dlopen %d %s\n", f(1, 1), di.dli_fname);
    dlinfo(h, RTLD_DI_LINKMAP, &lm); printf("link map %s\n", lm->l_name);
    dlinfo(h, RTLD_DI_ORIGIN, o); printf("origin %s\n", o);
    void *a[1] = {(void *)f}; char **s = backtrace_symbols(a, 1); printf("symbols %.*s\n", (int)strcspn(s[0], "("), s[0]);
    dl_iterate_phdr(cb, 0);
    dlclose(h);
    h = dlopen(v[1], RTLD_NOW | RTLD_NOLOAD); printf("after dlclose %s\n", h ? "loaded" : "gone");
    return 0;
}
C
gcc -shared -fPIC -o libadd.so add.c && mkdir -p plug && cp libadd.so plug/libadd2.so
gcc -o app main.c -L"$W" -ladd -Wl,-rpath,"$W" -ldl
./app "$W/plug/libadd2.so"; echo "app rc=$?"
(cd / && "$W/app" "$W/plug/libadd2.so"); echo "from / rc=$?"
(cd plug && ../app ./libadd2.so | grep -v "^phdr $W/libadd"); echo "relative rc=$?"
python3 -c "import ctypes, os; l = ctypes.CDLL(os.environ[\"W\"] + \"/plug/libadd2.so\"); print(\"ctypes\", l.add(4, 5), l._name)"
ld=$(readelf -l app | sed -n "s/.*interpreter: \(.*\)]/\1/p")
"$ld" "$W/app" "$W/plug/libadd2.so" | head -1; echo "through the loader rc=${PIPESTATUS[0]}"
"$ld" --verify "$W/app"; echo "verify rc=$?"
(cd / && ldd "$W/app" | awk "/libadd/ {print /not found/ ? \"libadd not found\" : \"libadd found\"}"); echo "ldd rc=${PIPESTATUS[0]}"
cp /bin/sh sh && "$ld" "$W/sh" -c "echo \$0 here" && "$ld" --argv0 named "$W/sh" -c "echo \$0"
rm -f app sh
'

# A library with a large initial-exec TLS block, found through the program's $ORIGIN rpath, while
# LD_LIBRARY_PATH names the prefix (as cargo runs rustc: the child gets the audit module); and
# through an LD_LIBRARY_PATH alone, which the loader splits at ':' and ';'
check big_tls '
mkdir -p lib deps
printf "__thread char big[40000];\nint touch(int i) { big[i] = 1; return big[i]; }\n" > tls.c
gcc -shared -fPIC -ftls-model=initial-exec -o lib/libbigtls.so tls.c
printf "#include <stdio.h>\nint touch(int);\nint main(void) { printf(\"%%d\\\\n\", touch(39999)); return 0; }\n" > m.c
gcc -o app m.c -Llib -lbigtls -Wl,-rpath,"\$ORIGIN/lib"
./app; echo "rc=$?"
LD_LIBRARY_PATH="$W/deps" ./app; echo "LD_LIBRARY_PATH in the prefix rc=$?"
LD_LIBRARY_PATH="$W/deps" GLIBC_TUNABLES=glibc.malloc.check=0 "$W/app"; echo "with other tunables rc=$?"
LD_LIBRARY_PATH="$W/deps:$W/lib" sh -c "exec ./app"; echo "found through LD_LIBRARY_PATH rc=$?"
gcc -o app2 m.c -Llib -lbigtls
LD_LIBRARY_PATH="$W/deps;$W/lib" ./app2; echo "no rpath, LD_LIBRARY_PATH split at ; rc=$?"
rm -f app app2 lib/libbigtls.so
'

check cwd_renamed '
mkdir -p a/b/c/d/e/f/g/h
cd a/b/c/d/e/f/g/h && pwd && /bin/pwd && readlink /proc/self/cwd
mv "$W/a/b" "$W/a/B"
/bin/pwd; python3 -c "import os; print(os.getcwd())"; readlink /proc/self/cwd
echo x > here; cd ..; /bin/pwd; cd "$W"; ls a/B/c/d/e/f/g/h
exec 7<a/B/c; readlink /proc/self/fd/7; mv a/B a/b2; readlink /proc/self/fd/7; exec 7<&-
mkdir -p l/m && ln -s l/m lm && ln -s ../.. l/m/up
realpath -e lm/up/lm lm/up/l/m && readlink -f lm/up && cd lm/up && pwd -P && cd "$W"
'

# links made relative (ln -r), paths relative to another, Perl's Cwd, File::Find, File::Path and
# File::Copy
check relative_links '
mkdir -p a/b c/d && echo x > a/b/f
ln -sr a/b/f c/d/rel && readlink c/d/rel && cat c/d/rel
ln -sr "$W/a" c/up && readlink c/up
realpath --relative-to=c/d a/b/f; realpath --relative-base="$W" "$W/a/b" | sed "s#$W#W#"
cd c/d && perl -MCwd -e "print Cwd::getcwd(), \"\n\", Cwd::abs_path(\"rel\"), \"\n\", Cwd::realpath(\"../up\"), \"\n\"" | sed "s#$W#W#"; cd "$W"
perl -MFile::Find -e "find(sub { print \"\$File::Find::name\n\" }, \"a\")" | sort
perl -MFile::Path=make_path,remove_tree -e "make_path(\"p/q/r\"); remove_tree(\"a/b\")"; ls -R p a
perl -MFile::Copy -e "copy(\"c/d/rel\", \"copied\") or die; move(\"copied\", \"moved\") or die"; cat moved
'

check in_place '
printf "a\nc\nb\n" > f && sed -i "s/a/A/" f && cat f && sort -o f f && cat f
perl -i -pe "s/b/B/" f && cat f; perl -i.bak -pe "s/c/C/" f && cat f f.bak
install -D -m 0640 f x/y/z/f && stat -c "%a %n" x/y/z/f x/y/z
t=$(mktemp -p "$W") && [ -f "$t" ] && echo "mktemp ok" && rm "$t"
t=$(mktemp -d -p .) && echo "mktemp -d ok" && rmdir "$t"
dd if=/dev/zero of=dd bs=1k count=4 status=none
printf XY | dd of=dd bs=1 seek=10 conv=fsync,notrunc status=none; od -c dd | head -2; stat -c %s dd
truncate -s 100 t1; truncate -s -50 t1; stat -c %s t1
fallocate -l 8192 fa && stat -c %s fa; fallocate -p -o 0 -l 4096 fa; stat -c %s fa
seq 1 1000 > s && split -l 300 s part_ && ls part_* && cat part_* | cmp - s && echo "split ok"
echo secret > sh && shred -u sh && ls sh 2>&1 | sed "s/^ls: //"
seq 1 2000 > g && gzip -k g && ls g* && gunzip -f g.gz && xz -k g && ls g* && unxz -f g.xz && bzip2 g && bunzip2 g.bz2 && ls g*
find . -newer f -name "part_*" | sort; find . -samefile s; find . -inum "$(stat -c %i s)"
'

check across '
rm -rf "$OUT" && mkdir -p "$OUT/o/p" && echo o > "$OUT/o/p/f" && ln -s f "$OUT/o/p/l"
mv "$OUT/o" in && ls -R in && mkdir keep && mv in keep/ && mv keep/in "$OUT/back"
ls -R "$OUT/back" | sed "s#$OUT#OUT#"
cp -r "$OUT/back" cpin && cp -a cpin "$OUT/cpout" && ls -l "$OUT/cpout/p" | awk "{print \$1, \$NF}"
echo file > f1 && mv f1 "$OUT/f1" && cat "$OUT/f1" && mv "$OUT/f1" f2 && cat f2
mkdir -p t/x && echo 1 > t/x/a && mv -T "$OUT/back" t/x 2>&1 | sed "s/^mv: //;s#$OUT#OUT#"
mkdir t/y && mv -T "$OUT/back" t/y && ls -R t
python3 -c "import shutil; shutil.copytree(\"t\", \"$OUT/ct\"); shutil.move(\"$OUT/ct\", \"mt\"); shutil.move(\"mt\", \"$OUT/mt\"); shutil.rmtree(\"$OUT/mt\"); print(sorted(__import__(\"os\").listdir(\"t\")))"
rm -rf "$OUT"
'

check locks '
echo > lk
flock lk -c "flock -n lk -c true; echo inner=\$?"
flock -n lk true; echo free=$?
python3 - <<PY
import fcntl, os, struct, subprocess, sys
fd = os.open("lk", os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
child = "import fcntl, os, struct\\nfd = os.open(\\"$W/lk\\", os.O_RDWR)\\ntry:\\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print(\\"got\\")\\nexcept OSError as e: print(\\"busy\\", e.errno)\\nr = struct.unpack(\\"hhqqi\\", fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(\\"hhqqi\\", fcntl.F_WRLCK, 0, 0, 0, 0)))\\nprint(r[0] == fcntl.F_WRLCK, r[4] == os.getppid())"
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True).stdout, end="")
PY
'

check renameat2 '
echo a > a && echo b > b && mkdir d
python3 - <<PY
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def r2(o, n, fl):
    rc = libc.renameat2(-100, o.encode(), -100, n.encode(), fl)
    print(o, n, fl, rc, errno.errorcode.get(ctypes.get_errno()) if rc else "")
r2("a", "b", 1); r2("a", "c", 1); r2("c", "b", 2)
print(open("c").read().strip(), open("b").read().strip())
r2("d", "b", 2); print(os.path.isdir("b"), open("d").read().strip())
r2("b", "zz", 2); r2("b", "c", 3)
print(sorted(os.listdir(".")))
PY
'

check dirfds '
mkdir -p d/s && echo a > d/s/f
python3 - <<PY
import os
dfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY)
print(os.listdir(dfd))
sfd = os.open("s", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
print(open(os.open("f", os.O_RDONLY, dir_fd=sfd)).read().strip())
os.mkdir("n", dir_fd=dfd); os.rename("s/f", "n/g", src_dir_fd=dfd, dst_dir_fd=dfd)
os.symlink("g", "n/l", dir_fd=dfd); print(os.readlink("n/l", dir_fd=dfd))
os.rmdir("s", dir_fd=dfd)
print(sorted(os.listdir(dfd)), os.stat("n/g", dir_fd=dfd).st_size)
os.fchdir(dfd); print(os.getcwd().replace(os.environ["W"], "W"))
PY
'

check gcc_ar '
mkdir -p src inc && printf "int add(int a, int b);\n" > inc/m.h
printf "#include \"m.h\"\nint add(int a, int b) { return a + b; }\n" > src/add.c
printf "#include <stdio.h>\n#include <m.h>\nint main(void) { printf(\"%%d\\\\n\", add(2, 3)); return 0; }\n" > src/main.c
gcc -c -Iinc -o src/add.o src/add.c && ar rcs libm2.a src/add.o && ar t libm2.a
gcc -Iinc -o app src/main.c -L. -lm2 && ./app
gcc -MD -MF dep.d -Iinc -c src/main.c -o main.o && sed "s#$W#W#g" dep.d | tail -1
echo "int main(void) { return 7; }" | gcc -x c - -o seven && ./seven; echo "rc=$?"
rm -f app seven main.o src/add.o libm2.a
'

check writers '
mkdir d
for i in $(seq 1 40); do (for j in 1 2 3 4 5; do echo $i.$j > d/f$i-$j; mv d/f$i-$j d/g$i-$j; done) & done; wait
ls d | wc -l; cat d/* | sort -n | md5sum
'

[ ${#FAILED[@]} = 0 ] || fail "parity failed: ${FAILED[*]}"
echo "ok - more everyday programs as in a real directory"
