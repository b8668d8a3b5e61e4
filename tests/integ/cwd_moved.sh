#!/bin/bash
# The cwd can change what it is without a chdir of the thread that next uses it: a thread that
# unshared its fs (unshare CLONE_FS) or a child sharing the memory but not the fs (clone with
# CLONE_VM, without CLONE_FS) has a cwd of its own while the shim's memory is shared; chroot
# makes the cwd the root, setns into a mount namespace moves it to that namespace's root, and a
# rename moves it into the prefix or out of it. After each, relative paths follow where the cwd
# now is: from / "sm/cw/f" is the virtual file, a file made in a cwd moved into the prefix is
# recorded, and one made in a cwd moved out of it is a plain file. Each call is made through libc,
# through syscall() and, where syscall user dispatch works, as a raw instruction
# (tests/prog/cwdmove.c).
. "$(dirname "$0")/../lib/common.sh"

want() {
    case $1 in
    unshare) cat <<'EOF' ;;
plain plain
thread unshare ok
thread chdir / ok
main plain plain
thread from / virtual
thread chdir /sm/cw ok
thread in the prefix virtual
main makes ok
main sees it made
thread makes ok
made-out outside made
made-in-tree in the prefix made
EOF
    clone) cat <<'EOF' ;;
plain plain
child chdir / ok
parent plain plain
child from / virtual
EOF
    chroot) cat <<'EOF' ;;
plain plain
through the prefix virtual
chroot . ok
from the new root virtual
EOF
    setns) cat <<'EOF' ;;
plain plain
setns ok
cwd /
from the namespace root virtual
EOF
    renamein) cat <<'EOF' ;;
plain plain
rename into the prefix ok
cwd /sm/x/y
make ok
read back made
EOF
    renameout) cat <<'EOF' ;;
inside made
rename out of the prefix ok
cwd outside yes
make ok
read back made
EOF
    esac
}
# the files each case leaves recorded in the cache (beyond /cw/f)
want_list() {
    case $1 in
    unshare) echo /cw/made-in-tree ;;
    renamein) printf '/x/y/f\n/x/y/new\n' ;;
    esac
}

doors="libc sys"
if [ "$(uname -m)" = x86_64 ] && [ "${SMSHIM_SAN:-}" != thread ] &&
    "$B/tests/rawsys" probe >/dev/null 2>&1; then
    doors="$doors raw"
else
    echo "# syscall user dispatch unavailable here (or TSan): raw instructions are not tried"
fi
cases="unshare renamein renameout"
[ "${SMSHIM_SAN:-}" = thread ] || cases="$cases clone" # TSan knows nothing of a clone child
if [ "$(id -u)" = 0 ]; then
    cases="$cases chroot setns"
else
    echo "# not root: chroot and setns are not tried"
fi
n=0
for c in $cases; do
    for d in $doors; do
        [ "$c" = clone ] && [ "$d" != libc ] && continue # a clone child needs a stack of its own
        D="$T/$c-$d"
        export SMSHIM_CACHE="$T/cache-$c-$d"
        mkdir -p "$D/out" "$D/r" "$D/x/y"
        for f in out/f r/f x/y/f; do echo plain >"$D/$f"; done
        shim mkdir -p /sm/cw
        shim sh -c 'echo virtual >/sm/cw/f'
        env=()
        [ "$d" = raw ] && env=(SMSHIM_SUD=1)
        env "${env[@]}" LD_PRELOAD="$PRELOAD" "$B/tests/cwdmove" "$c" "$d" "$D" >"$T/got" 2>&1 ||
            { cat "$T/got"; fail "$c ($d): the program failed"; }
        want "$c" >"$T/want"
        diff "$T/want" "$T/got" || fail "$c ($d): relative paths did not follow the cwd (< wanted, > under the shim)"
        { echo /cw/f; want_list "$c"; } | sort >"$T/want.list"
        "$B/smshim" status --cache "$SMSHIM_CACHE" --list | awk '{print $2}' | sort >"$T/got.list"
        diff "$T/want.list" "$T/got.list" ||
            fail "$c ($d): the files recorded differ (< wanted, > recorded)"
        n=$((n + 1))
    done
done
echo "ok - $n cases: relative paths follow a cwd changed by unshare, clone, chroot, setns and rename"
