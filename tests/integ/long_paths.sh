#!/bin/bash
# Every path the kernel accepts under the prefix is tracked and synced, however long (LMDB's keys
# hold at most 511 bytes): local files at 600- and 4000-byte paths are recorded, listed by status,
# pushed once, moved with their directories (a short one and one whose own path is longer than
# a key) and deleted; remote documents at 600- and 4000-byte filepaths are pulled with entries,
# and go when their documents go; misses on 300- and 700-byte names are answered.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
# lp ROOT N [LEAF]: a path of exactly N bytes below ROOT (components of at most 200 bytes)
lp() { "$PY" - "$@" <<'PY'
import sys
root, n = sys.argv[1], int(sys.argv[2])
leaf = sys.argv[3] if len(sys.argv) > 3 else "f"
p, i = root, 0
while n - len(p) - 1 > 200 + len(leaf) + 3:
    p += "/" + chr(ord("a") + i % 26) * 200
    i += 1
print(p + "/" + leaf + "x" * (n - len(p) - 1 - len(leaf) - 3) + ".md")
PY
}
# listed STATE PATH: status --list shows PATH in STATE (any: in any state)
listed() { "$B/smshim" status --list | awk -v s="$1" -v p="$2" '(s == "any" || $1 == s) && $2 == p {f = 1} END {exit !f}'; }
creates() { srv stats 'requests.POST /v3/documents'; }
A=$(lp /lp 600 a) B4=$(lp /lp 4000 b) C=/lp/short.md
[ ${#A} -eq 600 ] && [ ${#B4} -eq 4000 ] || fail "the test's paths: ${#A} and ${#B4} bytes"

# recorded (no key: nothing is pushed yet), with nothing logged against them
env -u SUPERMEMORY_API_KEY SMSHIM_LOG=warn:stderr LD_PRELOAD="$PRELOAD" "$PY" - "$A" "$B4" "$C" \
    2>"$T/rec.err" <<'PY' || fail "writing the files"
import os, sys
for p in sys.argv[1:]:
    os.makedirs(os.path.dirname("/sm" + p), exist_ok=True)
    with open("/sm" + p, "w") as f:
        f.write("bytes of %d\n" % len(p))
PY
! grep -i "record" "$T/rec.err" || fail "recording the long paths logged errors"
for p in "$A" "$B4" "$C"; do listed dirty "$p" || fail "status --list lacks the dirty ${#p}-byte path"; done
"$B/smshim" status --json >"$T/st.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if (d["files"], d["tracked"], d["dirty"]) == (3, 3, 3) else "status counts: %s" % d)' "$T/st.json" ||
    fail "status does not count 3 tracked, dirty files"
echo "ok - files at 600- and 4000-byte paths are recorded and listed"

# pushed once
"$B/smshim" sync >/dev/null 2>"$T/sync1.err" || { cat "$T/sync1.err"; fail "the first sync failed"; }
srv check "$SMSHIM_CACHE/tree" || fail "server and cache differ after the push"
[ "$(creates)" -eq 3 ] || fail "$(creates) creates for 3 files"
for p in "$A" "$B4" "$C"; do listed clean "$p" || fail "the ${#p}-byte path is not clean after the push"; done
"$B/smshim" sync --full >/dev/null 2>"$T/sync2.err" || fail "the second sync failed"
[ "$(creates)" -eq 3 ] && [ "$(srv stats 'requests.PATCH /v3/documents/{id}')" -eq 0 ] ||
    fail "a second sync pushed again"
! grep -i "unsafe" "$T/sync2.err" || fail "the pull takes the pushed filepaths for unsafe ones"
echo "ok - each is pushed once, and listed back as a document of its file"

# moved with its directory: the top one, then one whose own path is longer than a key
D=$(dirname "$B4")
while [ ${#D} -gt 1100 ]; do D=$(dirname "$D"); done
[ ${#D} -gt 600 ] || fail "the test's deep directory is ${#D} bytes"
# (smshim run pushes after its command: the sync below has nothing of them left to push)
"$B/smshim" run -- mv /sm/lp /sm/lq || fail "mv of the directory"
D=/lq${D#/lp}
"$B/smshim" run -- mv "/sm$D" "/sm${D}Z" || fail "mv of the deep directory"
A2=/lq${A#/lp} C2=/lq${C#/lp} B2=/lq${B4#/lp}
B2=${D}Z${B2#"$D"}
"$B/smshim" status --list >"$T/list2"
grep -q " /lp/" "$T/list2" && fail "status still lists the old names"
for p in "$A2" "$B2" "$C2"; do listed any "$p" || fail "status --list lacks the moved ${#p}-byte path"; done
[ "$("$B/smshim" status --list | wc -l)" -eq 3 ] || fail "status lists more than the 3 files"
"$B/smshim" sync >/dev/null 2>&1 || fail "the sync after the moves"
srv check "$SMSHIM_CACHE/tree" || fail "server and cache differ after the moves"
[ "$(creates)" -eq 3 ] || fail "the moves created documents ($(creates) creates)"
echo "ok - they move with their directories (the same documents)"

# deleted
"$B/smshim" run -- rm -rf /sm/lq || fail "rm -rf"
"$B/smshim" sync >/dev/null 2>&1 || fail "the sync after the removal"
srv check "$SMSHIM_CACHE/tree" || fail "documents remain after the removal"
[ -z "$("$B/smshim" status --list)" ] || fail "status still lists files"
echo "ok - they are deleted"

# pulled: remote documents at 600- and 4000-byte filepaths have entries, and one goes when its
# document goes
R=$(lp /rp 600 r) R4=$(lp /rq 4000 r)
id=$(srv seed "$R" "remote long")
srv seed "$R4" "remote longer" >/dev/null
"$B/smshim" sync >/dev/null 2>&1 || fail "the sync that pulls"
[ "$(cat "$SMSHIM_CACHE/tree$R")" = "remote long" ] || fail "the long remote document is not in the tree"
[ "$(cat "$SMSHIM_CACHE/tree$R4")" = "remote longer" ] || fail "the 4000-byte remote document is not in the tree"
listed clean "$R" || fail "the pulled 600-byte path has no clean entry"
listed clean "$R4" || fail "the pulled 4000-byte path has no clean entry"
srv delete "$id"
"$B/smshim" sync --full >/dev/null 2>&1 || fail "the full sync after the remote delete"
[ ! -e "$SMSHIM_CACHE/tree$R" ] || fail "the file of the removed document is still there"
! listed any "$R" || fail "the removed document's entry is still there"
echo "ok - a remote 600-byte filepath is pulled with its entry and removed with its document"

# misses on long names are answered
M3=$(lp /h3 300 m) M7=$(lp /h7 700 m)
srv seed "$M3" "three hundred" >/dev/null
srv seed "$M7" "seven hundred" >/dev/null
shim "$PY" - "$M3" "$M7" <<'PY' || fail "the long missed names never appeared"
import os, sys, time
for p in sys.argv[1:]:
    assert not os.path.exists("/sm" + p), "already there"
for _ in range(400):
    if all(os.path.exists("/sm" + p) for p in sys.argv[1:]):
        break
    time.sleep(0.05)
for p in sys.argv[1:]:
    print(len(p), open("/sm" + p).read())
PY
echo "ok - misses on 300- and 700-byte names are answered"

# found without a record of each file: a directory moved in from outside the prefix, its files at
# 4080-byte paths (the tree's own path makes them longer than PATH_MAX), and a file written into
# the tree behind the shim's back, found by the scan
mkdir -p "$T/outside"
# deep DIR KEYLEN LEAF CONTENT: make the file LEAF at a key of KEYLEN bytes below DIR, one
# directory at a time (the whole path may be too long for the kernel); prints the key
deep() { "$PY" - "$@" <<'PY'
import os, sys
top, n, leaf, content = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.chdir(top)
key, i = "", 0
while n - len(key) - 1 > 200 + len(leaf):
    seg = chr(ord("a") + i % 26) * 200
    os.makedirs(seg, exist_ok=True)
    os.chdir(seg)
    key += "/" + seg
    i += 1
name = "x" * (n - len(key) - 1 - len(leaf)) + leaf
with open(name, "w") as f:
    f.write(content)
print(key + "/" + name)
PY
}
K=$(deep "$T/outside" 4077 f.md "moved in")
K=/in$K
# (no key: no sync thread whose scan could find them instead)
env -u SUPERMEMORY_API_KEY LD_PRELOAD="$PRELOAD" mv "$T/outside" /sm/in || fail "mv of a directory from outside the prefix"
[ ${#K} -eq 4080 ] || fail "the test's key is ${#K} bytes"
listed dirty "$K" || fail "the file of the directory moved in is not recorded"
G=$(deep "$SMSHIM_CACHE/tree/in" 4077 g.md "behind its back")
G=/in$G
"$B/smshim" sync >/dev/null 2>"$T/sync3.err" || { cat "$T/sync3.err"; fail "the sync of the found files"; }
grep -q "1 unrecorded" "$T/sync3.err" || { cat "$T/sync3.err"; fail "the scan did not find the file written behind the shim's back"; }
[ "$(srv content "$K")" = "moved in" ] && [ "$(srv content "$G")" = "behind its back" ] ||
    fail "the found files did not reach the server"
listed clean "$K" && listed clean "$G" || fail "the found files are not clean after the sync"
echo "ok - files at paths longer than PATH_MAX in the tree are found (a directory moved in, the scan)"

# refused visibly: a file at a key longer than any synced filepath (made relative to a directory
# deep in the tree, as the kernel allows) is listed as refused and fails the sync, and nothing of
# it reaches the server; once it is gone, so is the refusal
docs() { srv stats 'requests.POST /v3/documents'; }
before=$(docs)
X=$(deep "$SMSHIM_CACHE/tree/in" 4996 x.md "too deep")
X=/in$X
RC=0
"$B/smshim" sync >/dev/null 2>"$T/sync4.err" || RC=$?
[ "$RC" -eq 1 ] || { cat "$T/sync4.err"; fail "smshim sync exited $RC with a file too long to sync"; }
grep -q "too long to sync" "$T/sync4.err" || { cat "$T/sync4.err"; fail "smshim sync did not say why"; }
listed poisoned "$X" || fail "status --list does not show the ${#X}-byte path as refused"
[ "$(docs)" -eq "$before" ] || fail "a document was created for a path too long to sync"
"$B/smshim" sync --retry-poisoned >/dev/null 2>&1 && fail "a retry of the refused files let it through"
[ "$(docs)" -eq "$before" ] || fail "a retry created a document for a path too long to sync"
"$PY" - "$SMSHIM_CACHE/tree" "$X" <<'PY'
import os, sys
os.chdir(sys.argv[1])
parts = sys.argv[2].strip("/").split("/")
for p in parts[:-1]:
    os.chdir(p)
os.unlink(parts[-1])
PY
"$B/smshim" sync >/dev/null 2>&1 || fail "the sync after the too-long file went"
! listed any "$X" || fail "the refusal outlived the file"
echo "ok - a file at a ${#X}-byte key is refused visibly (status, exit 1), never pushed, and forgotten when gone"
