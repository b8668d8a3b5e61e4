#!/usr/bin/env python3
"""selftest.py - black-box self-test of smserver.py: starts it on a free port and checks the contract over HTTP.

Prints `ok - name` or `not ok - name: detail` per check and ends with exactly `N passed, N failed`;
exits 1 if any check failed. Python 3.11 standard library only; runs in a few seconds.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "smserver.py")
KEY = "selftest-key"
TAG = "selftest"
ID_RE = re.compile(r"[A-Za-z0-9]{22}")
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
WALK = ["queued", "extracting", "chunking", "embedding", "indexing", "done"]

# ---------------------------------------------------------------------------------------------------------------
# Harness: results, server process, HTTP helpers
# ---------------------------------------------------------------------------------------------------------------

passed = failed = 0


def check(name, cond, detail=""):
    """Record one check; returns cond so callers can stop early."""
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name}: {detail}")
    return bool(cond)


class ServerProc:
    """smserver.py as a child process on a free port (discovered through --port-file)."""

    def __init__(self, *args):
        self.tmp = tempfile.TemporaryDirectory(prefix="smserver-selftest-")
        port_file = os.path.join(self.tmp.name, "port")
        self.proc = subprocess.Popen([sys.executable, SERVER, "--port-file", port_file, *args],
                                     stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"server did not start (exit status {self.proc.returncode})")
            time.sleep(0.02)
        with open(port_file, encoding="ascii") as f:
            self.port_file_text = f.read()
        self.port = int(self.port_file_text)
        self.stdout_line = self.proc.stdout.readline()
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self, timeout=5):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.tmp.cleanup()


class Resp:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            self.json = None

    def __repr__(self):
        return f"<{self.status} {self.raw[:200]!r}>"


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never route loopback via a proxy


def req(srv, method, path, body=None, key=KEY, timeout=5, raw=None):
    """One request with urllib; HTTP errors are returned as responses, connection errors raise."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    r = urllib.request.Request(srv.base + path, data=data, method=method)
    if key is not None:
        r.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        r.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(r, timeout=timeout) as resp:
            return Resp(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read())


def admin(srv, method, path, body=None):
    r = req(srv, method, "/_admin/" + path, body, key=None)
    if r.status != 200:
        raise RuntimeError(f"admin {method} {path} failed: {r}")
    return r.json


def create(srv, content="x", filepath=None, tag=TAG, **extra):
    body = {"content": content, "containerTag": tag, **extra}
    if filepath is not None:
        body["filepath"] = filepath
    r = req(srv, "POST", "/v3/documents", body)
    if r.status != 200:
        raise RuntimeError(f"create failed: {r}")
    return r.json["id"]


def get(srv, doc_id):
    return req(srv, "GET", f"/v3/documents/{doc_id}")


def listing(srv, **body):
    body.setdefault("containerTags", [TAG])
    return req(srv, "POST", "/v3/documents/list", body)


def all_docs(srv):
    return admin(srv, "GET", "documents")["documents"]


