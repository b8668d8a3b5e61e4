#!/bin/bash
# Server text and file names are data: everything the CLI prints from the server (error strings,
# the stored pause reason) or from file names (`status --list`) has its control characters
# escaped, so a hostile server or file name can neither drive the terminal (ANSI/OSC sequences)
# nor forge a line of output. `status --json` stays valid JSON that holds the exact text.
. "$(dirname "$0")/../lib/common.sh"

# clean FILE: no control character but the newlines that end lines (C0, DEL, C1, bidi controls)
clean() {
    "$PY" - "$1" <<'PY'
import re, sys
try:
    text = open(sys.argv[1], "rb").read().decode("utf-8")
except UnicodeDecodeError:
    sys.exit(1)  # raw bytes that are not UTF-8 reached the output
sys.exit(1 if re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]", text) else 0)
PY
}

# file names with a newline, an ANSI colour, a title-setting OSC sequence and a bidi override
shim bash -c $'echo a > /sm/ok.md; echo b > "/sm/new\nsmshim: forged.md"; echo c > "/sm/esc\e[31mred\e]0;title\a.md"; echo d > /sm/rtl\xe2\x80\xaetxt.md'
"$B/smshim" status --list >"$T/list.out"
cat -v "$T/list.out"
[ "$(wc -l <"$T/list.out")" = 4 ] || fail "status --list does not print one line per file"
clean "$T/list.out" || fail "status --list printed control characters from file names"
grep -q '^dirty *\/new\\nsmshim: forged.md$' "$T/list.out" || fail "the newline in a name is not shown as \\n"
grep -q '^dirty *\/esc\\x1b\[31mred\\x1b\]0;title\\x07.md$' "$T/list.out" || fail "escapes are not shown as \\xHH"
grep -q '^dirty *\/ok.md$' "$T/list.out" || fail "a plain name is not shown as it is"
echo "ok - status --list escapes file names"

