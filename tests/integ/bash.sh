#!/bin/bash
# bash in the prefix behaves as in a real directory: cd/pwd, globbing, redirections, here-docs,
# file tests, scripts stored in the prefix ($0, dirname "$0"), external commands run from a cwd
# in the prefix, subshells, source, read, pipelines. Plus the checks that only make sense
# under the shim (cd .. out of the prefix root).
. "$(dirname "$0")/../lib/common.sh"
export PY
# envi: "env -i", a child started with an empty environment (the shim puts itself and its
# settings back). Under a sanitizer build (SMSHIM_SAN) a sanitizer-built shim cannot load
# without its runtime preloaded first, so the preload list and the sanitizer options are kept
# then (in both runs; the shim changes nothing in the real directory), and GLIBC_TUNABLES, where
# common.sh gives TSan's runtime the static TLS it needs beside the audit module.
export SAN="${SMSHIM_SAN:-}" SAN_PRELOAD="$PRELOAD"
envi() {
    if [ -z "$SAN" ]; then env -i "$@"; return; fi
    env -i LD_PRELOAD="$SAN_PRELOAD" ${ASAN_OPTIONS:+"ASAN_OPTIONS=$ASAN_OPTIONS"} \
        ${TSAN_OPTIONS:+"TSAN_OPTIONS=$TSAN_OPTIONS"} ${GLIBC_TUNABLES:+"GLIBC_TUNABLES=$GLIBC_TUNABLES"} "$@"
}
export -f envi

# Run every scenario even when one fails; the test fails at the end, naming them all.
FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }

check cd_pwd '
mkdir -p a/b/c "with space/in it" && ln -s a/b lnk
cd a && pwd && pwd -P && echo "$PWD"
cd b/c && pwd && cd .. && pwd && cd ../.. && pwd
cd "with space/in it" && pwd && cd - >/dev/null && pwd
cd lnk && pwd && pwd -P && cd .. && pwd
cd -P lnk && pwd && cd .. && pwd
cd "$W/a/b/c" && pwd && cd ../../.. && pwd -P
cd a/b; echo "OLDPWD=$OLDPWD"; cd; cd "$OLDPWD"; pwd
cd "$W"; cd nope 2>&1 | sed "s/^.*: cd: /cd: /"; echo "rc=${PIPESTATUS[0]}"; pwd
cd a/b/c && rmdir "$W/a/b/c" && pwd && (pwd -P 2>&1 | sed "s/^.*: pwd: /pwd: /"); cd "$W"
/bin/pwd && /bin/pwd -P && cd lnk && /bin/pwd -L && /bin/pwd -P && env | grep "^PWD=" && cd "$W"
bash -c "pwd; pwd -P; echo \$PWD"
cd lnk && bash -c "pwd; pwd -P" && cd "$W"
"$PY" -c "import os; print(os.getcwd())"
cd a && envi /bin/bash -c "pwd; pwd -P; echo \$PWD; ls" && envi PATH=/usr/bin:/bin ls -a && cd "$W"
cd a && sh -c "pwd; pwd -P; cd b; pwd; cd ..; cd ..; pwd; echo *" && cd "$W"
CDPATH="$W/a" && cd b >/dev/null && pwd; unset CDPATH; cd "$W"
pushd a/b >/dev/null && pushd "$W/lnk" >/dev/null && dirs -l -p && popd >/dev/null && pwd && popd >/dev/null && pwd
set -o physical; cd lnk && pwd && cd .. && pwd; set +o physical; cd "$W"
'

