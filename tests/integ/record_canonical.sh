#!/usr/bin/env bash
# A file created or rewritten under the prefix is recorded by its canonical name, whatever way
# the path reached it: plain components, a symlinked directory on the way, "." and "..",
# doubled slashes, a relative path from a directory descriptor, a directory made through a
# symlinked one; a symlink to a file records its target. No name that is not a file's own is
# ever recorded.
. "$(dirname "$0")/../lib/common.sh"
CLI="$B/smshim"
shim bash -c '
set -e
mkdir -p /sm/r/real/sub /sm/r/other
ln -s real /sm/r/link
ln -s /sm/r/real/sub /sm/r/abslink
echo a > /sm/r/plain.txt
echo b > /sm/r/link/via-link.txt
echo c > /sm/r/abslink/via-abs.txt
echo d > /sm/r/other/../real/./dots.txt
echo e > /sm/r//real//slashes.txt
cd /sm/r/link && echo f > rel.txt
echo g > /sm/r/real/target.txt && ln -s real/target.txt /sm/r/flink && echo h >> /sm/r/flink
echo i > /sm/r/plain.txt
"$0" -c "import os; os.makedirs(\"/sm/r/link/made/deep\")
for n in (\"one\", \"two\"): open(\"/sm/r/link/made/deep/%s.txt\" % n, \"w\").write(n)"
' "$PY" || fail "the writes failed"
"$CLI" status --cache "$SMSHIM_CACHE" --list | sed 's/^[a-z]* *//' | sort >"$T/list" ||
    fail "status --list failed"
printf '%s\n' /r/plain.txt /r/real/dots.txt /r/real/rel.txt /r/real/slashes.txt \
    /r/real/made/deep/one.txt /r/real/made/deep/two.txt \
    /r/real/sub/via-abs.txt /r/real/target.txt /r/real/via-link.txt | sort >"$T/want"
diff "$T/want" "$T/list" || fail "recorded names differ from the files' own"
echo "ok - every write is recorded by the file's canonical name"