# a server whose every answer is a 401 with a hostile error string: an OSC title, a clear-screen,
# a forged line, a C1 CSI, a bidi override, a backslash
cat >"$T/hostile.py" <<'PY'
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
HOSTILE = "\x1b]0;owned\x07\x1b[2J\r\nsmshim: FORGED all synced\x9b31m\u202eevil\\"
class H(BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        body = json.dumps({"error": HOSTILE}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PATCH = do_DELETE = answer
    def log_message(self, *a):
        pass
if __name__ == "__main__":
    s = HTTPServer(("127.0.0.1", 0), H)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(s.server_address[1]))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    s.serve_forever()
PY
pf="$T/hostile.port"
"$PY" "$T/hostile.py" "$pf" >"$T/hostile.log" 2>&1 &
HPID=$!
trap 'kill $HPID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.05; done
[ -s "$pf" ] || fail "the hostile server did not start: $(cat "$T/hostile.log")"
export SUPERMEMORY_BASE_URL="http://127.0.0.1:$(cat "$pf")" SUPERMEMORY_API_KEY="hostile-test-key-$RANDOM"
export SMSHIM_SYNC_TIMEOUT=5 SMSHIM_PULL_TIMEOUT=2 SMSHIM_EXIT_TIMEOUT=2

if "$B/smshim" sync >"$T/sync.out" 2>&1; then fail "smshim sync succeeded against a refusing server"; fi
cat -v "$T/sync.out"
grep -q 'refuses the key' "$T/sync.out" || fail "smshim sync does not say the key is refused"
grep -q 'owned' "$T/sync.out" || fail "smshim sync does not show the server's error at all"
clean "$T/sync.out" || fail "smshim sync printed control characters from the server"
if grep -q '^smshim: FORGED' "$T/sync.out"; then fail "the server forged a line of smshim sync's output"; fi
grep -q '\\x1b\]0;owned\\x07\\x1b\[2J\\r\\nsmshim: FORGED' "$T/sync.out" || fail "the error is not shown escaped"
echo "ok - smshim sync escapes the server's error"

"$B/smshim" status >"$T/st.out" 2>&1 || fail "smshim status failed"
cat -v "$T/st.out"
grep -q '^paused: .*owned' "$T/st.out" || fail "status does not show the stored pause reason"
clean "$T/st.out" || fail "smshim status printed control characters from the stored pause reason"
if grep -q '^smshim: FORGED' "$T/st.out"; then fail "the pause reason forged a line of status"; fi
"$B/smshim" status --json >"$T/st.json" || fail "smshim status --json failed"
clean "$T/st.json" || fail "status --json holds raw control characters"
"$PY" - "$T/st.json" "$T" <<'PY' || fail "status --json is not valid JSON holding the exact reason"
import json, sys
sys.path.insert(0, sys.argv[2])
from hostile import HOSTILE
st = json.load(open(sys.argv[1]))
assert st["paused"] is not None and HOSTILE in st["paused"], st["paused"]
PY
echo "ok - status escapes the stored pause reason; --json is valid"

rc=0; "$B/smshim" run -- true >"$T/run.out" 2>&1 || rc=$?
cat -v "$T/run.out"
grep -q 'owned' "$T/run.out" || fail "smshim run does not show the server's error"
clean "$T/run.out" || fail "smshim run printed control characters from the server"
echo "ok - smshim run escapes the server's error"

# a refused base URL is a setting the CLI prints: escaped too, whether it comes from
# SUPERMEMORY_BASE_URL or from the credentials file's api_url (C1 CSI, bidi override, raw bytes)
kill $HPID 2>/dev/null || true
badurl=$'http://evil.example/\e]0;owned\a\xc2\x9b31m\xe2\x80\xaeevil\xff\r\nsmshim: FORGED'
for cmd in sync "run -- true" "grep q"; do
    rc=0; SUPERMEMORY_BASE_URL="$badurl" "$B/smshim" $cmd >"$T/url.out" 2>&1 || rc=$?
    cat -v "$T/url.out"
    [ "$rc" = 2 ] || fail "smshim $cmd with a refused URL exited $rc, not 2"
    grep -q 'is not sent to' "$T/url.out" || fail "smshim $cmd does not say the URL is refused"
    clean "$T/url.out" || fail "smshim $cmd printed control characters from SUPERMEMORY_BASE_URL"
    if grep -q '^smshim: FORGED' "$T/url.out"; then fail "the URL forged a line of smshim $cmd"; fi
    grep -qF 'evil.example/\x1b]0;owned\x07\u009b31m\u202eevil\xff\r\nsmshim: FORGED' "$T/url.out" ||
        fail "smshim $cmd does not show the URL escaped"
done
rc=0; echo "k-$RANDOM" | SUPERMEMORY_BASE_URL="$badurl" "$B/smshim" login --stdin >"$T/url.out" 2>&1 || rc=$?
cat -v "$T/url.out"
[ "$rc" = 2 ] || fail "smshim login with a refused URL exited $rc, not 2"
clean "$T/url.out" || fail "smshim login printed control characters from the URL"
echo "ok - a refused SUPERMEMORY_BASE_URL is shown escaped"

unset SUPERMEMORY_BASE_URL SUPERMEMORY_API_KEY
export XDG_CONFIG_HOME="$T/cfg"
mkdir -p "$T/cfg/supermemoryfs"
"$PY" - "$T/cfg/supermemoryfs/credentials.json" <<'PY'
import json, sys
url = "http://evil.example/\x1b]0;owned\x07\u009b31m\u202eevil\r\nsmshim: FORGED"
json.dump({"api_key": "k-creds", "api_url": url}, open(sys.argv[1], "w"))
PY
chmod 600 "$T/cfg/supermemoryfs/credentials.json"
for cmd in sync whoami; do
    rc=0; "$B/smshim" $cmd >"$T/url.out" 2>&1 || rc=$?
    cat -v "$T/url.out"
    [ "$rc" = 2 ] || fail "smshim $cmd with a refused api_url exited $rc, not 2"
    clean "$T/url.out" || fail "smshim $cmd printed control characters from the credentials' api_url"
    if grep -q '^smshim: FORGED' "$T/url.out"; then fail "api_url forged a line of smshim $cmd"; fi
done
echo "ok - a refused api_url from the credentials file is shown escaped"
