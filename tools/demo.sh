#!/bin/bash
# demo.sh: a crawl-shaped run through the shim, side by side with a real directory.
# 16 workers each `mkdir -p` a directory and write one file, 177 files in about 92 directories,
# into /sm/demo (through `smshim run`) and into a real temporary directory; then both trees are
# listed with find and sha256sum and compared.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
B=${SMSHIM_BUILD:-$here/build}
work=$(mktemp -d /tmp/smshim-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SMSHIM_CACHE=${SMSHIM_CACHE:-$work/cache}
export SMSHIM_PREFIX=${SMSHIM_PREFIX:-/sm}
unset SUPERMEMORY_API_KEY

crawl() { # crawl DEST: replay the crawl with 16 concurrent workers
    python3 "$here/tests/lib/crawl.py" --dest "$1" --workers 16 --files 177 --dirs 92
}

echo "== crawl into a real directory"
crawl "$work/real"
echo "== crawl into $SMSHIM_PREFIX/demo through the shim (cache: $SMSHIM_CACHE)"
"$B/smshim" run -- bash -c "rm -rf $SMSHIM_PREFIX/demo"
"$B/smshim" run -- python3 "$here/tests/lib/crawl.py" --dest "$SMSHIM_PREFIX/demo" \
    --workers 16 --files 177 --dirs 92

echo "== the virtual tree, listed back through the shim"
"$B/smshim" run -- bash -c "cd $SMSHIM_PREFIX/demo && find . -type f | sort | head -5 && echo ... && find . -type f | wc -l"
(cd "$work/real" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$work/real.sums"
"$B/smshim" run -- bash -c "cd $SMSHIM_PREFIX/demo && find . -type f -print0 | sort -z | xargs -0 sha256sum" > "$work/virt.sums"
if cmp -s "$work/real.sums" "$work/virt.sums"; then
    echo "== same tree and sha256 as the real directory ($(wc -l < "$work/virt.sums") files)"
else
    echo "== MISMATCH between the real directory and the shim"; diff "$work/real.sums" "$work/virt.sums" | head; exit 1
fi
"$B/smshim" status

echo
echo "== the same crawl synced to the bundled test server (tests/server/smserver.py, loopback, 200 ms latency)"
export SMSHIM_CACHE="$work/cache-sync"
python3 "$here/tests/server/smserver.py" --port-file "$work/port" --key demo-key --latency-ms 200 >/dev/null 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
export SUPERMEMORY_API_KEY=demo-key SUPERMEMORY_BASE_URL="http://127.0.0.1:$(cat "$work/port")"
"$B/smshim" run -- python3 "$here/tests/lib/crawl.py" --dest "$SMSHIM_PREFIX/demo" --workers 16 --files 177 --dirs 92
"$B/smshim" status
python3 - "$SUPERMEMORY_BASE_URL" <<'PY'
import json, sys, urllib.request
docs = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
print("== the server holds %d documents, %d distinct filepaths" % (len(docs), len({d["filepath"] for d in docs})))
PY
