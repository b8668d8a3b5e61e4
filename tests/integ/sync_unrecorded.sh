#!/bin/bash
# A write the shim never sees (a program without the shim writes into the cache's tree, as a
# static child holding an inherited descriptor would) is found by the running engine's scan and
# pushed, without `smshim sync`.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_PULL_INTERVAL=1
shim "$PY" - "$SMSHIM_CACHE" <<'PY' || fail "the unrecorded write was not pushed"
import json, os, sys, time, urllib.request
cache = sys.argv[1]
os.makedirs("/sm/u", exist_ok=True)
with open("/sm/u/seen.md", "w") as f:          # through the shim: starts the sync thread
    f.write("recorded\n")
# behind the shim's back, straight into the tree (os.open on the real path is not under /sm)
with open(os.path.join(cache, "tree/u/unseen.md"), "w") as f:
    f.write("never recorded\n")
url = os.environ["SUPERMEMORY_BASE_URL"]
for _ in range(200):
    docs = json.load(urllib.request.urlopen(url + "/_admin/documents"))["documents"]
    if {d["filepath"] for d in docs} >= {"/u/seen.md", "/u/unseen.md"}:
        print("ok - both pushed")
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
