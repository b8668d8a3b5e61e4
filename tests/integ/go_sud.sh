#!/bin/bash
# A Go program built with cgo (dynamically linked: the preload loads, but Go makes its own system
# calls) on the prefix through Syscall User Dispatch, armed because it is a Go executable
# (.note.go.buildid; SMSHIM_SUD is not set): MkdirAll, WriteFile, ReadFile, Stat, ReadDir, Rename,
# Chdir + relative read, filepath.Walk, exec'd cat/sh and the program itself exec'd with an
# environment of one variable (os/exec children keep the view, armed again), and Symlink,
# Readlink, EvalSymlinks, Link, Chmod, Truncate, Chtimes, CreateTemp, WalkDir, DirFS, LookPath
# and a run through a PATH there, Chdir through a link, Remove and RemoveAll give the
# same output and tree as a real directory; 200 goroutines x 200 file operations under the prefix
# end with 0 failures and the same tree as in a real directory (the SIGSYS frame on a goroutine's
# stack, threads Go starts with every signal blocked left unarmed, were the failures). Programs are
# built at test time into build/go (golang-go from `make deps`, standard library only, offline).
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "not under TSan: it defers signals to its own interceptors, a SIGSYS dispatch cannot run there"
"$B/tests/rawsys" probe >"$T/probe.out" 2>&1 || skip "Syscall User Dispatch unavailable here: $(cat "$T/probe.out")"
need go gcc
mkdir -p "$B/go"
export GOCACHE="$B/go/cache" GOPATH="$B/go/path" GO111MODULE=off GOFLAGS= GOPROXY=off
(cd "$SRC/tests/prog" && CGO_ENABLED=1 go build -o "$B/go/gofs-cgo" gofs.go gofs_cgo.go) ||
    fail "go build (cgo) failed"
file -L "$B/go/gofs-cgo" | grep -q 'dynamically linked' || fail "the cgo build is not dynamically linked"
GOFS="$B/go/gofs-cgo"

parity go_cgo_ops "'$GOFS' ops \"\$W\""
parity go_cgo_more "'$GOFS' more \"\$W\""
parity go_cgo_stress "'$GOFS' stress \"\$W\" 200 200"
grep -q '^stress 200 x 200: 0 failures$' "$T/go_cgo_stress.virt.out" || fail "stress under the prefix: $(cat "$T/go_cgo_stress.virt.out")"
echo "ok - 200 goroutines x 200 file operations under the prefix: 0 failures"

# arming is automatic, and says so in the log
SMSHIM_LOG=info:"$T/arm.log" shim "$GOFS" stress /sm/w-go_cgo_stress 1 1 >/dev/null
grep -q 'sud: armed (Go executable)' "$T/arm.log" || { cat "$T/arm.log"; fail "the Go executable was not armed"; }
echo "ok - a Go executable is armed without SMSHIM_SUD"
[ ! -e /sm ] || [ -z "$(ls -A /sm 2>/dev/null)" ] || fail "a real /sm was written on the disk"