def fails(fn):
    """The exception fn raises, or None (for requests that must die without an answer)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any connection-level failure is what we want
        return exc
    return None


# ---------------------------------------------------------------------------------------------------------------
# Tests (each runs after /_admin/reset on the shared server S)
# ---------------------------------------------------------------------------------------------------------------

def t_startup(s):
    check("port file holds port and newline", s.port_file_text == f"{s.port}\n", repr(s.port_file_text))
    check("stdout announces PORT", s.stdout_line == f"PORT {s.port}\n", repr(s.stdout_line))


def t_auth(s):
    r = req(s, "POST", "/v3/documents/list", {}, key=None)
    check("auth: missing header is 401", r.status == 401 and r.json == {"error": "Unauthorized"}, r)
    r = req(s, "POST", "/v3/documents/list", {}, key="wrong")
    check("auth: wrong key is 401", r.status == 401, r)
    r = req(s, "POST", "/v3/documents/list", {}, key=KEY)
    check("auth: right key is 200", r.status == 200, r)
    r = req(s, "POST", "/v3/documents", {"content": "x"}, key="wrong")
    check("auth: 401 create does not create", r.status == 401 and not all_docs(s), r)


def t_create_get(s):
    r = req(s, "POST", "/v3/documents",
            {"content": "hello", "containerTag": TAG, "filepath": "/a.md", "metadata": {"k": "v", "n": 1}})
    check("create answers 200 {id, status: queued}",
          r.status == 200 and set(r.json) == {"id", "status"} and r.json["status"] == "queued", r)
    check("create id is 22 chars [A-Za-z0-9]", ID_RE.fullmatch(r.json["id"]), r.json["id"])
    g = get(s, r.json["id"])
    d = g.json or {}
    check("get answers the document", g.status == 200 and d.get("id") == r.json["id"], g)
    check("get fields", d.get("content") == "hello" and d.get("filepath") == "/a.md"
          and d.get("containerTags") == [TAG] and d.get("customId") is None and d.get("status") == "done"
          and d.get("metadata") == {"k": "v", "n": 1} and "title" in d, d)
    check("timestamps are ISO-8601 ms Z", TIME_RE.fullmatch(d.get("createdAt", ""))
          and TIME_RE.fullmatch(d.get("updatedAt", "")), d)
    g = get(s, "A" * 22)
    check("get unknown id is 404 with JSON error", g.status == 404 and "error" in (g.json or {}), g)
    r = req(s, "POST", "/v3/documents", {"content": "y"})
    d = get(s, r.json["id"]).json
    check("create without tag or filepath", d["containerTags"] == [] and d["filepath"] is None, d)


def t_newline(s):
    for given, stored in (("a\n", "a"), ("a\n\n", "a\n"), ("a", "a"), ("a\r\n", "a\r"), ("\n", "")):
        d = get(s, create(s, given)).json
        check(f"create strips one trailing newline: {given!r} -> {stored!r}", d["content"] == stored, d["content"])
    doc_id = create(s, "a")
    req(s, "PATCH", f"/v3/documents/{doc_id}", {"content": "b\n"})
    check("patch strips one trailing newline", get(s, doc_id).json["content"] == "b")


def t_duplicates(s):
    a, b = create(s, "1", "/dup.md"), create(s, "2", "/dup.md")
    r = listing(s, filepath="/dup.md")
    check("same filepath twice makes two documents",
          a != b and r.json["pagination"]["totalItems"] == 2, r)


def t_list_filters(s):
    for fp in ("/d/a.md", "/d/sub/b.md", "/d/sub/deep/c.md", "/dx.md", "/e.md"):
        create(s, "c" + fp, fp)
    create(s, "other", "/d/a.md", tag="other_tag")

    def total(**kw):
        return listing(s, **kw).json["pagination"]["totalItems"]

    check("prefix filter is recursive", total(filepath="/d/") == 3)
    check("prefix filter on a subdirectory", total(filepath="/d/sub/") == 2)
    check("exact filter", total(filepath="/d/a.md") == 1)
    check("filter without slash is exact (no prefix)", total(filepath="/d") == 0)
    check("containerTags filter", total() == 5 and total(containerTags=["other_tag"]) == 1)
    check("no containerTags lists every container", total(containerTags=None) == 6)
    mems = listing(s).json["memories"]
    check("includeContent false omits content", mems and all("content" not in m for m in mems), mems[:1])
    mems = listing(s, includeContent=True, filepath="/e.md").json["memories"]
    check("includeContent true carries content", mems and mems[0]["content"] == "c/e.md", mems)
    seen = admin(s, "GET", "stats")["list_filepaths"]
    check("stats list_filepaths in order",
          seen == ["/d/", "/d/sub/", "/d/a.md", "/d", "/e.md"], seen)


def t_pagination(s):
    ids = [create(s, str(i), f"/p{i}.md") for i in range(5)]
    r = listing(s, limit=2, page=1)
    p = r.json["pagination"]
    check("pagination block", p == {"currentPage": 1, "limit": 2, "totalItems": 5, "totalPages": 3}, p)
    pages = [[m["id"] for m in listing(s, limit=2, page=k).json["memories"]] for k in (1, 2, 3)]
    flat = [i for pg in pages for i in pg]
    check("pages cover every document once", sorted(flat) == sorted(ids) and [len(x) for x in pages] == [2, 2, 1],
          pages)
    check("page past the end is empty", listing(s, limit=2, page=4).json["memories"] == [])
    check("limit clamps to 100", listing(s, limit=1000).json["pagination"]["limit"] == 100)
    check("limit clamps to 1", listing(s, limit=0).json["pagination"]["limit"] == 1)
    check("limit as digit string", listing(s, limit="2").json["pagination"]["limit"] == 2)
    check("default limit is 10", listing(s).json["pagination"]["limit"] == 10)
    req(s, "PATCH", f"/v3/documents/{ids[0]}", {"filepath": "/moved.md"})  # newest updatedAt now
    desc = [m["id"] for m in listing(s, sort="updatedAt", order="desc").json["memories"]]
    asc = [m["id"] for m in listing(s, sort="updatedAt", order="asc").json["memories"]]
    check("sort updatedAt desc puts the latest change first", desc[0] == ids[0], desc)
    check("order asc is the reverse of desc", asc == desc[::-1], (asc, desc))
    by_created = [m["id"] for m in listing(s, sort="createdAt", order="desc").json["memories"]]
    check("sort createdAt desc", by_created == ids[::-1], by_created)
    check("bad sort is 400", listing(s, sort="title").status == 400)


def t_upsert(s):
    a = create(s, "v1", "/u.md", customId="cid-1")
    b = create(s, "v2\n", "/u2.md", customId="cid-1")
    d = get(s, a).json
    check("customId create upserts the same document", a == b, (a, b))
    check("upsert updates content and filepath", d["content"] == "v2" and d["filepath"] == "/u2.md", d)
    check("upsert leaves one document", len(all_docs(s)) == 1)
    c = create(s, "v3", "/u.md", tag="other_tag", customId="cid-1")
    check("same customId in another container is a new document", c != a and len(all_docs(s)) == 2)
    r = req(s, "POST", "/v3/documents", {"content": "x", "customId": "a/b"})
    check("invalid customId is 400", r.status == 400, r)


def t_processing(s):
    admin(s, "POST", "config", {"processing_ms": 500})
    doc_id = create(s, "old", "/proc.md")
    first = get(s, doc_id).json
    check("fresh document is processing", first["status"] in WALK[:-1], first["status"])
    r = req(s, "PATCH", f"/v3/documents/{doc_id}", {"content": "new"})
    check("content PATCH while processing answers 200", r.status == 200 and r.json["id"] == doc_id, r)
    check("... and is dropped", get(s, doc_id).json["content"] == "old")
    check("... and is counted", admin(s, "GET", "stats")["dropped_patches"] == 1)
    seen, deadline = [], time.monotonic() + 3
    while time.monotonic() < deadline:
        st = get(s, doc_id).json["status"]
        if not seen or seen[-1] != st:
            seen.append(st)
        if st == "done":
            break
        time.sleep(0.015)
    check("status walks queued..done in order", seen[-1:] == ["done"] and seen == sorted(seen, key=WALK.index)
          and len(seen) >= 4, seen)
    done = get(s, doc_id).json
    check("updatedAt moves when processing finishes", done["updatedAt"] > first["updatedAt"], (first, done))
    r = req(s, "PATCH", f"/v3/documents/{doc_id}", {"content": "new"})
    check("content PATCH after done is applied and queued",
          r.json["status"] == "queued" and get(s, doc_id).json["content"] == "new", r)
    admin(s, "POST", "config", {"drop_patch_while_processing": False})
    doc_id = create(s, "old2")
    req(s, "PATCH", f"/v3/documents/{doc_id}", {"content": "new2"})
    check("drop_patch_while_processing off applies the PATCH", get(s, doc_id).json["content"] == "new2")


def t_patch_rename(s):
    doc_id = create(s, "x", "/p.md")
    req(s, "PATCH", f"/v3/documents/{doc_id}", {"content": "y", "filepath": "/q.md"})
    d = get(s, doc_id).json
    check("PATCH with content ignores filepath", d["content"] == "y" and d["filepath"] == "/p.md", d)
    r = req(s, "PATCH", f"/v3/documents/{doc_id}", {"filepath": "/q.md"})
    d2 = get(s, doc_id).json
    check("filepath-only PATCH renames", r.status == 200 and d2["filepath"] == "/q.md" and d2["content"] == "y", d2)
    check("rename moves updatedAt", d2["updatedAt"] >= d["updatedAt"], (d, d2))
    check("PATCH unknown id is 404", req(s, "PATCH", "/v3/documents/" + "B" * 22, {"filepath": "/z"}).status == 404)
    check("PATCH with nothing to update is 400", req(s, "PATCH", f"/v3/documents/{doc_id}", {}).status == 400)


def t_delete(s):
    doc_id = create(s, "x", "/del.md")
    r = req(s, "DELETE", f"/v3/documents/{doc_id}")
    check("delete is 204 with empty body", r.status == 204 and r.raw == b"", r)
    check("delete again is 404", req(s, "DELETE", f"/v3/documents/{doc_id}").status == 404)
    check("get after delete is 404", get(s, doc_id).status == 404)


def t_bulk(s):
    a, b = create(s, "a"), create(s, "b")
    r = req(s, "DELETE", "/v3/documents/bulk", {"ids": [a, b, "nope"]})
    check("bulk delete by ids", r.status == 200 and r.json["success"] is True and r.json["deletedCount"] == 2
          and r.json.get("errors") == [{"id": "nope", "error": "Document not found"}], r)
    for fp in ("/bk/1.md", "/bk/sub/2.md", "/bkx.md"):
        create(s, fp, fp)
    create(s, "o", "/bk/1.md", tag="other_tag")
    r = req(s, "DELETE", "/v3/documents/bulk", {"containerTags": [TAG], "filepath": "/bk/"})
    left = sorted(d["filepath"] for d in all_docs(s))
    check("bulk delete by tag + filepath prefix", r.json["deletedCount"] == 2 and left == ["/bk/1.md", "/bkx.md"],
          (r, left))
    check("bulk delete without ids or tags is 400", req(s, "DELETE", "/v3/documents/bulk", {}).status == 400)
    r = req(s, "DELETE", "/v3/documents/bulk", {"ids": [str(i) for i in range(101)]})
    check("bulk delete of 101 ids is 400", r.status == 400, r)


def t_errors(s):
    r = req(s, "POST", "/v3/documents", raw=b'{"content": "x",')
    check("malformed JSON is 400 with JSON error", r.status == 400 and isinstance((r.json or {}).get("error"), str), r)
    check("missing content is 400", req(s, "POST", "/v3/documents", {"filepath": "/x"}).status == 400)
    check("non-string content is 400", req(s, "POST", "/v3/documents", {"content": 5}).status == 400)
    check("unknown create field is 400", req(s, "POST", "/v3/documents", {"content": "x", "bogus": 1}).status == 400)
    check("bad containerTag is 400", req(s, "POST", "/v3/documents", {"content": "x", "containerTag": "a b"}).status
          == 400)
    check("body that is not an object is 400", req(s, "POST", "/v3/documents", raw=b"[1]").status == 400)
    check("invalid UTF-8 body is 400", req(s, "POST", "/v3/documents", raw=b'{"content":"\xff"}').status == 400)
    check("list with malformed JSON is 400", req(s, "POST", "/v3/documents/list", raw=b"{").status == 400)
    r = req(s, "GET", "/v3/nope")
    check("unknown /v3 route is 404", r.status == 404 and "error" in (r.json or {}), r)
    check("unknown route is 404", req(s, "GET", "/nothing").status == 404)
    check("errors created nothing", all_docs(s) == [])


def t_faults(s):
    admin(s, "POST", "config", {"fault_429": 1, "retry_after": 3})
    r = req(s, "POST", "/v3/documents", {"content": "x"})
    check("fault_429 answers 429 with Retry-After", r.status == 429 and r.headers.get("Retry-After") == "3"
          and "error" in (r.json or {}), r)
    admin(s, "POST", "config", {"fault_429": 0, "fault_5xx": 1})
    codes = {req(s, "POST", "/v3/documents", {"content": "x"}).status for _ in range(12)}
    check("fault_5xx answers 500/502/503", codes and codes <= {500, 502, 503}, codes)
    admin(s, "POST", "config", {"fault_5xx": 0, "fault_drop": 1})
    exc = fails(lambda: req(s, "POST", "/v3/documents", {"content": "x"}))
    check("fault_drop closes without an answer", exc is not None, exc)
    check("faults before the effect create nothing", all_docs(s) == [])
    admin(s, "POST", "config", {"fault_drop": 0, "fault_drop_after": 1})
    exc = fails(lambda: req(s, "POST", "/v3/documents", {"content": "x"}))
    check("fault_drop_after closes without an answer ...", exc is not None, exc)
    check("... after the create took effect", len(all_docs(s)) == 1)
    f = admin(s, "GET", "stats")["faults"]
    check("fault counters", f["429"] == 1 and f["500"] + f["502"] + f["503"] == 12 and f["drop"] == 1
          and f["drop_after"] == 1, f)
    admin(s, "POST", "config", {"fault_drop_after": 0, "latency_ms": 200})
    t0 = time.monotonic()
    listing(s)
    slow = time.monotonic() - t0
    t0 = time.monotonic()
    admin(s, "GET", "stats")
    fast = time.monotonic() - t0
    check("latency_ms delays /v3 but not /_admin", slow >= 0.19 and fast < 0.15, (slow, fast))


def valid_listing(obj):
    """True if a list answer has the documented types (the client-side checks smshim must make)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("memories"), list):
        return False
    p = obj.get("pagination")
    if not isinstance(p, dict) or not all(isinstance(p.get(k), int) for k in ("currentPage", "totalItems",
                                                                               "totalPages")):
        return False
    for m in obj["memories"]:
        if not isinstance(m, dict) or not isinstance(m.get("id"), str) or not isinstance(m.get("status"), str):
            return False
        if not (m.get("filepath") is None or isinstance(m["filepath"], str)):
            return False
        if not isinstance(m.get("containerTags"), list) or not isinstance(m.get("updatedAt"), str):
            return False
        if "content" in m and not isinstance(m["content"], str):
            return False
    return True


