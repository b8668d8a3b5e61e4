#!/bin/bash
# 16 processes x 8 threads doing mkdir -p of overlapping directories and writing different files
# through one cache: 0 errors, the same tree as on a real directory, every file recorded once.
. "$(dirname "$0")/../lib/common.sh"
mkdir -p "$T/real"
"$B/tests/burst" "$T/real" 16 8 6
shim "$B/tests/burst" /sm/burst 16 8 6
manifest "$T/real" >"$T/real.man"
shim "$PY" "$SRC/tests/lib/manifest.py" /sm/burst >"$T/virt.man"
diff "$T/real.man" "$T/virt.man" >/dev/null || { diff "$T/real.man" "$T/virt.man" | head; fail "trees differ"; }
files=$(grep -c '^f ' "$T/real.man")
[ "$files" -eq $((16 * 8 * 6)) ] || fail "expected $((16 * 8 * 6)) files, found $files"
"$B/smshim" status --json >"$T/status.json"
"$PY" - "$T/status.json" "$files" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2])
assert s["files"] == n, s
assert s["tracked"] == n and s["dirty"] == n, s    # one entry per file, all pending
assert s["queued"] == n, s                         # one write record per file, no duplicates
print("ok - status", s["files"], "files,", s["queued"], "queued")
PY
