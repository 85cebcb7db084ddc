"""The collector, one way through: source → parser → disk queue → bulk sink.

Listener threads cut frames, parse them (``collectors.parsers.parse`` never raises; a guard
still turns an unexpected exception into a parse failure), add who sent the event
(``organization.id``, ``agent.*``, ``observer.name``, ``log.source.id``; ``tags: [_truncated]``
and ``soc.truncated`` for cut messages), serialize it once and append the frames of one read
to the disk queue in one write. The queue assigns the arrival sequence and the deterministic id.
A dedicated sink thread ships from the queue; a heartbeat thread reports per source; a loopback
HTTP endpoint serves metrics and health.

The listeners' actual ports (a configured port 0 lets the system pick) are written to
``runtime.json`` in the queue folder once the collector listens.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import orjson

from collectors import __version__
from collectors.config import CollectorConfig, SourceConfig
from collectors.contract.names import LOG_STREAMS, StreamNames
from collectors.heartbeat import Heartbeat
from collectors.metrics import Metrics, MetricsServer
from collectors.offsets import OffsetStore
from collectors.parsers import ParseContext, parse
from collectors.queue import DiskQueue, QueueStopped
from collectors.sink import BulkSink
from collectors.sources.syslog import Frame, StreamListener, UdpListener, listener
from collectors.sources.tail import FileTailer

log = logging.getLogger(__name__)


def _fallback(raw: bytes, ctx: ParseContext, error: Exception) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace").replace("\0", "\ufffd")
    return {"@timestamp": ctx.received_at.isoformat().replace("+00:00", "Z"), "message": text,
            "event": {"original": text, "dataset": "syslog"}, "tags": ["_parse_failure"],
            "error": {"message": f"{type(error).__name__}: {error}"[:500]}}


class Collector:
    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.names = StreamNames(config.opensearch.index_prefix)
        self.metrics = Metrics(unhealthy_after=config.sink.unhealthy_after_seconds)
        self.queue = DiskQueue(config.queue_dir, config.collector_id, config.queue_max_bytes, config.segment_bytes)
        self.metrics.recovered(self.queue.depth)
        self.metrics.oldest_unacked_ms = self.queue.oldest_ms
        self.sink = BulkSink(config, self.queue, self.metrics)
        self.heartbeat = Heartbeat(config, self.metrics, self.sink, self.names.heartbeats)
        # The agency's own data streams: where an event is written is what makes it the agency's.
        self.streams = {logical: self.names.stream(logical, config.organization_id) for logical in LOG_STREAMS}
        self.agent = {"id": config.collector_id, "type": "soc-collector", "version": __version__}
        self.listeners: list[UdpListener | StreamListener] = []
        self.network = [s for s in config.sources if s.file is None]
        self.tailers: list[FileTailer] = []
        self.hostname = socket.gethostname()
        self.metrics_server: MetricsServer | None = None
        self.stopped = threading.Event()

    # -- the path of an event ---------------------------------------------------------------------------
    def submit(self, source: SourceConfig, frames: list[Frame], peer_ip: str | None, block: bool, *,
               doc_ids: Sequence[str] | None = None, extra: Sequence[dict[str, Any]] | None = None,
               on_queued: Callable[[int], None] | None = None) -> bool:
        """Parse and queue the frames of one read; True when queued, False when dropped (queue full).

        File sources pass the lines' document ids, per-line fields to merge (``log.file.path``,
        ``log.offset``, tags) and ``on_queued(next_seq)``, called once the lines are queued.
        """
        kind, stream = source.type, self.streams["logs-syslog"]
        ctx = ParseContext(timezone=source.timezone, received_at=datetime.now(UTC), peer_ip=peer_ip)
        if source.file is not None:
            kind = source.file.format
            stream = self.streams["logs-syslog" if kind == "syslog" else "logs-web"]
            ctx = ParseContext(timezone=source.timezone, received_at=ctx.received_at, hostname=self.hostname,
                               domain=source.file.domain)
        items = []
        failures = truncated = 0
        for n, (raw, cut) in enumerate(frames):
            try:
                event = parse(kind, raw, ctx)
            except Exception as exc:  # the parsers promise not to raise; an event is never lost if they do
                log.exception("parser raised on a %d-byte frame from source %s", len(raw), source.id)
                event = _fallback(raw, ctx, exc)
            tags = event.get("tags")
            if not isinstance(tags, list):
                tags = event["tags"] = []
            if "_parse_failure" in tags:
                failures += 1
            if cut:
                truncated += 1
                tags.append("_truncated")
                event.setdefault("soc", {})["truncated"] = True
            event["organization"] = {"id": self.config.organization_id}
            event["agent"] = self.agent
            event["observer"] = {"name": self.config.collector_id}
            event.setdefault("log", {}).setdefault("source", {})["id"] = source.id
            if extra is not None:
                for key, value in extra[n].items():
                    if isinstance(value, dict):
                        event.setdefault(key, {}).update(value)
                    else:
                        event.setdefault(key, []).extend(value)
            items.append((raw, stream, orjson.dumps(event)))

        def count(queued: bool) -> None:
            self.metrics.accepted(source.id, len(items), failures, truncated, queued)
            if queued and on_queued is not None:
                on_queued(self.queue.next_seq)

        try:
            return self.queue.append(source.id, items, block, count, doc_ids)
        except QueueStopped:
            count(False)
            log.warning("source %s: collector stopping, %d received events not queued", source.id, len(items))
            return False

    # -- running --------------------------------------------------------------------------------------
    def start(self) -> None:
        # file sources first: a checkpoint that cannot be read stops the start before anything listens
        self.tailers = [self.tailer(s) for s in self.config.sources if s.file is not None]
        self.listeners = [listener(s, self.submit, self._refused(s.id)) for s in self.network]
        self.metrics_server = MetricsServer(self.metrics, self.config.metrics_host, self.config.metrics_port)
        self.sink.start()
        self.heartbeat.start()
        self.metrics_server.start()
        for item in self.listeners:
            item.start()
        for tailer in self.tailers:
            tailer.start()
        self._write_runtime()
        log.info("collector %s of %s listening: %s; metrics on %s:%d", self.config.collector_id,
                 self.config.organization_id,
                 ", ".join([f"{s.id}={s.protocol}/{s.host}:{x.port}" for s, x in zip(self.network, self.listeners,
                                                                                    strict=True)]
                           + [f"{t.source.id}=file" for t in self.tailers]),
                 self.config.metrics_host, self.metrics_server.port)

    def _refused(self, source_id: str) -> Callable[[str, str], None]:
        return lambda peer, reason: self.metrics.refused(source_id)

    def _write_runtime(self) -> None:
        assert self.metrics_server is not None
        body = json.dumps({"pid": os.getpid(), "metrics_port": self.metrics_server.port,
                           "sources": {s.id: x.port for s, x in zip(self.network, self.listeners, strict=True)}})
        tmp = self.config.queue_dir / "runtime.json.tmp"
        tmp.write_text(body)
        os.replace(tmp, self.config.queue_dir / "runtime.json")

    def tailer(self, source: SourceConfig, once: bool = False) -> FileTailer:
        """The file source ``source``, checkpointing in the queue folder (``offsets-<id>.json``)."""
        store = OffsetStore(self.config.queue_dir / f"offsets-{source.id}.json")
        tailer = FileTailer(source, self.queue, self.submit, store, once=once)
        self.metrics.add_file_source(source.id, tailer.stats)
        return tailer

    def stop(self) -> None:
        for item in self.listeners:
            item.stop()
        for tailer in self.tailers:
            tailer.stop()
        self.heartbeat.stop()
        self.sink.stop()
        for tailer in self.tailers:
            tailer.checkpoint()  # what the sink acknowledged after the tailers stopped
        self.queue.close()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        self.stopped.set()

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT, then stop cleanly (what is queued stays queued)."""
        wake = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            wake.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        wake.wait()
        log.info("collector %s stopping", self.config.collector_id)
        self.stop()