def t_hostile_lists(s):
    create(s, "x", "/h.md")
    check("normal listing passes the type checks", valid_listing(listing(s).json))
    admin(s, "POST", "config", {"bad_json": 1})
    rs = [listing(s) for _ in range(8)]
    check("bad_json list bodies do not parse", all(r.status == 200 and r.json is None for r in rs),
          [r for r in rs if r.json is not None][:1])
    check("bad_json leaves get alone", get(s, all_docs(s)[0]["id"]).json is not None)
    admin(s, "POST", "config", {"bad_json": 0, "wrong_types": 1})
    rs = [listing(s) for _ in range(12)]
    check("wrong_types list bodies parse but fail type checks",
          all(r.json is not None and not valid_listing(r.json) for r in rs),
          [r for r in rs if r.json is None or valid_listing(r.json)][:1])
    f = admin(s, "GET", "stats")["faults"]
    check("hostile answers are counted", f["bad_json"] == 8 and f["wrong_types"] == 12, f)


def t_hostile_paging(s):
    for i in range(3):
        create(s, str(i), f"/hp{i}.md")
    admin(s, "POST", "config", {"list_total_pages": 1000000000})
    r = listing(s, limit=100, page=2)
    p = r.json["pagination"]
    check("list_total_pages: a promise the pages do not keep",
          p["totalPages"] == 1000000000 and p["totalItems"] == 100000000000 and r.json["memories"] == [], r)
    admin(s, "POST", "config", {"list_repeat": True})
    a = [m["id"] for m in listing(s, limit=100, page=1).json["memories"]]
    b = [m["id"] for m in listing(s, limit=100, page=7).json["memories"]]
    check("list_repeat: every page answers page 1", len(a) == 3 and a == b, (a, b))
    admin(s, "POST", "config", {"list_total_pages": None, "list_repeat": False, "list_grow": True})
    r1, r2 = listing(s, limit=100, page=1, includeContent=True), listing(s, limit=100, page=2)
    g1 = [m for m in r1.json["memories"] if m["filepath"].startswith("/grow/")]
    g2 = [m for m in r2.json["memories"] if m["filepath"].startswith("/grow/")]
    check("list_grow: each page promises one more", r1.json["pagination"]["totalPages"] == 2
          and r2.json["pagination"]["totalPages"] == 3, (r1, r2))
    check("list_grow: each page brings a new made-up document", len(g1) == 1 and len(g2) == 1
          and g1[0]["id"] != g2[0]["id"] and g1[0]["content"] == "page 1" and "content" not in g2[0]
          and ID_RE.fullmatch(g1[0]["id"]), (g1, g2))
    check("list_grow: the made-up documents are not stored", get(s, g1[0]["id"]).status == 404)
    pages = admin(s, "GET", "stats")["list_pages"]
    check("stats list_pages records page, limit, includeContent",
          pages == [[2, 100, False], [1, 100, False], [7, 100, False], [1, 100, True], [2, 100, False]], pages)


