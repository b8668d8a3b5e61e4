#!/bin/bash
# The first pull pages the container several pages at once, and the container changes under it:
# the server holds page 3 of the listing until the test has added, edited, renamed and deleted
# documents, so the pages before it are listed before the changes and the pages after it after
# them (positions moved: a changed document goes to the head of the listing, a deleted one moves
# every later one up a place). The pull must end with exactly the documents the server holds,
# with never more than 4 list requests in flight. Then a listing with a page that keeps failing
# must not be taken for remote deletions, and a page too large for an answer is split by the
# thread that fetches it. Every wait is on an event the server reports.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_NOWAIT=1 SMSHIM_PULL_INTERVAL=3600
stat_of() { srv stats "$1"; }
cfg() { # cfg JSON: change the server's settings (null included)
    "$PY" -c 'import sys, urllib.request as u
u.urlopen(u.Request(sys.argv[1] + "/_admin/config", data=sys.argv[2].encode(), method="POST")).read()' "$SRV" "$1"
}
# 1000 documents, 10 pages of 100, oldest first: document 999 heads the listing, 0 ends it
"$PY" - "$SRV" <<'PY'
import json, sys, http.client, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
for i in range(1000):
    c.request("POST", "/_admin/documents", json.dumps({
        "filepath": "/p/d%d/%04d.md" % (i % 10, i), "content": "doc %d" % i, "containerTag": "smshim",
        "updatedAt": 1700000000000 + i * 1000}), {"Content-Type": "application/json"})
    c.getresponse().read()
PY

cfg '{"list_hold_page": 3}'
"$B/smshim" sync >"$T/sync.out" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
    [ "$(stat_of list_holding)" -ge 1 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
[ "$(stat_of list_holding)" -ge 1 ] || { cat "$T/sync.out"; fail "the pull never asked for page 3"; }
echo "ok - the pull waits on page 3"

# the changes, while page 3 is held
"$PY" - "$SRV" <<'PY'
import json, sys, urllib.request as u
url = sys.argv[1]
def call(path, body):
    return json.loads(u.urlopen(u.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                          headers={"Content-Type": "application/json"})).read())
docs = {d["filepath"]: d["id"] for d in json.loads(u.urlopen(url + "/_admin/documents").read())["documents"]}
fp = lambda i: "/p/d%d/%04d.md" % (i % 10, i)
for i in range(990, 1000):           # page 1: gone (every later document moves up ten places)
    call("/_admin/delete", {"id": docs[fp(i)]})
for i in (750, 500, 250):            # pages 3, 6, 8: gone
    call("/_admin/delete", {"id": docs[fp(i)]})
for i in range(0, 8):                # page 10: edited (to the head of the listing)
    call("/_admin/edit", {"id": docs[fp(i)], "content": "doc %d, edited while listed" % i})
for i in (100, 600):                 # renamed
    call("/_admin/edit", {"id": docs[fp(i)], "filepath": "/moved/%d.md" % i})
call("/_admin/edit", {"id": docs[fp(20)], "content": "edited, then deleted"})
call("/_admin/delete", {"id": docs[fp(20)]})
for i in range(12):                  # new
    call("/_admin/documents", {"filepath": "/new/%d.md" % i, "content": "new %d" % i, "containerTag": "smshim"})
PY
cfg '{"list_hold_page": null}'
RC=0
wait $pid || RC=$?
cat "$T/sync.out"
[ "$RC" -eq 0 ] || fail "the first sync exited $RC"
[ "$(stat_of list_held)" -ge 1 ] || fail "no list request was held"
srv check "$SMSHIM_CACHE/tree" || fail "the tree is not what the server holds after a pull the container changed under"
echo "ok - the tree is what the server holds"
[ ! -e "$SMSHIM_CACHE/tree/p/d0/0100.md" ] && [ "$(cat "$SMSHIM_CACHE/tree/moved/100.md")" = "doc 100" ] ||
    fail "a document renamed during the pull did not move"
n=$(stat_of max_inflight)
echo "ok - at most $n requests in flight"
[ "$n" -le 4 ] || fail "$n requests in flight (4 at most)"
pages=$(srv stats list_pages)
"$PY" -c 'import json, sys
p = json.loads(sys.argv[1])
assert len(set(pg for pg, l, c in p if c and l == 100)) >= 10, p' "$pages" || fail "the listing did not have its 10 pages"
a0=$(srv stats requests | "$PY" -c 'import json,sys; print(sum(json.load(sys.stdin).values()))')
"$B/smshim" sync >/dev/null 2>&1 || fail "a sync after the first"
a1=$(srv stats requests | "$PY" -c 'import json,sys; print(sum(json.load(sys.stdin).values()))')
echo "ok - then a no-change sync costs $((a1 - a0)) request(s)"
[ $((a1 - a0)) -eq 1 ] || fail "a no-change sync after the first cost $((a1 - a0)) requests"