# ".." after a symbolic link applies to the link's target (physically), while bash's own cd is
# logical; links with absolute targets inside the work dir and outside the prefix.
check symlink_dotdot '
mkdir -p a/b/c && echo in-a > a/f && echo in-b > a/b/f && ln -s a/b lnk && ln -s "$W/a/b/c" abslnk
ln -s /usr/share outside && ln -s ../.. a/b/c/up2 && ln -s lnk/c chain
cat lnk/../f; cat "$W/lnk/../f"; cat lnk/c/../f; cat abslnk/../f; cat "$W/abslnk/../../f"
cat a/b/c/up2/f; cat a/b/c/up2/b/f; cat chain/../../f; cat chain/up2/lnk/f
ls lnk/..; ls -d outside/..; ls -d "$W/outside/../share"
readlink -f lnk/.. abslnk/.. chain/up2 outside/.. "$W/chain/../x"
realpath -e lnk/../b abslnk; realpath -s lnk/..
cd lnk/.. && pwd && pwd -P && cd "$W"
cd -P lnk/.. && pwd && cd "$W"
cd abslnk && pwd && pwd -P && cd .. && pwd -P && cd "$W"
cd -P abslnk/.. && pwd && cd "$W"
cd outside && pwd && pwd -P && cd .. && pwd && cd "$W"
cd -P outside/.. && pwd && cd "$W"
cd chain && pwd -P && cd -P up2 && pwd && cd "$W"
[ lnk/../f -ef a/f ] && echo ef1; [ -f abslnk/../f ] && echo f2; [ -d chain/up2/b ] && echo d3
echo new > lnk/../created && cat a/created
mkdir lnk/../made && ls -d a/made; mv lnk/../made abslnk/../moved && ls a/b; rm -r chain/../moved && ls a/b
'

check glob '
mkdir -p docs/sub/deep src .hidden && touch README.md notes.md docs/a.md docs/b.txt \
    docs/sub/c.md docs/sub/deep/d.md src/main.c .dot.md "sp ace.md"
echo *
echo *.md
echo */
echo docs/*.md docs/*/*.md
echo "$W"/*.md
echo "$W"/docs/*
echo ???*.md
echo [nR]*
shopt -s globstar; echo **/*.md; echo ** | tr " " "\n" | wc -l; echo "$W"/**/; shopt -u globstar
shopt -s dotglob; echo *; shopt -u dotglob
shopt -s nullglob; echo none: *.zzz; shopt -u nullglob
echo *.zzz
shopt -s failglob; (echo *.zzz) 2>&1 | sed "s/^.*: no match/no match/"; shopt -u failglob
shopt -s nocaseglob; echo readme*; shopt -u nocaseglob
shopt -s extglob
echo !(*.md); echo +(docs|src)/*; echo "$W"/@(docs|src)/*.[mc]*
shopt -u extglob
for f in docs/sub/*; do echo "item: $f"; done
cd docs && echo * ../*.md && cd ..
ls -d *.md | sort
compgen -G "docs/*.txt"
compgen -f do
compgen -d -- d
'

check redirections '
echo one > out
echo two >> out
printf "three\n" >> out
cat out; wc -l < out
echo err 2> errf 1>&2; cat errf
{ echo to-both; echo to-err >&2; } &> both; cat both
{ echo a; echo b >&2; } > split.out 2> split.err; cat split.out split.err
echo x > trunc; : > trunc; wc -c < trunc
set -o noclobber; echo clobber > out 2>/dev/null; echo "noclobber rc=$?"; echo forced >| out; set +o noclobber; cat out
exec 3> fd3; echo via-fd3 >&3; echo more >&3; exec 3>&-; cat fd3
exec 4>> fd3; echo appended >&4; exec 4>&-; cat fd3
exec 5< fd3; read -r l <&5; echo "first: $l"; read -r l <&5; echo "second: $l"; exec 5<&-
exec 6<> rw; echo rw-data >&6; exec 6>&-; cat rw
echo hello > "$W/abs"; cat "$W/abs"; echo world >> "$W/./abs"; cat abs
mkdir sub; echo deep > sub/../sub/f; cat sub/f
echo > sub 2>&1 | sed "s/^.*: sub: /sub: /"
echo x > /nonexistent-dir/f 2>/dev/null; echo "rc=$?"
cat < missing 2>&1 | sed "s/^.*: missing: /missing: /"
ls -l out fd3 rw | awk "{print \$1, \$5, \$9}"
'

check heredoc '
cat <<EOF > h1
line 1 in $(basename "$PWD" | sed "s/.*/dir/")
line 2 \$HOME stays
EOF
cat h1
cat <<"EOF" >> h1
literal $PWD
EOF
cat h1
cat <<-EOF
	tab-stripped
	EOF