def t_gzip_bomb(s):
    import gzip
    admin(s, "POST", "config", {"gzip_bomb_mb": 4})
    r = req(s, "POST", "/v3/documents/list", {})
    check("gzip_bomb: nothing without Accept-Encoding: gzip", r.status == 200 and r.json is not None
          and r.headers.get("Content-Encoding") is None, r)
    rq = urllib.request.Request(s.base + "/v3/documents/list", data=b"{}", method="POST",
                                headers={"Authorization": f"Bearer {KEY}", "Accept-Encoding": "gzip"})
    with OPENER.open(rq, timeout=10) as resp:
        wire, enc = resp.read(), resp.headers.get("Content-Encoding")
    body = gzip.decompress(wire)
    check("gzip_bomb: a small gzip body", enc == "gzip" and len(wire) < 64 * 1024, (enc, len(wire)))
    check("gzip_bomb: decodes to MB megabytes of valid JSON", len(body) >= 4 * 1024 * 1024
          and json.loads(body)["memories"] == [], len(body))
    check("gzip_bomb is counted", admin(s, "GET", "stats")["faults"]["gzip_bomb"] == 1)


def t_429_uploads(s):
    admin(s, "POST", "config", {"fault_429_uploads": 2, "retry_after": 100000})
    a = req(s, "POST", "/v3/documents", {"content": "x"})
    lst = listing(s)
    b = req(s, "POST", "/v3/documents", {"content": "x"})
    c = req(s, "POST", "/v3/documents", {"content": "x"})
    check("fault_429_uploads: the next N uploads answer 429 with Retry-After",
          a.status == 429 and b.status == 429 and a.headers.get("Retry-After") == "100000", (a, b))
    check("fault_429_uploads: other routes and later uploads are answered", lst.status == 200
          and c.status == 200 and len(all_docs(s)) == 1, (lst, c))


