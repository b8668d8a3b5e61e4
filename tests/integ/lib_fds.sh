#!/bin/bash
# The files the library's threads open inside other libraries (the resolver's, in libc past every
# wrapper; OpenSSL's configuration, read with fopen; the lease's /proc reads) are never at a
# number of the host's table the host could close or reuse meanwhile: the resolver runs with a
# table of descriptors of its own, every other open is one of the library's (above the range).
. "$(dirname "$0")/../lib/common.sh"
need strace
start_server
# a host name the resolver must look up (libcurl answers "localhost" itself)
host=$(hostname)
getent hosts "$host" | grep -q '^127\.' || skip "$host does not resolve to a loopback address"
export SUPERMEMORY_BASE_URL="${SRV/127.0.0.1/$host}" SMSHIM_ALLOW_INSECURE=1
# the program (bash, one thread) waits for the push with its own requests to the test server
# (bash's /dev/tcp: no other program, so every other thread in the trace is the library's)
port=${SRV##*:}
strace -f -qq -y -e trace=read,unshare,close_range -o "$T/st" env LD_PRELOAD="$PRELOAD" \
    bash -c "$(one_pushed "$port")" || fail "the shimmed process failed"
main=$(head -1 "$T/st" | awk '{print $1}')
# the threads that gave themselves a table of their own
own_tables "$T/st" >"$T/own"
# reads of those files below the reserved range (< 64 numbers under the limit)...
top=$(ulimit -n); [ "$top" -gt 4096 ] && top=4096
grep -E 'read\([0-9]+<(/etc/(hosts|resolv\.conf|nsswitch\.conf|gai\.conf|host\.conf)|/usr/lib/ssl/openssl\.cnf|/proc/[0-9]+/stat)>' "$T/st" |
    awk -v base=$((top - 64)) '{ n = $2; sub(/^read\(/, "", n); sub(/<.*/, "", n); if (n + 0 < base) print }' >"$T/low"
grep -q '/etc/hosts' "$T/st" || fail "the resolver read no /etc/hosts: $(head -c 800 "$T/st")"
# ...are the resolver's, in a thread with a table of its own
bad=$(awk -v main="$main" -v own=" $(tr '\n' ' ' <"$T/own")" '$1 != main && index(own, " " $1 " ") == 0' "$T/low")
[ -z "$bad" ] || fail "files of the library's threads read through the host's low numbers: $bad"
echo "ok - the resolver, OpenSSL's fopen and the lease's reads keep out of the host's numbers"
