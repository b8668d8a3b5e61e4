#!/bin/bash
# The key is kept out of core dumps where that is cheap: the copy the HTTP client keeps for its
# Authorization header lives in a page marked MADV_DONTDUMP ("dd" in /proc/PID/smaps). Checked on
# `smshim sync` while its request is held by a server that never answers.
. "$(dirname "$0")/../lib/common.sh"
start_server --hang
export SMSHIM_CACHE="$T/cache" SMSHIM_SYNC_TIMEOUT=60
"$B/smshim" sync >"$T/out" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; kill $SRV_PID 2>/dev/null || true' EXIT
until [ "$(srv stats faults.hang)" -ge 1 ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$T/out"; fail "smshim sync ended before its request reached the server"; }
    sleep 0.05
done
rc=0
"$PY" - "$pid" "$SUPERMEMORY_API_KEY" <<'PY' || rc=$?
import re, sys
pid, key = sys.argv[1], sys.argv[2].encode()
maps, cur = [], None
for line in open(f"/proc/{pid}/smaps"):
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
    if m:
        cur = [int(m.group(1), 16), int(m.group(2), 16), m.group(3), False]
        maps.append(cur)
    elif line.startswith("VmFlags:"):
        cur[3] = " dd" in line
try:
    mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
except OSError as e:
    print(f"cannot read the process's memory: {e}")
    sys.exit(77)
header, found = b"Bearer " + key, {True: 0, False: 0}
for lo, hi, perm, dd in maps:
    if not perm.startswith("r") or hi - lo > 1 << 30:
        continue  # (a sanitizer's shadow memory: terabytes of nothing)
    tail = b""
    for at in range(lo, hi, 1 << 24):  # in pieces, a copy across two of them counted once
        try:
            mem.seek(at)
            data = tail + mem.read(min(1 << 24, hi - at))
        except OSError:
            break
        found[dd] += data.count(header)
        tail = data[-(len(header) - 1):]
print(f"copies of the Authorization header: {found[True]} in pages excluded from core dumps, "
      f"{found[False]} elsewhere (libcurl's request buffer)")
sys.exit(0 if found[True] >= 1 else 1)
PY
[ "$rc" -ne 77 ] || skip "/proc/PID/mem cannot be read here"
[ "$rc" -eq 0 ] || fail "no copy of the key lives in a page excluded from core dumps"