def upload(srv, filepath, data):
    """POST /v3/documents/file with a multipart body (file, containerTag, filepath)."""
    b = "smselftestboundary"
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode() + data,
             f'--{b}\r\nContent-Disposition: form-data; name="containerTag"\r\n\r\n{TAG}'.encode(),
             f'--{b}\r\nContent-Disposition: form-data; name="filepath"\r\n\r\n{filepath}'.encode()]
    r = urllib.request.Request(srv.base + "/v3/documents/file", data=b"\r\n".join(parts) + f"\r\n--{b}--\r\n".encode(),
                               method="POST")
    r.add_header("Authorization", f"Bearer {KEY}")
    r.add_header("Content-Type", f"multipart/form-data; boundary={b}")
    with OPENER.open(r, timeout=5) as resp:
        return json.loads(resp.read())


def t_late_uploads(s):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    admin(s, "POST", "config", {"late_uploads": 1})
    exc = fails(lambda: upload(s, "/late.png", png))
    check("late_uploads: the held upload gets no answer and has no effect yet", exc is not None and all_docs(s) == [],
          exc)
    b = upload(s, "/late.png", png)
    check("late_uploads: the next upload is answered", b.get("id") and len(all_docs(s)) == 1, b)
    ids = admin(s, "POST", "late_apply", {})["ids"]
    docs = [d for d in all_docs(s) if d["filepath"] == "/late.png"]
    check("late_apply: the held upload takes effect as a second document", len(ids) == 1 and len(docs) == 2
          and ids[0] != b["id"] and {d["id"] for d in docs} == {ids[0], b["id"]}, (ids, docs))
    check("late_apply: nothing is held any more", admin(s, "POST", "late_apply", {})["ids"] == [])
    check("late uploads are counted", admin(s, "GET", "stats")["faults"]["late"] == 1)


