#!/bin/bash
# Programs no preload reaches, on the prefix through `smshim run --ns` (a private user + mount
# namespace where the tree is bound at the prefix): a static Go program (CGO_ENABLED=0) doing
# MkdirAll, WriteFile, ReadFile, Stat, ReadDir, Rename, Chdir + relative read, filepath.Walk,
# exec'd cat/sh, links, times, temporary files, WalkDir, LookPath, RemoveAll, and a 200-goroutine
# stress; a `gcc -static` C program that lists, reads, writes, chdirs into the prefix and execs a
# script there: the same output and tree as a real directory.
# A static command is moved into the namespace automatically, with one line saying so; a setuid
# one never is; a user's files stay that user's; where the kernel refuses namespaces, one line
# says so and the preload runs it.
# Skipped (with the kernel's reason) where user namespaces are refused.
. "$(dirname "$0")/../lib/common.sh"
need go gcc unshare
# before anything runs: without its namespace smshim run falls back to the preload, which no static
# program sees, and the parity runs would write at the prefix's real path
[ "${SMSHIM_SAN:-}" != thread ] || skip "not under TSan: its runtime starts a thread of its own in every fork child, and the kernel refuses a new user namespace to a process of more than one thread (smshim run's unshare: EINVAL)"
unshare -Urm true 2>"$T/userns.err" || skip "the kernel refuses user namespaces: $(cat "$T/userns.err")"
SMSHIM="$B/smshim"
mkdir -p "$B/go"
export GOCACHE="$B/go/cache" GOPATH="$B/go/path" GO111MODULE=off GOFLAGS= GOPROXY=off
(cd "$SRC/tests/prog" && CGO_ENABLED=0 go build -o "$B/go/gofs-static" gofs.go) ||
    fail "go build (CGO_ENABLED=0) failed"
gcc -static -O1 -o "$B/go/staticfs" "$SRC/tests/prog/staticfs.c" || fail "gcc -static failed"
for p in gofs-static staticfs; do
    file -L "$B/go/$p" | grep -q 'statically linked' || fail "$p is not statically linked"
done
GOFS="$B/go/gofs-static"
STATICFS="$B/go/staticfs"

# without a namespace the static program misses the prefix
mkdir -p "$T/none"
(cd "$T/none" && shim "$STATICFS" /sm/none-static) >"$T/none.out" 2>&1 || true
grep -q '^mkdir -1' "$T/none.out" || { cat "$T/none.out"; fail "a static program reached the prefix through the preload?"; }
echo "ok - a static program misses the prefix with the preload alone"

# parity's commands run through `smshim run --ns`
shim() { "$SMSHIM" run --ns -- "$@"; }
parity go_static_ops "'$GOFS' ops \"\$W\""
parity go_static_more "'$GOFS' more \"\$W\""
parity go_static_stress "'$GOFS' stress \"\$W\" 200 200"
grep -q '^stress 200 x 200: 0 failures$' "$T/go_static_stress.virt.out" || fail "stress: $(cat "$T/go_static_stress.virt.out")"
echo "ok - 200 goroutines x 200 file operations under the prefix in the namespace: 0 failures"
parity c_static "'$STATICFS' \"\$W\""
grep -q '^script in .*/s args x y$' "$T/c_static.virt.out" || fail "the script did not run in the prefix"
unset -f shim
shim() { LD_PRELOAD="$PRELOAD" "$@"; }

# chosen automatically for a static command, with one line saying so
"$SMSHIM" run -- "$STATICFS" /sm >"$T/auto.out" 2>"$T/auto.err" || fail "auto: exit $?"
grep -q 'is statically linked: running it in a private mount namespace' "$T/auto.err" || { cat "$T/auto.err"; fail "no line about the namespace"; }
[ "$(grep -c . "$T/auto.err")" = 1 ] || { cat "$T/auto.err"; fail "more than one line on stderr"; }
grep -q '^read b.txt: renamed$' "$T/auto.out" || { cat "$T/auto.out"; fail "auto: the static program did not see the prefix"; }
[ -f "$SMSHIM_CACHE/tree/s/c.txt" ] || fail "auto: the script's file is not in the tree"
echo "ok - a static command goes into the namespace automatically (one line says so)"

