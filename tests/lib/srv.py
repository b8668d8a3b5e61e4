#!/usr/bin/env python3
"""srv.py: talk to the test server's admin endpoints from test scripts.

  srv.py URL config KEY=VALUE...      change live settings (numbers, true/false, null)
  srv.py URL stats [FIELD]            print the stats JSON, or one field of it
  srv.py URL seed FILEPATH CONTENT [TAG]   add a document as if made remotely (prints its id)
  srv.py URL seedjson                 add the documents on stdin, one JSON object a line, as they are
                                      (filepath, content, updatedAt...: JSON escapes such as \u0000
                                      reach the server as written; containerTag "smshim" unless given)
  srv.py URL seedmany PATTERN N [CONTENT]   seed N documents, %d in PATTERN and CONTENT (default
                                      "doc %d") standing for 1..N
  srv.py URL edit ID CONTENT          change a document remotely
  srv.py URL delete ID                delete a document remotely
  srv.py URL id FILEPATH              print the id of the (one) document at FILEPATH
  srv.py URL content FILEPATH         print the content of the (one) document at FILEPATH
  srv.py URL seedbin FILEPATH TYPE SRC|SIZE [STATUS [ID]]   add a binary document (TYPE image, pdf, ...)
                                      holding the bytes of the file SRC, or SIZE made-up bytes (prints its
                                      id); with ID, that document is replaced in place (same id, new
                                      bytes and url, updatedAt now), as the service does when it re-reads one
  srv.py URL check TREE [TAG]         the server holds exactly one document per file of TREE, standing
                                      for exactly its bytes (the content and the exact bytes kept in
                                      its metadata: exact(); a binary file: a binary document holding
                                      them), and nothing else; files over 50 MB and the read-only
                                      siblings of binary documents must have none. Exit 1 otherwise
  srv.py URL docs FILEPATH            print "<count> <their types, sorted>" of the documents at FILEPATH
                                      ("-" for none)
  srv.py URL late_apply                the uploads held by late_uploads take effect now (prints their ids)
  srv.py URL exact FILEPATH           print the bytes the (one) document at FILEPATH stands for
"""
import base64
import hashlib
import json
import os
import sys
import urllib.request


