#!/bin/bash
# The dynamic loader finds shared libraries built under the prefix, as on a real directory: an
# absolute -rpath (DT_RPATH and DT_RUNPATH), LD_LIBRARY_PATH, LD_PRELOAD of a prefix path, dlopen
# by name and by path, in children of children; `smshim run` gives it to its first process.
. "$(dirname "$0")/../lib/common.sh"
need gcc
[ -r "$B/libsmshim-audit.so" ] || fail "$B/libsmshim-audit.so was not built"

FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }

# Every binary embeds $W (its rpath), which differs between the runs: they are removed at the
# end, the outputs are what is compared.
export LOADER='
mkdir -p src lib bin
printf "int foo(void) { return 42; }\n" > src/foo.c
printf "#include <stdio.h>\n__attribute__((constructor)) static void hi(void) { printf(\"preloaded\\\\n\"); }\n" > src/pre.c
printf "#include <stdio.h>\nint foo(void);\nint main(void) { printf(\"foo=%%d\\\\n\", foo()); return 0; }\n" > src/main.c
cat > src/dl.c <<EOF
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { printf("dlopen %s: failed\n", argv[1][0] == 47 ? "path" : argv[1]); return 1; }
    int (*f)(void) = (int (*)(void))dlsym(h, "foo");
    printf("dlopen -> foo=%d\n", f ? f() : -1);
    return 0;
}
EOF
gcc -shared -fPIC -o lib/libfoo.so src/foo.c && gcc -shared -fPIC -o lib/libpre.so src/pre.c
# a library whose own dependency (with a soname, as libraries have) is found through its
# absolute RUNPATH (another directory)
mkdir -p lib2 && printf "int baz(void) { return 40; }\n" > src/baz.c
printf "int baz(void);\nint foo(void) { return baz() + 2; }\n" > src/bar.c
gcc -shared -fPIC -o lib2/libbaz.so src/baz.c -Wl,-soname,libbaz.so
gcc -shared -fPIC -o lib/libbar.so src/bar.c -L"$W/lib2" -lbaz -Wl,--enable-new-dtags,-rpath,"$W/lib2"
gcc -o bin/rpath src/main.c -L"$W/lib" -lfoo -Wl,--disable-new-dtags,-rpath,"$W/lib"
gcc -o bin/runpath src/main.c -L"$W/lib" -lfoo -Wl,--enable-new-dtags,-rpath,"$W/lib"
gcc -o bin/plain src/main.c -L"$W/lib" -lfoo
gcc -o bin/dl src/dl.c -ldl
gcc -o bin/dlrun src/dl.c -ldl -Wl,--enable-new-dtags,-rpath,"$W/lib"
echo built
"$W/bin/rpath"; echo "rpath rc=$?"
"$W/bin/runpath"; echo "runpath rc=$?"
(cd / && "$W/bin/runpath"); echo "runpath from / rc=$?"
"$W/bin/plain" 2>/dev/null; echo "no path rc=$?"
LD_LIBRARY_PATH="/nonexistent:$W/lib" "$W/bin/plain"; echo "LD_LIBRARY_PATH rc=$?"
LD_PRELOAD="$W/lib/libpre.so" "$W/bin/rpath"; echo "LD_PRELOAD rc=$?"
LD_PRELOAD="$W/lib/libpre.so" /bin/true; echo "LD_PRELOAD of /bin/true rc=$?"
LD_LIBRARY_PATH="$W/lib" "$W/bin/dl" libfoo.so; echo "dlopen by name rc=$?"
# a sanitizer runtime intercepts dlopen (the loader then takes the runtime, not the program, as
# the caller whose RUNPATH applies) and cannot be put back into an emptied environment: these two
# are the runtime'"'"'s, on a real directory too, and run only without one
[ -z "${SMSHIM_SAN:-}" ] && { "$W/bin/dlrun" libfoo.so; echo "dlopen through RUNPATH rc=$?"; }
"$W/bin/dl" "$W/lib/libfoo.so"; echo "dlopen by path rc=$?"
"$W/bin/dl" "$W/lib/libbar.so"; echo "dlopen by path, its dependency through its RUNPATH rc=$?"
(cd "$W" && "$W/bin/dl" ./lib/libbar.so); echo "dlopen by relative path rc=$?"
"$W/bin/dl" libfoo.so; echo "dlopen not found rc=$?"
bash -c "sh -c \"LD_LIBRARY_PATH=$W/lib $W/bin/plain\""; echo "grandchild rc=$?"
[ -z "${SMSHIM_SAN:-}" ] && { env -i PATH=/usr/bin:/bin "$W/bin/rpath"; echo "empty environment rc=$?"; }
rm -rf lib lib2 bin
'
check loader 'bash -c "$LOADER"'
[ ${#FAILED[@]} = 0 ] || fail "parity failed: ${FAILED[*]}"

# `smshim run` starts its command with the audit module: a program under the prefix whose
# library is found through its rpath runs as the first process.
shim bash -c 'mkdir -p /sm/first/lib /sm/first/bin && cd /sm/first &&
    printf "int foo(void) { return 7; }\n" > foo.c &&
    printf "#include <stdio.h>\nint foo(void);\nint main(void) { printf(\"foo=%%d\\\\n\", foo()); return 0; }\n" > main.c &&
    gcc -shared -fPIC -o lib/libfoo.so foo.c &&
    gcc -o bin/tool main.c -Llib -lfoo -Wl,-rpath,/sm/first/lib' || fail "first: build"
out=$("$B/smshim" run --cache "$SMSHIM_CACHE" -- env /sm/first/bin/tool 2>&1) || fail "smshim run -- env tool: $out"
[ "$out" = "foo=7" ] || fail "smshim run: got '$out'"
out=$("$B/smshim" run --cache "$SMSHIM_CACHE" -- bash -c 'LD_PRELOAD= LD_AUDIT= /sm/first/bin/tool' 2>&1) ||
    fail "an exec whose caller cleared LD_AUDIT: $out"
[ "$out" = "foo=7" ] || fail "cleared LD_AUDIT: got '$out'"
echo "ok - smshim run's command and children whose caller cleared LD_AUDIT find prefix libraries"

# The module costs every process start (an audit namespace, the environment read): only a
# program whose loader must look under the prefix gets it. /bin/grep under `smshim run`, and as
# a child of a shimmed bash, starts without it; the tool with its rpath under the prefix (above)
# and a program given LD_LIBRARY_PATH there start with it.
maps='grep -q libsmshim-audit.so /proc/self/maps && echo with || echo without'
out=$("$B/smshim" run --cache "$SMSHIM_CACHE" -- sh -c "$maps" 2>&1)
[ "$out" = without ] || fail "smshim run gave sh the audit module it does not need: $out"
out=$(shim bash -c "$maps; LD_LIBRARY_PATH=/sm/first/lib sh -c '$maps'")
[ "$out" = "without
with" ] || fail "a child of a shimmed bash: '$out' (expected without, then with for LD_LIBRARY_PATH)"
echo "ok - only a program whose loader looks under the prefix starts with the audit module"
