#!/bin/bash
# A user who is not root runs fakeroot beside the shim (the fakeroot command puts its library
# first; the shim first too): the prefix works, and the same commands (create, chown, a device
# node, chmod u+s, tar of the tree) print what they print on a real directory under fakeroot.
# fakeroot answers geteuid with 0 and stat with the owners it fakes, and the shim compared those
# with the cache's real owner: it refused the user's own cache as another user's, and the
# process ran without the shim ("can't cd to /sm/...").
. "$(dirname "$0")/../lib/common.sh"
need fakeroot
# the user's own directory (the test's may lie in a directory only root may enter)
U=$(mktemp -d /tmp/smshim-user.XXXXXX)
trap 'rm -rf "$U"' EXIT
AS=()
if [ "$(id -u)" = 0 ]; then
    need setpriv
    AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    chown 65534:65534 "$U"
fi
export SMSHIM_CACHE="$U/cache"
cmds='cd "$D" && echo hi > x && chown 0:0 x && ls -ln x | cut -d" " -f1-5 &&
chown 12:34 x && stat -c "%u %g %s %F" x && mknod n c 1 3 && stat -c "%u %g %F %t %T" n &&
chmod 4755 x && stat -c %A x && mkdir -p s/t && touch s/t/f && chown -R 7:8 s &&
ls -lnR s | grep -v "^total" | cut -d" " -f1-4 && id -u && tar cf "$TAR" . &&
tar tvf "$TAR" | cut -c1-30 | sort'
"${AS[@]}" mkdir -p "$U/real"
run() { env D="$1" TAR="$U/$2.tar" "${AS[@]}" "${@:3}"; }
want=$(run "$U/real" real fakeroot sh -c "$cmds" 2>&1) || fail "real directory: $want"
"${AS[@]}" env LD_PRELOAD="$PRELOAD" mkdir -p /sm/a /sm/b || fail "mkdir under the prefix"

got=$(run /sm/a a env LD_PRELOAD="$PRELOAD" fakeroot sh -c "$cmds" 2>&1) ||
    fail "fakeroot's library, then the shim: $got"
[ "$got" = "$want" ] || fail "fakeroot's library then the shim printed
$got
on a real directory
$want"
echo "ok - fakeroot's library then the shim, as a user: as on a real directory"

got=$(run /sm/b b env PRE="$PRELOAD" fakeroot sh -c \
    'LD_PRELOAD="$PRE:$LD_PRELOAD" exec sh -c "$0"' "$cmds" 2>&1) ||
    fail "the shim, then fakeroot's library: $got"
[ "$got" = "$want" ] || fail "the shim then fakeroot's library printed
$got
on a real directory
$want"
echo "ok - the shim then fakeroot's library, as a user: as on a real directory"

"${AS[@]}" "$B/smshim" status --list >"$T/list" 2>&1 || fail "status: $(cat "$T/list")"
for f in /a/x /b/x /a/s/t/f /b/s/t/f; do
    grep -q " $f\$" "$T/list" || fail "$f is not recorded: $(cat "$T/list")"
done
echo "ok - the files are recorded in the user's cache"
