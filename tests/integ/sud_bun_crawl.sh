#!/bin/bash
# A Bun crawl replay on the prefix (the command this project is named for: webpull on Bun writing
# into /sm/docs): 16 async workers, each fs.promises.mkdir recursive then Bun.write of one page,
# 177 pages in 92 directories (tests/lib/crawl.js, the shape of crawl.py). Under the shim (SUD
# armed automatically for Bun): 0 errors, the tree and every sha256 identical to the same crawl
# into a real directory, and every file recorded in the cache for sync. Prints both wall times.
. "$(dirname "$0")/../lib/common.sh"
[ "$(uname -m)" = x86_64 ] || skip "SUD is implemented for x86_64 only"
[ "${SMSHIM_SAN:-}" != thread ] || skip "not under TSan: it defers signals to its own interceptors, a SIGSYS dispatch cannot run there"
"$B/tests/rawsys" probe >"$T/probe.out" 2>&1 || skip "Syscall User Dispatch unavailable here: $(cat "$T/probe.out")"
BUN="$SRC/build/bun/bin/bun"
[ -x "$BUN" ] || skip "Bun is not installed (make deps fetches it with npm)"
"$BUN" --version >/dev/null 2>&1 || skip "build/bun/bin/bun does not run on this machine"
CRAWL="$SRC/tests/lib/crawl.js"

"$BUN" "$CRAWL" --dest "$T/real/docs" >"$T/real.out" 2>&1 || { cat "$T/real.out"; fail "crawl into a real directory failed"; }
shim "$BUN" "$CRAWL" --dest /sm/docs >"$T/sud.out" 2>&1 || { cat "$T/sud.out"; fail "crawl into /sm/docs failed"; }
grep -q "177 files in 92 directories, 0 errors" "$T/sud.out" || { cat "$T/sud.out"; fail "crawl under the shim: errors"; }
echo "# real directory: $(cat "$T/real.out")"
echo "# /sm under SUD:  $(cat "$T/sud.out")"

manifest "$T/real/docs" >"$T/real.man"
manifest "$SMSHIM_CACHE/tree/docs" >"$T/tree.man"
shim "$PY" "$SRC/tests/lib/manifest.py" /sm/docs >"$T/virt.man"
cmp -s "$T/real.man" "$T/tree.man" || { diff "$T/real.man" "$T/tree.man" | head; fail "tree in the cache differs from the real crawl"; }
cmp -s "$T/real.man" "$T/virt.man" || { diff "$T/real.man" "$T/virt.man" | head; fail "tree seen through the shim differs"; }
# sha256 of every page, against what the generator says it wrote
"$BUN" "$CRAWL" --manifest >"$T/want.sha"
(cd "$SMSHIM_CACHE/tree/docs" && sha256sum -c --quiet "$T/want.sha") || fail "a page's sha256 differs"
files=$(grep -c '^f ' "$T/real.man" || true)
dirs=$(grep -c '^d ' "$T/real.man" || true)
echo "ok - tree and sha256 identical to the real crawl ($files files, $dirs directories)"

recorded=$("$B/smshim" status --cache "$SMSHIM_CACHE" --list | grep -c ' /docs/' || true)
[ "$recorded" = 177 ] || fail "$recorded of 177 pages recorded in the cache for sync"
echo "ok - all 177 pages recorded in the cache for sync"

# a second crawl over the same tree (every page rewritten in place)
shim "$BUN" "$CRAWL" --dest /sm/docs >"$T/sud2.out" 2>&1 || { cat "$T/sud2.out"; fail "second crawl failed"; }
manifest "$SMSHIM_CACHE/tree/docs" >"$T/tree2.man"
cmp -s "$T/real.man" "$T/tree2.man" || fail "tree differs after a second crawl"
echo "ok - a second crawl over the same tree: identical ($(cat "$T/sud2.out"))"

# with a key: the sync thread (started when SUD is armed, not inside the SIGSYS handler) pushes
# every page; the server then holds exactly one document per file
export SMSHIM_CACHE="$T/cache-key" SMSHIM_TAG=sudcrawl
start_server
shim "$BUN" "$CRAWL" --dest /sm/docs >"$T/key.out" 2>&1 || { cat "$T/key.out"; fail "crawl with a key failed"; }
grep -q ", 0 errors," "$T/key.out" || { cat "$T/key.out"; fail "crawl with a key: errors"; }
"$B/smshim" sync >/dev/null 2>"$T/sync.err" || { cat "$T/sync.err"; fail "smshim sync failed"; }
srv check "$SMSHIM_CACHE/tree" sudcrawl >"$T/check.out" || { cat "$T/check.out"; fail "the server does not hold exactly one document per file"; }
echo "ok - with a key: $(tail -1 "$T/check.out") ($(cat "$T/key.out"))"
