#!/bin/bash
# A symbolic link under the prefix resolves as on a real directory mounted at the prefix: a
# relative target that climbs above the prefix reaches the prefix's real parent, and no path under
# the prefix, however spelled, names the cache's own meta/ or tmp/.
. "$(dirname "$0")/../lib/common.sh"
shim mkdir -p /sm/e2/a /sm/a/b
shim ln -s .. /sm/up
shim ln -s ../../../etc /sm/e2/a/etc
want=$(ls /)
[ "$(shim ls /sm/up/)" = "$want" ] || fail "ls /sm/up/ does not list /"
[ "$(shim ls /sm/up)" = "$want" ] || fail "ls /sm/up does not list /"
[ "$(cd / && shim bash -c 'cd /sm && ls up/')" = "$want" ] || fail "ls up/ from /sm does not list /"
[ "$(shim ls /sm/up/../..)" = "$want" ] || fail "/sm/up/../.. is not /"
if shim bash -c 'echo x > /sm/up/meta/evil' 2>/dev/null; then :; fi
[ ! -e "$SMSHIM_CACHE/meta/evil" ] || fail "a write through /sm/up reached the cache's meta/"
shim /usr/bin/test -d /sm/e2/a/etc || fail "../../../etc from /sm/e2/a is not a directory"
[ "$(shim readlink -f /sm/e2/a/etc)" = /etc ] || fail "readlink -f /sm/e2/a/etc"
[ "$(shim cat /sm/e2/a/etc/hostname)" = "$(cat /etc/hostname)" ] || fail "/sm/e2/a/etc/hostname"
[ "$(shim readlink /sm/e2/a/etc)" = ../../../etc ] || fail "readlink shows the target as written"
# through a directory descriptor, and with the final link followed by open
shim "$PY" - "$SMSHIM_CACHE" <<'PY' || fail "descriptor-relative paths reached the cache"
import os, sys
d = os.open("/sm/e2", os.O_RDONLY | os.O_DIRECTORY)
assert open("/etc/hostname").read() == os.read(os.open("a/etc/hostname", os.O_RDONLY, dir_fd=d), 999).decode()
for p in ("/sm/up/meta", "/sm/e2/../up/meta", "/sm/up/tree"):
    try:
        os.listdir(p); print("listed", p); sys.exit(1)
    except OSError:
        pass
PY
# a link that was safe becomes a climb when its directory moves up: still never the cache
shim ln -s ../../meta /sm/a/b/l
[ "$(shim readlink -f /sm/a/b/l)" = /sm/meta ] || fail "../../meta from /sm/a/b"
shim mv /sm/a/b /sm/b
if shim ls /sm/b/l/ >/dev/null 2>&1; then fail "/sm/b/l -> ../../meta listed the cache's meta/"; fi
# a link naming the cache itself by its real path
shim ln -s "$SMSHIM_CACHE/meta" /sm/m
if shim ls /sm/m/ >/dev/null 2>&1; then fail "/sm/m names the cache's meta/"; fi
# relative paths as long as the kernel takes them still work while links are checked
shim "$PY" - <<'PY' || fail "a long relative path failed while links are checked"
import os
os.chdir("/sm/e2")
rel = "/".join([c * 203 for c in "abcdefghijklmnopqrst"])  # 4079 bytes
os.makedirs(rel)
with open(rel + "/f", "w") as f:
    f.write("x")
assert os.stat(rel + "/f").st_size == 1
PY
# the link itself is still a link: lstat, readlink and unlink act on it
[ "$(shim stat -c %F /sm/up)" = "symbolic link" ] || fail "lstat /sm/up"
shim rm /sm/up
[ -d "$SMSHIM_CACHE/meta" ] || fail "rm /sm/up removed something else"
echo "ok - links climb to the prefix's parent, never into the cache"
