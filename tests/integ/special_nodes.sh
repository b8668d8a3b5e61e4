#!/bin/bash
# Device nodes, FIFOs and sockets under the prefix are made by the kernel in the cache's tree,
# which decides as on a real directory: root may make character and block devices, a process
# without CAP_MKNOD gets the kernel's EPERM. The nodes work (writing to a 1,3 node is writing to
# /dev/null), tar and cp -a copy them, and none of them is ever recorded or synced.
# Needs root (CAP_MKNOD), as mknod(1) of a device does on a real directory.
. "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "device nodes need root (CAP_MKNOD); run the tests as root"
need mknod setpriv

# Is CAP_MKNOD really ours (a container may withhold it)? Then the real directory says EPERM
# too, and the parity below still holds, but the test would not show what it is for.
mknod "$T/probe-null" c 1 3 2>/dev/null || skip "this root has no CAP_MKNOD here (container?)"

FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }

# mknod(1) and mkfifo(1) by relative and absolute paths, a device used, listed and copied.
check devices '
mknod null c 1 3 && mknod "$W/zero" c 1 5 && mknod loop b 7 0; echo "mknod rc=$?"
mkfifo -m 600 fifo && mknod "$W/fifo2" p; echo "fifo rc=$?"
mknod null c 1 3 2>&1 | sed "s/^mknod: //"
echo discard > null; echo "write rc=$?"
head -c 4 "$W/zero" | od -An -tx1
stat -c "%n %F %a %t,%T" null zero loop fifo fifo2 | sed "s#$W#\$W#"
ls -l | awk "NR>1 {print \$1, \$5, \$6, \$NF}"
mkdir copy && cp -a null loop fifo copy/; echo "cp rc=$?"
stat -c "%n %F %a %t,%T" copy/*
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf d.tar null loop fifo; echo "tar c rc=$?"
mkdir x && tar -xf d.tar -C "$W/x"; echo "tar x rc=$?"
stat -c "%n %F %t,%T" x/*
mv zero zero2 && stat -c "%F" zero2 && rm zero2 loop && ls
rm d.tar
'

# Without CAP_MKNOD the kernel refuses devices (EPERM) and still allows FIFOs, as anywhere.
# Not under ASan: setpriv needs libcap-ng, whose constructor opens /proc/sys/kernel/cap_last_cap
# before a preloaded ASan runtime has started (a program's libraries are initialised before the
# preloaded ones), so the instrumented open faults on shadow memory that does not exist yet.
# That is ASan's limit with a preloaded runtime; the same program under the normal build passes.
if [ "${SMSHIM_SAN:-}" = address ]; then
    echo "# ASan build: the setpriv case is not run (libcap-ng's constructor calls open() before a preloaded ASan runtime starts)"
else
check no_cap_mknod '
setpriv --bounding-set -mknod --inh-caps -mknod bash -c "
mknod dev c 1 3 2>&1 | sed \"s/^mknod: //\"; echo rc=\${PIPESTATUS[0]}
mknod \"\$0/dev2\" b 7 0 2>&1 | sed \"s/^mknod: //; s#\$0#\\\$W#\"
mkfifo f && echo fifo-ok
python3 -c \"import os; os.mknod(\\\"sock\\\", 0o140600); print(\\\"socket-ok\\\")\"
" "$W"
ls
'
fi

[ ${#FAILED[@]} = 0 ] || fail "parity failed: ${FAILED[*]}"

# The raw calls, through syscall() and as raw instructions under syscall user dispatch.
raw_parity mknod

# Never synced: with the test server, a tree of one text file beside devices, a FIFO and a
# socket node syncs exactly one document, and none of the nodes is tracked.
export SMSHIM_CACHE="$T/cache-sync"
start_server
shim bash -c 'mkdir -p /sm/n && echo text > /sm/n/text.md && mknod /sm/n/null c 1 3 &&
    mknod /sm/n/blk b 7 0 && mkfifo /sm/n/fifo && mknod /sm/n/reg2 p && mv /sm/n/reg2 /sm/n/fifo2' ||
    fail "sync: setup"
"$B/smshim" sync --cache "$SMSHIM_CACHE" >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "smshim sync"; }
got=$("$PY" -c '
import json, sys, urllib.request
docs = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
print(" ".join(sorted(d["filepath"] for d in docs)))' "$SRV")
[ "$got" = "/n/text.md" ] || fail "documents on the server: '$got' (want only /n/text.md)"
list=$("$B/smshim" status --cache "$SMSHIM_CACHE" --list)
if echo "$list" | grep -Eq '/n/(null|blk|fifo)'; then
    echo "$list"
    fail "a special file is tracked"
fi
echo "ok - device nodes and FIFOs are never synced nor tracked (one document: /n/text.md)"
