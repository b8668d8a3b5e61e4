#!/usr/bin/env bash
# A process that created files in a directory keeps recording by canonical names when another
# process replaces that directory meanwhile: by a symbolic link (the next file is recorded by
# its target's name), or by nothing (the create fails and no name is recorded). No name that is
# not a file's own is ever recorded.
. "$(dirname "$0")/../lib/common.sh"
CLI="$B/smshim"
shim "$PY" - <<'PY' || fail "the scenario failed"
import os, subprocess
os.makedirs("/sm/s/d")
os.makedirs("/sm/s/gone")
os.makedirs("/sm/s/real")
for n in ("/sm/s/d/a.txt", "/sm/s/gone/a.txt"):
    with open(n, "w") as f:
        f.write("a\n")
# another process: d becomes a link to real, gone goes away
subprocess.run(["bash", "-c", "rm -r /sm/s/d /sm/s/gone && ln -s real /sm/s/d"], check=True)
with open("/sm/s/d/b.txt", "w") as f:
    f.write("b\n")
try:
    open("/sm/s/gone/b.txt", "w")
    raise SystemExit("a create in a removed directory succeeded")
except FileNotFoundError:
    pass
PY
"$CLI" status --cache "$SMSHIM_CACHE" --list | sed 's/^[a-z]* *//' | sort >"$T/list" ||
    fail "status --list failed"
printf '%s\n' /s/real/b.txt >"$T/want"
diff "$T/want" "$T/list" || fail "recorded names differ from the files' own"
echo "ok - a directory replaced by another process: records stay canonical"
