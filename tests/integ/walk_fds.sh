#!/bin/bash
# The library's walks of the tree (the files of a directory moved in from outside the prefix, the
# scan for changes nobody recorded) read directories only through descriptors of its own, above
# the range the host uses, as every descriptor of the library is: never through a low number
# that a host thread could close or reuse while the walk goes on.
. "$(dirname "$0")/../lib/common.sh"
need strace
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
mkdir -p "$T/outside/a/b/c" "$T/outside/d"
for d in a a/b a/b/c d; do echo "in $d" >"$T/outside/$d/f.md"; done
# tree_reads FILE: the getdents64 calls of FILE (strace -y) on directories of the tree, and of
# them those through descriptors below 64
tree_reads() { grep -c "getdents64([0-9]*<$SMSHIM_CACHE/tree" "$1" || true; }
low_reads() { grep -E "getdents64\(([0-9]|[1-5][0-9]|6[0-3])<$SMSHIM_CACHE/tree" "$1" || true; }

# moved in (no key: only the recorder walks)
env -u SUPERMEMORY_API_KEY strace -f -qq -y -e trace=getdents64 -o "$T/mv.st" \
    env LD_PRELOAD="$PRELOAD" mv "$T/outside" /sm/in || fail "mv"
[ "$("$B/smshim" status --list | grep -c '^dirty ')" -eq 4 ] || { "$B/smshim" status --list; fail "the 4 files moved in are not recorded"; }
[ "$(tree_reads "$T/mv.st")" -ge 5 ] || { cat "$T/mv.st"; fail "the recorder did not read the directories moved in"; }
[ -z "$(low_reads "$T/mv.st")" ] || { low_reads "$T/mv.st"; fail "the recorder read the tree through low descriptors"; }
echo "ok - the files of a directory moved in are found through the library's own descriptors"

# the scan (smshim sync), after a file was written behind the shim's back
"$B/smshim" sync >/dev/null 2>&1 || fail "the first sync"
echo "behind" >"$SMSHIM_CACHE/tree/in/a/b/g.md"
strace -f -qq -y -e trace=getdents64 -o "$T/sync.st" "$B/smshim" sync >/dev/null 2>"$T/sync.err" || { cat "$T/sync.err"; fail "sync"; }
grep -q "1 unrecorded" "$T/sync.err" || { cat "$T/sync.err"; fail "the scan did not find the file"; }
[ "$(srv content /in/a/b/g.md)" = behind ] || fail "the file found did not reach the server"
[ "$(tree_reads "$T/sync.st")" -ge 6 ] || { cat "$T/sync.st"; fail "the scan did not read the tree"; }
[ -z "$(low_reads "$T/sync.st")" ] || { low_reads "$T/sync.st"; fail "the scan read the tree through low descriptors"; }
echo "ok - the scan reads the tree through the library's own descriptors"
