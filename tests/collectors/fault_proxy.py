"""A loopback HTTP proxy in front of the real node that can fail like a node does.

Modes: ``pass`` forwards everything; ``down`` drops every connection without an answer (a node
that is gone); ``storm`` answers some ``_bulk`` requests with 429/503 as a whole and, in the others,
keeps some items from the node and answers them 429/503 itself while the rest are really indexed.
``max_body`` (any mode but ``down``), when set, answers 413 with no body to every request whose
decompressed body is larger, as a node with a small ``http.max_content_length`` does.
``hold_first`` holds the answer to the first ``_bulk`` request until another one has been answered
(``overtaken`` tells that it happened): a later batch finishes before an earlier one.
``forbid`` (a set of index names) answers each ``_bulk`` item aimed at one of them 403
``security_exception`` itself, as the security plugin does for a stream the user may not write,
and forwards the others (``forbidden`` counts the items refused).
"""

from __future__ import annotations

import gzip
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class FaultProxy:
    def __init__(self, upstream: str, seed: int = 5) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode = "pass"
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.whole_failures = 0
        self.item_failures = 0
        self.dropped_connections = 0
        self.max_body: int | None = None
        self.too_large = 0
        self.hold_first = False
        self.overtaken = threading.Event()
        self.forbid: set[str] = set()
        self.forbidden = 0
        self._bulks = 0
        self.http = httpx.Client(timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.mode == "down":
                    with proxy.lock:
                        proxy.dropped_connections += 1
                    self.close_connection = True
                    self.connection.close()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if proxy.max_body is not None and len(body) > proxy.max_body:
                    with proxy.lock:
                        proxy.too_large += 1
                    self.send_response(413)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if proxy.mode == "storm" and self.command == "POST" and self.path.startswith("/_bulk"):
                    status, answer = proxy.storm(self.path, body)
                elif proxy.forbid and self.command == "POST" and self.path.startswith("/_bulk"):
                    status, answer = proxy.refuse(self.path, body)
                else:
                    r = proxy.http.request(
                        self.command,
                        proxy.upstream + self.path,
                        content=body,
                        headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
                    )
                    status, answer = r.status_code, r.content
                if self.command == "POST" and self.path.startswith("/_bulk") and proxy.hold_first:
                    with proxy.lock:
                        proxy._bulks += 1
                        first = proxy._bulks == 1
                    if first:
                        proxy.overtaken.wait(30)
                    else:
                        proxy.overtaken.set()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def storm(self, path: str, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            if self.rng.random() < 0.25:
                self.whole_failures += 1
                status = self.rng.choice([429, 503])
                return status, json.dumps({"error": {"type": "injected"}, "status": status}).encode()
        lines = body.split(b"\n")
        pairs = [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 1, 2)]
        with self.lock:
            fail = [self.rng.random() < 0.3 for _ in pairs]
            self.item_failures += sum(fail)
        forward = [p for p, f in zip(pairs, fail, strict=True) if not f]
        real: list[Any] = []
        if forward:
            r = self.http.post(
                self.upstream + path,
                content=b"".join(a + b"\n" + d + b"\n" for a, d in forward),
                headers={"Content-Type": "application/x-ndjson"},
            )
            if r.status_code != 200:
                return r.status_code, r.content
            real = r.json()["items"]
        items = []
        it = iter(real)
        for failed in fail:
            if failed:
                status = self.rng.choice([429, 503])
                items.append({"create": {"status": status, "error": {"type": "injected", "reason": "storm"}}})
            else:
                items.append(next(it))
        return 200, json.dumps({"errors": True, "items": items}).encode()

    def refuse(self, path: str, body: bytes) -> tuple[int, bytes]:
        lines = body.split(b"\n")
        pairs = [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 1, 2)]
        refused = [next(iter(json.loads(a).values())).get("_index") in self.forbid for a, _ in pairs]
        with self.lock:
            self.forbidden += sum(refused)
        forward = [p for p, r in zip(pairs, refused, strict=True) if not r]
        real: list[Any] = []
        if forward:
            r = self.http.post(self.upstream + path, content=b"".join(a + b"\n" + d + b"\n" for a, d in forward),
                               headers={"Content-Type": "application/x-ndjson"})
            if r.status_code != 200:
                return r.status_code, r.content
            real = r.json()["items"]
        it = iter(real)
        items = [{"create": {"status": 403, "error": {"type": "security_exception",
                                                      "reason": "no permissions for [indices:data/write/bulk[s]]"}}}
                 if r else next(it) for r in refused]
        return 200, json.dumps({"errors": True, "items": items}).encode()

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.http.close()
