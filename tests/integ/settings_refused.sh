#!/bin/bash
# Settings that would make the shim unsafe are refused loudly: the prefix `/`, a prefix that
# contains the cache or lies inside it, and the system trees. `smshim run` exits 2 with a one-line
# reason and runs nothing; a preloaded process passes every call through untouched and prints one
# line on stderr (even with SMSHIM_LOG=error:stderr, which once printed nothing at all). A prefix
# naming a non-empty real directory is a warning. The CLI shows and passes on the prefix in its
# normal form.
. "$(dirname "$0")/../lib/common.sh"
unset XDG_CACHE_HOME
made=()
trap 'for d in "${made[@]}"; do rmdir "$d" 2>/dev/null || true; done' EXIT

# refused WHAT PREFIX CACHE PROBE: PROBE is a real path under PREFIX, which must stay visible
refused() {
    local what=$1 p=$2 c=$3 probe=$4 target rc
    target="$p/zz-smshim-$$"
    [ "$p" = / ] && target="/zz-smshim-$$"
    made+=("$target")
    rc=0
    "$B/smshim" run --prefix "$p" --cache "$c" -- mkdir -p "$target" >"$T/run.out" 2>"$T/run.err" || rc=$?
    [ "$rc" = 2 ] || { cat "$T/run.err"; fail "$what: smshim run exited $rc, not 2"; }
    [ "$(wc -l <"$T/run.err")" = 1 ] && grep -q '^smshim: ' "$T/run.err" ||
        { cat "$T/run.err"; fail "$what: smshim run did not give a one-line reason"; }
    [ ! -e "$target" ] || fail "$what: smshim run ran the command anyway"
    echo "ok - $what: smshim run: $(cat "$T/run.err")"

    for log in "" error:stderr debug:stderr; do
        rc=0
        env SMSHIM_PREFIX="$p" SMSHIM_CACHE="$c" SMSHIM_LOG="$log" LD_PRELOAD="$PRELOAD" \
            stat -c '%d:%i' -- "$probe" >"$T/pre.out" 2>"$T/pre.err" || rc=$?
        [ "$rc" = 0 ] || { cat "$T/pre.err"; fail "$what: stat $probe failed under the preload"; }
        [ "$(cat "$T/pre.out")" = "$(stat -c '%d:%i' -- "$probe")" ] ||
            fail "$what (SMSHIM_LOG=$log): the preload did not pass $probe through"
        [ "$(wc -l <"$T/pre.err")" = 1 ] && grep -q '^smshim: ' "$T/pre.err" ||
            { cat "$T/pre.err"; fail "$what (SMSHIM_LOG=$log): the preload did not print exactly one line"; }
    done
    [ ! -e "$c/tree" ] || fail "$what: the refused cache $c was set up"
    echo "ok - $what: preloaded: $(cat "$T/pre.err")"
}

mkdir -p "$T/p" "$T/realc"
echo real >"$T/p/marker"
refused "prefix /" / "$T/c1" "$T"
refused "prefix /proc" /proc "$T/c2" /proc/version
refused "prefix //proc/" //proc/ "$T/c2" /proc/version
refused "prefix /usr/local" /usr/local "$T/c2" /usr/local
refused "prefix /tmp/../etc" /tmp/../etc "$T/c2" /etc/passwd
for sys in /sys /dev /bin /sbin /lib /boot; do
    [ -e "$sys" ] && refused "prefix $sys" "$sys" "$T/c2" "$sys"
done
refused "cache inside the prefix" "$T/p" "$T/p/c" "$T/p/marker"
refused "prefix containing the cache" "$T" "$T/c3" "$T/p/marker"
refused "prefix equal to the cache" "$T/p" "$T/p" "$T/p/marker"
refused "prefix inside the cache" "$T/realc/tree/v" "$T/realc" "$T/realc"
ln -s "$T/p" "$T/plink"
refused "cache inside the prefix through a symlink" "$T/p" "$T/plink/c" "$T/p/marker"
rc=0; "$B/smshim" run --prefix relative/sm -- true 2>"$T/rel.err" || rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <"$T/rel.err")" = 1 ] || fail "a relative prefix was not refused"

# allowed: names that only look like the refused ones; silence unless asked
for p in /procx /sm "$T/new/sm"; do
    rc=0; "$B/smshim" run --prefix "$p" -- true 2>"$T/ok.err" || rc=$?
    [ "$rc" = 0 ] && [ ! -s "$T/ok.err" ] || { cat "$T/ok.err"; fail "prefix $p was refused or warned about"; }
    env SMSHIM_PREFIX="$p" LD_PRELOAD="$PRELOAD" true 2>"$T/ok.err"
    [ ! -s "$T/ok.err" ] || { cat "$T/ok.err"; fail "the preload spoke unasked for prefix $p"; }
done
shim bash -c 'mkdir -p /sm/d && echo x > /sm/d/f && [ "$(cat /sm/d/f)" = x ]' ||
    fail "the default settings do not work"

# a prefix that hides a non-empty real directory: a warning, and the shim works
rc=0; "$B/smshim" run --prefix "$T/p" --cache "$T/cw" -- sh -c 'echo v > "$SMSHIM_PREFIX/v.txt"' 2>"$T/w.err" || rc=$?
[ "$rc" = 0 ] || { cat "$T/w.err"; fail "a prefix hiding a directory was refused"; }
[ "$(wc -l <"$T/w.err")" = 1 ] && grep -q "^smshim: warning: .*$T/p" "$T/w.err" ||
    { cat "$T/w.err"; fail "no warning that the prefix hides $T/p"; }
[ -f "$T/cw/tree/v.txt" ] && [ ! -e "$T/p/v.txt" ] || fail "the shim did not serve the hiding prefix"
echo "ok - $(cat "$T/w.err")"
env SMSHIM_PREFIX="$T/p" SMSHIM_CACHE="$T/cw" SMSHIM_LOG=warn:stderr LD_PRELOAD="$PRELOAD" true 2>"$T/w2.err"
grep -q "hides" "$T/w2.err" || { cat "$T/w2.err"; fail "SMSHIM_LOG=warn does not warn about the hidden directory"; }
mkdir -p "$T/empty"
rc=0; "$B/smshim" run --prefix "$T/empty" --cache "$T/ce" -- true 2>"$T/e.err" || rc=$?
[ "$rc" = 0 ] && [ ! -s "$T/e.err" ] || { cat "$T/e.err"; fail "an empty directory as the prefix was warned about"; }

# the normal form, shown by status and passed on by run
out=$("$B/smshim" run --prefix "//sm2/./a/b/../" -- sh -c 'printf %s "$SMSHIM_PREFIX"')
[ "$out" = /sm2/a ] || fail "smshim run passed the prefix on as '$out', not /sm2/a"
SMSHIM_PREFIX=/sm2//a/ "$B/smshim" status >"$T/st.out"
grep -q '^prefix: *\/sm2\/a (' "$T/st.out" || { cat "$T/st.out"; fail "status does not show the normal form"; }
SMSHIM_PREFIX=/sm2//a/ "$B/smshim" status --json | grep -q '"prefix":"/sm2/a"' ||
    fail "status --json does not show the normal form"
echo "ok - the prefix in its normal form: $out"
