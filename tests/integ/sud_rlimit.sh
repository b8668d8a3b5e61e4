#!/usr/bin/env bash
# Under syscall user dispatch a program that sets a resource limit (libc's setrlimit, or a raw
# call) gets the kernel's answer: the shim's own prlimit, made
# inside its answer to the trapped call, trapped again, for ever (a segfault). Go raises its
# descriptor limit at start whenever the soft one is below the hard one (the usual setting), so
# every Go program built with cgo (armed without SMSHIM_SUD) ended there.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "not under TSan: it defers signals to its own interceptors"
"$B/tests/rawsys" probe >"$T/probe.out" 2>&1 || skip "Syscall User Dispatch unavailable here: $(cat "$T/probe.out")"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 200 ] || skip "the hard descriptor limit is $hard"

# libc's setrlimit (the shim's wrapper) and the calls after it, armed by SMSHIM_SUD=1
mkdir -p "$T/real"
want=$("$B/tests/fdlimit" "$T/real" 100 files 2>&1) || fail "on a real directory: $want"
rc=0
got=$(SMSHIM_SUD=1 shim bash -c 'mkdir -p /sm/d && exec "$0" /sm/d 100 files' "$B/tests/fdlimit" 2>&1) || rc=$?
[ $rc -eq 0 ] && [ "$got" = "$want" ] || fail "setrlimit under syscall user dispatch: exit $rc
$got
on a real directory
$want"
echo "ok - setrlimit under syscall user dispatch: as on a real directory"

# a Go program (cgo: armed because it is Go) started with a soft descriptor limit below the hard one
need go
mkdir -p "$B/go"
export GOCACHE="$B/go/cache" GOPATH="$B/go/path" GO111MODULE=off GOFLAGS= GOPROXY=off
(cd "$SRC/tests/prog" && CGO_ENABLED=1 go build -o "$B/go/gofs-cgo" gofs.go gofs_cgo.go) ||
    fail "go build (cgo) failed"
if [ "$hard" = unlimited ]; then soft=1024; else soft=$((hard / 2)); fi
ulimit -Sn $soft || skip "cannot lower the soft descriptor limit to $soft"
parity go_soft_limit "'$B/go/gofs-cgo' ops \"\$W\""
