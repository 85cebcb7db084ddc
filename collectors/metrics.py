"""Self-observability: counters, the health status, and a small HTTP endpoint on loopback.

Every change of the counters that the invariant ``received = shipped + dead_lettered + dropped +
queued`` relates happens in one step under one lock, and a snapshot is taken under the same lock,
so the invariant holds in every snapshot. Counters start when the process starts; the backlog
found in the disk queue at start counts as received (and queued) then, and ``recovered`` says how
many they were.

``GET /metrics`` answers in the Prometheus text format, ``GET /health`` with JSON and 200 (ok) or
503 (degraded: the sink has been failing for ``unhealthy_after`` seconds). ``GET
/wait?shipped=N&timeout=S`` blocks until the named counters reach their values (200) or the
time is up (408) and answers with the counters: operators use it to wait for a drain, tests to
wait without polling.

File sources add their own counters (``TAIL_COUNTERS``: files opened, lines read, truncations
seen, bytes lost to copytruncate, partial lines flushed, ...), exported per source as
``soc_collector_tail_<name>_total{source="..."}`` and under ``files`` in the JSON snapshot.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# refused_items: items the cluster refused with 403 (another agency's stream, missing rights); a
# part of dead_lettered, never retried
COUNTERS = ("received", "parsed", "parse_failures", "truncated", "shipped", "retried", "dead_lettered",
            "dropped", "recovered", "refused_items")
TAIL_COUNTERS = ("files", "lines", "truncations", "lost_bytes", "partial_flushes", "continued", "truncated_lines")


@dataclass
class SourceStats:
    received: int = 0
    parse_failures: int = 0
    dropped: int = 0
    refused: int = 0  # connections (TCP/TLS) or datagrams (UDP) turned away by the listener
    last_event: float = 0.0  # unix time of the last received event


@dataclass
class Metrics:
    unhealthy_after: float = 60.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    queued: int = 0
    oldest_unacked_ms: int = 0
    sources: dict[str, SourceStats] = field(default_factory=dict)
    failing_since: float | None = None  # monotonic time the sink started failing
    last_error: str = ""
    started: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)
    files: dict[str, dict[str, int]] = field(default_factory=dict)  # a file source's own counters, by source id

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def source(self, source_id: str) -> SourceStats:
        with self.lock:
            return self.sources.setdefault(source_id, SourceStats())

    def add_file_source(self, source_id: str, stats: dict[str, int]) -> None:
        """Export the counters of a file source (its live dict, written by its own thread)."""
        with self.lock:
            self.files[source_id] = stats

    def refused(self, source_id: str) -> None:
        """A listener turned a sender away (network not allowed, too many connections)."""
        with self.lock:
            self.sources.setdefault(source_id, SourceStats()).refused += 1
            self.changed.notify_all()

    def recovered(self, backlog: int) -> None:
        with self.lock:
            self.counts["received"] += backlog
            self.counts["recovered"] += backlog
            self.queued += backlog

    def accepted(self, source_id: str, n: int, failures: int, truncated: int, queued: bool) -> None:
        """``n`` events were received and parsed; they were queued, or dropped when not."""
        with self.lock:
            self.counts["received"] += n
            self.counts["parsed"] += n - failures
            self.counts["parse_failures"] += failures
            self.counts["truncated"] += truncated
            stats = self.sources.setdefault(source_id, SourceStats())
            stats.received += n
            stats.parse_failures += failures
            stats.last_event = time.time()
            if queued:
                self.queued += n
                if not self.oldest_unacked_ms:
                    self.oldest_unacked_ms = int(time.time() * 1000)
            else:
                self.counts["dropped"] += n
                stats.dropped += n
            self.changed.notify_all()

    def acknowledged(self, shipped: int, dead_lettered: int, oldest_ms: int) -> None:
        with self.lock:
            self.counts["shipped"] += shipped
            self.counts["dead_lettered"] += dead_lettered
            self.queued -= shipped + dead_lettered
            # the queue's answer may predate records appended since; then they are the oldest
            self.oldest_unacked_ms = oldest_ms or (int(time.time() * 1000) if self.queued else 0)
            self.changed.notify_all()

    def refused_items(self, n: int) -> None:
        with self.lock:
            self.counts["refused_items"] += n

    def retried(self, n: int) -> None:
        with self.lock:
            self.counts["retried"] += n

    def sink_failed(self, error: str) -> None:
        with self.lock:
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            self.last_error = error[:500]
            self.changed.notify_all()

    def sink_ok(self) -> None:
        with self.lock:
            self.failing_since = None
            self.changed.notify_all()

    def wait(self, at_least: dict[str, int], timeout: float) -> bool:
        """Block until every named counter (or ``queued``) reaches its value; False on timeout."""
        def reached() -> bool:
            return all((self.queued if k == "queued" else self.counts.get(k, 0)) >= v for k, v in at_least.items())

        with self.lock:
            return self.changed.wait_for(reached, timeout)

    def wait_for_state(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        """Block until ``predicate(snapshot)`` holds, re-checked whenever the sink or a counter reports."""
        with self.lock:
            return self.changed.wait_for(lambda: predicate(self._snapshot()), timeout)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = dict(self.counts)
        snap["queued"] = self.queued
        oldest = self.oldest_unacked_ms
        snap["oldest_unacked_age_seconds"] = max(0.0, time.time() - oldest / 1000) if oldest else 0.0
        failing = time.monotonic() - self.failing_since if self.failing_since is not None else 0.0
        snap["sink_failing_seconds"] = failing
        snap["healthy"] = failing < self.unhealthy_after
        snap["last_error"] = self.last_error
        snap["sources"] = {k: vars(v).copy() for k, v in self.sources.items()}
        snap["files"] = {sid: {k: int(stats.get(k, 0)) for k in TAIL_COUNTERS} for sid, stats in self.files.items()}
        return snap


def prometheus(snap: dict[str, Any]) -> str:
    lines = []
    for name in COUNTERS:
        lines += [f"# TYPE soc_collector_{name}_total counter", f"soc_collector_{name}_total {snap[name]}"]
    for name in ("queued", "oldest_unacked_age_seconds", "sink_failing_seconds"):
        lines += [f"# TYPE soc_collector_{name} gauge", f"soc_collector_{name} {snap[name]}"]
    lines += ["# TYPE soc_collector_healthy gauge", f"soc_collector_healthy {int(snap['healthy'])}"]
    lines.append("# TYPE soc_collector_source_received_total counter")
    for sid, stats in sorted(snap["sources"].items()):
        lines.append(f'soc_collector_source_received_total{{source="{sid}"}} {stats["received"]}')
    lines.append("# TYPE soc_collector_source_dropped_total counter")
    for sid, stats in sorted(snap["sources"].items()):
        lines.append(f'soc_collector_source_dropped_total{{source="{sid}"}} {stats["dropped"]}')
    lines.append("# TYPE soc_collector_source_refused_total counter")
    for sid, stats in sorted(snap["sources"].items()):
        lines.append(f'soc_collector_source_refused_total{{source="{sid}"}} {stats["refused"]}')
    for name in TAIL_COUNTERS if snap.get("files") else ():
        lines.append(f"# TYPE soc_collector_tail_{name}_total counter")
        for sid, counts in sorted(snap["files"].items()):
            lines.append(f'soc_collector_tail_{name}_total{{source="{sid}"}} {counts[name]}')
    return "\n".join(lines) + "\n"


class MetricsServer:
    """The loopback endpoint, served by a daemon thread."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        outer = metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                snap = outer.snapshot()
                url = urlsplit(self.path)
                if url.path == "/wait":
                    query = dict(parse_qsl(url.query))
                    timeout = min(float(query.pop("timeout", "30")), 600.0)
                    reached = outer.wait({k: int(v) for k, v in query.items()}, timeout)
                    snap = outer.snapshot()
                    body, ctype, status = json.dumps(snap).encode(), "application/json", 200 if reached else 408
                elif self.path == "/metrics":
                    body, ctype, status = prometheus(snap).encode(), "text/plain; version=0.0.4", 200
                elif self.path == "/health":
                    status = 200 if snap["healthy"] else 503
                    body = json.dumps({"status": "ok" if snap["healthy"] else "degraded", **snap}).encode()
                    ctype = "application/json"
                else:
                    body, ctype, status = b"not found\n", "text/plain", 404
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
