"""The bulk sink: the only part of the collector that talks to OpenSearch.

One dedicated thread takes batches from the disk queue (bounded by events and bytes), sends them
gzip-compressed to ``_bulk`` with ``op_type: create`` and the records' deterministic ids, and reads
the outcome of every item:

- 2xx, and 409 (the document is already there: a replay after a crash), are shipped;
- 429 and 5xx items are sent again, only those, after an exponential backoff with jitter;
- any other 4xx (a mapping conflict, a malformed value) goes to the dead-letter index
  ``<prefix>soc-deadletter`` with the raw event and the error; if even that write is refused,
  to ``deadletter.ndjson`` in the queue folder. Nothing is dropped.

A request that fails as a whole (connection refused, timeout, 429/5xx for the request) is retried
with backoff while every record stays queued; the health status degrades after
``unhealthy_after_seconds`` of failure. The queue is acknowledged only when every item of the
batch has an outcome, so a crash at any point replays at most the batch in flight.
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from collectors.config import CollectorConfig
from collectors.metrics import Metrics
from collectors.queue import Batch, DiskQueue, Record

log = logging.getLogger(__name__)

DEADLETTER = "soc-deadletter"
_FILTER = "errors,items.*.status,items.*.error.type,items.*.error.reason"
_KW = {"type": "keyword", "ignore_above": 4096}
DEADLETTER_MAPPING = {
    "dynamic": False,
    "properties": {
        "@timestamp": {"type": "date"}, "target_index": _KW, "document_id": _KW,
        "error": {"properties": {"status": {"type": "long"}, "type": _KW, "reason": {"type": "text"}}},
        "event": {"properties": {"original": {"type": "text", "fields": {"keyword": _KW}}}},
        "organization": {"properties": {"id": _KW}}, "agent": {"properties": {"id": _KW}},
        "log": {"properties": {"source": {"properties": {"id": _KW}}}},
        "document": {"type": "text", "index": False},
    },
}


class RequestFailed(Exception):
    """A bulk request failed as a whole; nothing is known about its items."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BulkSink:
    def __init__(self, config: CollectorConfig, queue: DiskQueue, metrics: Metrics) -> None:
        self.config = config
        self.sink = config.sink
        self.queue = queue
        self.metrics = metrics
        # Every node the configuration names; a connection failure moves on to the next one.
        self.urls = config.opensearch.url.split(",")
        self._current = 0
        self.deadletter_index = config.opensearch.index_prefix + DEADLETTER
        self._deadletter_ready = False
        os_cfg = config.opensearch
        verify: Any = str(os_cfg.ca_file) if os_cfg.ca_file else os_cfg.verify_certs
        auth = (os_cfg.user, os_cfg.password or "") if os_cfg.user else None
        self.client = httpx.Client(timeout=self.sink.request_timeout_seconds, verify=verify, auth=auth)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, name="sink", daemon=True)

    @property
    def url(self) -> str:
        return self.urls[self._current]

    def _fail_over(self) -> None:
        if len(self.urls) > 1:
            self._current = (self._current + 1) % len(self.urls)
            log.warning("sink: moving to OpenSearch node %s", self.url)

    # -- the loop -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        self.client.close()

    def run(self) -> None:
        while not self.stop_event.is_set():
            batch = self.queue.read_batch(self.sink.batch_max_events, self.sink.batch_max_bytes, wait=0.2)
            if batch is None:
                continue
            outcome = self.ship(batch)
            if outcome is None:
                return  # stopping with the batch unacknowledged: the next run sends it again
            self.queue.ack(batch)
            self.metrics.acknowledged(outcome[0], outcome[1], self.queue.oldest_ms)

    def _backoff(self, attempt: int) -> bool:
        """Sleep before retry ``attempt``; False when the sink is stopping."""
        cap = min(self.sink.retry_max_seconds, self.sink.retry_initial_seconds * (2 ** min(attempt, 30)))
        return not self.stop_event.wait(cap / 2 + random.uniform(0, cap / 2))  # noqa: S311 (jitter)

    # -- one batch ------------------------------------------------------------------------------------
    def ship(self, batch: Batch) -> tuple[int, int] | None:
        """(shipped, dead-lettered) once every record has an outcome; None when stopped before."""
        pending = batch.records
        dead: list[tuple[Record, int, dict[str, Any]]] = []
        shipped = 0
        attempt = 0
        while pending:
            outcomes = self._send([(r.index, r.doc_id, r.doc) for r in pending])
            if outcomes is None:
                if not self._backoff(attempt):
                    return None
                attempt += 1
                continue
            retry = []
            for record, (status, error) in zip(pending, outcomes, strict=True):
                if 200 <= status < 300 or status == 409:
                    shipped += 1
                elif status == 429 or status >= 500:
                    retry.append(record)
                else:
                    dead.append((record, status, error))
            pending = retry
            if pending:
                self.metrics.retried(len(pending))
                log.info("sink: %d of %d items to retry (429/5xx)", len(pending), len(outcomes))
                if not self._backoff(attempt):
                    return None
                attempt += 1
        if dead and not self._dead_letter(dead):
            return None
        return shipped, len(dead)

    def _send(self, items: list[tuple[str, str, bytes]]) -> list[tuple[int, dict[str, Any]]] | None:
        """Item outcomes (status, error) in order, or None when the request failed as a whole."""
        parts = []
        for index, doc_id, doc in items:
            parts.append(b'{"create":{"_index":"%s","_id":"%s"}}\n' % (index.encode(), doc_id.encode()))
            parts.append(doc)
            parts.append(b"\n")
        body = b"".join(parts)
        headers = {"Content-Type": "application/x-ndjson"}
        if self.sink.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self.client.post(f"{self.url}/_bulk", params={"filter_path": _FILTER}, content=body,
                                        headers=headers)
            if response.status_code != 200:
                raise RequestFailed(f"HTTP {response.status_code}: {response.text[:300]}")
            answer = orjson.loads(response.content)
            results = answer.get("items", [])
            if len(results) != len(items):
                raise RequestFailed(f"{len(results)} outcomes for {len(items)} items")
        except (httpx.HTTPError, RequestFailed, orjson.JSONDecodeError) as exc:
            if isinstance(exc, httpx.TransportError):
                self._fail_over()
            self.metrics.sink_failed(f"{type(exc).__name__}: {exc}")
            log.warning("sink: bulk request of %d items failed, keeping them queued: %s", len(items), exc)
            return None
        self.metrics.sink_ok()
        out = []
        for result in results:
            item = next(iter(result.values()))
            out.append((int(item.get("status", 500)), item.get("error") or {}))
        return out

    # -- dead letters ---------------------------------------------------------------------------------
    def _ensure_deadletter(self) -> bool:
        if self._deadletter_ready:
            return True
        try:
            r = self.client.put(f"{self.url}/{self.deadletter_index}", json={
                "settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": DEADLETTER_MAPPING})
        except httpx.HTTPError as exc:
            self.metrics.sink_failed(f"dead-letter index: {exc}")
            return False
        if r.status_code == 200 or (r.status_code == 400 and "already_exists" in r.text):
            self._deadletter_ready = True
        else:
            log.error("sink: cannot create %s: %s", self.deadletter_index, r.text[:300])
        return True  # if it could not be created, the writes fall back to the local file

    def _dead_letter(self, dead: list[tuple[Record, int, dict[str, Any]]]) -> bool:
        docs = []
        for record, status, error in dead:
            try:
                event = orjson.loads(record.doc)
            except orjson.JSONDecodeError:
                event = {}
            raw = (event.get("event") or {}).get("original") or record.doc.decode("utf-8", "replace")
            docs.append((record, orjson.dumps({
                "@timestamp": _now(), "target_index": record.index, "document_id": record.doc_id,
                "error": {"status": status, "type": error.get("type"), "reason": error.get("reason")},
                "event": {"original": raw}, "organization": event.get("organization"),
                "agent": event.get("agent"), "log": {"source": (event.get("log") or {}).get("source")},
                "document": record.doc.decode("utf-8", "replace"),
            })))
        attempt = 0
        pending = docs
        while pending:
            outcomes = self._send([(self.deadletter_index, r.doc_id, d) for r, d in pending]) \
                if self._ensure_deadletter() else None
            if outcomes is None:
                if not self._backoff(attempt):
                    return False
                attempt += 1
                continue
            retry, refused = [], []
            for entry, (status, error) in zip(pending, outcomes, strict=True):
                if status == 429 or status >= 500:
                    retry.append(entry)
                elif not (200 <= status < 300 or status == 409):
                    refused.append((entry, status, error))
            if refused:
                self._dead_letter_file(refused)
            pending = retry
            if pending and not self._backoff(attempt):
                return False
            attempt += 1
        for record, status, error in dead:
            log.warning("sink: %s dead-lettered (HTTP %d %s: %s)", record.doc_id, status, error.get("type"),
                        str(error.get("reason"))[:200])
        return True

    def _dead_letter_file(self, refused: list[tuple[tuple[Record, bytes], int, dict[str, Any]]]) -> None:
        path = self.queue.dir / "deadletter.ndjson"
        with open(path, "ab") as fh:
            for (record, doc), status, error in refused:
                log.error("sink: dead-letter index refused %s (HTTP %d %s); written to %s", record.doc_id, status,
                          error.get("type"), path)
                fh.write(doc + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    # -- single documents (heartbeats) ----------------------------------------------------------------
    def put_document(self, index: str, doc_id: str, doc: dict[str, Any]) -> bool:
        try:
            r = self.client.put(f"{self.url}/{index}/_doc/{doc_id}", content=orjson.dumps(doc),
                                headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("heartbeat to %s failed: %s", index, exc)
            return False
        if r.status_code not in (200, 201):
            log.warning("heartbeat to %s refused: HTTP %d %s", index, r.status_code, r.text[:200])
            return False
        return True
