#!/bin/bash
# Setting values that are not what they name: a duration (SMSHIM_EXIT_TIMEOUT, SMSHIM_PULL_INTERVAL,
# SMSHIM_PULL_TIMEOUT, SMSHIM_SYNC_TIMEOUT) that is not a plain number of seconds from 0 to
# 1,000,000 (text, a sign, an exponent, nan, 2^64, trailing junk, 64 KB), and a container tag the
# service would refuse (SMSHIM_TAG outside [A-Za-z0-9_:-]{1,100}). The CLI refuses each with a
# one-line reason and exit 2 (`smshim run` runs nothing); a preloaded process given a bad tag
# passes every call through and says so in one line, and given a bad duration keeps the shim,
# uses the default and logs one warning. Values are printed escaped. Once, a bad duration was
# read as 0 or as whatever the float conversion made of it, and a bad tag bound the cache and
# poisoned every file at its first push.
. "$(dirname "$0")/../lib/common.sh"
export SMSHIM_NOWAIT=1 SMSHIM_CACHE="$T/cache" SMSHIM_PREFIX="$T/p"
mkdir -p "$T/p"
shim sh -c 'echo seed >"$1/seed"' sh "$T/p" # (a cache for `smshim status`)
big=$(head -c 65536 /dev/zero | tr '\0' 7)

# cli_refuses WHAT: `smshim status` and `smshim run -- mkdir` exit 2 with one line, which names
# the setting, and the command did not run
cli_refuses() {
    local what=$1 name=$2 rc
    for cmd in status run; do
        rc=0
        if [ $cmd = run ]; then
            "$B/smshim" run -- mkdir "$T/ran" >"$T/out" 2>"$T/err" || rc=$?
        else
            "$B/smshim" status >"$T/out" 2>"$T/err" || rc=$?
        fi
        [ "$rc" = 2 ] || { cat "$T/err"; fail "$what: smshim $cmd exited $rc, not 2"; }
        [ "$(wc -l <"$T/err")" = 1 ] && grep -q "^smshim: refused: $name=" "$T/err" ||
            { cat "$T/err"; fail "$what: smshim $cmd did not give a one-line reason naming $name"; }
        ! grep -q $'\x1b' "$T/err" || fail "$what: the value was printed unescaped"
        [ ! -e "$T/ran" ] || fail "$what: smshim run ran the command anyway"
    done
}

for name in SMSHIM_EXIT_TIMEOUT SMSHIM_PULL_INTERVAL SMSHIM_PULL_TIMEOUT SMSHIM_SYNC_TIMEOUT; do
    for v in abc -5 +5 nan inf 1e3 0x10 18446744073709551616 1000001 10junk " 5" "5 " . 1.2.3 \
        $'7\x1b[31m' "$big"; do
        env "$name=$v" bash -c "$(declare -f cli_refuses fail); B='$B' T='$T' cli_refuses \"$name=\${$name:0:24}\" $name" ||
            exit 1
    done
    for v in "" 0 2.5 1000000; do
        rc=0; env "$name=$v" "$B/smshim" status >/dev/null 2>"$T/err" || rc=$?
        [ "$rc" = 0 ] || { cat "$T/err"; fail "$name=$v was refused"; }
    done
done
echo "ok - the CLI refuses every bad duration: $(SMSHIM_SYNC_TIMEOUT=1e30 "$B/smshim" status 2>&1)"

long=$(printf 'x%.0s' $(seq 1 101))
for v in "bad tag!" "$long" $'a\nb' $'t\x1b[31m' "a/b" "$big"; do
    SMSHIM_TAG=$v cli_refuses "SMSHIM_TAG=${v:0:24}" SMSHIM_TAG
    rc=0; SMSHIM_TAG=$v "$B/smshim" sync >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err"; fail "smshim sync took SMSHIM_TAG=${v:0:24}"; }
    # preloaded: one line, every call passed through (the file is written in the real directory)
    for log in "" error:stderr; do
        rm -f "$T/p/x"
        rc=0
        env SMSHIM_TAG="$v" SMSHIM_CACHE="$T/tagcache" SMSHIM_LOG="$log" LD_PRELOAD="$PRELOAD" \
            sh -c 'echo hi >"$1/x"' sh "$T/p" 2>"$T/pre.err" || rc=$?
        [ "$rc" = 0 ] || { cat "$T/pre.err"; fail "a preloaded write failed with SMSHIM_TAG=${v:0:24}"; }
        [ "$(wc -l <"$T/pre.err")" = 1 ] && grep -q '^smshim: refused: SMSHIM_TAG=' "$T/pre.err" ||
            { cat "$T/pre.err"; fail "SMSHIM_TAG=${v:0:24} (SMSHIM_LOG=$log): not exactly one line"; }
        ! grep -q $'\x1b' "$T/pre.err" || fail "the preload printed the tag unescaped"
        [ "$(cat "$T/p/x")" = hi ] || fail "SMSHIM_TAG=${v:0:24}: the write was not passed through"
    done
    [ ! -e "$T/tagcache" ] || fail "a cache was set up for SMSHIM_TAG=${v:0:24}"
done
for v in "" a "$(printf 'x%.0s' $(seq 1 100))" "A-z_0:9"; do
    SMSHIM_TAG=$v "$B/smshim" status >/dev/null 2>"$T/err" || { cat "$T/err"; fail "SMSHIM_TAG=$v was refused"; }
done
echo "ok - a bad tag is refused: $(cat "$T/pre.err")"

