#!/bin/bash
# Progress on a terminal: the first pull and `smshim sync` draw a bar on stderr (done/total, a rate)
# when stderr is a terminal (a pty from script(1)), and print one quiet summary line otherwise.
. "$(dirname "$0")/../lib/common.sh"
need script
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
srv seedmany /p/%d.md 250
SUPERMEMORY_API_KEY= shim bash -c 'mkdir -p /sm/q && for i in 1 2 3; do echo "local $i" > /sm/q/$i.md; done'

# on a terminal: the bars, redrawn in place
script -qec "'$B/smshim' sync" "$T/tty.out" >/dev/null 2>&1 </dev/null || { cat "$T/tty.out"; fail "smshim sync on a pty"; }
[ "$(ls "$SMSHIM_CACHE/tree/p" | wc -l)" -eq 250 ] || fail "the pull did not bring 250 files"
[ "$(srv content /q/2.md)" = "local 2" ] || fail "the local files were not pushed"
tr '\r' '\n' <"$T/tty.out" >"$T/tty.lines"
grep -Eq 'smshim: pulling \[#{20}\] 3/3 pages' "$T/tty.lines" || { cat "$T/tty.lines"; fail "no full pull bar on the terminal"; }
grep -Eq 'smshim: pushing \[#{20}\] 3/3 files  [0-9.]+/s' "$T/tty.lines" || { cat "$T/tty.lines"; fail "no push bar on the terminal"; }
grep -q $'\033\[K' "$T/tty.out" || fail "the bar is not redrawn in place"
echo "ok - on a terminal, smshim sync draws the pull and push bars"

# not a terminal: no bar, one summary line per phase
SUPERMEMORY_API_KEY= shim bash -c 'echo "local 4" > /sm/q/4.md'
srv seed /p/new.md "a new one" >/dev/null
"$B/smshim" sync >"$T/plain.out" 2>"$T/plain.err" || { cat "$T/plain.err"; fail "smshim sync without a terminal"; }
cat "$T/plain.err"
! grep -q '\[#\|\.\.\.\.\]' "$T/plain.err" && ! grep -q $'\r' "$T/plain.err" || fail "a bar was drawn on a file"
grep -Eq '^smshim: pulled [0-9]+ files, removed 0' "$T/plain.err" || fail "no pull summary line"
[ "$(cat "$SMSHIM_CACHE/tree/p/new.md")" = "a new one" ] || fail "the new remote file did not arrive"
grep -q '^smshim: pushed 1 files in ' "$T/plain.err" || fail "no push summary line"
echo "ok - without a terminal, one summary line per phase"
