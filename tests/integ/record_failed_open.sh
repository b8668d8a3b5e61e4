#!/bin/bash
# A write-open is recorded before the kernel runs it (the dirty_since guard), so an open that
# fails must take back the record of a name that holds no file: a create refused by the kernel
# (a trailing '/', O_CREAT|O_DIRECTORY, a directory the caller may not write) leaves no entry,
# by the one-call create of a known directory or the general path, while a refused open of an
# existing file keeps its entry. The errors are a real directory's, and with a key the sync
# leaves exactly the tree's files on the server.
. "$(dirname "$0")/../lib/common.sh"

SCEN=$(cat <<'PY'
import errno, os, sys
d = sys.argv[1]
os.makedirs(d + "/k", exist_ok=True)
open(d + "/k/seen.txt", "w").write("a file of a directory this process reached\n")
os.makedirs(d + "/ro", exist_ok=True)
open(d + "/ro/kept.txt", "w").write("kept\n")
cases = [
    ("k/slash/", os.O_CREAT | os.O_WRONLY),             # EISDIR
    ("k/dirflag", os.O_CREAT | os.O_DIRECTORY),         # EINVAL
    ("k/dirflag-w", os.O_CREAT | os.O_DIRECTORY | os.O_WRONLY),
    ("k/seen.txt", os.O_CREAT | os.O_EXCL | os.O_WRONLY),  # EEXIST: the file stays
    ("top-slash/", os.O_CREAT | os.O_RDWR),
]
def attempt(name, flags):
    try:
        os.close(os.open(d + "/" + name, flags, 0o644))
        print(name, "opened")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
for name, flags in cases:
    attempt(name, flags)
# a directory the caller may not write: root drops to nobody (the file and directory modes
# decide), anyone else writes in a 0555 directory
root = os.getuid() == 0
if root:
    os.setgid(65534); os.setuid(65534)   # last: there is no way back
else:
    os.chmod(d + "/ro", 0o555)
    os.chmod(d + "/k", 0o555)
    os.chmod(d + "/ro/kept.txt", 0o444)
attempt("ro/new.txt", os.O_CREAT | os.O_WRONLY)
attempt("ro/kept.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC)
attempt("k/new.txt", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
if not root:
    os.chmod(d + "/ro/kept.txt", 0o644)
    os.chmod(d + "/k", 0o755)
    os.chmod(d + "/ro", 0o755)
PY
)

mkdir -p "$T/real"
chmod 755 "$T" "$T/real"
"$PY" -c "$SCEN" "$T/real" >"$T/real.out" 2>&1 || { cat "$T/real.out"; fail "the scenario failed on a real directory"; }
shim "$PY" -c "$SCEN" /sm/f >"$T/shim.out" 2>&1 || { cat "$T/shim.out"; fail "the scenario failed under the prefix"; }
diff "$T/real.out" "$T/shim.out" || fail "the opens' results differ (< real, > shim)"
echo "ok - $(wc -l <"$T/real.out") refused opens answer as on a real directory"
same_as_tree "local only"

export SMSHIM_CACHE="$T/cache2"
start_server
shim "$PY" -c "$SCEN" /sm/f >"$T/shim2.out" 2>&1 || { cat "$T/shim2.out"; fail "the scenario with a key"; }
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "sync"; }
same_as_tree "after sync"
srv check "$SMSHIM_CACHE/tree" || fail "the server does not hold exactly the tree"
echo "ok - a refused open leaves no record of a name that holds no file"
