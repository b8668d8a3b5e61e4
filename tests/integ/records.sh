#!/bin/bash
# The records follow the tree: after each way a name can vanish or arrive while a file is open
# (open, unlink, close; an atomic save renaming before close; SQLite's -wal/-shm; rm -rf while a
# writer is busy; a directory moved in from outside by rename; hard links; renameat2 exchanges of
# files, directories and symbolic links) the cache's entries
# are exactly the tree's regular files, and with a key a sync leaves exactly one document per
# file of the final tree (no phantom, none missing).
. "$(dirname "$0")/../lib/common.sh"
need sqlite3

SCEN=$(cat <<'PY'
import os, shutil, sqlite3, subprocess, sys
out = sys.argv[1]                      # a directory outside the prefix, same filesystem
os.makedirs("/sm/r", exist_ok=True)
# open, unlink, close
f = open("/sm/r/gone.txt", "w"); f.write("soon gone\n"); f.flush()
os.unlink("/sm/r/gone.txt"); f.write("more\n"); f.close()
# an atomic save: write a temporary, rename it over the final name, then close
f = open("/sm/r/save.txt.tmp", "w"); f.write("saved\n"); f.flush()
os.rename("/sm/r/save.txt.tmp", "/sm/r/save.txt"); f.close()
fd = os.open("/sm/r/save2.tmp", os.O_WRONLY | os.O_CREAT, 0o644); os.write(fd, b"second save\n")
os.rename("/sm/r/save2.tmp", "/sm/r/save2.txt"); os.close(fd)
# SQLite in WAL mode: -wal and -shm come and go
db = sqlite3.connect("/sm/r/app.db"); db.execute("pragma journal_mode=wal")
db.execute("create table t(x)"); db.execute("insert into t values ('row')"); db.commit(); db.close()
# rm -rf while a writer is busy in the directory
os.makedirs("/sm/r/busy/sub", exist_ok=True)
w = open("/sm/r/busy/sub/log.txt", "w"); w.write("line 1\n"); w.flush()
open("/sm/r/busy/other.txt", "w").write("other\n")
subprocess.run(["rm", "-rf", "/sm/r/busy"], check=True)
w.write("line 2\n"); w.close()
# a directory made outside and moved in by rename (mv, pip install --target)
stage = os.path.join(out, "stage")
os.makedirs(stage + "/pkg/sub", exist_ok=True)
open(stage + "/pkg/__init__.py", "w").write("x = 1\n")
open(stage + "/pkg/sub/mod.py", "w").write("y = 2\n")
os.rename(stage + "/pkg", "/sm/r/pkg")
subprocess.run(["mv", stage, "/sm/r/stage"], check=True)
# hard links: a write through one name, an unlink of one, a rename of one, a directory moved
open("/sm/r/h1.txt", "w").write("linked\n")
os.link("/sm/r/h1.txt", "/sm/r/h2.txt")
os.makedirs("/sm/r/hd", exist_ok=True)
os.link("/sm/r/h1.txt", "/sm/r/hd/h3.txt")
os.rename("/sm/r/hd", "/sm/r/hd2")
with open("/sm/r/h2.txt", "a") as f: f.write("written through h2\n")
os.link("/sm/r/h1.txt", "/sm/r/h4.txt"); os.unlink("/sm/r/h4.txt")
os.rename("/sm/r/h2.txt", "/sm/r/h2-renamed.txt")
open("/sm/r/k1.txt", "w").write("k\n"); os.link("/sm/r/k1.txt", "/sm/r/k2.txt")
# renameat2(RENAME_EXCHANGE): each name holds what the other held, whatever the two are
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def xchg(a, b):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
        raise OSError(ctypes.get_errno(), "renameat2", a)
os.makedirs("/sm/r/xd/in", exist_ok=True)
open("/sm/r/xd/in/x.txt", "w").write("x\n"); open("/sm/r/xd/y.txt", "w").write("y\n")
open("/sm/r/xf.txt", "w").write("f\n")
xchg("/sm/r/xf.txt", "/sm/r/xd")        # a file and a directory
os.makedirs("/sm/r/xa", exist_ok=True); open("/sm/r/xa/a.txt", "w").write("a\n")
os.makedirs("/sm/r/xb", exist_ok=True); open("/sm/r/xb/b.txt", "w").write("b\n")
xchg("/sm/r/xa", "/sm/r/xb")            # two directories
open("/sm/r/x1.txt", "w").write("1\n"); open("/sm/r/x2.txt", "w").write("2\n")
xchg("/sm/r/x1.txt", "/sm/r/x2.txt")    # two files
open("/sm/r/xs.txt", "w").write("s\n"); os.symlink("x1.txt", "/sm/r/xl")
xchg("/sm/r/xs.txt", "/sm/r/xl")        # a file and a symbolic link
print("scenario done")
PY
)

mkdir -p "$T/out1"
shim "$PY" -c "$SCEN" "$T/out1" || fail "local scenario"
same_as_tree "local only"
[ "$(cat "$SMSHIM_CACHE/tree/r/hd2/h3.txt")" = "$(printf 'linked\nwritten through h2')" ] ||
    fail "a write through one name is not seen through the other"

# with a key, in a fresh cache: the sync leaves exactly the final tree on the server
export SMSHIM_CACHE="$T/cache2"
start_server
mkdir -p "$T/out2"
shim "$PY" -c "$SCEN" "$T/out2" || fail "scenario with a key"
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync"; }
same_as_tree "after sync"
srv check "$SMSHIM_CACHE/tree" || fail "the server does not hold exactly the tree"
# a write through one linked name reaches every name's document; an unlink deletes one
printf 'third line\n' | shim tee -a /sm/r/h1.txt >/dev/null
shim rm /sm/r/hd2/h3.txt
# a write through a name unlinked while open reaches the file's other name
shim "$PY" -c '
import os
f = open("/sm/r/k1.txt", "a"); os.unlink("/sm/r/k1.txt"); f.write("through a vanished name\n"); f.close()'
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "second sync"; }
same_as_tree "after a write and an unlink through links"
srv check "$SMSHIM_CACHE/tree" || fail "the server does not hold exactly the tree after the second sync"
[ "$(srv content /r/h2-renamed.txt)" = "$(printf 'linked\nwritten through h2\nthird line')" ] ||
    fail "the other name's document did not get the write"
[ "$(srv content /r/k2.txt)" = "$(printf 'k\nthrough a vanished name')" ] ||
    fail "a write through a name unlinked while open did not reach the other name's document"
# a pulled document replaces its name: the file's other name keeps its bytes, no longer linked
srv edit "$(srv id /r/h1.txt)" "changed remotely" >/dev/null
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync after the remote edit"; }
[ "$(cat "$SMSHIM_CACHE/tree/r/h1.txt")" = "changed remotely" ] || fail "the remote edit was not pulled"
[ "$(cat "$SMSHIM_CACHE/tree/r/h2-renamed.txt")" = "$(printf 'linked\nwritten through h2\nthird line')" ] ||
    fail "the pull wrote through the link into the other name"
[ "$(stat -c %h "$SMSHIM_CACHE/tree/r/h2-renamed.txt")" = 1 ] || fail "the pulled name is still a link"
same_as_tree "after a pull into a linked name"
srv check "$SMSHIM_CACHE/tree" || fail "the server does not hold exactly the tree after the pull"
echo "ok - records follow the tree"
