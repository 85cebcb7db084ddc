"""Self-observability: counters, the health status, and a small HTTP endpoint on loopback.

Every change of the counters that the invariant ``received = shipped + dead_lettered + dropped +
queued`` relates happens in one step under one lock, and a snapshot is taken under the same lock,
so the invariant holds in every snapshot. Counters start when the process starts; the backlog
found in the disk queue at start counts as received (and queued) then, and ``recovered`` says how
many they were.

``GET /metrics`` answers in the Prometheus exposition format, written by prometheus_client from a
custom collector (``SnapshotCollector``) that takes one snapshot per scrape. Counters keep the names
of the earlier hand-written exposition (``soc_collector_shipped_total``...); the text format's
``# TYPE`` lines now name the family without ``_total``, and the process's own metrics
(``process_*``) come along.

``GET /health`` answers with JSON and 200 (ok) or 503 (degraded: the sink has been failing for
``unhealthy_after`` seconds). ``GET /wait?shipped=N&timeout=S`` blocks until the named counters
reach their values (200) or the time is up (408) and answers with the counters: operators use it to
wait for a drain, tests to wait without polling.

File sources add their own counters (``TAIL_COUNTERS``: files opened, lines read, truncations
seen, bytes lost to copytruncate, partial lines flushed, ...), exported per source as
``soc_collector_tail_<name>_total{source="..."}`` and under ``files`` in the JSON snapshot.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

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


# the help text of each exported counter (``soc_collector_<name>_total``) and gauge
HELP = {
    "received": "Events received (the backlog found in the disk queue at start included)",
    "parsed": "Events parsed",
    "parse_failures": "Events kept raw because no parser understood them",
    "truncated": "Events cut to the maximum event size",
    "shipped": "Events OpenSearch acknowledged",
    "retried": "Events sent again after a failed or partial bulk request",
    "dead_lettered": "Events OpenSearch refused for good, written to the dead-letter index",
    "dropped": "Events lost because the disk queue was full",
    "recovered": "Events found in the disk queue at start",
    "refused_items": "Events the cluster refused with 403 (part of dead_lettered)",
    "queued": "Events in the disk queue, not yet acknowledged",
    "oldest_unacked_age_seconds": "Age of the oldest event not yet acknowledged",
    "sink_failing_seconds": "How long the sink has been failing (0 when it is not)",
    "healthy": "1 when the sink has not been failing for longer than the health limit",
    "source_received": "Events received, by source",
    "source_dropped": "Events lost to a full queue, by source",
    "source_refused": "Senders a listener turned away (network not allowed, too many connections), by source",
}
GAUGES = ("queued", "oldest_unacked_age_seconds", "sink_failing_seconds")
SOURCE_COUNTERS = ("received", "dropped", "refused")


def families(snap: dict[str, Any]) -> list[Metric]:
    """The exported metrics of one snapshot; names as in earlier versions' hand-written exposition."""
    out: list[Metric] = [CounterMetricFamily(f"soc_collector_{name}", HELP[name], value=snap[name])
                         for name in COUNTERS]
    out += [GaugeMetricFamily(f"soc_collector_{name}", HELP[name], value=snap[name]) for name in GAUGES]
    out.append(GaugeMetricFamily("soc_collector_healthy", HELP["healthy"], value=int(snap["healthy"])))
    for name in SOURCE_COUNTERS:
        family = CounterMetricFamily(f"soc_collector_source_{name}", HELP[f"source_{name}"], labels=["source"])
        for sid, stats in sorted(snap["sources"].items()):
            family.add_metric([sid], stats[name])
        out.append(family)
    for name in TAIL_COUNTERS if snap.get("files") else ():
        family = CounterMetricFamily(f"soc_collector_tail_{name}", f"File sources: {name.replace('_', ' ')}",
                                     labels=["source"])
        for sid, counts in sorted(snap["files"].items()):
            family.add_metric([sid], counts[name])
        out.append(family)
    return out


class SnapshotCollector(Collector):
    """Exports the counters from one snapshot per scrape, taken under their lock, so a scrape sees
    ``received = shipped + dead_lettered + dropped + queued`` hold as the process does."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from families(self.metrics.snapshot())


def registry(metrics: Metrics) -> CollectorRegistry:
    """A registry of this collector's metrics and its process's (memory, CPU, open files)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SnapshotCollector(metrics))
    ProcessCollector(registry=reg)
    return reg


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(metrics: Metrics, reg: CollectorRegistry) -> WSGIApplication:
    """``/metrics`` from prometheus_client; ``/health`` and ``/wait`` answer with the JSON snapshot."""
    exporter: WSGIApplication = make_wsgi_app(reg)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return exporter(environ, start_response)
        if path == "/health":
            snap = metrics.snapshot()
            status = "200 OK" if snap["healthy"] else "503 Service Unavailable"
            return _json(start_response, status, {"status": "ok" if snap["healthy"] else "degraded", **snap})
        if path == "/wait":
            query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
            try:
                timeout = min(float(query.pop("timeout", "30")), 600.0)
                targets = {k: int(v) for k, v in query.items()}
            except ValueError:
                return _json(start_response, "400 Bad Request", {"error": "counter values are integers"})
            reached = metrics.wait(targets, timeout)
            return _json(start_response, "200 OK" if reached else "408 Request Timeout", metrics.snapshot())
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class MetricsServer:
    """The endpoint on its (loopback) address, served by a daemon thread; port 0 picks a free one."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (_Server,), {"address_family": family})
        self.server: WSGIServer = make_server(host.strip("[]"), port, application(metrics, registry(metrics)),
                                  server_class, _QuietHandler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