tr a-z A-Z <<< "here string" > hs; cat hs
# a here-doc too large for a pipe buffer goes through a temporary file in TMPDIR: put TMPDIR
# in the work dir (bash removes the file as soon as it has opened it); the consumer reads the
# name of its stdin back (the temporary name is random: normalised).
mkdir tmp
{ echo "{ wc -c; readlink /proc/self/fd/0; } <<EOF | sed \"s/sh-thd\.[A-Za-z0-9]*/sh-thd.X/\""
  head -c 100000 /dev/zero | tr "\0" x; echo; echo EOF; } > big-heredoc.sh
TMPDIR="$W/tmp" bash big-heredoc.sh
TMPDIR="$W/tmp" bash -c "cat <<EOF
small \$TMPDIR
EOF"
ls -A tmp | wc -l
while read -r a b; do echo "[$a|$b]"; done <<EOF
x 1
y 2 3
EOF
'

check file_tests '
mkdir d && touch f && printf x > nonempty && printf "#!/bin/sh\n" > exe && chmod 755 exe
chmod 644 f && ln -s f lf && ln -s missing dangling && mkfifo fifo && chmod 000 nonempty
for p in f d exe lf dangling fifo nonempty nothing "$W/f" "$W/d" "$W/exe" "$W/./d/../f" d/; do
    r=""
    [ -e "$p" ] && r="$r e"; [ -f "$p" ] && r="$r f"; [ -d "$p" ] && r="$r d"
    [ -x "$p" ] && r="$r x"; [ -r "$p" ] && r="$r r"; [ -w "$p" ] && r="$r w"
    [ -s "$p" ] && r="$r s"; [ -L "$p" ] && r="$r L"; [ -p "$p" ] && r="$r p"
    [[ -h $p ]] && r="$r h"; test -O "$p" && r="$r O"
    echo "$p:$r"
done
touch -d @1000000000 old && touch -d @1100000000 new
[ new -nt old ] && echo nt; [ old -ot new ] && echo ot; [ f -ef lf ] && echo ef
[ f -ef "$W/f" ] && echo ef-abs; [ d -ef "$W/d/." ] && echo ef-dir
'

# Scripts stored in the prefix: a bash script that locates its neighbours through $0, a sh
# script, one through /usr/bin/env, a python script (__file__), one without #! (bash runs it
# itself), one not executable, one missing.
export MKSCRIPTS='
mkdir -p bin lib
cat > bin/show.sh <<"EOF"
#!/bin/bash
echo "0=$0"
echo "dir=$(dirname "$0")"
echo "args=$#:$*"
echo "pwd=$(pwd)"
here=$(cd "$(dirname "$0")" && pwd); echo "here=$here"
echo "src=${BASH_SOURCE[0]}"
. "$(dirname "$0")/../lib/helper.sh"
helper
cat "$(dirname "$0")/data.txt"
EOF
echo "data next to the script" > bin/data.txt
printf "helper() { echo \"helper from \${BASH_SOURCE[0]}\"; }\n" > lib/helper.sh
chmod +x bin/show.sh
printf "#!/bin/sh\necho sh0=\$0 \"\$@\"\n" > bin/shtool && chmod 755 bin/shtool
printf "#!/usr/bin/env bash\necho env0=\$0\n" > bin/envtool && chmod 755 bin/envtool
printf "#!$PY\nimport os, sys\nprint(\"py\", sys.argv[0], __file__, os.path.dirname(os.path.abspath(__file__)))\n" > bin/pytool && chmod 755 bin/pytool
printf "echo no shebang \$0\n" > bin/noshebang && chmod 755 bin/noshebang
printf "#!/bin/sh\necho not executable\n" > bin/noexec
'

