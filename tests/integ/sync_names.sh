#!/bin/bash
# A name the kernel accepts syncs like any other: files whose names hold a newline, a tab or an
# escape sequence are pushed, pulled byte for byte by a second cache, and a remote edit to one
# comes down; no pull calls them unsafe. Wherever their names are printed (status --list and
# --json, the log, grep, sync's messages) they are escaped. A name the service cannot hold (not
# UTF-8) is refused before it is sent: poisoned with the reason, listed, and sync exits 1.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
A="$T/cache-a" B2="$T/cache-b"
# clean FILE: no control character but the newlines that end lines, and UTF-8 throughout
clean() {
    "$PY" - "$1" <<'PY'
import re, sys
try:
    text = open(sys.argv[1], "rb").read().decode("utf-8")
except UnicodeDecodeError:
    sys.exit(1)
sys.exit(1 if re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text) else 0)
PY
}
NL=$'nl\nname.md' TAB=$'tab\tname.md' ESCD=$'d\e[31mred' BAD=$'bad\xff.md'
on "$A" shim bash -c 'cd /sm && echo newline > "$1" && echo tab > "$2" && mkdir "$3" &&
    echo esc > "$3/in.md" && echo bad > "$4" && echo plain > plain.md' _ "$NL" "$TAB" "$ESCD" "$BAD"

# the first push: everything but the name that is not UTF-8, which is refused before it is sent
rc=0; on "$A" env SMSHIM_LOG="info:$T/a.log" "$B/smshim" sync >"$T/s1.out" 2>&1 || rc=$?
cat -v "$T/s1.out"
[ "$rc" = 1 ] || fail "smshim sync exited $rc with a name the service cannot hold (expected 1)"
clean "$T/s1.out" || fail "smshim sync printed a raw control character or a byte that is not UTF-8"
grep -q 'bad\\xff.md' "$T/s1.out" || fail "smshim sync does not name the refused file (escaped)"
"$PY" - "$SRV" "$NL" "$TAB" "$ESCD" <<'PY' || fail "the server does not hold the documents the names stand for"
import json, sys, urllib.request
docs = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/documents"))["documents"]
fps = sorted(d["filepath"] for d in docs)
want = sorted(["/" + sys.argv[2], "/" + sys.argv[3], "/" + sys.argv[4] + "/in.md", "/plain.md"])
assert fps == want, fps
PY
echo "ok - control-character names pushed; a name that is not UTF-8 is refused before it is sent"

on "$A" "$B/smshim" status >"$T/st.out"
cat -v "$T/st.out"
clean "$T/st.out" || fail "status printed a raw control character"
grep -q '^poisoned: *1 ' "$T/st.out" || fail "status does not count the refused file as poisoned"
grep -q 'bad\\xff.md: .*UTF-8' "$T/st.out" || fail "status does not say why the file was refused"
on "$A" "$B/smshim" status --list >"$T/list.out"
cat -v "$T/list.out"
clean "$T/list.out" || fail "status --list printed a raw control character"
[ "$(wc -l <"$T/list.out")" = 5 ] || fail "status --list does not print one line per file"
grep -qx 'clean *\/nl\\nname.md' "$T/list.out" || fail "the newline name is not listed clean and escaped"
grep -qx 'clean *\/tab\\tname.md' "$T/list.out" || fail "the tab name is not listed clean and escaped"
grep -qx 'clean *\/d\\x1b\[31mred\/in.md' "$T/list.out" || fail "the escape name is not listed clean and escaped"
grep -qx 'poisoned *\/bad\\xff.md' "$T/list.out" || fail "the name that is not UTF-8 is not listed as poisoned"
echo "ok - status and status --list escape the names and say why one was refused"

# the next pull of the same cache: its own documents are not unsafe
rc=0; on "$A" env SMSHIM_LOG="info:$T/a.log" "$B/smshim" sync >"$T/s2.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat -v "$T/s2.out"; fail "the second sync exited $rc (the refused file is still there: 1)"; }
on "$A" "$B/smshim" status --json >"$T/st.json"
clean "$T/st.json" || fail "status --json holds a raw control character"
grep -q '"unsafe_skipped":0' "$T/st.json" || { cat "$T/st.json"; fail "a pull calls our own documents unsafe"; }
on "$A" "$B/smshim" status >"$T/st2.out"
if grep -q '^unsafe:' "$T/st2.out"; then cat -v "$T/st2.out"; fail "status shows an unsafe count for our own files"; fi
echo "ok - the cache's own pulls do not call the names unsafe"

# a second cache pulls them byte for byte
on "$B2" "$B/smshim" sync >"$T/s3.out" 2>&1 || { cat -v "$T/s3.out"; fail "the second cache's sync"; }
for f in "$NL" "$TAB" "$ESCD/in.md" plain.md; do
    cmp "$A/tree/$f" "$B2/tree/$f" || fail "$(printf %q "$f") is not on the second cache byte for byte"
done
[ ! -e "$B2/tree/$BAD" ] || fail "the refused file reached the second cache"
on "$B2" "$B/smshim" status --json >"$T/st3.json"
grep -q '"unsafe_skipped":0' "$T/st3.json" || { cat "$T/st3.json"; fail "the second cache calls the names unsafe"; }
echo "ok - a second cache pulls the names byte for byte"

