# common.sh: helpers for the integration tests (sourced by tests/integ/*.sh).
#
#   shim CMD...          run CMD with the preload (this test's cache, prefix /sm)
#   parity NAME SCRIPT   run SCRIPT (bash) once in a real directory and once under the shim in
#                        /sm/w, with $W naming the work directory; fail unless the output, the exit
#                        status and the resulting trees (type, path, size, mode, sha256) are equal
#   skip REASON          end the test as skipped
#   fail MSG             end the test as failed
#
# A test script exits 0 on success, 77 when skipped, anything else on failure.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${SMSHIM_BUILD:-build}
case "$B" in /*) ;; *) B="$SRC/$B" ;; esac
LIB="$B/libsmshim.so"
T=${SMSHIM_TEST_TMP:-$(mktemp -d /tmp/smshim-t.XXXXXX)}
mkdir -p "$T"
export SMSHIM_CACHE="$T/cache"
export SMSHIM_PREFIX=/sm
unset SUPERMEMORY_API_KEY SMSHIM_LOG
PRELOAD="$LIB"
case "${SMSHIM_SAN:-}" in
    address) PRELOAD="$(gcc -print-file-name=libasan.so):$LIB"
             export ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 ;;
    undefined) PRELOAD="$(gcc -print-file-name=libubsan.so):$LIB" ;;
    thread) PRELOAD="$(gcc -print-file-name=libtsan.so):$LIB"
            export TSAN_OPTIONS="report_signal_unsafe=0 die_after_fork=0 suppressions=$SRC/tests/tsan.supp"
            # libtsan's 768 KB of initial-exec TLS does not fit beside the loader's audit
            # module (the children's LD_AUDIT) in glibc's default static TLS surplus
            export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=1048576 ;;
esac
PY=/usr/bin/python3

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
shim() { LD_PRELOAD="$PRELOAD" "$@"; }
need() { for c in "$@"; do command -v "$c" >/dev/null || skip "$c is not installed"; done; }

# pin_fd_limit: the hard descriptor limit becomes the soft one, so that the shim's descriptors
# lie below the limit, at numbers the program can name (close, dup2 onto them); with room above
# the soft limit they lie there, out of its reach (tests/integ/fd_limit.sh)
pin_fd_limit() { ulimit -n "$(ulimit -Sn)" || fail "cannot set the descriptor limit"; }

# manifest DIR: one line per entry below DIR: type, path, size, mode, sha256 or link target
manifest() { "$PY" "$SRC/tests/lib/manifest.py" "$1"; }

# Run a scenario in a real directory and under the shim, compare everything.
parity() {
    local name=$1 script=$2
    local real="$T/real-$name" virt="/sm/w-$name"
    mkdir -p "$real"
    local rout="$T/$name.real.out" vout="$T/$name.virt.out" rc_r=0 rc_v=0
    (cd "$real" && W="$real" bash -c "$script") >"$rout" 2>&1 || rc_r=$?
    shim bash -c "mkdir -p '$virt'" || fail "$name: mkdir $virt"
    (cd / && shim env W="$virt" bash -c "cd '$virt' && $script") >"$vout" 2>&1 || rc_v=$?
    sed -i "s#$real#\$W#g" "$rout"
    sed -i "s#$virt#\$W#g" "$vout"
    if [ "$rc_r" != "$rc_v" ] || ! cmp -s "$rout" "$vout"; then
        echo "--- $name: real (exit $rc_r) vs shim (exit $rc_v)"
        diff "$rout" "$vout" | head -40 || true
        fail "$name: output differs"
    fi
    manifest "$real" >"$T/$name.real.man"
    shim "$PY" "$SRC/tests/lib/manifest.py" "$virt" >"$T/$name.virt.man"
    manifest "$SMSHIM_CACHE/tree/w-$name" >"$T/$name.tree.man"
    if ! cmp -s "$T/$name.real.man" "$T/$name.virt.man"; then
        diff "$T/$name.real.man" "$T/$name.virt.man" | head -40 || true
        fail "$name: tree seen through the shim differs from the real directory"
    fi
    if ! cmp -s "$T/$name.real.man" "$T/$name.tree.man"; then
        diff "$T/$name.real.man" "$T/$name.tree.man" | head -40 || true
        fail "$name: tree stored in the cache differs from the real directory"
    fi
    echo "ok - parity $name ($(wc -l <"$T/$name.real.man") entries)"
}

# raw_parity CASE [TAG]: tests/prog/rawedge's CASE (xattr, mknod, sock) in a real directory, then
# under the shim through syscall() and, where syscall user dispatch works, as raw instructions:
# the outputs must be the same. TAG tells apart the directories of a second run.
raw_parity() {
    local c=$1 tag=${2:-}
    mkdir -p "$T/raw-real$tag"
    "$B/tests/rawedge" "$c" "$T/raw-real$tag" >"$T/raw$tag.real"
    shim mkdir -p "/sm/raw-libc$tag" "/sm/raw-sud$tag"
    shim "$B/tests/rawedge" libc "$c" "/sm/raw-libc$tag" >"$T/raw$tag.libc"
    diff "$T/raw$tag.real" "$T/raw$tag.libc" || fail "$c calls through syscall() differ$tag (< real, > shim)"
    echo "ok - $(wc -l <"$T/raw$tag.real") $c calls through syscall() as on a real directory$tag"
    if [ "$(uname -m)" = x86_64 ] && [ "${SMSHIM_SAN:-}" != thread ] &&
        "$B/tests/rawsys" probe >/dev/null 2>&1; then
        SMSHIM_SUD=1 shim "$B/tests/rawedge" "$c" "/sm/raw-sud$tag" >"$T/raw$tag.sud"
        diff "$T/raw$tag.real" "$T/raw$tag.sud" || fail "raw $c calls under SUD differ$tag (< real, > shim)"
        echo "ok - raw $c instructions under syscall user dispatch as on a real directory$tag"
    else
        echo "# syscall user dispatch unavailable here (or TSan): the raw-instruction part is not run"
    fi
}

# ---- the test server ------------------------------------------------------------------------
# start_server [smserver.py flags...]: start it on a free loopback port; sets SRV (its URL) and
# exports SUPERMEMORY_BASE_URL / SUPERMEMORY_API_KEY for the shim. Stopped when the test ends.
start_server() {
    local pf="$T/srv.port.$RANDOM"
    SRV_KEY="fake-test-key-$$-$RANDOM" # a made-up key: the test server accepts only this one
    "$PY" "$SRC/tests/server/smserver.py" --port-file "$pf" --key "$SRV_KEY" "$@" \
        >"$T/srv.log" 2>&1 &
    SRV_PID=$!
    trap 'kill $SRV_PID 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.05; done
    [ -s "$pf" ] || fail "the test server did not start: $(cat "$T/srv.log")"
    SRV="http://127.0.0.1:$(cat "$pf")"
    export SUPERMEMORY_BASE_URL="$SRV" SUPERMEMORY_API_KEY="$SRV_KEY"
}
srv() { "$PY" "$SRC/tests/lib/srv.py" "$SRV" "$@"; }
# one_pushed PORT: a bash script that writes /sm/one.txt and waits until the test server at
# PORT holds it, asking with its own requests (bash's /dev/tcp: no other program, so every other
# thread of an strace of it is the library's)
one_pushed() {
    echo 'echo one > /sm/one.txt
    until exec 9<>/dev/tcp/127.0.0.1/'"$1"' && printf "GET /_admin/documents HTTP/1.0\r\n\r\n" >&9 &&
        { IFS= read -r -d "" body <&9 || true; } && exec 9<&- && [[ $body == *\"/one.txt\"* ]]; do
        sleep 0.05
    done
    true'
}
# own_tables TRACE: the threads of an `strace -f` TRACE that gave themselves a table of
# descriptors of their own (close_range(0, ~0U, CLOSE_RANGE_UNSHARE), or unshare(CLONE_FILES);
# strace splits a call that another thread's line interrupts: "<... unshare resumed>) = 0")
own_tables() {
    { grep -E 'unshare\(CLONE_FILES\) *= 0|<\.\.\. unshare resumed>\) *= 0|close_range\(0, 4294967295, CLOSE_RANGE_UNSHARE\) *= 0|<\.\.\. close_range resumed>\) *= 0' "$1" || true; } |
        awk '{print $1}' | sort -u
}
# on CACHE CMD...: CMD with SMSHIM_CACHE=CACHE
on() { local c=$1; shift; SMSHIM_CACHE="$c" "$@"; }
# png FILE SIZE: a PNG signature then SIZE random bytes (a binary file the service takes as an image)
png() { { printf '\x89PNG\r\n\x1a\n'; head -c "$2" /dev/urandom; } >"$1"; }

# The cache's entries (smshim status --list) are exactly the regular files of its tree; $1 names
# the moment checked.
same_as_tree() {
    "$B/smshim" status --list | awk '{print $NF}' | sort >"$T/entries"
    (cd "$SMSHIM_CACHE/tree" && find . -type f | sed 's#^\.##' | sort) >"$T/files"
    if ! cmp -s "$T/entries" "$T/files"; then
        diff "$T/files" "$T/entries" || true
        fail "$1: the entries are not the tree's files (< tree, > entries)"
    fi
    echo "ok - $1: $(wc -l <"$T/files") entries, the tree's files"
}