# ... run by absolute path, through PATH, as an argument of bash, by exec, env and subprocess.
check scripts_abs_path '
eval "$MKSCRIPTS"
"$W/bin/show.sh" one "two words"
bash bin/show.sh four
bash "$W/bin/show.sh" five
"$W/bin/shtool" a b
"$W/bin/envtool"
"$W/bin/pytool"
"$W/bin/noshebang"
"$W/bin/noexec" 2>&1 | sed "s/^.*: \(.*\): Permission denied/\1: Permission denied/"; echo "rc=${PIPESTATUS[0]}"
"$W/bin/missing" 2>&1 | sed "s/^.*: \(.*\): No such file/\1: No such file/"; echo "rc=${PIPESTATUS[0]}"
PATH="$W/bin:$PATH" show.sh via-path
PATH="$W/bin:$PATH"; type -p shtool; command -v show.sh; hash -r; shtool z
(cd / && show.sh from-root)
PATH="bin:$PATH" shtool relative-path-entry
exec_test() { exec "$W/bin/shtool" execd; }; (exec_test)
env "$W/bin/shtool" via-env
"$PY" -c "import subprocess; subprocess.run([\"$W/bin/shtool\", \"sub\"])"
'

# ... run by ./relative path from a cwd inside the prefix: $0 must be the path as typed, as in
# a real directory (and never the cache tree path).
check scripts_rel_path '
eval "$MKSCRIPTS"
./bin/show.sh three
cd bin && ./show.sh && cd ..
./bin/shtool c
./bin/envtool
./bin/pytool
./bin/noshebang
./bin/noexec 2>&1 | sed "s/^.*: \(.*\): Permission denied/\1: Permission denied/"; echo "rc=${PIPESTATUS[0]}"
./bin/missing 2>&1 | sed "s/^.*: \(.*\): No such file/\1: No such file/"; echo "rc=${PIPESTATUS[0]}"
cd lib && ../bin/shtool dotdot && cd ..
"$PY" -c "import subprocess; subprocess.run([\"./bin/shtool\", \"rel\"]); subprocess.run([\"./shtool\", \"cwd\"], cwd=\"$W/bin\")"
'

check external_commands '
mkdir -p d/e && echo content > d/file && echo other > d/e/f2
ls; ls d; ls -R; ls -la d | awk "NR>1 {print \$1, \$9}"
cat d/file; cd d && cat file e/f2 && ls .. && cd ..
stat -c "%n %F %s %a" d d/file
find . | sort
wc -c d/file; head -1 d/file; sort d/file d/e/f2
cp d/file copy && mv copy moved && rm moved && ls
grep -r other . ; grep -rl content
(cd d/e && ls ../.. && cat ../file && realpath ../file && readlink -f .)
du -a --apparent-size d | sort -k2 | awk "{print \$2}"
# a path that leaves the work dir (and, under the shim, the prefix) through "..": ls -l reads
# its ACL (listxattr) as well as its stat
ls -ld "$W/../.." > /dev/null; echo "ls rc=$?"
ls -la "$W/d/../.." > /dev/null; echo "ls rc=$?"
"$PY" -c "import os, sys; os.listxattr(sys.argv[1]); os.listxattr(sys.argv[1], follow_symlinks=False); print(\"listxattr ok\")" "$W/../.."
'

check subshells_source_read '
mkdir -p s && cd s
x=outer; (x=inner; cd ..; echo "sub: $x $(pwd)"); echo "main: $x $(pwd)"
echo "cmdsub: $(cd .. && pwd)"; echo "after: $(pwd)"
{ cd ..; echo "group: $(pwd)"; }; cd s
( cd /; pwd ); pwd
bash -c "cd ..; pwd"; pwd
printf "VAR=from-file\nfn() { echo \"fn \$1 in \$(pwd)\"; }\necho sourced \${BASH_SOURCE[0]}\n" > lib.sh
source lib.sh; echo "$VAR"; fn a
. ./lib.sh; . "$W/s/lib.sh"; fn b
cd .. && source s/lib.sh && cd s
printf "a b c\nsecond line\n\nlast" > in.txt
while IFS= read -r line; do echo "<$line>"; done < in.txt
read -r first rest < in.txt; echo "$first/$rest"
mapfile -t L < in.txt; echo "${#L[@]} ${L[1]}"
readarray -t M < "$W/s/in.txt"; echo "${M[3]}"
exec {fd}< in.txt; read -r -u "$fd" l1; echo "fd: $l1"; exec {fd}<&-
echo "$(< in.txt)" | wc -l
while read -r l; do echo "procsub: $l"; done < <(cat in.txt)
diff <(cat in.txt) "$W/s/in.txt" && echo same
'