# a preloaded process with a bad duration: the shim works, the default is used, one warning
rm -f "$T/p/x"
for name in SMSHIM_EXIT_TIMEOUT SMSHIM_PULL_INTERVAL; do
    env "$name=1e30" SMSHIM_LOG=warn:stderr LD_PRELOAD="$PRELOAD" \
        sh -c 'echo hi >"$1/x"' sh "$T/p" 2>"$T/pre.err" || { cat "$T/pre.err"; fail "a write failed with $name=1e30"; }
    [ "$(grep -c "$name=1e30 is not a number of seconds" "$T/pre.err")" = 1 ] ||
        { cat "$T/pre.err"; fail "no one warning about $name=1e30"; }
    [ "$(cat "$T/cache/tree/x")" = hi ] && [ ! -e "$T/p/x" ] || fail "$name=1e30 turned the shim off"
done
echo "ok - a preloaded process warns: $(grep -m1 'not a number' "$T/pre.err")"

# a cache that is a file, or lies under one: refused (once it ran the command with every call
# under the prefix failing ENOTDIR)
echo data >"$T/afile"
for c in "$T/afile" "$T/afile/sub"; do
    rc=0; SMSHIM_CACHE=$c "$B/smshim" run -- mkdir "$T/ran" 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "not a directory" "$T/err" ||
        { cat "$T/err"; fail "smshim run took the cache $c (exit $rc)"; }
    [ ! -e "$T/ran" ] || fail "smshim run ran the command with the cache $c"
    for log in "" error:stderr; do
        rm -f "$T/p/x"
        rc=0
        env SMSHIM_CACHE="$c" SMSHIM_LOG="$log" LD_PRELOAD="$PRELOAD" \
            sh -c 'echo hi >"$1/x"' sh "$T/p" 2>"$T/pre.err" || rc=$?
        [ "$rc" = 0 ] && [ "$(cat "$T/p/x")" = hi ] || { cat "$T/pre.err"; fail "the cache $c: the write was not passed through"; }
        [ "$(wc -l <"$T/pre.err")" = 1 ] && grep -q '^smshim: refused: .*not a directory' "$T/pre.err" ||
            { cat "$T/pre.err"; fail "the cache $c (SMSHIM_LOG=$log): not exactly one line"; }
    done
    [ "$(cat "$T/afile")" = data ] || fail "the file named as the cache was changed"
done
echo "ok - a cache that is a file is refused: $(cat "$T/pre.err")"

# SMSHIM_RUN_NOTES (where smshim run has static programs noted) naming a file outside this
# cache's tmp/: never written (once, every static program a shimmed process started was
# appended to whatever file the variable named)
if command -v gcc >/dev/null && printf 'int main(void){return 0;}\n' >"$T/st.c" &&
    gcc -static -O1 -o "$T/stprog" "$T/st.c" 2>/dev/null; then
    echo "keep" >"$T/victim"
    mkdir -p "$T/cache/tmp"
    : >"$T/cache/tmp/run-1.static"
    for notes in "$T/victim" "$T/cache/tmp/../../victim" "$T/cache/tmp/x/../../../victim"; do
        env SMSHIM_RUN_NOTES="$notes" SMSHIM_LOG=warn:stderr LD_PRELOAD="$PRELOAD" \
            sh -c '"$1"; echo hi >"$2/y"' sh "$T/stprog" "$T/p" 2>"$T/pre.err" ||
            { cat "$T/pre.err"; fail "a shimmed process failed with SMSHIM_RUN_NOTES=$notes"; }
        [ "$(cat "$T/victim")" = keep ] || fail "SMSHIM_RUN_NOTES=$notes: the file it names was written"
        grep -q "SMSHIM_RUN_NOTES=.* is not a notes file" "$T/pre.err" ||
            { cat "$T/pre.err"; fail "SMSHIM_RUN_NOTES=$notes: no warning"; }
    done
    env SMSHIM_RUN_NOTES="$T/cache/tmp/run-1.static" LD_PRELOAD="$PRELOAD" sh -c '"$1"' sh "$T/stprog"
    [ "$(cat "$T/cache/tmp/run-1.static")" = "$T/stprog" ] || fail "the cache's own notes file was not written"
    echo "ok - SMSHIM_RUN_NOTES outside the cache is never written: $(grep -m1 'not a notes file' "$T/pre.err")"
fi

# SMSHIM_LOG asking for a log that cannot be kept (a level that is none, a file that cannot be
# opened): one line says so, and the shim works (once, the log was off without a word)
for spec in verbose WARN "warn2:stderr" $'info\x1b[31m' "info:$T/nodir/x.log" "debug:$T"; do
    rm -f "$T/cache/tree/z"
    env SMSHIM_LOG="$spec" LD_PRELOAD="$PRELOAD" sh -c 'echo hi >"$1/z"' sh "$T/p" 2>"$T/pre.err" ||
        { cat "$T/pre.err"; fail "SMSHIM_LOG=$spec: the write failed"; }
    [ "$(wc -l <"$T/pre.err")" = 1 ] && grep -q '^smshim: SMSHIM_LOG=.*; the log is off$' "$T/pre.err" ||
        { cat "$T/pre.err"; fail "SMSHIM_LOG=$spec: not one line saying the log is off"; }
    ! grep -q $'\x1b' "$T/pre.err" || fail "SMSHIM_LOG=$spec was printed unescaped"
    [ "$(cat "$T/cache/tree/z")" = hi ] || fail "SMSHIM_LOG=$spec turned the shim off"
    said=$(cat "$T/pre.err")
done
for spec in off 0 ""; do
    env SMSHIM_LOG="$spec" LD_PRELOAD="$PRELOAD" sh -c 'echo hi >"$1/z"' sh "$T/p" 2>"$T/pre.err"
    [ ! -s "$T/pre.err" ] || { cat "$T/pre.err"; fail "SMSHIM_LOG=$spec said something"; }
done
echo "ok - an unusable SMSHIM_LOG says so: $said"
