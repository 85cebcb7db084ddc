"""Heartbeats: one document per collector and source in ``soc-heartbeats`` (and nothing else), refreshed on an interval.

The document id is ``heartbeat.<collector id>.<source id>``, so the index holds the latest state
of every source a collector serves (``kind: heartbeat``): the time of its last event, its rate over
the last interval, its totals, and the collector's queue and health. A file source adds its own
counters under ``tail`` (``lines_total``, ``truncations_total``, ``lost_bytes_total``, ...). The interval is
``collector.heartbeat_seconds`` (60 by default; tests use a fraction of a second).
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

from collectors import __version__
from collectors.config import CollectorConfig
from collectors.contract.ids import heartbeat_id
from collectors.metrics import Metrics
from collectors.sink import BulkSink


def _iso(ts: float) -> str | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Heartbeat:
    def __init__(self, config: CollectorConfig, metrics: Metrics, sink: BulkSink, index: str) -> None:
        self.config = config
        self.metrics = metrics
        self.sink = sink
        self.index = index
        self.hostname = socket.gethostname()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._last: dict[str, tuple[float, int]] = {}

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stop_event.wait(self.config.heartbeat_seconds):
            self.beat()

    def documents(self) -> list[tuple[str, dict[str, Any]]]:
        snap = self.metrics.snapshot()
        now = time.monotonic()
        out = []
        for source in self.config.sources:
            stats = snap["sources"].get(source.id, {"received": 0, "parse_failures": 0, "dropped": 0,
                                                    "last_event": 0.0})
            since, before = self._last.get(source.id, (self.metrics_started(), 0))
            elapsed = max(now - since, 1e-6)
            self._last[source.id] = (now, stats["received"])
            out.append((heartbeat_id(self.config.collector_id, source.id), {
                "kind": "heartbeat",
                "@timestamp": _iso(time.time()),
                "organization": {"id": self.config.organization_id},
                "agent": {"id": self.config.collector_id, "type": "soc-collector", "version": __version__},
                "observer": {"name": self.config.collector_id, "hostname": self.hostname},
                "log": {"source": {"id": source.id}},
                "source_type": source.type,
                "protocol": source.protocol,
                "last_event": _iso(stats["last_event"]),
                "rate_per_second": float(round((stats["received"] - before) / elapsed, 3)),
                "received_total": stats["received"],
                "parse_failures_total": stats["parse_failures"],
                "dropped_total": stats["dropped"],
                "collector": {"queued": snap["queued"], "shipped_total": snap["shipped"],
                              "dead_lettered_total": snap["dead_lettered"],
                              "oldest_unacked_age_seconds": float(snap["oldest_unacked_age_seconds"]),
                              "status": "ok" if snap["healthy"] else "degraded"},
            }))
            if source.id in snap["files"]:
                out[-1][1]["tail"] = {f"{k}_total": v for k, v in snap["files"][source.id].items()}
        return out

    def metrics_started(self) -> float:
        return time.monotonic() - max(time.time() - self.metrics.started, 1e-6)

    def beat(self) -> int:
        """Send one heartbeat per source; the number accepted."""
        return sum(self.sink.put_document(self.index, doc_id, doc) for doc_id, doc in self.documents())