# a listing whose page 4 keeps failing: the pull fails, asks no GET (no deletion is looked for)
# and removes nothing, though documents are gone remotely
"$PY" - "$SRV" <<'PY'
import json, sys, urllib.request as u
url = sys.argv[1]
for d in json.loads(u.urlopen(url + "/_admin/documents").read())["documents"][:5]:
    u.urlopen(u.Request(url + "/_admin/delete", data=json.dumps({"id": d["id"]}).encode(), method="POST",
                        headers={"Content-Type": "application/json"})).read()
PY
before=$(find "$SMSHIM_CACHE/tree" -type f | wc -l)
g0=$(srv stats requests | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["GET /v3/documents/{id}"])')
cfg '{"list_fail_page": 4}'
RC=0
SMSHIM_SYNC_TIMEOUT=6 "$B/smshim" sync --full >"$T/full.out" 2>&1 || RC=$?
cat "$T/full.out"
[ "$RC" -ne 0 ] || fail "smshim sync --full succeeded though page 4 of its listing failed"
g1=$(srv stats requests | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["GET /v3/documents/{id}"])')
after=$(find "$SMSHIM_CACHE/tree" -type f | wc -l)
[ "$after" -eq "$before" ] && [ "$g1" -eq "$g0" ] ||
    fail "a listing with a failed page removed $((before - after)) files and asked $((g1 - g0)) GETs"
echo "ok - a listing with a failed page removes nothing"
cfg '{"list_fail_page": null}'
"$B/smshim" sync --full >/dev/null 2>&1 || fail "sync --full once the page answers"
srv check "$SMSHIM_CACHE/tree" || fail "the tree is not what the server holds after sync --full"
echo "ok - sync --full then finds the deletions"

# a second cache, and only edits while page 5 is held (no document comes or goes): the delta
# that ends the pull lists only documents the pull has seen, in newer versions
export SMSHIM_CACHE="$T/cache2"
cfg '{"list_hold_page": 5}'
h0=$(stat_of list_held)
"$B/smshim" sync >"$T/sync2.out" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
    [ "$(stat_of list_held)" -gt "$h0" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
[ "$(stat_of list_held)" -gt "$h0" ] || { cat "$T/sync2.out"; fail "the second pull never asked for page 5"; }
"$PY" - "$SRV" <<'PY'
import json, sys, urllib.request as u
url = sys.argv[1]
docs = json.loads(u.urlopen(url + "/_admin/documents").read())["documents"]
for d in docs[:30:3]:  # the oldest: the end of the listing, to its head
    u.urlopen(u.Request(url + "/_admin/edit", data=json.dumps({"id": d["id"], "content": "edited again"}).encode(),
                        method="POST", headers={"Content-Type": "application/json"})).read()
PY
cfg '{"list_hold_page": null}'
RC=0
wait $pid || RC=$?
cat "$T/sync2.out"
[ "$RC" -eq 0 ] || fail "the second cache's first sync exited $RC"
srv check "$SMSHIM_CACHE/tree" || fail "the second cache's tree is not what the server holds"
echo "ok - edits alone during a first pull: the tree is what the server holds"

# a page too large for one answer, fetched by one of the threads: page 5 holds two documents of
# 12 MB (together more than the 16 MB a page may hold): it is asked again in pages of 10, then
# of 1, while the other pages are in flight
export SMSHIM_CACHE="$T/cache3"
"$PY" - "$SRV" <<'PY'
import json, sys, urllib.request as u
url = sys.argv[1]
docs = json.loads(u.urlopen(url + "/_admin/documents").read())["documents"]
docs.sort(key=lambda d: d["updatedAt"], reverse=True)
for d in docs[455:457]:
    big = ("%s " % d["id"]) * ((12 << 20) // (len(d["id"]) + 1))
    body = {"id": d["id"], "content": big, "updatedAt": d["updatedAt"]}
    u.urlopen(u.Request(url + "/_admin/edit", data=json.dumps(body).encode(), method="POST",
                        headers={"Content-Type": "application/json"})).read()
PY
n0=$("$PY" -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$(srv stats list_pages)")
"$B/smshim" sync >"$T/sync3.out" 2>&1 || { cat "$T/sync3.out"; fail "the first sync of a listing with a page too large"; }
srv check "$SMSHIM_CACHE/tree" || fail "the tree is not what the server holds after a page was split"
"$PY" -c 'import json, sys
p = json.loads(sys.argv[1])[int(sys.argv[2]):]
assert [41, 10, True] in p and any(l == 1 and c for _, l, c in p), p' "$(srv stats list_pages)" "$n0" ||
    { cat "$T/sync3.out"; srv stats list_pages; fail "page 5 was not asked again in smaller pages"; }
echo "ok - a page too large for an answer, split while other pages are in flight"