check pipelines '
seq 1 2000 | sort -rn | tee sorted | tail -3
wc -l < sorted
seq 1 100 | awk "{s+=\$1} END {print s}" > sum; cat sum
printf "b\na\nc\n" | sort > "$W/abs-sorted"; cat abs-sorted
seq 1 5 | while read -r n; do echo "$n" >> acc; done; cat acc
yes line | head -50000 | gzip -n | gzip -dc | wc -l > count; cat count
mkdir p && seq 1 3 | xargs -I{} sh -c "echo {} > p/{}.txt"; ls p; cat p/*
cat sorted | tail -2 > tail.out; cat tail.out
echo data | tee t1 t2 >/dev/null; cat t1 t2
set -o pipefail; false | true; echo "pipefail rc=$?"
ls -l sorted sum count | awk "{print \$1, \$5, \$9}"
'

# ---- checks only meaningful under the shim ------------------------------------------------

# cd .. out of the prefix root lands in /, with pwd (logical and physical) agreeing.
got=$(cd / && shim bash -c 'cd /sm && pwd && cd .. && pwd && pwd -P && /bin/pwd && echo "$PWD"')
want=$(printf '/sm\n/\n/\n/\n/\n')
[ "$got" = "$want" ] || fail "cd .. from /sm: got [$got] want [$want]"
echo "ok - cd /sm; cd .. gives /"

got=$(cd / && shim bash -c 'mkdir -p /sm/up/a && cd /sm/up/a && cd ../../.. && pwd && pwd -P && ls -d sm 2>/dev/null; cd /sm/up/a && cd -P ../.. && pwd && cd /sm/. && pwd && cd /sm/up/../.. && pwd -P')
want=$(printf '/\n/\nsm\n/sm\n/sm\n/\n')
[ "$got" = "$want" ] || fail "cd ../../.. from /sm/up/a: got [$got] want [$want]"
echo "ok - cd .. climbs out of the prefix"

# cd .. from a directory just below the prefix root gives the root, which lists it.
got=$(cd / && shim bash -c 'mkdir -p /sm/lvl1/lvl2 && cd /sm/lvl1 && cd .. && pwd && pwd -P && ls -d lvl1 && [ -d /sm ] && [ -d /sm/. ] && [ -e /sm/lvl1/.. ] && echo dirs-ok && ls -d /sm/../tmp /sm/lvl1/../../tmp')
want=$(printf '/sm
/sm
lvl1
dirs-ok
/sm/../tmp
/sm/lvl1/../../tmp
')
[ "$got" = "$want" ] || fail "cd .. to /sm: got [$got] want [$want]"
echo "ok - cd .. to the prefix root"

# ls -la of the prefix root lists ".." (the real /) without an error.
out=$(cd / && shim ls -la /sm 2>&1 >/dev/null) || fail "ls -la /sm failed: $out"
[ -z "$out" ] || fail "ls -la /sm printed: $out"
echo "ok - ls -la /sm"

# A physical pwd inside the prefix never shows the cache tree.
got=$(cd / && shim bash -c 'mkdir -p /sm/phys/x && cd /sm/phys/x && pwd -P && /bin/pwd -P && readlink /proc/self/cwd && realpath . && cd .. && pwd -P')
want=$(printf '/sm/phys/x\n/sm/phys/x\n/sm/phys/x\n/sm/phys/x\n/sm/phys\n')
[ "$got" = "$want" ] || fail "pwd -P in the prefix: got [$got] want [$want]"
case "$got" in *"$SMSHIM_CACHE"*) fail "cache path leaked: $got" ;; esac
echo "ok - pwd -P names the virtual path"

# A login-less bash started with its cwd inside the prefix (cwd inherited, PWD in the env)
got=$(cd / && shim bash -c 'cd /sm/phys/x && env -u PWD bash -c "pwd; echo \$PWD"')
[ "$got" = "$(printf '/sm/phys/x\n/sm/phys/x')" ] || fail "child bash without PWD: got [$got]"
echo "ok - child bash without PWD finds the virtual cwd"

[ ${#FAILED[@]} = 0 ] || fail "parity failed: ${FAILED[*]}"
