"""The bulk sink: takes batches from the disk queue and ships them, keeping every item's outcome.

A dedicated thread reads batches from the queue (bounded by events and bytes) and hands them to
``sink.in_flight`` worker threads (2 by default), each with its own connection, so that OpenSearch
indexes one batch while the next one is on its way; the requests themselves are made by
:mod:`collectors.bulk`. The outcome of every item is read:

- 2xx, and 409 (the document is already there: a replay after a crash), are shipped;
- 429 and 5xx items are sent again, only those, after an exponential backoff with jitter;
- any other 4xx (a mapping conflict, a malformed value, a document too large for the node even
  alone, a 403 from the security plugin for a stream the collector may not write, counted as
  ``refused_items`` too) goes to its agency's dead-letter index ``<prefix>soc-deadletter-<agency>`` with
  the raw event and the error; if even that write is refused, to ``deadletter.ndjson`` in the
  queue folder. Nothing is dropped, and nothing refused is retried.

A request that fails as a whole (connection refused, timeout, 429/5xx for the request) is retried
with backoff while every record stays queued; the health status degrades after
``unhealthy_after_seconds`` of failure. Batches are acknowledged to the queue strictly in queue
order, each once every one of its items has an outcome (a later batch that finishes first waits
for the earlier one), so a crash at any point replays at most the batches in flight, whose
deterministic ids make OpenSearch answer 409.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue as jobs
import random
import threading
from collections import deque
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from collectors.bulk import BulkClient, Item, Outcome, RequestFailed
from collectors.config import CollectorConfig
from collectors.contract.names import StreamNames
from collectors.metrics import Metrics
from collectors.queue import Batch, DiskQueue, Record

__all__ = ["BulkSink", "RequestFailed"]

log = logging.getLogger(__name__)

FORBIDDEN = 403
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

Shipped = tuple[int, int] | None  # (shipped, dead-lettered), or None: stopped before every item had an outcome


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BulkSink:
    def __init__(self, config: CollectorConfig, queue: DiskQueue, metrics: Metrics) -> None:
        self.config = config
        self.sink = config.sink
        self.queue = queue
        self.metrics = metrics
        self.bulk = BulkClient(config, metrics)
        self.deadletter_index = StreamNames(config.opensearch.index_prefix).deadletter(config.organization_id)
        self._deadletter_ready = False
        self._file_lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, name="sink", daemon=True)

    @property
    def client(self) -> httpx.Client:
        """The calling thread's HTTP client."""
        return self.bulk.client

    @property
    def url(self) -> str:
        return self.bulk.url

    # -- the loop -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        self.bulk.close()

    def run(self) -> None:
        todo: jobs.SimpleQueue[tuple[Batch, Future[Shipped]] | None] = jobs.SimpleQueue()
        workers = [threading.Thread(target=self._work, args=(todo,), name=f"sink-{n}", daemon=True)
                   for n in range(max(1, self.sink.in_flight))]
        for worker in workers:
            worker.start()
        inflight: deque[tuple[Batch, Future[Shipped]]] = deque()
        try:
            while True:
                stopping = self.stop_event.is_set()
                while not stopping and self._room(inflight):
                    batch = self.queue.read_batch(self.sink.batch_max_events, self.sink.batch_max_bytes,
                                                  wait=0.0 if inflight else 0.2)
                    if batch is None:
                        break
                    future: Future[Shipped] = Future()
                    todo.put((batch, future))
                    inflight.append((batch, future))
                if not inflight:
                    if stopping:
                        return
                    continue
                batch, future = inflight[0]
                full = len(inflight) >= len(workers) or stopping
                try:
                    outcome = future.result(timeout=None if full else 0.05)
                except TimeoutError:
                    continue
                except Exception:
                    log.exception("sink: shipping a batch of %d records raised; sending it again",
                                  len(batch.records))
                    self._restart(inflight)
                    continue
                if outcome is None:
                    return  # stopping with batches unacknowledged: the next run sends them again
                inflight.popleft()
                self.queue.ack(batch)
                self.metrics.acknowledged(outcome[0], outcome[1], self.queue.oldest_ms)
        finally:
            for _ in workers:
                todo.put(None)

    def _room(self, inflight: deque[tuple[Batch, Future[Shipped]]]) -> bool:
        """Whether to send another batch now: always when none is in flight; with one in flight,
        only when a full batch is waiting (small batches would cost more requests than they save)."""
        if not inflight:
            return True
        if len(inflight) >= max(1, self.sink.in_flight):
            return False
        records = sum(len(b.records) for b, _ in inflight)
        size = sum(b.size for b, _ in inflight)
        return (self.queue.depth - records >= self.sink.batch_max_events
                or self.queue.pending_bytes - size >= self.sink.batch_max_bytes)

    def _work(self, todo: jobs.SimpleQueue[tuple[Batch, Future[Shipped]] | None]) -> None:
        while True:
            job = todo.get()
            if job is None:
                return
            batch, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self.ship(batch))
            except BaseException as exc:  # handed to the loop, which reads the batch again
                future.set_exception(exc)

    def _restart(self, inflight: deque[tuple[Batch, Future[Shipped]]]) -> None:
        """After an unexpected error: let the other requests end, then read from the acknowledged position."""
        for _, future in inflight:
            with contextlib.suppress(Exception):  # already logged once; every record is read again
                future.result()
        inflight.clear()
        self.queue.rewind()
        self._backoff(0)

    def _backoff(self, attempt: int) -> bool:
        """Sleep before retry ``attempt``; False when the sink is stopping."""
        cap = min(self.sink.retry_max_seconds, self.sink.retry_initial_seconds * (2 ** min(attempt, 30)))
        return not self.stop_event.wait(cap / 2 + random.uniform(0, cap / 2))  # noqa: S311 (jitter)

    # -- one batch ------------------------------------------------------------------------------------
    def ship(self, batch: Batch) -> tuple[int, int] | None:
        """(shipped, dead-lettered) once every record has an outcome; None when stopped before."""
        pending = batch.records
        dead: list[tuple[Record, int, dict[str, Any]]] = []
        shipped = refused = 0
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
                    refused += status == FORBIDDEN
            pending = retry
            if pending:
                self.metrics.retried(len(pending))
                log.info("sink: %d of %d items to retry (429/5xx)", len(pending), len(outcomes))
                if not self._backoff(attempt):
                    return None
                attempt += 1
        if refused:
            self.metrics.refused_items(refused)
        if dead and not self._dead_letter(dead):
            return None
        return shipped, len(dead)

    def _send(self, items: list[Item]) -> list[Outcome] | None:
        return self.bulk.send(items)

    # -- dead letters ---------------------------------------------------------------------------------
    def _ensure_deadletter(self) -> bool:
        if self._deadletter_ready:
            return True
        r = self.bulk.create_index(self.deadletter_index, {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": DEADLETTER_MAPPING})
        if r is None:
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
        with self._file_lock, open(path, "ab") as fh:
            for (record, doc), status, error in refused:
                log.error("sink: dead-letter index refused %s (HTTP %d %s); written to %s", record.doc_id, status,
                          error.get("type"), path)
                fh.write(doc + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    # -- single documents (heartbeats) ----------------------------------------------------------------
    def put_document(self, index: str, doc_id: str, doc: dict[str, Any]) -> bool:
        return self.bulk.put_document(index, doc_id, doc)