def t_lose_upload_answers(s):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(32))
    admin(s, "POST", "config", {"lose_upload_answers": 1})
    lst = listing(s)
    exc = fails(lambda: upload(s, "/lost.png", png))
    check("lose_upload_answers: listings are answered, the upload takes effect without an answer",
          lst.status == 200 and exc is not None and len(all_docs(s)) == 1, (lst, exc))
    exc = fails(lambda: listing(s))
    check("lose_upload_answers: after the last one, every request is dropped (fault_drop 1)", exc is not None
          and admin(s, "GET", "config")["fault_drop"] == 1, exc)
    admin(s, "POST", "config", {"fault_drop": 0})
    check("lose_upload_answers: fault_drop 0 ends it", listing(s).status == 200)


def t_hang(s):
    admin(s, "POST", "config", {"hang": True})
    t0 = time.monotonic()
    exc = fails(lambda: req(s, "POST", "/v3/documents/list", {}, timeout=0.5))
    check("hang: /v3 request times out", isinstance(exc, (TimeoutError, socket.timeout, urllib.error.URLError))
          and time.monotonic() - t0 < 2, repr(exc))
    st = admin(s, "GET", "stats")
    check("hang: /_admin still answers", st["faults"]["hang"] == 1, st["faults"])
    check("hang: nothing created meanwhile", all_docs(s) == [])
    admin(s, "POST", "config", {"hang": False})
    check("hang off: /v3 answers again", listing(s).status == 200)


