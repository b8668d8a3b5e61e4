#!/bin/bash
# With HOME unset the cache falls back to $XDG_RUNTIME_DIR/smshim, else /tmp/smshim-<uid>, and is
# used only if it is this user's own directory: a directory there owned by someone else, writable
# by group or others, or a symbolic link is refused (the preload passes everything through with
# one line on stderr, the CLI exits non-zero with the reason), never written into.
#
# As root the victim is an unused uid and the attacker `nobody` (setpriv); as another user the
# victim is that user, and the cases that need a second user are left out.
. "$(dirname "$0")/../lib/common.sh"
unset SMSHIM_CACHE XDG_CACHE_HOME XDG_RUNTIME_DIR HOME
export SMSHIM_SYNC_TIMEOUT=2 SMSHIM_PULL_TIMEOUT=1 SMSHIM_EXIT_TIMEOUT=1 # bounded if it ever reaches the network
if [ "$(id -u)" = 0 ]; then
    as_uid() { # as_uid UID CMD...: setpriv, or the same in Python where util-linux lacks it
        local u=$1; shift
        if command -v setpriv >/dev/null; then setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
        else "$PY" -c 'import os, sys; u = int(sys.argv[1]); os.setgroups([]); os.setgid(u); os.setuid(u); os.execvp(sys.argv[2], sys.argv[2:])' "$u" "$@"; fi
    }
    V=$((40000 + $$ % 20000))
    while getent passwd "$V" >/dev/null || [ -e "/tmp/smshim-$V" ]; do V=$((V + 1)); done
    as_v() { (cd / && as_uid "$V" "$@"); }
    as_other() { (cd / && as_uid 65534 "$@"); }
    give() { chown "$V:$V" "$@"; }
else
    V=$(id -u)
    [ ! -e "/tmp/smshim-$V" ] || skip "/tmp/smshim-$V exists (this user's own fallback cache is left alone)"
    as_v() { (cd / && "$@"); }
    as_other() { return 1; }
    give() { :; }
fi
FB=/tmp/smshim-$V
EXTRA=/tmp/smshim-fbtest.$$
trap 'rm -rf "$FB" "$EXTRA"' EXIT
mkdir -p "$EXTRA" && give "$EXTRA"
echo "victim uid $V, fallback $FB"

victim() { as_v env -u HOME -u XDG_CACHE_HOME -u SMSHIM_CACHE LD_PRELOAD="$PRELOAD" "$@"; }
cli() { as_v env -u HOME -u XDG_CACHE_HOME -u SMSHIM_CACHE "$B/smshim" "$@"; }

# unsafe WHAT: the fallback as it stands now must be refused by the preload and the CLI
unsafe() {
    local what=$1 rc
    victim sh -c 'echo secret-bytes > /sm/s.txt; mkdir -p /sm/d' >/dev/null 2>&1 || true
    if grep -rqs secret-bytes "$FB/" "$EXTRA/" || [ -e "$FB/tree" ] || [ -e "$EXTRA/t/tree" ]; then
        fail "$what: the preload used the unsafe fallback cache"
    fi
    victim true 2>"$T/pre.err" || fail "$what: a preloaded true failed"
    [ "$(wc -l <"$T/pre.err")" = 1 ] && grep -q "^smshim: .*$FB" "$T/pre.err" ||
        { cat "$T/pre.err"; fail "$what: the preload did not say in one line that $FB is refused"; }
    for c in status "run -- true" "sync"; do
        rc=0
        # shellcheck disable=SC2086
        SUPERMEMORY_API_KEY=k SUPERMEMORY_BASE_URL=http://127.0.0.1:9 cli $c >"$T/cli.out" 2>"$T/cli.err" || rc=$?
        [ "$rc" != 0 ] || fail "$what: smshim $c accepted the unsafe fallback cache"
        grep -q "$FB" "$T/cli.err" || { cat "$T/cli.err"; fail "$what: smshim $c does not say why"; }
    done
    if grep -rqs secret-bytes "$FB/" "$EXTRA/" || [ -e "$FB/tree" ] || [ -e "$FB/meta" ]; then
        fail "$what: the CLI used the unsafe fallback cache"
    fi
    echo "ok - $what: $(cat "$T/pre.err")"
}

if as_other true 2>/dev/null; then
    as_other mkdir -m 0777 "$FB"
    unsafe "a 0777 directory made by another user"
    rm -rf "$FB"
    as_other mkdir -m 0700 "$FB"
    unsafe "a 0700 directory owned by another user"
    rm -rf "$FB"
else
    echo "# no second user: the cases of a directory made by another user are left out"
fi
mkdir -m 0777 "$FB" && give "$FB" && chmod 0777 "$FB"
unsafe "own directory writable by others"
chmod 0770 "$FB"
unsafe "own directory writable by the group"
rm -rf "$FB"
mkdir -m 0700 "$EXTRA/t" && give "$EXTRA/t"
ln -s "$EXTRA/t" "$FB"
unsafe "a symbolic link to an own 0700 directory"
rm -f "$FB"

# a fresh fallback: created 0700, owned by the user, and used
out=$(victim sh -c 'mkdir -p /sm/d && echo hi > /sm/d/f && cat /sm/d/f' 2>"$T/fresh.err")
[ "$out" = hi ] && [ ! -s "$T/fresh.err" ] || { cat "$T/fresh.err"; fail "a fresh fallback cache did not work"; }
[ "$(stat -c '%F %u %a' "$FB")" = "directory $V 700" ] || fail "the fallback was made as $(stat -c '%F %u %a' "$FB")"
[ "$(cat "$FB/tree/d/f")" = hi ] || fail "the file is not in $FB"
cli status >"$T/st.out" 2>&1 || { cat "$T/st.out"; fail "smshim status refused the user's own fallback"; }
grep -q "^cache: *$FB\$" "$T/st.out" || { cat "$T/st.out"; fail "status does not show $FB"; }
echo "ok - a fresh fallback: $(stat -c '%F %u %a' "$FB")"

# $XDG_RUNTIME_DIR is preferred when set (and /tmp is not used at all)
rm -rf "$FB"
mkdir -m 0700 "$EXTRA/run" && give "$EXTRA/run"
out=$(XDG_RUNTIME_DIR=$EXTRA/run victim sh -c 'echo rt > /sm/r && cat /sm/r' 2>"$T/rt.err")
[ "$out" = rt ] && [ ! -s "$T/rt.err" ] || { cat "$T/rt.err"; fail "the runtime-dir fallback did not work"; }
[ "$(cat "$EXTRA/run/smshim/tree/r" 2>/dev/null)" = rt ] || fail "the cache is not \$XDG_RUNTIME_DIR/smshim"
[ ! -e "$FB" ] || fail "$FB was made although XDG_RUNTIME_DIR is set"
XDG_RUNTIME_DIR=$EXTRA/run cli status >"$T/st2.out" 2>&1 || { cat "$T/st2.out"; fail "status with XDG_RUNTIME_DIR"; }
grep -q "^cache: *$EXTRA/run/smshim\$" "$T/st2.out" || { cat "$T/st2.out"; fail "status does not show the runtime dir"; }
echo "ok - XDG_RUNTIME_DIR: $EXTRA/run/smshim"
