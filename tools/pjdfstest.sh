#!/bin/bash
# pjdfstest.sh DIR [GROUP...]: run the POSIX filesystem suite pjdfstest (github.com/pjd/pjdfstest,
# unpacked in DIR; never part of this project) group by group, once in a real directory and once
# in a directory under the prefix through `smshim run`, and print per group the failing subtests
# of each side. As root, as the suite expects. `make pjdfstest PJDFSTEST=DIR [PJD_GROUPS=...]`.
#
# DIR/pjdfstest is built when missing: with a hand-written config.h for Linux/glibc when DIR
# has none (the suite's autotools are not needed). Groups run one after the other (prove -j1).
# Logs: $PJD_OUT (default /tmp/smshim-pjd): GROUP.real.log, GROUP.shim.log, GROUP.{real,shim}.fail
# (one line per failing subtest, "file.t N"). Per group: the subtests, the failing ones of each
# side and each side's wall time; last, the totals.
set -uo pipefail
P=${1:?usage: pjdfstest.sh DIR [GROUP...]}
shift
P=$(cd "$P" && pwd) || exit 2
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${SMSHIM_BUILD:-$SRC/build}
OUT=${PJD_OUT:-/tmp/smshim-pjd}
[ "$(id -u)" = 0 ] || { echo "pjdfstest.sh: run as root (the suite expects it)" >&2; exit 2; }
command -v prove >/dev/null || { echo "pjdfstest.sh: prove (perl) is missing" >&2; exit 2; }
[ -x "$B/smshim" ] || { echo "pjdfstest.sh: build $B/smshim first (make)" >&2; exit 2; }

if [ ! -x "$P/pjdfstest" ]; then
    if [ ! -f "$P/config.h" ]; then
        cat >"$P/config.h" <<'EOF'
/* Linux / glibc, written by smshim's tools/pjdfstest.sh */
#define HAVE_SYS_SYSMACROS_H 1
#define HAVE_FACCESSAT 1
#define HAVE_FCHMODAT 1
#define HAVE_FCHOWNAT 1
#define HAVE_FSTATAT 1
#define HAVE_LINKAT 1
#define HAVE_MKDIRAT 1
#define HAVE_MKFIFOAT 1
#define HAVE_MKNODAT 1
#define HAVE_OPENAT 1
#define HAVE_POSIX_FALLOCATE 1
#define HAVE_READLINKAT 1
#define HAVE_RENAMEAT 1
#define HAVE_SYMLINKAT 1
#define HAVE_UNLINKAT 1
#define HAVE_UTIMENSAT 1
#define HAVE_STRUCT_STAT_ST_ATIM 1
#define HAVE_STRUCT_STAT_ST_CTIM 1
#define HAVE_STRUCT_STAT_ST_MTIM 1
EOF
    fi
    gcc -O2 -D_GNU_SOURCE -I"$P" -o "$P/pjdfstest" "$P/pjdfstest.c" || exit 2
fi

if [ $# -eq 0 ]; then
    set -- $(cd "$P/tests" && for g in *; do [ -d "$g" ] && echo "$g"; done)
fi

mkdir -p "$OUT"
rm -rf "$OUT/real" "$OUT/cache"
mkdir -p "$OUT/real"
export SMSHIM_CACHE="$OUT/cache" SMSHIM_PREFIX=/sm
unset SUPERMEMORY_API_KEY SMSHIM_LOG

# failures LOG: "file.t N" for every failing subtest prove's summary lists
failures() {
    awk '
        /^[^ ].*\.t +\(Wstat/ { f = $1; sub(".*/tests/", "", f); next }
        /^  Failed tests?:/ || (f != "" && /^  +[0-9]/) {
            line = $0; sub(/^ *Failed tests?: */, "", line); gsub(/ /, "", line)
            n = split(line, parts, ",")
            for (i = 1; i <= n; i++) {
                if (parts[i] == "") continue
                if (split(parts[i], r, "-") == 2) { for (j = r[1]; j <= r[2]; j++) print f, j }
                else print f, parts[i]
            }
            next
        }
        /^  / { next }
        { f = "" }' "$1"
}
total() { sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$1" | tail -1; }

printf '%-16s %8s %8s %8s %9s %9s\n' group subtests real shim t_real t_shim
rc=0 n_all=0 f_real=0 f_shim=0 t_all_real=0 t_all_shim=0
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
for g in "$@"; do
    [ -d "$P/tests/$g" ] || { echo "no group $g in $P/tests" >&2; rc=2; continue; }
    rm -rf "$OUT/real/$g" && mkdir -p "$OUT/real/$g"
    t0=$(now)
    (cd "$OUT/real/$g" && prove -r "$P/tests/$g") >"$OUT/$g.real.log" 2>&1
    t1=$(now)
    "$B/smshim" run -- sh -c "mkdir -p /sm/pjd/$g && cd /sm/pjd/$g && prove -r '$P/tests/$g'" \
        >"$OUT/$g.shim.log" 2>&1
    t2=$(now)
    failures "$OUT/$g.real.log" >"$OUT/$g.real.fail"
    failures "$OUT/$g.shim.log" >"$OUT/$g.shim.fail"
    n=$(total "$OUT/$g.shim.log") fr=$(wc -l <"$OUT/$g.real.fail") fs=$(wc -l <"$OUT/$g.shim.fail")
    printf '%-16s %8s %8s %8s %8ss %8ss\n' "$g" "$n" "$fr" "$fs" "$(secs "$t0" "$t1")" \
        "$(secs "$t1" "$t2")"
    n_all=$((n_all + ${n:-0})) f_real=$((f_real + fr)) f_shim=$((f_shim + fs))
    t_all_real=$(awk -v a="$t_all_real" -v b="$t0" -v c="$t1" 'BEGIN { print a + c - b }')
    t_all_shim=$(awk -v a="$t_all_shim" -v b="$t1" -v c="$t2" 'BEGIN { print a + c - b }')
    # subtests that fail under the shim only
    comm -13 <(sort "$OUT/$g.real.fail") <(sort "$OUT/$g.shim.fail") | sort -k1,1 -k2n |
        awk '{ a[$1] = a[$1] (a[$1] == "" ? "" : ",") $2 } END { for (f in a) print "    " f ": " a[f] }' |
        sort
    if ! cmp -s <(sort "$OUT/$g.real.fail") <(sort "$OUT/$g.shim.fail"); then rc=1; fi
done
printf '%-16s %8s %8s %8s %8ss %8ss\n' total "$n_all" "$f_real" "$f_shim" \
    "$(secs 0 "$t_all_real")" "$(secs 0 "$t_all_shim")"
echo "logs in $OUT"
exit $rc