def t_admin(s):
    long_name = "/" + "n" * 5000
    hostile = ["../x", "/a/\u0001b", long_name, None, "/dir/", "rel.md"]
    seeded = [admin(s, "POST", "documents", {"filepath": fp, "content": "c\n", "containerTag": TAG})
              for fp in hostile]
    docs = {d["id"]: d for d in all_docs(s)}
    check("seed keeps any filepath verbatim", [docs[d["id"]]["filepath"] for d in seeded] == hostile)
    check("seed keeps content raw and is done", all(docs[d["id"]]["content"] == "c\n"
                                                    and docs[d["id"]]["status"] == "done" for d in seeded))
    listed = [m["filepath"] for m in listing(s, limit=100).json["memories"]]
    check("seeded documents are listed by the API", sorted(listed, key=str) == sorted(hostile, key=str), listed)
    d = admin(s, "POST", "documents", {"id": "fixedIdfixedIdfixedId1", "filepath": "/old.md", "content": "o",
                                       "containerTag": TAG, "customId": "cust", "status": "failed",
                                       "updatedAt": "2020-01-01T00:00:00.000Z"})
    check("seed with id, customId, status, updatedAt",
          d["id"] == "fixedIdfixedIdfixedId1" and d["customId"] == "cust" and d["status"] == "failed"
          and d["updatedAt"] == "2020-01-01T00:00:00.000Z", d)
    r = req(s, "PATCH", f"/v3/documents/{d['id']}", {"content": "z"})
    check("content PATCH on a failed document is dropped", get(s, d["id"]).json["content"] == "o", r)
    e = admin(s, "POST", "edit", {"id": d["id"], "content": "remote", "filepath": "/new.md"})
    check("edit changes content and filepath, done, updatedAt now",
          e["content"] == "remote" and e["filepath"] == "/new.md" and e["status"] == "done"
          and e["updatedAt"] > "2020-01-01T00:00:00.000Z", e)
    admin(s, "POST", "delete", {"id": d["id"]})
    check("admin delete", get(s, d["id"]).status == 404)
    check("admin delete of unknown id is 404", req(s, "POST", "/_admin/delete", {"id": "nope"}, key=None).status
          == 404)
    check("config rejects unknown keys", req(s, "POST", "/_admin/config", {"nope": 1}, key=None).status == 400)
    check("config rejects bad values", req(s, "POST", "/_admin/config", {"fault_5xx": 2}, key=None).status == 400)

    admin(s, "POST", "reset")
    a = create(s, "a")
    create(s, "b")
    get(s, a)
    listing(s)
    req(s, "PATCH", f"/v3/documents/{a}", {"filepath": "/r.md"})
    req(s, "DELETE", f"/v3/documents/{a}")
    req(s, "DELETE", "/v3/documents/bulk", {"ids": ["x"]})
    rq = admin(s, "GET", "stats")["requests"]
    want = {"POST /v3/documents": 2, "GET /v3/documents/{id}": 1, "POST /v3/documents/list": 1,
            "PATCH /v3/documents/{id}": 1, "DELETE /v3/documents/{id}": 1, "DELETE /v3/documents/bulk": 1}
    check("stats count requests per route", all(rq[k] == v for k, v in want.items()), rq)
    admin(s, "POST", "config", {"latency_ms": 50})
    cfg = admin(s, "POST", "reset")
    st = admin(s, "GET", "stats")
    check("reset clears documents, stats and config", all_docs(s) == [] and cfg["latency_ms"] == 0
          and sum(st["requests"].values()) == 0 and st["max_inflight"] == 0, (cfg, st))


