#!/usr/bin/env python3
"""smserver.py - loopback emulation of the Supermemory v3 documents API (quirks and faults included) for smshim tests.

The contract is api.md: the subset of the Supermemory v3 documents API that smshim speaks. The odd behaviour of
the real service is reproduced on purpose; see the "Quirk" notes beside the code (numbered as in api.md). On top
of the API, unauthenticated /_admin/* endpoints let tests seed documents, change faults at run time and read
counters. Faults, latency and --hang apply to /v3 only, never to /_admin.

Python 3.11 standard library only. Run `smserver.py --help` for the flags.
"""

import argparse
import base64
import contextlib
import datetime
import hashlib
import hmac
import json
import math
import os
import random
import re
import signal
import socketserver
import struct
import sys
import threading
import time
import traceback
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

# ---------------------------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------------------------

STAGES = ("queued", "extracting", "chunking", "embedding", "indexing")  # then "done"; equal fifths of processing_ms
STATUSES = STAGES + ("done", "failed", "unknown")
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
ID_LEN = 22
TAG_RE = re.compile(r"[A-Za-z0-9_:-]{1,100}")       # api.md: containerTag charset and length
CUSTOM_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")  # service docs: alphanumeric, hyphens, underscores, dots
MAX_CONTENT = 50 * 1024 * 1024                      # api.md: documents up to 50 MB (UTF-8 bytes)
MAX_BODY = 4 * MAX_CONTENT                          # JSON escaping can inflate content; refuse beyond this
LIST_LIMIT_DEFAULT = 10                             # the service's documented default page size
LIST_LIMIT_MAX = 100
CREATE_KEYS = {"content", "containerTag", "containerTags", "entityContext", "customId", "metadata",
               "taskType", "filepath"}              # create is additionalProperties:false in the service schema
TASK_TYPES = ("memory", "superrag")

# Stats keys for the /v3 routes; "uploads" are the routes that change documents.
R_LIST = "POST /v3/documents/list"
R_GET = "GET /v3/documents/{id}"
R_CREATE = "POST /v3/documents"
R_PATCH = "PATCH /v3/documents/{id}"
R_DELETE = "DELETE /v3/documents/{id}"
R_BULK = "DELETE /v3/documents/bulk"
R_SESSION = "GET /v3/session"
R_SEARCH = "POST /v4/search"
R_FILE = "POST /v3/documents/file"
R_FILE_GET = "GET /_files/{id}"  # a binary document's url (no key needed, like a presigned URL)
R_OTHER = "other"
ROUTES = (R_LIST, R_GET, R_CREATE, R_PATCH, R_DELETE, R_BULK, R_SESSION, R_SEARCH, R_FILE, R_FILE_GET,
          R_OTHER)
# Binary documents (api.md): the type the service gives an uploaded file, by its first bytes, else its name.
BINARY_TYPES = ("image", "pdf", "video", "audio", "webpage")
MAGIC = ((b"\x89PNG\r\n\x1a\n", "image"), (b"\xff\xd8\xff", "image"), (b"GIF8", "image"), (b"%PDF-", "pdf"),
         (b"ID3", "audio"), (b"OggS", "audio"), (b"fLaC", "audio"), (b"\x1aE\xdf\xa3", "video"))
EXTENSIONS = {".png": "image", ".jpg": "image", ".jpeg": "image", ".gif": "image", ".webp": "image",
              ".pdf": "pdf", ".mp4": "video", ".webm": "video", ".mov": "video", ".mp3": "audio",
              ".wav": "audio", ".ogg": "audio", ".flac": "audio", ".html": "webpage", ".htm": "webpage"}
SEARCH_LIMIT = 10
SESSION = {"org": {"id": "org_test", "name": "Test Org"},
           "user": {"id": "usr_test", "name": "Test User", "email": "test@example.com"}, "plan": "free"}
UPLOAD_ROUTES = (R_CREATE, R_PATCH, R_DELETE, R_BULK, R_FILE)
FAULT_KINDS = ("drop", "drop_after", "429", "500", "502", "503", "bad_json", "wrong_types", "hang", "gzip_bomb",
               "late", "redirect")

# Live configuration: name -> kind. Kinds drive validation in Store.set_config().
CONFIG_KINDS = {
    "latency_ms": "ms", "processing_ms": "ms",
    "fault_5xx": "prob", "fault_429": "prob", "fault_drop": "prob", "fault_drop_after": "prob",
    "bad_json": "prob", "wrong_types": "prob",
    "retry_after": "retry", "hang": "bool", "drop_patch_while_processing": "bool", "key": "key",
    # hostile paging and sizes (see Store.list and Handler._api)
    "fault_429_uploads": "count", "list_total_pages": "opt_count", "list_repeat": "bool", "list_grow": "bool",
    # one page of every listing held until the setting changes, or answered 500 (Store.list_page_rule)
    "list_hold_page": "opt_count", "list_fail_page": "opt_count",
    # every /v3 request is answered with this redirect status (301, 302, 307, 308; 0: none), its Location the
    # same path under /v3/moved on this server (a request that follows it is counted there, never answered 2xx)
    "redirect": "count",
    # every list answer's memories start with this many entries that are not documents (the number 0):
    # an answer of many small JSON values
    "list_flood": "count",
    "gzip_bomb_mb": "ms",
    # /v4/search: chunks come back with their whitespace runs collapsed to one space
    "search_squash": "bool",
    # /v4/search: every result's similarity is this JSON text instead of its number (e.g. "1e999", a number
    # out of a double's range); null or "": the number
    "search_similarity": "opt_str",
    # binary documents' urls name this host instead of the one the request came to (another origin)
    "files_host": "opt_str",
    # uploads (create, patch, delete, file) take effect, then wait this long before answering
    "hold_answer_ms": "ms",
    # every /v3 request waits, in flight, until hold is set back to false (tests count what piles up)
    "hold": "bool",
    # every GET of a binary document's url waits, in flight, until hold_files is set back to false
    "hold_files": "bool",
    # every upload (create, patch, delete, file) waits, in flight, until hold_uploads is set back to false
    "hold_uploads": "bool",
    # the next N file uploads get no answer (the connection closes, as if the client had died) and take
    # effect only at POST /_admin/late_apply: a request the service applies after its client is gone
    "late_uploads": "count",
    # the next N file uploads take effect and lose their answer; after the N-th, fault_drop becomes 1 (every
    # later /v3 request is dropped before it takes effect, until the test sets fault_drop again), so no retry
    # can learn of the upload before the test has changed what it wants to
    "lose_upload_answers": "count",
    # a GET of a document answers another document of the store (the first other one by creation order:
    # its id and content) at the asked one's filepath: a server that confused two documents
    "get_other": "bool",
    # creates and file uploads take effect, and answer with this id instead of the document's (null: its own)
    "create_id": "opt_str",
    # a GET of a document answers it with this filepath instead of its own (null: its own)
    "get_filepath": "opt_str",
    # every list answer that holds a document lists its first one again right after it, at this
    # filepath (the same id and updatedAt): one document at two filepaths (null: none)
    "list_dup_id": "opt_str",
}


class ApiError(Exception):
    """An error answer: HTTP status plus the service's {"error", "details"} body."""

    def __init__(self, status, error, details=None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.details = details

    def body(self):
        out = {"error": self.error}
        if self.details is not None:
            out["details"] = self.details
        return out


# ---------------------------------------------------------------------------------------------------------------
# Small helpers: time, JSON, validation
# ---------------------------------------------------------------------------------------------------------------

def now_ms():
    return int(time.time() * 1000)


def iso_ms(ms):
    """Epoch milliseconds -> '2026-05-10T23:28:10.123Z' (the service's format)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def parse_time(value, name):
    """Admin input: ISO-8601 string (naive = UTC) or epoch milliseconds -> epoch milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=datetime.timezone.utc)
            return int(round(dt.timestamp() * 1000))
    raise ApiError(400, "Invalid request", f"{name} must be an ISO-8601 string or epoch milliseconds")


def dump_json(obj):
    """Serialise as UTF-8 JSON; falls back to ASCII escapes if a stored string holds a lone surrogate."""
    try:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj).encode("ascii")