# a remote edit to one comes down to both
srv edit "$(srv id "/$NL")" "edited elsewhere" >/dev/null
srv edit "$(srv id "/$ESCD/in.md")" "edited too" >/dev/null
on "$A" env SMSHIM_LOG="info:$T/a.log" "$B/smshim" sync >/dev/null 2>&1 || true
on "$B2" "$B/smshim" sync >/dev/null 2>&1 || fail "the second cache's sync after the edit"
for c in "$A" "$B2"; do
    [ "$(cat "$c/tree/$NL")" = "edited elsewhere" ] || fail "a remote edit to the newline name did not come down to $c"
    [ "$(cat "$c/tree/$ESCD/in.md")" = "edited too" ] || fail "a remote edit below the escape name did not come down to $c"
done
echo "ok - remote edits to them come down"

# renamed to another such name, it follows on the second cache; renamed to one that is not UTF-8,
# it is refused (poisoned) and its document keeps the old name
TAB2=$'tab2\t\x01name.md' BAD2=$'plain\xfe.md'
on "$A" shim bash -c 'cd /sm && mv "$1" "$2" && mv plain.md "$3"' _ "$TAB" "$TAB2" "$BAD2"
rc=0; on "$A" env SMSHIM_LOG="info:$T/a.log" "$B/smshim" sync >"$T/s4.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat -v "$T/s4.out"; fail "sync exited $rc after a rename to a name that is not UTF-8"; }
clean "$T/s4.out" || fail "smshim sync printed a raw control character"
[ "$(srv id /plain.md)" != "" ] || fail "the document of a file renamed to a name that is not UTF-8 lost its name"
on "$B2" "$B/smshim" sync >/dev/null 2>&1 || fail "the second cache's sync after the rename"
cmp "$A/tree/$TAB2" "$B2/tree/$TAB2" || fail "a rename to a control-character name did not follow"
[ ! -e "$B2/tree/$TAB" ] || fail "the old name stayed on the second cache"
on "$A" "$B/smshim" status --list >"$T/list2.out"
grep -qx 'poisoned *\/plain\\xfe.md' "$T/list2.out" || { cat "$T/list2.out"; fail "the rename target is not listed as poisoned"; }
echo "ok - renames to such names follow; to a name that is not UTF-8, refused visibly"

# renamed again to a name that can be sent: its document follows and nothing is poisoned
on "$A" shim bash -c 'cd /sm && mv "$1" plain-again.md' _ "$BAD2"
on "$A" "$B/smshim" sync >"$T/s6.out" 2>&1 || true
on "$A" "$B/smshim" status --list >"$T/list3.out"
grep -qx 'clean *\/plain-again.md' "$T/list3.out" || { cat "$T/list3.out"; fail "a file renamed back to a name that can be sent stays poisoned"; }
[ "$(srv content /plain-again.md)" = plain ] || fail "the document did not follow the rename back"
echo "ok - renamed back to a name that can be sent, it syncs again"

# grep shows their paths escaped
on "$B2" "$B/smshim" grep "edited elsewhere" >"$T/g.out" 2>"$T/g.err" || { cat -v "$T/g.err"; fail "grep found nothing"; }
cat -v "$T/g.out"
clean "$T/g.out" || fail "grep printed a raw control character"
grep -q '^/sm/nl\\nname.md:' "$T/g.out" || fail "grep does not show the newline name escaped"
echo "ok - grep escapes the names"

# messages and the log name such files escaped: a document over 20 MiB is not fetched, and says so
BIG=$'/big\e]0;title\a\nname.mp4'
srv seedbin "$BIG" video 22020096 >/dev/null
srv edit "$(srv id "/$NL")" "edited again" >/dev/null
# (the process lives until the fetch pass after its pull has looked at the large document: a
# process never waits for the network at exit)
SMSHIM_CACHE="$B2" SMSHIM_LOG="info:$T/b.log" SMSHIM_PULL_INTERVAL=0 shim env -u SMSHIM_NOWAIT bash -c \
    'echo x > /sm/trigger.md; for i in $(seq 1 3000); do [ "$(cat "/sm/$1")" = "edited again" ] && grep -q "not fetched: /big" "$2" && exit 0; sleep 0.1; done; exit 1' \
    _ "$NL" "$T/b.log" || fail "a host process's pull did not bring the edit down, or its fetch never looked at the large document"
cat -v "$T/b.log"
clean "$T/b.log" || fail "the log holds a raw control character or a byte that is not UTF-8"
grep -q 'not fetched: /big\\x1b\]0;title\\x07\\nname.mp4' "$T/b.log" || fail "the log does not name the large document escaped"
on "$A" "$B/smshim" sync >"$T/s5.out" 2>&1 || true
cat -v "$T/s5.out"
clean "$T/s5.out" || fail "smshim sync printed a raw control character from a name"
grep -q 'not fetched: /big\\x1b\]0;title\\x07\\nname.mp4' "$T/s5.out" || fail "sync does not name the large document escaped"
echo "ok - messages and the log escape the names"
