#!/bin/bash
# Bun (which makes its file opens and stats as raw `syscall` instructions) on the prefix, through
# Syscall User Dispatch armed automatically for Bun (SMSHIM_SUD is not set): the fs sync and
# promise APIs (readFileSync, statSync, readdirSync, existsSync, rmSync recursive, renameSync, ...),
# Bun.write and Bun.file give the same output and the same tree as on a real directory. Without
# SUD (SMSHIM_SUD=0) the same script fails under the prefix. Bun comes from `make deps` (npm
# @oven/bun-linux-x64, pinned) in build/bun.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "not under TSan: it defers signals to its own interceptors, a SIGSYS dispatch cannot run there"
"$B/tests/rawsys" probe >"$T/probe.out" 2>&1 || skip "Syscall User Dispatch unavailable here: $(cat "$T/probe.out")"
BUN="$SRC/build/bun/bin/bun"
[ -x "$BUN" ] || skip "Bun is not installed (make deps fetches it with npm)"
"$BUN" --version >/dev/null 2>&1 || skip "build/bun/bin/bun does not run on this machine"
export BUN
JS="$SRC/tests/lib/sud_fs.js"

parity bun_fs '"$BUN" "'"$JS"'"'

# the same script without SUD: Bun's raw opens miss the prefix
shim mkdir -p /sm/nosud
(cd / && SMSHIM_SUD=0 shim env W=/sm/nosud bash -c "cd /sm/nosud && '$BUN' '$JS'") >"$T/nosud.out" 2>&1 || true
grep -q '^writeFileSync !! ENOENT open' "$T/nosud.out" || { head -20 "$T/nosud.out"; fail "without SUD Bun's raw open reached the prefix?"; }
echo "ok - without SUD Bun's writeFileSync fails under the prefix (ENOENT), as the issue describes"

# a `bun build --compile` program (a copy of Bun's executable under another name) is recognised
# by its BUN_* symbol versions
cp "$BUN" "$T/webpull-like"
mkdir -p "$T/cwd" && printf 'console.log(require("fs").readFileSync("/sm/nosud/a/f1.txt", "utf8").length)\n' >"$T/cwd/p.js"
shim "$BUN" -e 'require("fs").mkdirSync("/sm/nosud/a",{recursive:true}); require("fs").writeFileSync("/sm/nosud/a/f1.txt","12345")'
got=$(cd "$T/cwd" && BUN_BE_BUN=1 shim "$T/webpull-like" p.js 2>&1) || true
[ "$got" = 5 ] || fail "a renamed Bun executable was not armed: $got"
echo "ok - a renamed Bun executable is detected (BUN_* symbol versions)"
