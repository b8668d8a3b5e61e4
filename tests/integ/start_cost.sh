#!/bin/bash
# A process that never touches the prefix pays (almost) nothing for the shim: the constructor
# decides nothing that needs the file system, opens nothing, allocates nothing. strace of a
# preloaded /bin/true next to a plain one: the only extra system calls are the loader's own
# (mapping the library) and the two sigactions of the EFAULT guard; no readlink, getcwd, stat,
# open, brk or getrandom (malloc starting). The settings are then decided at the first call that
# needs them: from several threads at once, from a signal handler, in a process whose cwd lies
# in the tree, and the environment the program sees is its own (plus UV_USE_IO_URING=0).
. "$(dirname "$0")/../lib/common.sh"
need strace
[ -z "${SMSHIM_SAN:-}" ] || skip "a sanitizer runtime makes system calls of its own at start"

calls() { # calls FILE: the names of the system calls strace saw, sorted, one per line
    sed -nE 's/^([a-z_0-9]+)\(.*/\1/p' "$1" | sort
}
strace -qq -o "$T/plain.st" /bin/true
strace -qq -o "$T/shim.st" -E LD_PRELOAD="$PRELOAD" /bin/true
# the loader's mapping of one library: openat, read, newfstatat, mmap, close, mprotect
extra=$(comm -13 <(calls "$T/plain.st") <(calls "$T/shim.st") | grep -vxE 'openat|read|newfstatat|fstat|mmap|close|mprotect' || true)
sigs=$(grep -c '^rt_sigaction(SIG\(SEGV\|BUS\),' "$T/shim.st" || true)
unexpected=$(printf '%s\n' "$extra" | grep -vx rt_sigaction | grep -v '^$' || true)
[ -z "$unexpected" ] || { cat "$T/shim.st"; fail "a preloaded /bin/true made system calls of the shim's: $(echo $unexpected)"; }
[ "$sigs" = 2 ] || { cat "$T/shim.st"; fail "expected the EFAULT guard's two sigactions, saw $sigs"; }
opened=$(grep -E '^(openat|open)\(' "$T/shim.st" | grep -v -e "$(basename "$LIB")" -e ld.so.cache -e 'libc\.so' || true)
[ -z "$opened" ] || fail "a preloaded /bin/true opened: $opened"
echo "ok - a preloaded /bin/true: the loader's calls and the guard's two sigactions, nothing else"

# the environment: the program's own, plus UV_USE_IO_URING=0; setenv and unsetenv work on it
env -u UV_USE_IO_URING A_VAR=1 env | grep -v '^_=' | sort >"$T/env.plain"
echo UV_USE_IO_URING=0 >>"$T/env.plain"
env -u UV_USE_IO_URING A_VAR=1 LD_PRELOAD="$PRELOAD" env | grep -v -e '^_=' -e '^LD_PRELOAD=' | sort >"$T/env.shim"
diff <(sort "$T/env.plain") "$T/env.shim" || fail "the preloaded program's environment differs (< expected, > seen)"
out=$(env -u UV_USE_IO_URING A_VAR=1 LD_PRELOAD="$PRELOAD" "$PY" -c '
import os
os.environ["B_VAR"] = "2"; os.unsetenv("A_VAR"); del os.environ["A_VAR"]
print(os.environ.get("UV_USE_IO_URING"), os.environ.get("B_VAR"), "A_VAR" in os.environ, flush=True)
os.execvp("sh", ["sh", "-c", "echo $UV_USE_IO_URING $B_VAR ${A_VAR-unset}"])')
[ "$out" = "0 2 False
0 2 unset" ] || fail "setenv/unsetenv after start: $out"
echo "ok - the environment is the program's own, UV_USE_IO_URING=0 added, setenv and unsetenv work"

# the first calls under the prefix, from 16 threads at once and from a signal handler
shim mkdir -p /sm/first
shim sh -c 'echo x > /sm/first/f'
for i in 1 2 3 4 5; do
    out=$(shim "$B/tests/firstuse" /sm/first 16) || fail "concurrent first use: $out"
done
echo "ok - first use from 16 threads at once and from a signal handler: $out"

# a process that starts in the tree (its parent was there) shows the virtual cwd at its first
# getcwd, and relative paths are the tree's
out=$(cd "$SMSHIM_CACHE/tree/first" && shim /bin/pwd)
[ "$out" = /sm/first ] || fail "getcwd of a process started in the tree: $out"
out=$(cd "$SMSHIM_CACHE/tree/first" && shim "$PY" -c 'import os; print(os.path.realpath("f"))')
[ "$out" = /sm/first/f ] || fail "realpath of a relative path from the tree: $out"
echo "ok - a process started in the tree sees /sm/first at its first getcwd"

# a process's first change costs the journal only: a shell that writes a file (no key) records it
# (status lists it dirty) without loading liblmdb or mapping the environment
out=$(shim sh -c 'echo x >/sm/first/g; grep -c -e liblmdb -e data.mdb /proc/$$/maps || true')
[ "$out" = 0 ] || fail "a first change loaded LMDB: $out mappings of liblmdb or data.mdb"
"$B/smshim" status --list >"$T/list" || fail "smshim status failed"
grep -qx "dirty */first/g" "$T/list" || fail "the change was not recorded: $(cat "$T/list")"
echo "ok - a first change writes the journal; LMDB waits for the first transaction"