def t_concurrency(s):
    admin(s, "POST", "config", {"latency_ms": 400})
    n_up, n_list = 8, 4
    barrier = threading.Barrier(n_up + n_list)
    results = []

    def worker(upload):
        barrier.wait()
        results.append(req(s, "POST", "/v3/documents", {"content": "c"}) if upload else listing(s))

    threads = [threading.Thread(target=worker, args=(i < n_up,)) for i in range(n_up + n_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    st = admin(s, "GET", "stats")
    check("concurrent requests all answered", len(results) == n_up + n_list
          and all(r.status == 200 for r in results), results)
    check("max_inflight_uploads counts overlapping uploads only", st["max_inflight_uploads"] == n_up,
          st["max_inflight_uploads"])
    check("max_inflight counts every overlapping request", st["max_inflight"] == n_up + n_list, st["max_inflight"])
    check("inflight back to zero", st["inflight"] == 0 and st["inflight_uploads"] == 0, st)
    check("concurrent creates made distinct documents", len({d["id"] for d in all_docs(s)}) == n_up)


def t_http(s):
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    hdrs = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    conn.request("POST", "/v3/documents", body=json.dumps({"content": "k"}), headers=hdrs)
    r1 = conn.getresponse()
    doc_id = json.loads(r1.read())["id"]
    sock = conn.sock
    conn.request("DELETE", f"/v3/documents/{doc_id}", headers=hdrs)
    r2 = conn.getresponse()
    r2.read()
    conn.request("GET", f"/v3/documents/{doc_id}", headers=hdrs)
    r3 = conn.getresponse()
    r3.read()
    check("keep-alive: three requests on one connection", sock is not None and conn.sock is sock
          and (r2.status, r3.status) == (204, 404), (r2.status, r3.status))
    check("Content-Length on JSON answers", r1.getheader("Content-Length") and r3.getheader("Content-Length"))
    conn.request("POST", "/v3/documents", body=iter([b'{"content": ', b'"chunked"}']), headers=hdrs,
                 encode_chunked=True)
    r4 = conn.getresponse()
    body = json.loads(r4.read())
    check("chunked request body", r4.status == 200 and get(s, body["id"]).json["content"] == "chunked", body)
    conn.close()
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sk:
        sk.sendall(b"POST /v3/documents HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n")
        head = sk.recv(4096)
    check("oversized Content-Length is 413", head.startswith(b"HTTP/1.1 413"), head[:40])
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sk:
        sk.sendall(b"BOGUS\r\n\r\n")
        answer = b"".join(iter(lambda: sk.recv(4096), b""))  # the server closes after a protocol error
    check("garbage request line gets a JSON 400", answer.startswith(b"HTTP/1.1 400")
          and answer.endswith(b'{"error": "Bad request syntax (\'BOGUS\')"}'), answer)


def t_restart(_s):
    """--state-file survives a restart; --hang on the command line; SIGTERM exits 0 even with a hung request."""
    with tempfile.TemporaryDirectory(prefix="smserver-state-") as tmp:
        state = os.path.join(tmp, "state.json")
        a = ServerProc("--key", KEY, "--state-file", state)
        try:
            doc_id = create(a, "persist me", "/keep.md")
        finally:
            rc = a.stop()
            a.kill()
        check("SIGTERM exits 0", rc == 0, rc)
        b = ServerProc("--state-file", state, "--hang")
        try:
            docs = all_docs(b)
            check("state file restores documents", [(d["id"], d["content"]) for d in docs]
                  == [(doc_id, "persist me")], docs)
            exc = fails(lambda: req(b, "GET", f"/v3/documents/{doc_id}", timeout=0.5))
            check("--hang: /v3 request times out", exc is not None, exc)
        finally:
            t0 = time.monotonic()
            rc = b.stop()
            b.kill()
        check("SIGTERM exits 0 promptly with a hung request", rc == 0 and time.monotonic() - t0 < 3, rc)


TESTS = [t_startup, t_auth, t_create_get, t_newline, t_duplicates, t_list_filters, t_pagination, t_upsert,
         t_processing, t_patch_rename, t_delete, t_bulk, t_errors, t_faults, t_hostile_lists, t_hang, t_admin,
         t_concurrency, t_http, t_restart, t_hostile_paging, t_gzip_bomb, t_429_uploads, t_late_uploads, t_lose_upload_answers]


def main():
    global failed
    t0 = time.monotonic()
    s = ServerProc("--key", KEY, "--seed", "1")
    try:
        for test in TESTS:
            try:
                admin(s, "POST", "reset")
                test(s)
            except Exception as exc:  # noqa: BLE001 - report and carry on with the next test
                failed += 1
                print(f"not ok - {test.__name__}: {type(exc).__name__}: {exc}")
    finally:
        rc = s.stop()
        s.kill()
    check("server exits 0 on SIGTERM", rc == 0, rc)
    print(f"# selftest took {time.monotonic() - t0:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