def call(url, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def docs(url, tag=None):
    out = call(url, "GET", "/_admin/documents")["documents"]
    return [d for d in out if tag is None or tag in (d.get("containerTags") or [])]


def value(v):
    if v in ("true", "false"):
        return v == "true"
    if v == "null":
        return None
    try:
        return float(v) if "." in v else int(v)
    except ValueError:
        return v


def fnv64(b):
    h = 1469598103934665603
    for c in b:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h or 1


EMPTY_TEXT = "(empty file)"  # hydrate/content.h: the content of a blank file


def exact(d):
    """The bytes a document stands for (hydrate/content.c): its content with the whitespace tail
    kept in its metadata, when the hash there matches; else the content as the service holds it."""
    content = d.get("content") or ""
    m = d.get("metadata") or {}
    h, tail = m.get("smshim_hash"), m.get("smshim_tail", "")
    if isinstance(h, str) and isinstance(tail, str):
        base = content.rstrip(" \t\r\n\v\f")
        for cand in ([base + tail] + ([tail] if base == EMPTY_TEXT else [])):
            if "%016x" % fnv64(cand.encode()) == h:
                return cand.encode()
    return content.encode()


BINARY_TYPES = ("image", "pdf", "video", "audio", "webpage")
MAX_CONTENT = 50 * 1024 * 1024


def sibling_of(fp, have):
    """The binary (or failed) document whose read-only sibling the file fp is, or None."""
    for t in BINARY_TYPES:
        suffix = ".%s-transcription.md" % t
        if fp.endswith(suffix) and any(d.get("type") == t for d in have.get(fp[:-len(suffix)], [])):
            return have[fp[:-len(suffix)]][0]
    if fp.endswith(".smfs-error.txt"):
        ds = have.get(fp[:-len(".smfs-error.txt")], [])
        if any(d.get("status") == "failed" for d in ds):
            return ds[0]
    return None


FETCH_MAX = 20 * 1024 * 1024  # hydrate/binary.h: SMH_BIN_FETCH_MAX


def shown_without_file(fp, d, want):
    """A document the tree shows without a file of its own: failed (its error file is there), or a binary
    one too large to fetch."""
    if d.get("status") == "failed" and d.get("type") != "text":
        return fp + ".smfs-error.txt" in want
    return d.get("type") in BINARY_TYPES and (d.get("fileSize") or 0) > FETCH_MAX


def check(url, tree, tag):
    want = {}
    for dirpath, _, files in os.walk(tree):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.islink(p):
                continue
            with open(p, "rb") as fh:
                want["/" + os.path.relpath(p, tree)] = fh.read()
    have = {}
    bad = 0
    for d in docs(url, tag):
        have.setdefault(d["filepath"], []).append(d)
    for fp, ds in sorted(have.items()):
        if len(ds) > 1:
            print("duplicate: %s (%d documents)" % (fp, len(ds)))
            bad += 1
        if fp not in want and not shown_without_file(fp, ds[0], want):
            print("extra document: %s" % fp)
            bad += 1
    local = binary = 0
    for fp, content in sorted(want.items()):
        if fp not in have and sibling_of(fp, have):
            continue  # a read-only sibling (transcription, error): never a document of its own
        try:
            text = content.decode()
        except UnicodeDecodeError:
            text = None
        if len(content) > MAX_CONTENT:
            local += 1  # over the service's limit: such files stay local
            if fp in have:
                print("a file over 50 MB has a document: %s" % fp)
                bad += 1
            continue
        if text is None:
            binary += 1
            if fp not in have:
                print("missing binary document: %s" % fp)
                bad += 1
            elif have[fp][0].get("type") == "text" or have[fp][0].get("fileSha256") != hashlib.sha256(content).hexdigest():
                print("binary document differs: %s" % fp)
                bad += 1
            continue
        if fp not in have:
            print("missing document: %s" % fp)
            bad += 1
            continue
        if have[fp][0].get("type", "text") != "text" or exact(have[fp][0]) != content:
            print("content differs: %s" % fp)
            bad += 1
    print("check: %d files (%d binary, %d local-only), %d documents, %d problems"
          % (len(want), binary, local, sum(len(v) for v in have.values()), bad))
    return 1 if bad else 0


def main():
    url, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "config":
        print(json.dumps(call(url, "POST", "/_admin/config",
                              {k: value(v) for k, v in (a.split("=", 1) for a in args)})))
    elif cmd == "stats":
        s = call(url, "GET", "/_admin/stats")
        if args:
            for f in args[0].split("."):
                s = s[f]
        print(json.dumps(s) if not isinstance(s, (int, float, str)) else s)
    elif cmd == "seed":
        d = call(url, "POST", "/_admin/documents", {"filepath": args[0], "content": args[1],
                                                    "containerTag": args[2] if len(args) > 2 else "smshim"})
        print(d["id"])
    elif cmd == "seedjson":
        for line in sys.stdin:
            if line.strip():
                call(url, "POST", "/_admin/documents", {"containerTag": "smshim", **json.loads(line)})
    elif cmd == "seedmany":  # seedmany FILEPATH-PATTERN N [CONTENT-PATTERN]: %d is 1..N
        for i in range(1, int(args[1]) + 1):
            call(url, "POST", "/_admin/documents",
                 {"filepath": args[0] % i, "content": (args[2] if len(args) > 2 else "doc %d") % i,
                  "containerTag": "smshim"})
    elif cmd == "seedbin":
        body = {"filepath": args[0], "type": args[1], "containerTag": "smshim"}
        if args[2].isdigit():
            body["size"] = int(args[2])
        else:
            with open(args[2], "rb") as f:
                body["bytes"] = base64.b64encode(f.read()).decode()
        if len(args) > 3:
            body["status"] = args[3]
        if len(args) > 4:
            body["id"] = args[4]
        print(call(url, "POST", "/_admin/documents", body)["id"])
    elif cmd == "edit":
        call(url, "POST", "/_admin/edit", {"id": args[0], "content": args[1]})
    elif cmd == "delete":
        call(url, "POST", "/_admin/delete", {"id": args[0]})
    elif cmd == "docs":
        types = sorted(d["type"] for d in docs(url) if d["filepath"] == args[0])
        print(len(types), " ".join(types) or "-")
    elif cmd == "late_apply":
        print(" ".join(call(url, "POST", "/_admin/late_apply", {})["ids"]))
    elif cmd == "id":
        ids = [d["id"] for d in docs(url) if d["filepath"] == args[0]]
        if len(ids) != 1:
            print("%d documents at %s" % (len(ids), args[0]), file=sys.stderr)
            return 1
        print(ids[0])
    elif cmd == "content":
        have = [d for d in docs(url) if d["filepath"] == args[0]]
        if len(have) != 1:
            print("%d documents at %s" % (len(have), args[0]), file=sys.stderr)
            return 1
        print(have[0].get("content"))
    elif cmd == "exact":
        have = [d for d in docs(url) if d["filepath"] == args[0]]
        if len(have) != 1:
            print("%d documents at %s" % (len(have), args[0]), file=sys.stderr)
            return 1
        sys.stdout.buffer.write(exact(have[0]))
    elif cmd == "check":
        return check(url, args[0], args[1] if len(args) > 1 else "smshim")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
