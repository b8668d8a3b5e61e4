#!/bin/bash
# The summary of `smshim sync` without a terminal counts the files a pull changed: a document the
# file already held (the listing brings back what this cache pushed) is not counted as pulled.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
srv seedmany /r/%d.md 2 >/dev/null
SUPERMEMORY_API_KEY= shim bash -c 'mkdir -p /sm/l && for i in 1 2 3; do echo "local $i" > /sm/l/$i.md; done'
"$B/smshim" sync 2>"$T/s1.err" || { cat "$T/s1.err"; fail "first sync"; }
grep -q '^smshim: pulled 2 files, removed 0' "$T/s1.err" || { cat "$T/s1.err"; fail "the first sync did not count the 2 remote files"; }
[ "$(srv content /l/2.md)" = "local 2" ] || fail "the local files were not pushed"
echo "ok - the first sync counts the 2 files it pulled"

# the next listing brings the 3 pushed documents back: the files already hold them
"$B/smshim" sync 2>"$T/s2.err" || { cat "$T/s2.err"; fail "second sync"; }
cat "$T/s2.err"
! grep -Eq 'pulled [1-9]' "$T/s2.err" || fail "documents the files already held were counted as pulled"
echo "ok - a sync that changes no file counts none pulled"

srv edit "$(srv id /r/1.md)" "edited remotely" >/dev/null
"$B/smshim" sync 2>"$T/s3.err" || { cat "$T/s3.err"; fail "third sync"; }
cat "$T/s3.err"
[ "$(cat "$SMSHIM_CACHE/tree/r/1.md")" = "edited remotely" ] || fail "the remote edit did not arrive"
grep -q '^smshim: pulled 1 files, removed 0' "$T/s3.err" || fail "one remote edit is not one file pulled"
echo "ok - one remote edit is one file pulled"