# a setuid static program is never moved there
cp "$STATICFS" "$T/suid" && chmod u+s "$T/suid"
"$SMSHIM" run -- "$T/suid" "$T/suid-dir" >/dev/null 2>"$T/suid.err" || true
grep -q 'setuid/setgid: not moved into a namespace' "$T/suid.err" || { cat "$T/suid.err"; fail "setuid: no line"; }
echo "ok - a setuid program is not moved into a namespace, and that is said"
[ ! -e /sm ] || [ -z "$(ls -A /sm 2>/dev/null)" ] || fail "a real /sm was written on the disk"

# a user other than root: inside the namespace only that user's ids are mapped, and what the
# static program makes in the tree is that user's (root only: it drops to uid 65534 for this)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ "${SMSHIM_SAN:-}" != address ]; then
    d=$T
    while [ "$d" != / ]; do
        [ -n "$(find "$d" -maxdepth 0 -perm -o+x)" ] || chmod o+x "$d"
        d=$(dirname "$d")
    done
    mkdir -p "$T/nobody" && chown 65534:65534 "$T/nobody"
    (cd "$T/nobody" && SMSHIM_CACHE="$T/nobody/cache" HOME="$T/nobody" \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$SMSHIM" run --ns -- "$STATICFS" /sm) \
        >"$T/nobody.out" 2>&1 || { cat "$T/nobody.out"; fail "--ns as uid 65534: exit $?"; }
    grep -q '^read b.txt: renamed$' "$T/nobody.out" || { cat "$T/nobody.out"; fail "--ns as uid 65534: the prefix was not seen"; }
    own=$(stat -c '%u:%g' "$T/nobody/cache/tree/s/a.txt" "$T/nobody/cache/tree/s/run.sh" | sort -u)
    [ "$own" = 65534:65534 ] || fail "--ns as uid 65534: the files are owned by $own"
    echo "ok - under --ns a user's files in the tree stay that user's (uid 65534)"
else
    echo "# not root (or setpriv missing, or ASan): --ns as another user is not tried"
fi

# where the kernel refuses namespaces (here: inside a user namespace that may make no more,
# user.max_user_namespaces = 0) that is said once and the command runs with the preload alone,
# with the warning for a static command; nothing is written at the prefix's real path
if unshare -Urm sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && ! unshare -Ur true' 2>/dev/null; then
    for how in auto forced; do
        flag=; [ $how = forced ] && flag=--ns
        unshare -Urm sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"' sh \
            "$SMSHIM" run $flag -- "$STATICFS" /sm/refused >"$T/refused.out" 2>"$T/refused.err" ||
            fail "refused ($how): exit $?: $(cat "$T/refused.err")"
        [ "$(grep -c 'refuses user namespaces' "$T/refused.err")" = 1 ] || { cat "$T/refused.err"; fail "refused ($how): not said once"; }
        grep -q 'is statically linked: no preload can reach it' "$T/refused.err" || { cat "$T/refused.err"; fail "refused ($how): no warning"; }
        [ "$(grep -c "^smshim:" "$T/refused.err")" = 2 ] || { cat "$T/refused.err"; fail "refused ($how): more than two lines from smshim"; }
        grep -q '^mkdir -1' "$T/refused.out" || { cat "$T/refused.out"; fail "refused ($how): the static program reached the prefix?"; }
    done
    echo "ok - where the kernel refuses namespaces, that is said once and the command runs with the preload"
else
    echo "# a user namespace cannot be limited here: the refusal is not tried"
fi

# what the static program wrote (no preload recorded it) is found when the command ends and pushed
start_server
"$SMSHIM" run -- mkdir -p /sm/synced || fail "mkdir /sm/synced"
"$SMSHIM" run -- "$STATICFS" /sm/synced >"$T/sync.out" 2>"$T/sync.err" || { cat "$T/sync.err"; fail "sync run: exit $?"; }
"$PY" - "$SUPERMEMORY_BASE_URL" <<'PY' || { cat "$T/sync.err"; fail "the static program's files were not pushed when the command ended"; }
import json, sys, urllib.request
docs = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
have = {d["filepath"] for d in docs}
want = {"/synced/s/a.txt", "/synced/s/b.txt", "/synced/s/c.txt", "/synced/s/run.sh"}
sys.exit(0 if want <= have else 1)
PY
echo "ok - the static program's changes are found and pushed when the command ends"
