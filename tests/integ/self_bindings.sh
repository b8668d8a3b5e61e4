#!/usr/bin/env bash
# The library never calls its own interposers: over a shell pipeline that creates, renames, lists
# and removes files under the prefix (with a key, so the sync thread and libcurl run too), the
# dynamic loader binds no symbol of libsmshim.so to libsmshim.so itself.
. "$(dirname "$0")/../lib/common.sh"
[ -z "${SMSHIM_SAN:-}" ] || skip "the sanitizer runtimes interpose the same names first"
start_server
dbg="$T/ld"
LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dbg" SMSHIM_EXIT_TIMEOUT=5 shim bash -c '
    mkdir -p /sm/b/sub && echo one > /sm/b/one.txt && echo two > /sm/b/sub/two.txt &&
    mv /sm/b/one.txt /sm/b/uno.txt && ls -R /sm/b > /dev/null && cat /sm/b/sub/two.txt &&
    find /sm/b -type f | sort && rm -r /sm/b/sub && ls /sm/b' >"$T/out" 2>&1 ||
    fail "the pipeline failed: $(cat "$T/out")"
[ "$(tail -1 "$T/out")" = uno.txt ] || fail "unexpected output: $(cat "$T/out")"
ls "$dbg".* >/dev/null 2>&1 || fail "LD_DEBUG wrote nothing"
lib=$(readlink -f "$LIB")
n=$(cat "$dbg".* | grep -c "binding file [^ ]*libsmshim.so \[0\] to [^ ]*libsmshim.so \[0\]" || true)
if [ "$n" != 0 ]; then
    cat "$dbg".* | grep "binding file [^ ]*libsmshim.so \[0\] to [^ ]*libsmshim.so \[0\]" | head -20
    fail "$n bindings of $lib to itself"
fi
# and the check is live: the library did bind its own libc calls
m=$(cat "$dbg".* | grep -c "binding file [^ ]*libsmshim.so \[0\] to [^ ]*libc.so" || true)
[ "$m" -gt 0 ] || fail "no binding of the library to libc seen: LD_DEBUG output not as expected"
echo "ok - no self-binding ($m bindings of the library to libc)"
