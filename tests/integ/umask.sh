#!/usr/bin/env bash
# The process's umask shapes the program's own files as on a real directory, and never the
# cache's: under `umask 777` the cache directory was made mode 000, and from then on every call
# under the prefix of every process on that cache failed with EACCES. The cache's directories
# and files have their own modes whatever the umask of the process that makes them; a file the
# sync engine pulls is 0644 for every process alike (the service's, as on a mounted filesystem).
. "$(dirname "$0")/../lib/common.sh"
CLI="$B/smshim"
start_server
mode() { stat -c %a "$1"; }
mkdir -p "$T/real"

# a new cache made under umask 777: the program's file as on a real directory, the cache usable
want=$( (umask 777 && bash -c "echo a >$T/real/a.txt; echo \$?") 2>&1)
got=$( (umask 777 && shim bash -c 'echo a >/sm/a.txt; echo $?') 2>&1)
[ "$got" = "$want" ] || fail "a write under umask 777: '$got' under the prefix, '$want' on a real directory"
[ "$(shim stat -c %a /sm/a.txt)" = "$(mode "$T/real/a.txt")" ] ||
    fail "a.txt has mode $(shim stat -c %a /sm/a.txt) under the prefix, $(mode "$T/real/a.txt") on a real directory"
C=$SMSHIM_CACHE
for d in ".:700" "meta:700" "tmp:700" "tree:755" "meta/journal:600" "meta/links:600"; do
    [ "$(mode "$C/${d%%:*}")" = "${d##*:}" ] || fail "the cache's ${d%%:*} has mode $(mode "$C/${d%%:*}"), not ${d##*:}"
done
echo "ok - a cache made under umask 777: its own modes, the program's file as on a real directory"

# the environment opened under umask 777 (LMDB makes its files with 0600 less the umask)
(umask 777 && "$CLI" sync >"$T/sync.out" 2>&1) || fail "smshim sync under umask 777: $(cat "$T/sync.out")"
for f in data.mdb lock.mdb; do
    [ "$(mode "$C/meta/$f")" = 600 ] || fail "meta/$f has mode $(mode "$C/meta/$f") after a sync under umask 777"
done
[ "$(srv docs /a.txt | cut -d' ' -f1)" = 1 ] || fail "/a.txt was not pushed"
# a later process with the usual umask keeps working on it
shim bash -c 'echo b >/sm/b.txt && cat /sm/b.txt' >"$T/b.out" 2>&1 || fail "a write after: $(cat "$T/b.out")"
echo "ok - LMDB's files 0600 under umask 777; later processes use the cache"

# a pulled file and its new directory: the same modes whatever the pulling process's umask
srv seed /pulled/dir/p.md "pulled text" >/dev/null
(umask 077 && "$CLI" sync >"$T/sync2.out" 2>&1) || fail "smshim sync under umask 077: $(cat "$T/sync2.out")"
[ "$(mode "$C/tree/pulled/dir/p.md")" = 644 ] || fail "a pulled file has mode $(mode "$C/tree/pulled/dir/p.md") under umask 077"
for d in pulled pulled/dir; do
    [ "$(mode "$C/tree/$d")" = 755 ] || fail "a pulled directory ($d) has mode $(mode "$C/tree/$d") under umask 077"
done
echo "ok - pulled files 0644 and their directories 0755 under umask 077"
