"""One ``_bulk`` request and the outcome of each of its items; the sink's only door to OpenSearch.

``BulkClient.send(items)`` posts ``(index, id, document)`` items with ``op_type: create``
(gzip-compressed when configured) and returns every item's ``(status, error)`` in order, or
``None`` when the request failed as a whole (connection refused, timeout, 429/5xx for the request):
then nothing is known about its items and the caller keeps them.

HTTP 413 (the body is larger than the node's ``http.max_content_length``): the items are split in
halves, each sent on its own (recursively), so the outcomes stay per item. A single item that is
still too large gets the outcome ``413 request_too_large``, which the sink dead-letters instead of
retrying it forever. The refused size is remembered: a later body over half of it is split before
it is sent, so one 413 does not cost a refused request per batch.

Every thread gets its own HTTP client (its own connection), so the sink can keep several
requests in flight; several comma-separated node URLs are tried in turn on connection failures.
"""

from __future__ import annotations

import gzip
import logging
import threading
from typing import Any

import httpx
import orjson

from collectors.config import CollectorConfig
from collectors.metrics import Metrics

log = logging.getLogger(__name__)

_FILTER = "errors,items.*.status,items.*.error.type,items.*.error.reason"

Item = tuple[str, str, bytes]  # (index, document id, document json)
Outcome = tuple[int, dict[str, Any]]  # (HTTP status of the item, its error or {})

TOO_LARGE = 413


class RequestFailed(Exception):
    """A bulk request failed as a whole; nothing is known about its items."""


class _TooLarge(Exception):
    """The node answered 413 for the whole request."""


class BulkClient:
    def __init__(self, config: CollectorConfig, metrics: Metrics) -> None:
        self.metrics = metrics
        self.gzip = config.sink.gzip
        self.urls = config.opensearch.url.split(",")
        self._current = 0
        os_cfg = config.opensearch
        self._verify: Any = str(os_cfg.ca_file) if os_cfg.ca_file else os_cfg.verify_certs
        self._auth = (os_cfg.user, os_cfg.password or "") if os_cfg.user else None
        self._timeout = config.sink.request_timeout_seconds
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self.max_body: int | None = None  # learnt from 413 answers: bodies above it are split first

    @property
    def url(self) -> str:
        return self.urls[self._current]

    @property
    def client(self) -> httpx.Client:
        """This thread's HTTP client."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None or client.is_closed:
            client = httpx.Client(timeout=self._timeout, verify=self._verify, auth=self._auth)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def _fail_over(self) -> None:
        if len(self.urls) > 1:
            self._current = (self._current + 1) % len(self.urls)
            log.warning("sink: moving to OpenSearch node %s", self.url)

    # -- _bulk ----------------------------------------------------------------------------------------
    def send(self, items: list[Item]) -> list[Outcome] | None:
        """Item outcomes in order, or None when a request failed as a whole."""
        body = b"".join(b'{"create":{"_index":"%s","_id":"%s"}}\n%s\n' % (index.encode(), doc_id.encode(), doc)
                        for index, doc_id, doc in items)
        limit = self.max_body
        if limit is not None and len(body) > limit and len(items) > 1:
            return self._halves(items)
        try:
            return self._post(body, len(items))
        except _TooLarge:
            if len(items) == 1:
                log.warning("sink: document %s alone is larger than the node accepts (%d bytes)", items[0][1],
                            len(body))
                return [(TOO_LARGE, {"type": "request_too_large",
                                     "reason": f"a bulk request of this document alone ({len(body)} bytes) "
                                               "was refused with HTTP 413"})]
            with self._lock:  # one oversized document alone says nothing about the node's limit
                self.max_body = min(self.max_body or len(body), max(len(body) // 2, 1))
            log.info("sink: HTTP 413 for %d items (%d bytes): sending them in halves", len(items), len(body))
            return self._halves(items)

    def _halves(self, items: list[Item]) -> list[Outcome] | None:
        middle = len(items) // 2
        first = self.send(items[:middle])
        if first is None:
            return None
        second = self.send(items[middle:])
        return None if second is None else first + second

    def _post(self, body: bytes, count: int) -> list[Outcome] | None:
        headers = {"Content-Type": "application/x-ndjson"}
        if self.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self.client.post(f"{self.url}/_bulk", params={"filter_path": _FILTER}, content=body,
                                        headers=headers)
            if response.status_code == TOO_LARGE:
                self.metrics.sink_ok()
                raise _TooLarge
            if response.status_code != 200:
                raise RequestFailed(f"HTTP {response.status_code}: {response.text[:300]}")
            results = orjson.loads(response.content).get("items", [])
            if len(results) != count:
                raise RequestFailed(f"{len(results)} outcomes for {count} items")
        except (httpx.HTTPError, RequestFailed, orjson.JSONDecodeError) as exc:
            if isinstance(exc, httpx.TransportError):
                self._fail_over()
            self.metrics.sink_failed(f"{type(exc).__name__}: {exc}")
            log.warning("sink: bulk request of %d items failed, keeping them queued: %s", count, exc)
            return None
        self.metrics.sink_ok()
        out = []
        for result in results:
            item = next(iter(result.values()))
            out.append((int(item.get("status", 500)), item.get("error") or {}))
        return out

    # -- single requests ------------------------------------------------------------------------------
    def create_index(self, index: str, body: dict[str, Any]) -> httpx.Response | None:
        try:
            return self.client.put(f"{self.url}/{index}", json=body)
        except httpx.HTTPError as exc:
            self.metrics.sink_failed(f"{index}: {exc}")
            return None

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
