#!/bin/bash
# After a privilege drop the virtual directory's own modes decide, as on a real directory: the
# process resolves through the tree descriptor it opened before the drop, and an exec'd child
# adopts that descriptor; the cache's meta/ stays private. Needs root (setpriv, setuid).
. "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root (drops privileges to uid 65534)"
need setpriv
# the drop, then an exec: setpriv; under ASan the same in Python (setpriv's libcap-ng opens a file
# in its constructor, before a preloaded ASan runtime starts: see special_nodes.sh)
DROP=(setpriv --reuid=65534 --regid=65534 --clear-groups)
[ "${SMSHIM_SAN:-}" = address ] && DROP=("$PY" -c 'import os, sys
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
os.execvp(sys.argv[1], sys.argv[1:])')
shim mkdir -p /sm/d/sub /sm/bin
shim bash -c 'echo pub > /sm/d/pub.txt; echo secret > /sm/d/priv.txt; chmod 600 /sm/d/priv.txt'
shim bash -c 'printf "#!/bin/sh\necho tool \$(id -u)\n" > /sm/bin/tool; chmod 755 /sm/bin/tool'
shim chmod 777 /sm/d/sub
chmod 700 "$SMSHIM_CACHE"
# an exec'd child after the drop (setpriv execs cat)
out=$(shim "${DROP[@]}" cat /sm/d/pub.txt 2>&1) ||
    fail "setpriv cat /sm/d/pub.txt: $out"
[ "$out" = pub ] || fail "setpriv cat: $out"
out=$(shim "${DROP[@]}" cat /sm/d/./sub/../pub.txt 2>&1) ||
    fail "setpriv cat with . and ..: $out"
if shim "${DROP[@]}" cat /sm/d/priv.txt 2>/dev/null; then
    fail "a 0600 file of root's was readable after the drop"
fi
out=$(shim "${DROP[@]}" /sm/bin/tool 2>&1) ||
    fail "setpriv /sm/bin/tool: $out"
[ "$out" = "tool 65534" ] || fail "setpriv /sm/bin/tool: $out"
out=$(shim "${DROP[@]}" bash -c \
    'cd /sm/d && cat pub.txt && cat ./pub.txt && echo new > sub/new.txt && cat /sm/d/sub/new.txt && ls /sm/d' 2>&1) ||
    fail "setpriv bash: $out"
[ "$out" = "pub
pub
new
priv.txt
pub.txt
sub" ] || fail "setpriv bash: $out"
# meta/ stays private: the child cannot reach it
if shim "${DROP[@]}" ls "$SMSHIM_CACHE/meta" >/dev/null 2>&1; then
    fail "meta/ readable after the drop"
fi
# the same process, before and after setuid
shim "$PY" - <<'PY' || fail "in-process drop"
import os
os.stat("/sm/d")                     # the tree is open before the drop
os.setgroups([]); os.setgid(65534); os.setuid(65534)
assert open("/sm/d/pub.txt").read() == "pub\n"
assert open("/sm/d/./sub/../pub.txt").read() == "pub\n"
os.chdir("/sm/d/sub"); assert os.getcwd() == "/sm/d/sub", os.getcwd()
assert open("../pub.txt").read() == "pub\n"
assert os.path.realpath("/sm/d/sub/..") == "/sm/d", os.path.realpath("/sm/d/sub/..")
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.realpath.restype = ctypes.c_char_p
buf = ctypes.create_string_buffer(4096)
assert libc.realpath(b"/sm/d/sub/../pub.txt", buf) == b"/sm/d/pub.txt", buf.value
try:
    open("/sm/d/priv.txt"); raise SystemExit("priv.txt readable")
except PermissionError:
    pass
PY
# without a drop no child is handed the tree descriptor
if shim bash -c 'cat /sm/d/pub.txt >/dev/null; env' | grep -q SMSHIM_TREE_FD; then
    fail "a child was handed the tree descriptor without a privilege drop"
fi
echo "ok - privilege drops: the tree's modes decide, the child adopts the tree, meta/ stays private"

# The same script in a real directory and under the prefix: root makes files of several modes,
# a public, a private and a sticky directory; an exec'd child after the drop reads, writes,
# removes, lists, changes directory and runs a script there by relative, absolute and dotted
# paths, and the same in a process that drops privileges itself. The outputs and trees must be
# the same. The real directory must be reachable by uid 65534: $T opens to others, and its
# parents to a search (the cache inside it stays 0700).
chmod 755 "$T"
d=$(dirname "$T")
while [ "$d" != / ]; do
    [ -n "$(find "$d" -maxdepth 0 -perm -o+x)" ] || chmod o+x "$d"
    d=$(dirname "$d")
done
printf '#!/bin/sh\nexec "$@"\n' >"$T/dropx"
[ "${SMSHIM_SAN:-}" = address ] || printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"\n' >"$T/dropx"
[ "${SMSHIM_SAN:-}" = address ] && printf '#!/bin/sh\nexec %s -c "import os, sys
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
os.execvp(sys.argv[1], sys.argv[1:])" "$@"\n' "$PY" >"$T/dropx"
chmod 755 "$T/dropx"
cat >"$T/dropped.sh" <<'SH'
W=$1
id -u
cat pub/f; cat "$W/pub/f"; cat "$W/pub/../pub/./f"; cat ./pub/f
cat priv/s; cat "$W/priv/s"; ls "$W/priv"; ls priv/..
echo new > pub/new; echo new > "$W/pub/new"; touch "$W/ro"
echo mine > sticky/mine && cat "$W/sticky/mine"
rm -f sticky/r; rm -f "$W/sticky/r"
mkdir "$W/sticky/d" && touch "$W/sticky/d/x" && mv "$W/sticky/d" "$W/sticky/d2" && ls "$W/sticky/d2"
ln "$W/sticky/mine" "$W/sticky/mine2" && stat -c %h sticky/mine
ln "$W/pub/f" "$W/sticky/theirs"
"$W/pub/tool" a; pub/tool b; (cd pub && ./tool c)
cd "$W/pub" && pwd && cat f && ls
cd "$W/priv"; cd ../sticky && pwd && ls
cd "$W/pub/../sticky" && pwd && /bin/pwd
python3 -c "import os; print(os.getcwd()); print(sorted(os.listdir(\"..\")))"
SH
chmod 644 "$T/dropped.sh"
export DROPX="$T/dropx" DROPPED="$T/dropped.sh"
parity privdrop_child '
mkdir pub priv sticky && chmod 755 . pub && chmod 700 priv && chmod 1777 sticky
echo pub > pub/f && echo secret > priv/s && echo rootfile > sticky/r && touch ro
printf "#!/bin/sh\necho tool \$(id -u) \$1\n" > pub/tool && chmod 755 pub/tool
"$DROPX" bash "$DROPPED" "$W" 2>&1 | sed "s#^$DROPPED: ##"
echo "child rc=${PIPESTATUS[0]}"
stat -c "%u %a %n" sticky/* | sort
python3 - "$W" <<"PY"
import os, sys
W = sys.argv[1]
os.stat(W)
os.setgroups([]); os.setgid(65534); os.setuid(65534)
for p in ("pub/f", W + "/pub/f", W + "/priv/s", W + "/pub/../priv/s"):
    try:
        print(p.replace(W, "W"), open(p).read().strip())
    except OSError as e:
        print(p.replace(W, "W"), e.strerror)
open(W + "/sticky/py", "w").write("py\n")
os.chdir(W + "/pub"); print(os.getcwd().replace(W, "W"), sorted(os.listdir(".")))
try:
    os.unlink(W + "/sticky/r")
except OSError as e:
    print("unlink r", e.strerror)
PY
stat -c "%u %a %n" sticky/py
'
echo "ok - after a drop, a real directory and the prefix give the same answers and trees"