def parse_json(body, empty_ok=True):
    """Request body -> JSON object. Empty body is {} when empty_ok. Anything else malformed is a 400."""
    if not body.strip():
        if empty_ok:
            return {}
        raise ApiError(400, "Invalid request", "request body is required")
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "Invalid JSON", str(exc)) from None
    if not isinstance(obj, dict):
        raise ApiError(400, "Invalid request", "request body must be a JSON object")
    return obj


def check_text(value, name):
    """A string that is valid Unicode (the contract is UTF-8 text; a lone surrogate escape is refused)."""
    if not isinstance(value, str):
        raise ApiError(400, "Invalid request", f"{name} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "Invalid request", f"{name} is not valid Unicode") from None
    return value


def check_tag(value):
    if not isinstance(value, str) or not TAG_RE.fullmatch(value):
        raise ApiError(400, "Invalid request", "containerTag must match [A-Za-z0-9_:-]{1,100}")
    return value


def check_tags(value):
    if not isinstance(value, list) or not value:
        raise ApiError(400, "Invalid request", "containerTags must be a non-empty array of strings")
    return [check_tag(t) for t in value]


def check_metadata(value):
    """Flat object; values are strings, numbers, booleans or arrays of strings (no nesting)."""
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid request", "metadata must be an object")
    for k, v in value.items():
        flat = isinstance(v, (str, int, float, bool))
        strs = isinstance(v, list) and all(isinstance(x, str) for x in v)
        if not (flat or strs):
            raise ApiError(400, "Invalid request", f"metadata value for {k!r} must be a string, number, "
                                                   "boolean or array of strings")
    return value


def normalise_content(content):
    """Quirk 6: the service strips exactly one trailing "\\n" (not "\\r", not further newlines)."""
    return content[:-1] if content.endswith("\n") else content


def content_size_ok(content):
    if len(content) > MAX_CONTENT or len(content.encode("utf-8")) > MAX_CONTENT:
        raise ApiError(413, "Payload Too Large", "documents are limited to 50 MB")


def filepath_matches(filter_value, filepath):
    """Quirk 1: a filter ending in "/" matches every filepath below it (recursively); else exact match."""
    if not isinstance(filepath, str):
        return False
    if filter_value.endswith("/"):
        return filepath.startswith(filter_value)
    return filepath == filter_value


def page_number(value, name, default):
    """limit/page: a number or a string of digits (both accepted by the service)."""
    if value is None:
        return default
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return int(value)
    raise ApiError(400, "Invalid request", f"{name} must be a number or a string of digits")


# ---------------------------------------------------------------------------------------------------------------
# The document store, counters and live configuration (all behind one lock)
# ---------------------------------------------------------------------------------------------------------------

class Store:
    """Documents, stats and config. Every public method takes self.lock; none sleeps while holding it.

    A stored document is a dict with the public fields plus: createdAt/updatedAt as epoch ms, "seq" (creation
    order, the sort tie-break), "procStart"/"procMs" (processing in progress, status derived lazily from the
    clock) and "fixedStatus" (a status pinned by an admin seed, e.g. "failed"; cleared by an accepted content
    change).
    """

    def __init__(self, defaults, seed=None, state_file=None):
        self.lock = threading.Lock()
        self.held = threading.Condition(self.lock)  # config hold changed
        self.defaults = dict(defaults)
        self.seed = seed
        self.state_file = state_file
        self.shutdown = threading.Event()  # set when the server stops; releases --hang waiters
        self.hold = threading.Condition()  # notified when the config changes (list_hold_page)
        self._reset_locked()
        if state_file and os.path.exists(state_file):
            self._load()
        self._persist()  # an unwritable --state-file fails here, at start, not as 500s later

    # -- reset / persistence ------------------------------------------------------------------------------------

    def _reset_locked(self):
        self.docs = {}
        self.docs_gen = getattr(self, "docs_gen", 0) + 1  # moves with every change (_persist)
        self.sorted_hits = None  # (key, valid until ms, hits) of the last listing (Store.list)
        self.json_content = {}  # id(content) -> (content, its JSON text): Store.encode
        self.files = {}  # id -> the bytes of an uploaded (or seeded) binary document, served at its url
        self.next_seq = 0
        self.late = []  # the parsed fields of uploads held by late_uploads, oldest first
        self.config = dict(self.defaults)
        self.rng = random.Random(self.seed)
        self.gen = getattr(self, "gen", 0) + 1  # in-flight requests from before a reset do not touch new stats
        self.stats = {
            "requests": {r: 0 for r in ROUTES},
            "faults": {f: 0 for f in FAULT_KINDS},
            "dropped_patches": 0,
            "inflight_uploads": 0, "max_inflight_uploads": 0,
            "inflight": 0, "max_inflight": 0,
            "inflight_lists": 0, "max_inflight_lists": 0,
            "list_filepaths": [],
            "list_pages": [],  # [page, limit, includeContent] of every list request, in order
            "list_holding": 0, "list_held": 0,  # list requests waiting on list_hold_page now, and in all
            "searches": [],  # {"q", "containerTag", "filepath"} of every /v4/search, in order
            "file_gets": [],  # {"id", "auth": was an Authorization header sent} of every GET of a url
        }

    def reset(self):
        with self.lock:
            self._reset_locked()
            self._persist()
            return self._config_view()

    def _load(self):
        with open(self.state_file, encoding="utf-8") as f:
            state = json.load(f)
        for doc in state.get("documents", []):
            self.docs[doc["id"]] = doc
        for doc_id, b64 in state.get("files", {}).items():
            self.files[doc_id] = base64.b64decode(b64)
        self.next_seq = max([state.get("next_seq", 0)] + [d["seq"] + 1 for d in self.docs.values()])

    def _persist(self):
        """Write all documents to --state-file (tmp + rename). Called under the lock after every change."""
        self.docs_gen += 1
        if not self.state_file:
            return
        tmp = f"{self.state_file}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"next_seq": self.next_seq, "documents": list(self.docs.values()),
                       "files": {k: base64.b64encode(v).decode() for k, v in self.files.items()}}, f)
        os.replace(tmp, self.state_file)

    # -- config -------------------------------------------------------------------------------------------------

    def _config_view(self):
        out = dict(self.config)
        out["key"] = None if out["key"] is None else "<set>"  # never echo the secret
        return out

    def get_config(self):
        with self.lock:
            return self._config_view()

    def config_snapshot(self):
        with self.lock:
            return dict(self.config)

    def set_config(self, changes):
        new = {}
        for name, value in changes.items():
            kind = CONFIG_KINDS.get(name)
            if kind is None:
                raise ApiError(400, "Invalid request", f"unknown config key {name!r}")
            num = isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind == "ms" and num and value >= 0:
                new[name] = value
            elif kind == "prob" and num and 0 <= value <= 1:
                new[name] = float(value)
            elif kind == "retry" and (value is None or num):
                new[name] = value
            elif kind in ("count", "opt_count") and num and value >= 0 and float(value).is_integer():
                new[name] = int(value)
            elif kind == "opt_count" and value is None:
                new[name] = None
            elif kind == "bool" and isinstance(value, bool):
                new[name] = value
            elif kind in ("key", "opt_str") and (value is None or isinstance(value, str)):
                new[name] = value
            else:
                raise ApiError(400, "Invalid request", f"bad value for config key {name!r}")
        if new.get("gzip_bomb_mb"):
            gzip_bomb(new["gzip_bomb_mb"])  # built now: a request does not wait for it
        with self.lock:
            self.config.update(new)
            self.held.notify_all()
            view = self._config_view()
        with self.hold:
            self.hold.notify_all()
        return view

    def list_page_rule(self, raw_body):
        """config list_hold_page N: a list request for page N waits (counted in stats list_holding) until that
        setting changes, so a test can change documents between the pages of one listing; list_fail_page N: a
        list request for page N is answered 500. Returns True for the latter."""
        try:
            page = page_number(parse_json(raw_body).get("page"), "page", 1)
        except ApiError:
            return False
        with self.lock:
            hold = page == self.config["list_hold_page"]
            if hold:
                self.stats["list_holding"] += 1
                self.stats["list_held"] += 1
        if hold:
            with self.hold:
                while not self.shutdown.is_set():
                    with self.lock:
                        if page != self.config["list_hold_page"]:
                            break
                    self.hold.wait(0.5)
            with self.lock:
                self.stats["list_holding"] -= 1
        with self.lock:
            return page == self.config["list_fail_page"]

    def wait_hold(self, name="hold"):
        """While config hold (or hold_files) is set, wait (the request stays in flight)."""
        with self.lock:
            while self.config[name] and not self.shutdown.is_set():
                self.held.wait(0.1)

    # -- stats and faults ---------------------------------------------------------------------------------------

    def count_request(self, route):
        with self.lock:
            self.stats["requests"][route] += 1

    def count_fault(self, kind):
        with self.lock:
            self.stats["faults"][kind] += 1

    @contextlib.contextmanager
    def inflight(self, upload, listing=False):
        """Count a /v3 request as in flight (and as an upload, or a listing) for the duration of the with-block."""
        keys = ("inflight",) + (("inflight_uploads",) if upload else ()) + (("inflight_lists",) if listing else ())
        with self.lock:
            gen = self.gen
            for k in keys:
                self.stats[k] += 1
                self.stats["max_" + k] = max(self.stats["max_" + k], self.stats[k])
        ended = []

        def end():
            """No longer in flight: called before the answer goes out (a client that has it may
            send its next request at once), else when the block ends."""
            with self.lock:
                if not ended and gen == self.gen:
                    for k in keys:
                        self.stats[k] -= 1
                ended.append(True)
        try:
            yield end
        finally:
            end()

    def roll(self, name):
        """True with probability config[name]; counts nothing (callers count the fault they act on)."""
        with self.lock:
            p = self.config[name]
            return p > 0 and self.rng.random() < p

    def choice(self, seq):
        with self.lock:
            return self.rng.choice(seq)

    def roll_fault(self, upload=False):
        """Faults that happen before a request takes effect: "drop", "429", "500"/"502"/"503" or None."""
        with self.lock:
            cfg, rng = self.config, self.rng
            fault = None
            if upload and cfg["fault_429_uploads"] > 0:
                cfg["fault_429_uploads"] -= 1  # the next N uploads answer 429 (with retry_after)
                fault = "429"
            elif cfg["fault_drop"] > 0 and rng.random() < cfg["fault_drop"]:
                fault = "drop"
            elif cfg["fault_429"] > 0 and rng.random() < cfg["fault_429"]:
                fault = "429"
            elif cfg["fault_5xx"] > 0 and rng.random() < cfg["fault_5xx"]:
                fault = rng.choice(("500", "502", "503"))
            if fault:
                self.stats["faults"][fault] += 1
            return fault

    def take_late(self, fields):
        """Hold this upload for late_apply when late_uploads asks for it (then True)."""
        with self.lock:
            if self.config["late_uploads"] <= 0:
                return False
            self.config["late_uploads"] -= 1
            self.late.append(fields)
            self.stats["faults"]["late"] += 1
            return True

    def lose_upload_answer(self):
        """After an upload took effect: True when lose_upload_answers says its answer is lost (see there)."""
        with self.lock:
            if self.config["lose_upload_answers"] <= 0:
                return False
            self.config["lose_upload_answers"] -= 1
            if self.config["lose_upload_answers"] == 0:
                self.config["fault_drop"] = 1.0
            self.stats["faults"]["drop_after"] += 1
            return True

    def late_apply(self):
        """POST /_admin/late_apply: the held uploads take effect now, in the order sent -> {"ids"}."""
        with self.lock:
            held, self.late = self.late, []
        return {"ids": [self.upload(f)["id"] for f in held]}

    def stats_view(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))  # deep copy

    # -- document helpers (call with the lock held) -------------------------------------------------------------

    def _new_id(self):
        while True:
            doc_id = "".join(self.rng.choice(ID_CHARS) for _ in range(ID_LEN))
            if doc_id not in self.docs:
                return doc_id

    def _settle(self, doc, now):
        """Quirk 4: once processing has run its course, updatedAt moves to the moment it finished."""
        if doc["procStart"] is not None and now >= doc["procStart"] + doc["procMs"]:
            doc["updatedAt"] = doc["procStart"] + doc["procMs"]
            doc["procStart"] = None

    def _status(self, doc, now):
        self._settle(doc, now)
        if doc["fixedStatus"]:
            return doc["fixedStatus"]
        if doc["procStart"] is None:
            return "done"
        stage = (now - doc["procStart"]) * len(STAGES) // doc["procMs"]
        return STAGES[min(stage, len(STAGES) - 1)]

    def _start_processing(self, doc, now):
        """A create or accepted content change: status "queued", updatedAt now, done after processing_ms."""
        doc["updatedAt"] = now
        doc["fixedStatus"] = None
        doc["procMs"] = int(self.config["processing_ms"])
        doc["procStart"] = now if doc["procMs"] > 0 else None

    def _url(self, doc):
        """Where a binary document's bytes are served: this server's /_files/, on the host files_host named
        when it was made (another origin than the API's when set), unless it was seeded with a url of its own."""
        if doc.get("url"):
            return doc["url"]
        host = doc.get("urlHost") or "127.0.0.1"
        return f"http://{host}:{getattr(self, 'port', 0)}/_files/{doc['id']}"

    def _view(self, doc, now, content=True):
        """The public JSON shape of a document (the service's field set). A binary document (api.md) holds
        its extracted text in content and its url only once done."""
        status = self._status(doc, now)
        kind = doc.get("type", "text")
        ready = kind not in BINARY_TYPES or status == "done"
        out = {
            "id": doc["id"],
            "customId": doc["customId"],
            "filepath": doc["filepath"],
            "containerTags": list(doc["containerTags"]),
            "status": status,
            "createdAt": iso_ms(doc["createdAt"]),
            "updatedAt": iso_ms(doc["updatedAt"]),
            "metadata": doc["metadata"],
            "title": doc["title"],
            "summary": None,
            "type": kind,
            "url": self._url(doc) if kind in BINARY_TYPES and status == "done" else None,
            "connectionId": None,
        }
        if content:
            out["content"] = doc["content"] if ready else ""
        return out

    def _lookup(self, doc_id):
        doc = self.docs.get(doc_id)
        if doc is None:
            raise ApiError(404, "Document not found", f"no document with id {doc_id!r}")
        return doc

    def _insert(self, doc_id, now, **fields):
        doc = {"id": doc_id, "customId": None, "filepath": None, "containerTags": [], "content": "",
               "metadata": {}, "title": None, "createdAt": now, "updatedAt": now, "seq": self.next_seq,
               "procStart": None, "procMs": 0, "fixedStatus": None, "type": "text", "url": None,
               "fileSize": None, "fileSha256": None}
        doc.update(fields)
        self.next_seq += 1
        self.docs[doc_id] = doc
        return doc

    # -- the API ------------------------------------------------------------------------------------------------

    def create(self, body):
        """POST /v3/documents -> {"id", "status": "queued"}; quirks 2 (duplicates), 3 (customId upsert), 6."""
        unknown = sorted(set(body) - CREATE_KEYS)
        if unknown:
            raise ApiError(400, "Invalid request", f"unknown field(s): {', '.join(unknown)}")
        if "content" not in body:
            raise ApiError(400, "Invalid request", "content is required")
        content = normalise_content(check_text(body["content"], "content"))
        content_size_ok(content)
        if body.get("containerTag") is not None:
            tags = [check_tag(body["containerTag"])]
        elif body.get("containerTags") is not None:
            tags = check_tags(body["containerTags"])
        else:
            tags = []
        filepath = body.get("filepath")
        if filepath is not None:
            check_text(filepath, "filepath")
        custom_id = body.get("customId")
        if custom_id is not None and (not isinstance(custom_id, str) or not CUSTOM_ID_RE.fullmatch(custom_id)):
            raise ApiError(400, "Invalid request", "customId must match [A-Za-z0-9_.-]{1,100}")
        metadata = check_metadata(body["metadata"]) if body.get("metadata") is not None else None
        if body.get("taskType") is not None and body["taskType"] not in TASK_TYPES:
            raise ApiError(400, "Invalid request", "taskType must be memory or superrag")
        if body.get("entityContext") is not None:
            check_text(body["entityContext"], "entityContext")

        with self.lock:
            now = now_ms()
            doc = None
            if custom_id is not None:
                # Upsert key: same customId within the same (first) container tag, or both untagged.
                for d in self.docs.values():
                    same_tag = (tags[0] in d["containerTags"]) if tags else not d["containerTags"]
                    if d["customId"] == custom_id and same_tag:
                        doc = d
                        break
            if doc is None:
                doc = self._insert(self._new_id(), now, customId=custom_id, containerTags=tags)
            doc["content"] = content
            if filepath is not None:
                doc["filepath"] = filepath
            if metadata is not None:
                doc["metadata"] = metadata
            self._start_processing(doc, now)
            self._persist()
            return {"id": doc["id"], "status": "queued"}

    def upload(self, fields):
        """POST /v3/documents/file (multipart: file, containerTag, filepath, metadata as JSON text, fileType?,
        mimeType?) -> {"id", "status": "queued"}. No customId: every upload is a new document (quirk 2). The
        type comes from the first bytes, else the name: UTF-8 text is a text document; bytes of no known type
        fail processing (status "failed")."""
        unknown = sorted(set(fields) - {"file", "containerTag", "filepath", "metadata", "fileType", "mimeType"})
        if unknown:
            raise ApiError(400, "Invalid request", f"unknown field(s): {', '.join(unknown)}")
        if "file" not in fields or fields["file"][0] is None:
            raise ApiError(400, "Invalid request", "file is required (a part with a filename)")
        name, data = fields["file"]
        if len(data) > MAX_CONTENT:
            raise ApiError(413, "Payload Too Large", "files are limited to 50 MB")

        def text(field):
            if field not in fields:
                return None
            try:
                return fields[field][1].decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "Invalid request", f"{field} is not UTF-8") from None

        tag = text("containerTag")
        tags = [check_tag(tag)] if tag is not None else []
        filepath = text("filepath")
        meta = text("metadata")
        metadata = None
        if meta is not None:
            try:
                metadata = check_metadata(json.loads(meta))
            except ValueError:
                raise ApiError(400, "Invalid request", "metadata must be a JSON object") from None
        kind = text("fileType")
        if kind is not None and kind not in BINARY_TYPES + ("text",):
            raise ApiError(400, "Invalid request", "fileType is not a known type")
        try:
            as_text = data.decode("utf-8")
        except UnicodeDecodeError:
            as_text = None
        if kind is None:
            kind = next((t for m, t in MAGIC if data.startswith(m)), None)
        if kind is None and data[4:8] == b"ftyp":
            kind = "video"
        if kind is None and data.startswith(b"RIFF") and data[8:12] in (b"WEBP", b"WAVE"):
            kind = "image" if data[8:12] == b"WEBP" else "audio"
        if kind is None and as_text is None:
            kind = EXTENSIONS.get(os.path.splitext(filepath or name or "")[1].lower())
        if kind is None and as_text is not None:
            kind = "text"
        with self.lock:
            now = now_ms()
            doc = self._insert(self._new_id(), now, containerTags=tags, filepath=filepath,
                               metadata=metadata or {}, title=name or None)
            self._store_file(doc, kind, data, as_text)
            self._start_processing(doc, now)
            if doc["type"] == "unknown":
                doc["fixedStatus"] = "failed"  # bytes of no type the service can extract text from
            self._persist()
            return {"id": doc["id"], "status": "queued"}

    def _store_file(self, doc, kind, data, as_text):
        """Keep a binary document's bytes and its deterministic "extracted text" (lock held)."""
        digest = hashlib.sha256(data).hexdigest()
        doc["fileSize"], doc["fileSha256"] = len(data), digest
        if kind == "text":
            doc["type"], doc["content"] = "text", normalise_content(as_text)
            return
        doc["type"] = kind or "unknown"
        doc["urlHost"] = self.config.get("files_host")
        self.files[doc["id"]] = data
        doc["content"] = (f"Extracted text of the {doc['type']} {doc['filepath'] or doc['id']}: "
                          f"{len(data)} bytes, sha256 {digest}.")

    def file_bytes(self, doc_id, auth):
        """GET /_files/{id}: the bytes of a binary document (no key needed); counts whether a key came."""
        with self.lock:
            self.stats["file_gets"].append({"id": doc_id, "auth": auth})
            data = self.files.get(doc_id)
            if data is None or doc_id not in self.docs:
                raise ApiError(404, "Not Found", f"no file for {doc_id!r}")
            return data

    def get(self, doc_id):
        with self.lock:
            now = now_ms()
            doc = self._lookup(doc_id)
            view = self._view(doc, now)
            if self.config["get_other"]:
                other = next((d for d in sorted(self.docs.values(), key=lambda d: d["seq"]) if d["id"] != doc_id),
                             None)
                if other is not None:
                    view = self._view(other, now)
                    view["filepath"] = doc["filepath"]
            if self.config["get_filepath"] is not None:
                view["filepath"] = self.config["get_filepath"]
            return view

    def _content_json(self, content):
        """The JSON text of a document's content, made once per content: a str is never changed in place,
        so the one kept for a document stands while its content is that same object."""
        with self.lock:
            kept = self.json_content.get(id(content))
        if kept is not None and kept[0] is content:
            return kept[1]
        text = dump_json(content)
        with self.lock:
            self.json_content[id(content)] = (content, text)  # (the str held: its id stays its own)
        return text

    def _doc_parts(self, view):
        """dump_json(view) as a list of bytes, its content (the last member, when there) kept."""
        content = view.get("content")
        if not isinstance(content, str) or len(content) < 4096:
            return [dump_json(view)]
        head = dump_json({k: v for k, v in view.items() if k != "content"})
        return [head[:-1] + b', "content": ' if len(head) > 2 else b'{"content": ', self._content_json(content), b"}"]

    def encode(self, answer):
        """dump_json(answer) of a listing or of one document, as a list of bytes (the same bytes
        in order), each document's content serialised once, not at every answer: serialising large
        listings whole (100 MB of content) cost seconds each, which a client that refuses such an
        answer by its Content-Length never reads; on a loaded machine, more than a pull's deadline."""
        if "memories" not in answer:
            return self._doc_parts(answer)
        parts = [b'{"memories": [']
        for i, v in enumerate(answer["memories"]):
            parts += ([b", "] if i else []) + self._doc_parts(v)
        rest = dump_json({k: v for k, v in answer.items() if k != "memories"})
        parts.append(b"], " + rest[1:] if len(rest) > 2 else b"]}")
        return parts

    def patch(self, doc_id, body):
        """PATCH /v3/documents/{id}; quirks 4 (dropped while processing), 5 (content wins over filepath), 6."""
        content = body.get("content")
        if content is not None:
            content = normalise_content(check_text(content, "content"))
            content_size_ok(content)
        filepath = body.get("filepath")
        if filepath is not None:
            check_text(filepath, "filepath")
        metadata = check_metadata(body["metadata"]) if body.get("metadata") is not None else None
        custom_id = body.get("customId")
        if custom_id is not None and (not isinstance(custom_id, str) or not CUSTOM_ID_RE.fullmatch(custom_id)):
            raise ApiError(400, "Invalid request", "customId must match [A-Za-z0-9_.-]{1,100}")
        if content is None and filepath is None and metadata is None and custom_id is None:
            raise ApiError(400, "Invalid request", "nothing to update (content, filepath or metadata)")

        with self.lock:
            now = now_ms()
            doc = self._lookup(doc_id)
            status = self._status(doc, now)
            if content is not None:
                if status != "done" and self.config["drop_patch_while_processing"]:
                    # The service answers as if it took the change, and forgets it.
                    self.stats["dropped_patches"] += 1
                    return {"id": doc_id, "status": status}
                doc["content"] = content  # filepath is ignored alongside content
                self._start_processing(doc, now)
                answer = "queued"  # like create, whatever processing_ms is
            else:
                if filepath is not None:
                    doc["filepath"] = filepath
                doc["updatedAt"] = now
                answer = status
            if metadata is not None:
                doc["metadata"] = metadata
            if custom_id is not None:
                doc["customId"] = custom_id
            self._persist()
            return {"id": doc_id, "status": answer}

    def delete(self, doc_id):
        """DELETE /v3/documents/{id}: by id, or else by customId (the service accepts either)."""
        with self.lock:
            doc = self.docs.get(doc_id)
            if doc is None:
                doc = next((d for d in self.docs.values() if d["customId"] == doc_id), None)
            if doc is None:
                raise ApiError(404, "Document not found", f"no document with id {doc_id!r}")
            del self.docs[doc["id"]]
            self.files.pop(doc["id"], None)
            self._persist()

    def bulk_delete(self, body):
        """DELETE /v3/documents/bulk by {"ids"} or by {"containerTags", "filepath"?} (any of the tags)."""
        if body.get("ids") is not None:
            ids = body["ids"]
            if not isinstance(ids, list) or not 1 <= len(ids) <= 100 or not all(isinstance(i, str) for i in ids):
                raise ApiError(400, "Invalid request", "ids must be an array of 1..100 strings")
            with self.lock:
                errors = []
                for doc_id in ids:
                    if self.docs.pop(doc_id, None) is None:
                        errors.append({"id": doc_id, "error": "Document not found"})
                self._persist()
            out = {"success": True, "deletedCount": len(ids) - len(errors)}
            if errors:
                out["errors"] = errors
            return out
        if body.get("containerTags") is not None:
            tags = check_tags(body["containerTags"])
            fp = body.get("filepath")
            if fp is not None and not isinstance(fp, str):
                raise ApiError(400, "Invalid request", "filepath must be a string")
            with self.lock:
                gone = [d["id"] for d in self.docs.values()
                        if any(t in d["containerTags"] for t in tags)
                        and (fp is None or filepath_matches(fp, d["filepath"]))]
                for doc_id in gone:
                    del self.docs[doc_id]
                self._persist()
            return {"success": True, "deletedCount": len(gone), "containerTags": tags}
        raise ApiError(400, "Invalid request", "either 'ids' or 'containerTags' must be provided")

    def list(self, body):
        """POST /v3/documents/list: filter (all given tags, filepath quirk 1), sort, paginate (quirk 7)."""
        tags = check_tags(body["containerTags"]) if body.get("containerTags") is not None else []
        fp = body.get("filepath")
        if fp is not None and not isinstance(fp, str):
            raise ApiError(400, "Invalid request", "filepath must be a string")
        include = body.get("includeContent", False)
        if not isinstance(include, bool):
            raise ApiError(400, "Invalid request", "includeContent must be a boolean")
        limit = min(max(page_number(body.get("limit"), "limit", LIST_LIMIT_DEFAULT), 1), LIST_LIMIT_MAX)
        page = max(page_number(body.get("page"), "page", 1), 1)
        sort = body.get("sort", "createdAt")
        order = body.get("order", "desc")
        if sort not in ("createdAt", "updatedAt"):
            raise ApiError(400, "Invalid request", "sort must be createdAt or updatedAt")
        if order not in ("asc", "desc"):
            raise ApiError(400, "Invalid request", "order must be asc or desc")

        with self.lock:
            now = now_ms()
            cfg = self.config
            if "filepath" in body:
                self.stats["list_filepaths"].append(fp)
            self.stats["list_pages"].append([page, limit, include])
            # the sorted hits of the last listing stand while no document changed and none is done
            # processing since (its updatedAt moves then): paging a large container costs a page
            key = (self.docs_gen, tuple(tags), fp, sort, order)
            last = self.sorted_hits
            if last and last[0] == key and now < last[1]:
                hits = last[2]
            else:
                hits, until = [], math.inf
                for d in self.docs.values():
                    self._settle(d, now)  # before sorting: updatedAt may have moved
                    if d["procStart"] is not None:
                        until = min(until, d["procStart"] + d["procMs"])
                    if all(t in d["containerTags"] for t in tags) and (fp is None or filepath_matches(fp, d["filepath"])):
                        hits.append(d)
                hits.sort(key=lambda d: (d[sort], d["seq"]), reverse=(order == "desc"))
                self.sorted_hits = (key, until, hits)
            start = 0 if cfg["list_repeat"] else (page - 1) * limit  # list_repeat: every page is page 1
            memories = [self._view(d, now, include) for d in hits[start:start + limit]]
            total_items, total_pages = len(hits), math.ceil(len(hits) / limit)
            if cfg["list_total_pages"] is not None:  # a promise the pages do not keep
                total_pages = int(cfg["list_total_pages"])
                total_items = total_pages * limit
            if cfg["list_dup_id"] is not None and memories:
                memories.insert(1, dict(memories[0], filepath=cfg["list_dup_id"]))
            if cfg["list_grow"]:
                # every answer promises one page more, and brings one document nobody stored
                total_pages, total_items = page + 1, (page + 1) * limit
                memories.append(self._grown_doc(page, now, include))
        return {"memories": memories,
                "pagination": {"currentPage": page, "limit": limit, "totalItems": total_items,
                               "totalPages": total_pages}}

    def _grown_doc(self, page, now, include):
        """The made-up document of page `page` under list_grow (never stored: a GET of it is 404)."""
        doc_id = ("grow%018d" % page)[:ID_LEN]
        out = {"id": doc_id, "customId": None, "filepath": f"/grow/p{page}.md", "containerTags": [],
               "status": "done", "createdAt": iso_ms(now), "updatedAt": iso_ms(now), "metadata": {},
               "title": None, "summary": None, "type": "text", "connectionId": None}
        if include:
            out["content"] = f"page {page}"
        return out

    def search(self, body):
        """POST /v4/search: deterministic stand-in for the service's hybrid search. A document's paragraphs (split
        at blank lines) are its chunks; a chunk scores the share of the query's distinct words it holds; results
        are the best SEARCH_LIMIT chunks with a score > 0, best first (ties: document order, then position)."""
        q = body.get("q")
        if not isinstance(q, str) or not q.strip():
            raise ApiError(400, "Invalid request", "q must be a non-empty string")
        tag = body.get("containerTag")
        if tag is not None:
            check_tag(tag)
        fp = body.get("filepath")
        if fp is not None and not isinstance(fp, str):
            raise ApiError(400, "Invalid request", "filepath must be a string")
        if body.get("searchMode", "hybrid") not in ("hybrid", "memories", "documents"):
            raise ApiError(400, "Invalid request", "searchMode must be hybrid, memories or documents")
        terms = set(re.findall(r"\w+", q.lower()))
        with self.lock:
            self.stats["searches"].append({"q": q, "containerTag": tag, "filepath": fp})
            squash = self.config.get("search_squash")
            scored = []
            for d in sorted(self.docs.values(), key=lambda d: d["seq"]):
                if tag is not None and tag not in d["containerTags"]:
                    continue
                if fp is not None and not filepath_matches(fp, d["filepath"]):
                    continue
                for pos, para in enumerate(p for p in re.split(r"\n[ \t]*\n", d["content"]) if p.strip()):
                    words = set(re.findall(r"\w+", para.lower()))
                    score = len(terms & words) / len(terms) if terms else 0
                    if score > 0:
                        chunk = para.strip("\n")
                        if squash:
                            chunk = re.sub(r"\s+", " ", chunk).strip()
                        scored.append((-score, d["seq"], pos, d, chunk, score))
            scored.sort(key=lambda t: t[:3])
            results = [{"id": d["id"], "filepath": d["filepath"], "chunk": chunk, "similarity": round(score, 4),
                        "documentId": d["id"]} for _, _, _, d, chunk, score in scored[:SEARCH_LIMIT]]
        return {"results": results, "timing": 1, "total": len(results)}

    # -- admin --------------------------------------------------------------------------------------------------

    def all_docs(self):
        with self.lock:
            now = now_ms()
            out = []
            for d in sorted(self.docs.values(), key=lambda d: d["seq"]):
                v = self._view(d, now)
                v["fileSize"], v["fileSha256"] = d.get("fileSize"), d.get("fileSha256")  # admin only
                out.append(v)
            return {"documents": out}

    def seed_doc(self, body):
        """Admin seed: any filepath value (hostile ones included), raw content (not normalised), status done.
        A binary document: "type" (image, pdf, ...) with its bytes as "bytes" (base64) or "size" (that many
        deterministic bytes), an optional "url" of its own; its content defaults to the extracted text."""
        content = body.get("content", "")
        if not isinstance(content, str):
            raise ApiError(400, "Invalid request", "content must be a string")
        if body.get("containerTags") is not None:
            tags = body["containerTags"]
        elif body.get("containerTag") is not None:
            tags = [body["containerTag"]]
        else:
            tags = []
        status = body.get("status", "done")
        if status not in STATUSES:
            raise ApiError(400, "Invalid request", f"status must be one of {', '.join(STATUSES)}")
        doc_id = body.get("id")
        if doc_id is not None and not isinstance(doc_id, str):
            raise ApiError(400, "Invalid request", "id must be a string")
        kind = body.get("type", "text")
        if kind not in BINARY_TYPES + ("text",):
            raise ApiError(400, "Invalid request", "type must be text or one of " + ", ".join(BINARY_TYPES))
        data = None
        if kind != "text":
            if body.get("bytes") is not None:
                data = base64.b64decode(body["bytes"])
            else:
                size = int(body.get("size", 0))
                block = hashlib.sha256(b"seed").digest()
                data = (block * (size // len(block) + 1))[:size]
        now = now_ms()
        updated = parse_time(body["updatedAt"], "updatedAt") if body.get("updatedAt") is not None else now
        created = parse_time(body["createdAt"], "createdAt") if body.get("createdAt") is not None else updated
        with self.lock:
            if doc_id is None:
                doc_id = self._new_id()
            self.docs.pop(doc_id, None)  # seeding an existing id replaces it
            doc = self._insert(doc_id, created, updatedAt=updated, content=content,
                               filepath=body.get("filepath"), containerTags=tags,
                               customId=body.get("customId"), metadata=body.get("metadata", {}),
                               title=body.get("title"), fixedStatus=None if status == "done" else status)
            if data is not None:
                self._store_file(doc, kind, data, None)
                doc["url"] = body.get("url")
                if "content" in body:
                    doc["content"] = content
            self._persist()
            view = self._view(doc, now)
        if len(doc["content"]) >= 4096:
            self._content_json(doc["content"])  # serialised now, not inside the first request for it
        return view

    def edit_doc(self, body):
        """Admin edit, as if changed remotely: new content/filepath/metadata, updatedAt now (or given), done."""
        doc_id = body.get("id")
        if not isinstance(doc_id, str):
            raise ApiError(400, "Invalid request", "id is required")
        if "content" in body and not isinstance(body["content"], str):
            raise ApiError(400, "Invalid request", "content must be a string")
        updated = parse_time(body["updatedAt"], "updatedAt") if body.get("updatedAt") is not None else None
        with self.lock:
            now = now_ms()
            doc = self._lookup(doc_id)
            for field in ("content", "filepath", "metadata", "title", "customId"):
                if field in body:
                    doc[field] = body[field]
            doc["updatedAt"] = now if updated is None else updated
            doc["procStart"] = None
            doc["fixedStatus"] = None
            self._persist()
            return self._view(doc, now)

    def delete_doc(self, body):
        with self.lock:
            doc_id = body.get("id")
            if not isinstance(doc_id, str) or self.docs.pop(doc_id, None) is None:
                raise ApiError(404, "Document not found", f"no document with id {doc_id!r}")
            self._persist()
            return {"deleted": True, "id": doc_id}


# ---------------------------------------------------------------------------------------------------------------
# Hostile list answers (config bad_json / wrong_types)
# ---------------------------------------------------------------------------------------------------------------

def bad_json_body(store, body):
    """A list answer whose body is not valid JSON (status 200, correct Content-Length)."""
    kind = store.choice(("truncated", "garbage", "html", "utf8", "unquoted"))
    if kind == "truncated":
        return body[:max(1, len(body) // 2)]
    if kind == "garbage":
        return body + b"}]garbage"
    if kind == "html":
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    if kind == "utf8":
        return body.replace(b'"memories"', b'"memo\xff\xferies"', 1)
    return b"{memories: [], pagination: {currentPage: 1,}}"


def wrong_types_answer(store, answer):
    """A list answer that parses as JSON but has fields of the wrong type."""
    mems = answer["memories"]
    kinds = ["memories_object", "memories_null", "pagination_strings"]
    if mems:
        kinds += ["filepath_number", "id_number", "tags_string", "updated_number", "entry_string",
                  "content_number", "status_number"]
    kind = store.choice(kinds)
    doc = mems[0] if mems else None
    if kind == "memories_object":
        answer["memories"] = {str(i): m for i, m in enumerate(mems)}
    elif kind == "memories_null":
        answer["memories"] = None
    elif kind == "pagination_strings":
        answer["pagination"] = {k: str(v) for k, v in answer["pagination"].items()}
        answer["pagination"]["totalPages"] = "many"
    elif kind == "filepath_number":
        doc["filepath"] = 12345
    elif kind == "id_number":
        doc["id"] = 42
    elif kind == "tags_string":
        doc["containerTags"] = ",".join(doc["containerTags"])
    elif kind == "updated_number":
        doc["updatedAt"] = now_ms()
    elif kind == "entry_string":
        mems[0] = "not a document"
    elif kind == "content_number":
        doc["content"] = 3.14
    else:
        doc["status"] = 7
    return answer


# ---------------------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------------------

_BOMBS = {}
_BOMB_LOCK = threading.Lock()


def gzip_bomb(mb):
    """A gzip body (Content-Encoding: gzip) that decodes to about `mb` MB of valid JSON: an empty listing
    padded with spaces. About 1 MB on the wire per GB decoded; built once per size, when the setting is made
    (Store.set_config), not while a request waits. One MiB of spaces is compressed once, after a full flush
    (which makes its compressed block the same wherever it stands), and that block repeated: compressing the
    gigabyte itself takes 10-40 s of CPU, which a loaded machine spent inside the request, past the client's
    deadline."""
    with _BOMB_LOCK:
        if mb not in _BOMBS:
            head = b'{"memories":[],"pagination":{"currentPage":1,"limit":100,"totalItems":0,"totalPages":1}'
            chunk, n = b" " * (1 << 20), max(1, int(mb))
            co = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the gzip frame is written here
            parts = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)]
            block = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)
            parts.append(block * n)
            parts.append(co.compress(b"}") + co.flush())
            crc = zlib.crc32(head)
            for _ in range(n):
                crc = zlib.crc32(chunk, crc)
            crc = zlib.crc32(b"}", crc)
            parts.append(struct.pack("<II", crc & 0xFFFFFFFF, (len(head) + n * len(chunk) + 1) & 0xFFFFFFFF))
            _BOMBS[mb] = b"".join(parts)
        return _BOMBS[mb]


def parse_multipart(ctype, body):
    """A multipart/form-data body -> {name: (filename or None, bytes)}; a malformed one is a 400."""
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.lower().startswith("multipart/form-data") or not m:
        raise ApiError(400, "Invalid request", "expected multipart/form-data with a boundary")
    parts = body.split(b"--" + m.group(1).encode())
    if len(parts) < 3 or not parts[-1].startswith(b"--"):
        raise ApiError(400, "Invalid request", "malformed multipart body")
    fields = {}
    for part in parts[1:-1]:
        head, sep, data = part.partition(b"\r\n\r\n")
        if not part.startswith(b"\r\n") or not sep or not data.endswith(b"\r\n"):
            raise ApiError(400, "Invalid request", "malformed multipart part")
        disp = next((ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-disposition:")), b"")
        name = re.search(rb'(?:^|;)\s*name="([^"]*)"', disp[20:])
        fname = re.search(rb'filename="([^"]*)"', disp)
        if not name:
            raise ApiError(400, "Invalid request", "a multipart part without a name")
        fields[name.group(1).decode("utf-8", "replace")] = (
            fname.group(1).decode("utf-8", "replace") if fname else None, data[:-2])
    return fields


class BodyError(Exception):
    """The request body could not be read; answer with status and close the connection."""

    def __init__(self, status, details):
        super().__init__(details)
        self.status = status
        self.details = details


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once (no delayed-ACK stall)
    server_version = "smserver/1"
    default_request_version = "HTTP/1.0"  # the stdlib's HTTP/0.9 default would answer garbage without a status line

    def version_string(self):
        return self.server_version

    # -- plumbing -----------------------------------------------------------------------------------------------

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's signature)
        if self.server.verbose:
            sys.stderr.write("smserver: %s - %s\n" % (self.address_string(), format % args))

    def send_error(self, code, message=None, explain=None):
        """Protocol-level errors (bad request line, unsupported method) as JSON, then close."""
        self.close_connection = True
        try:
            self._send(code, {"error": message or self.responses.get(code, ("Error",))[0]})
        except OSError:
            pass

    def _send(self, status, obj=None, headers=(), raw=None, ctype="application/json"):
        """One complete response; Content-Length always (204 carries no body and, per RFC 9110, no length)."""
        body = raw if raw is not None else (b"" if obj is None else dump_json(obj))
        parts = body if isinstance(body, list) else [body]  # (Store.encode: written part by part)
        end, self.inflight_end = getattr(self, "inflight_end", None), None
        if end:
            end()  # the request is answered: no longer in flight
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(sum(len(p) for p in parts)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            for p in parts:
                if p:
                    self.wfile.write(p)
        self.wfile.flush()

    def _drop(self):
        """Close the connection without a response (the server shuts the socket down after we return)."""
        self.close_connection = True

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise BodyError(400, "bad Content-Length") from None
        if n < 0:
            raise BodyError(400, "bad Content-Length")
        if n > MAX_BODY:
            raise BodyError(413, "request body too large")
        data = self.rfile.read(n)
        if len(data) != n:
            raise BodyError(400, "request body shorter than Content-Length")
        return data

    def _read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BodyError(400, "bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise BodyError(413, "request body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)  # CRLF after the chunk

    # -- dispatch -----------------------------------------------------------------------------------------------

    def do_GET(self):
        self._dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def _dispatch(self):
        store = self.server.store
        path = urlsplit(self.path).path
        try:
            try:
                body = self._read_body()
            except BodyError as exc:
                self.close_connection = True
                self._send(exc.status, {"error": "Invalid request", "details": exc.details})
                return
            if path.startswith("/_admin/"):
                self._send(*self._admin(path, body))
            elif path == "/v3" or path.startswith(("/v3/", "/v4/", "/_files/")):
                self._api(path, body)
            else:
                self._send(404, {"error": "Not Found", "details": f"no route for {self.command} {path}"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in a handler: JSON 500, traceback only with --verbose
            if self.server.verbose:
                traceback.print_exc()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(500, {"error": "Internal Server Error", "details": type(exc).__name__})
        finally:
            if store.shutdown.is_set():
                self.close_connection = True

    # -- /v3 ----------------------------------------------------------------------------------------------------

    @staticmethod
    def _route(method, path):
        """(stats key, document id or None) for a /v3 path."""
        if path == "/v3/documents":
            return (R_CREATE if method == "POST" else R_OTHER), None
        if path == "/v3/documents/list" and method == "POST":
            return R_LIST, None
        if path == "/v3/documents/file" and method == "POST":
            return R_FILE, None
        m = re.fullmatch(r"/_files/([^/]+)", path)
        if m and method == "GET":
            return R_FILE_GET, unquote(m.group(1))
        if path == "/v3/documents/bulk" and method == "DELETE":
            return R_BULK, None
        if path == "/v3/session" and method == "GET":
            return R_SESSION, None
        if path == "/v4/search" and method == "POST":
            return R_SEARCH, None
        m = re.fullmatch(r"/v3/documents/([^/]+)", path)
        if m:
            route = {"GET": R_GET, "PATCH": R_PATCH, "DELETE": R_DELETE}.get(method, R_OTHER)
            return route, unquote(m.group(1))
        return R_OTHER, None

    def _authorised(self, key):
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        return key is None or hmac.compare_digest(token.encode(), key.encode())

    def _api(self, path, body):
        store = self.server.store
        route, doc_id = self._route(self.command, path)
        store.count_request(route)
        cfg = store.config_snapshot()
        if cfg["hang"]:
            # Read the request, never answer it; the connection is released only at shutdown.
            store.count_fault("hang")
            store.shutdown.wait()
            self._drop()
            return
        with store.inflight(route in UPLOAD_ROUTES, route == R_LIST) as self.inflight_end:
            if cfg["hold"]:
                store.wait_hold()
            if route == R_FILE_GET and cfg["hold_files"]:
                store.wait_hold("hold_files")
            if route in UPLOAD_ROUTES and cfg["hold_uploads"]:
                store.wait_hold("hold_uploads")
            if route == R_LIST and store.list_page_rule(body):
                self._send(500, {"error": "Internal Server Error", "details": "list_fail_page"})
                return
            if cfg["latency_ms"]:
                time.sleep(cfg["latency_ms"] / 1000.0)

            redirect = cfg["redirect"]
            if redirect and path.startswith("/v3/") and not path.startswith("/v3/moved/"):
                store.count_fault("redirect")
                self._send(redirect, {"error": "Moved", "details": "injected redirect"},
                           [("Location", "/v3/moved" + path)])
                return

            # Faults before the request takes effect.
            fault = store.roll_fault(route in UPLOAD_ROUTES)
            if fault == "drop":
                self._drop()
                return
            if fault == "429":
                retry = store.config_snapshot()["retry_after"]
                headers = []
                if retry is not None and retry >= 0:
                    headers.append(("Retry-After", str(int(retry)) if float(retry).is_integer() else str(retry)))
                self._send(429, {"error": "Too Many Requests", "details": "rate limit exceeded"}, headers)
                return
            if fault:
                self._send(int(fault), {"error": self.responses[int(fault)][0], "details": "injected fault"})
                return

            # a url is fetched without the key (it is not the API's to check)
            if route != R_FILE_GET and not self._authorised(store.config_snapshot()["key"]):
                self._send(401, {"error": "Unauthorized"})
                return

            if route == R_FILE and store.config_snapshot()["late_uploads"] > 0:
                try:
                    fields = parse_multipart(self.headers.get("Content-Type", ""), body)
                except ApiError:
                    fields = None  # answered 400 below, as any malformed upload
                if fields is not None and store.take_late(fields):
                    self._drop()  # no answer: the effect comes at /_admin/late_apply
                    return

            raw, headers, ctype = None, [], "application/json"
            try:
                status, answer = self._api_call(route, doc_id, body)
            except ApiError as exc:
                status, answer = exc.status, exc.body()
            bomb = store.config_snapshot()["gzip_bomb_mb"]
            if route == R_LIST and status == 200 and bomb > 0 and "gzip" in self.headers.get("Accept-Encoding", ""):
                store.count_fault("gzip_bomb")
                raw, headers = gzip_bomb(bomb), [("Content-Encoding", "gzip")]
            elif route == R_LIST and status == 200:
                if store.roll("bad_json"):
                    store.count_fault("bad_json")
                    raw = bad_json_body(store, dump_json(answer))
                elif store.roll("wrong_types"):
                    store.count_fault("wrong_types")
                    answer = wrong_types_answer(store, answer)
                else:
                    raw = store.encode(answer)
                    flood = store.config_snapshot()["list_flood"]
                    if flood:  # the entries before the documents, written as one part
                        sep = b", " if answer["memories"] else b""
                        raw[0] = raw[0].replace(b"[", b"[" + b"0, " * (flood - 1) + b"0" + sep, 1)
            elif route == R_GET and status == 200:
                raw = store.encode(answer)
            elif route == R_SEARCH and status == 200 and store.config_snapshot()["search_similarity"]:
                text = store.config_snapshot()["search_similarity"].encode()
                raw = re.sub(rb'"similarity": [^,}]+', b'"similarity": ' + text, dump_json(answer))

            if route == R_FILE_GET and isinstance(answer, bytes):
                raw, answer, ctype = answer, None, "application/octet-stream"
            hold = store.config_snapshot()["hold_answer_ms"]
            if hold and route in UPLOAD_ROUTES:
                time.sleep(hold / 1000.0)  # the effect is there; the answer is not (a kill lands here)

            # The request took effect; the answer may still be lost on the way back.
            if route == R_FILE and status == 200 and store.lose_upload_answer():
                self._drop()
                return
            if store.roll("fault_drop_after"):
                store.count_fault("drop_after")
                self._drop()
                return
            self._send(status, answer, headers, raw=raw, ctype=ctype)

    def _api_call(self, route, doc_id, raw_body):
        store = self.server.store
        if route == R_OTHER:
            raise ApiError(404, "Not Found", f"no route for {self.command} {urlsplit(self.path).path}")
        if route == R_GET:
            return 200, store.get(doc_id)
        if route == R_SESSION:
            return 200, SESSION
        if route == R_SEARCH:
            return 200, store.search(parse_json(raw_body))
        if route == R_DELETE:
            store.delete(doc_id)
            return 204, None
        if route == R_FILE:
            return 200, self._made(store.upload(parse_multipart(self.headers.get("Content-Type", ""), raw_body)))
        if route == R_FILE_GET:
            return 200, store.file_bytes(doc_id, bool(self.headers.get("Authorization")))
        body = parse_json(raw_body, empty_ok=(route == R_LIST))
        if route == R_LIST:
            return 200, store.list(body)
        if route == R_CREATE:
            return 200, self._made(store.create(body))
        if route == R_PATCH:
            return 200, store.patch(doc_id, body)
        return 200, store.bulk_delete(body)

    def _made(self, answer):
        """The answer of a create or upload, its id replaced under config create_id."""
        other = self.server.store.config_snapshot()["create_id"]
        return dict(answer, id=other) if other is not None else answer

    # -- /_admin ------------------------------------------------------------------------------------------------

    def _admin(self, path, raw_body):
        """Unauthenticated test hooks. Never subject to faults, latency or --hang."""
        store = self.server.store
        try:
            body = parse_json(raw_body)
            key = (self.command, path.rstrip("/"))
            if key == ("GET", "/_admin/documents"):
                return 200, store.all_docs()
            if key == ("POST", "/_admin/documents"):
                return 200, store.seed_doc(body)
            if key == ("POST", "/_admin/edit"):
                return 200, store.edit_doc(body)
            if key == ("POST", "/_admin/delete"):
                return 200, store.delete_doc(body)
            if key == ("GET", "/_admin/config"):
                return 200, store.get_config()
            if key == ("POST", "/_admin/config"):
                return 200, store.set_config(body)
            if key == ("GET", "/_admin/stats"):
                return 200, store.stats_view()
            if key == ("POST", "/_admin/late_apply"):
                return 200, store.late_apply()
            if key == ("POST", "/_admin/reset"):
                return 200, store.reset()
            raise ApiError(404, "Not Found", f"no admin route for {self.command} {path}")
        except ApiError as exc:
            return exc.status, exc.body()


class Server(ThreadingHTTPServer):
    daemon_threads = True        # hung or idle keep-alive handlers never block exit
    request_queue_size = 128     # a crawler opens many connections at once; the default backlog of 5 stalls them

    def __init__(self, addr, store, verbose):
        self.store = store
        self.verbose = verbose
        super().__init__(addr, Handler)

    def server_bind(self):
        # HTTPServer.server_bind() resolves the host name with getfqdn(), which can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description="Loopback Supermemory v3 documents API for smshim tests.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = any free port (default)")
    p.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    p.add_argument("--key", help="required bearer token (default: any non-empty bearer token)")
    p.add_argument("--latency-ms", type=float, default=0, help="sleep before answering each /v3 request")
    p.add_argument("--processing-ms", type=float, default=0, help="queued..done walk duration (0 = instant)")
    p.add_argument("--fault-5xx", type=float, default=0, metavar="P", help="answer 500/502/503 with probability P")
    p.add_argument("--fault-429", type=float, default=0, metavar="P", help="answer 429 with probability P")
    p.add_argument("--fault-drop", type=float, default=0, metavar="P",
                   help="close without answering, before the effect, with probability P")
    p.add_argument("--fault-drop-after", type=float, default=0, metavar="P",
                   help="apply the request, then close without answering, with probability P")
    p.add_argument("--bad-json", type=float, default=0, metavar="P", help="malformed list bodies with probability P")
    p.add_argument("--wrong-types", type=float, default=0, metavar="P",
                   help="list bodies with wrongly typed fields with probability P")
    p.add_argument("--retry-after", type=float, default=1, help="Retry-After seconds on 429 (negative: omit)")
    p.add_argument("--hang", action="store_true", help="read /v3 requests but never answer them")
    p.add_argument("--fault-429-uploads", type=int, default=0, metavar="N",
                   help="answer the next N uploads (create, patch, delete) with 429 and --retry-after")
    p.add_argument("--list-total-pages", type=int, metavar="N", help="every listing claims N pages")
    p.add_argument("--list-repeat", action="store_true", help="every list page answers page 1's documents")
    p.add_argument("--search-squash", action="store_true",
                   help="/v4/search chunks come back with whitespace runs collapsed to one space")
    p.add_argument("--list-grow", action="store_true",
                   help="every list page promises one more page and brings one made-up document")
    p.add_argument("--gzip-bomb-mb", type=float, default=0, metavar="MB",
                   help="list answers are gzip bodies decoding to MB megabytes (to clients accepting gzip)")
    p.add_argument("--drop-patch-while-processing", action=argparse.BooleanOptionalAction, default=True,
                   help="silently drop content PATCHes sent before the document is done (default: on)")
    p.add_argument("--hold", action="store_true", help="hold every /v3 request in flight until config hold=false")
    p.add_argument("--seed", type=int, help="seed for ids and fault rolls")
    p.add_argument("--state-file", help="persist documents to this JSON file and load them at start")
    p.add_argument("--verbose", action="store_true", help="access log and handler tracebacks on stderr")
    args = p.parse_args(argv)
    for name in ("fault_5xx", "fault_429", "fault_drop", "fault_drop_after", "bad_json", "wrong_types"):
        if not 0 <= getattr(args, name) <= 1:
            p.error(f"--{name.replace('_', '-')} must be a probability in [0, 1]")
    if args.latency_ms < 0 or args.processing_ms < 0 or args.gzip_bomb_mb < 0 or args.fault_429_uploads < 0:
        p.error("--latency-ms, --processing-ms, --gzip-bomb-mb and --fault-429-uploads must be >= 0")
    if args.list_total_pages is not None and args.list_total_pages < 0:
        p.error("--list-total-pages must be >= 0")
    return args


def write_port_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    defaults = {
        "latency_ms": args.latency_ms, "processing_ms": args.processing_ms,
        "fault_5xx": args.fault_5xx, "fault_429": args.fault_429, "fault_drop": args.fault_drop,
        "fault_drop_after": args.fault_drop_after, "bad_json": args.bad_json, "wrong_types": args.wrong_types,
        "retry_after": None if args.retry_after < 0 else args.retry_after, "hang": args.hang,
        "drop_patch_while_processing": args.drop_patch_while_processing, "key": args.key,
        "fault_429_uploads": args.fault_429_uploads, "list_total_pages": args.list_total_pages,
        "list_repeat": args.list_repeat, "list_grow": args.list_grow, "gzip_bomb_mb": args.gzip_bomb_mb,
        "search_squash": args.search_squash, "search_similarity": None, "files_host": None, "hold_answer_ms": 0, "late_uploads": 0, "lose_upload_answers": 0,
        "get_other": False, "get_filepath": None, "create_id": None, "list_dup_id": None,
        "list_hold_page": None, "list_fail_page": None, "list_flood": 0, "redirect": 0, "hold": args.hold, "hold_files": False, "hold_uploads": False,
    }
    assert set(defaults) == set(CONFIG_KINDS)
    store = Store(defaults, seed=args.seed, state_file=args.state_file)
    server = Server((args.host, args.port), store, args.verbose)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it cannot run on the serving (main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    port = server.server_address[1]
    store.port = port  # binary documents' urls point here
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"PORT {port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        store.shutdown.set()  # release --hang waiters
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
