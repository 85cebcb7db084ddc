"""Bulk semantics against the real node: dead letters for rejected items, a 429/503 storm retried
item by item without loss or duplicates, and 409 counted as success on a replay."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
from prometheus_client import generate_latest

from collectors.metrics import Metrics, registry
from collectors.queue import DiskQueue
from collectors.sink import BulkSink
from soc import search
from soc.config import Settings
from tests.collectors.conftest import (
    InvariantWatch,
    config_dict,
    marker_lines,
    originals,
    port_of,
    running,
    send_tcp,
    to_config,
)
from tests.collectors.fault_proxy import FaultProxy


def test_rejected_item_goes_to_dead_letters_with_its_raw_text(isolated: Settings, tmp_path: Path) -> None:
    cfg = to_config(config_dict(isolated, tmp_path / "q", [{"id": "s", "protocol": "udp", "listen": "127.0.0.1:0"}]))
    names = search.names(isolated)
    queue = DiskQueue(tmp_path / "q", "col-test", 1 << 20, 1 << 20)
    good = b'{"@timestamp":"2026-01-01T00:00:00Z","event":{"original":"fine line"}}'
    bad = (
        b'{"@timestamp":"2026-01-01T00:00:00Z","source":{"ip":"not-an-address"},'
        b'"event":{"original":"<13>hostile line with a bad address"},"log":{"source":{"id":"s"}},'
        b'"organization":{"id":"so-test"}}'
    )
    stream = names.stream("logs-syslog", "so-test")
    queue.append("s", [(b"f1", stream, good), (b"f2", stream, bad)])
    metrics = Metrics()
    metrics.recovered(2)
    sink = BulkSink(cfg, queue, metrics)
    batch = queue.read_batch(100, 1 << 20, wait=0)
    assert batch is not None
    assert sink.ship(batch) == (1, 1)
    # a replay of the same batch (a crash before the ack) changes nothing: 409s are successes
    assert sink.ship(batch) == (1, 1)
    sink.client.close()
    queue.close()
    assert originals(isolated) == ["fine line"]
    dead_index = f"{isolated.index_prefix}soc-deadletter-so-test"  # the collector's own agency's
    search.client(isolated).indices.refresh(index=dead_index)
    dead = search.client(isolated).search(index=dead_index, body={"query": {"match_all": {}}})["hits"]["hits"]
    assert len(dead) == 1
    doc = dead[0]["_source"]
    assert doc["event"]["original"] == "<13>hostile line with a bad address"
    assert doc["error"]["status"] == 400 and doc["error"]["type"] == "mapper_parsing_exception"
    assert doc["target_index"] == stream and doc["log"]["source"]["id"] == "s"
    assert doc["document_id"] == batch.records[1].doc_id and "not-an-address" in doc["document"]


def test_an_item_refused_with_403_is_counted_dead_lettered_in_its_agency_and_never_retried(
        isolated: Settings, tmp_path: Path) -> None:
    names = search.names(isolated)
    own, other = names.stream("logs-syslog", "so-test"), names.stream("logs-syslog", "so-other")
    with FaultProxy(isolated.url) as proxy:
        proxy.forbid = {other}  # as the security plugin answers for another agency's stream
        cfg = to_config(config_dict(isolated, tmp_path / "q", [{"id": "s", "protocol": "udp", "listen": "127.0.0.1:0"}],
                                    url=proxy.url))
        queue = DiskQueue(tmp_path / "q", "col-test", 1 << 20, 1 << 20)
        mine = b'{"@timestamp":"2026-01-01T00:00:00Z","event":{"original":"own stream"}}'
        theirs = b'{"@timestamp":"2026-01-01T00:00:00Z","event":{"original":"<13>into another agency"}}'
        queue.append("s", [(b"f1", own, mine), (b"f2", other, theirs)])
        metrics = Metrics()
        metrics.recovered(2)
        sink = BulkSink(cfg, queue, metrics)
        batch = queue.read_batch(100, 1 << 20, wait=0)
        assert batch is not None
        assert sink.ship(batch) == (1, 1)
        queue.ack(batch)
        metrics.acknowledged(1, 1, queue.oldest_ms)
        sink.client.close()
        queue.close()
    snap = metrics.snapshot()
    assert proxy.forbidden == 1  # sent once: a 403 is not retried
    assert snap["refused_items"] == 1 and snap["dead_lettered"] == 1 and snap["retried"] == 0
    assert snap["received"] == snap["shipped"] + snap["dead_lettered"] + snap["dropped"] + snap["queued"]
    assert "soc_collector_refused_items_total 1.0" in generate_latest(registry(metrics)).decode()
    client = search.client(isolated)
    dead_index = names.deadletter("so-test")
    client.indices.refresh(index=dead_index)
    [dead] = client.search(index=dead_index, body={"query": {"match_all": {}}})["hits"]["hits"]
    assert dead["_source"]["event"]["original"] == "<13>into another agency"
    assert dead["_source"]["error"]["status"] == 403 and dead["_source"]["target_index"] == other
    assert not client.indices.exists(index=other)


def test_storm_of_429_and_503_is_retried_without_loss(isolated: Settings, tmp_path: Path) -> None:
    n = 2000
    tag = f"storm{uuid.uuid4().hex[:6]}"
    with FaultProxy(isolated.url) as proxy:
        proxy.mode = "storm"
        cfg = to_config(
            config_dict(
                isolated,
                tmp_path / "q",
                [{"id": "s", "protocol": "tcp", "listen": "127.0.0.1:0"}],
                url=proxy.url,
                sink={"batch_max_events": 500, "retry_max_seconds": 0.2},
            )
        )
        with running(cfg) as col, InvariantWatch(col) as watch:
            send_tcp(port_of(col, "s"), marker_lines(tag, n), octet=True)
            assert col.metrics.wait({"shipped": n}, 120), col.metrics.snapshot()
            snap = col.metrics.snapshot()
    assert proxy.whole_failures > 0 and proxy.item_failures > 0
    assert snap["retried"] >= proxy.item_failures and snap["dead_lettered"] == 0
    assert snap["received"] == snap["shipped"] == n and snap["queued"] == 0
    assert watch.samples > 10 and watch.broken == []
    docs = originals(isolated)
    assert len(docs) == n and len(set(docs)) == n


def test_request_too_large_is_split_and_a_document_too_large_alone_is_dead_lettered(
        isolated: Settings, tmp_path: Path) -> None:
    n = 1200
    tag = f"big{uuid.uuid4().hex[:6]}"
    huge = b"<134>1 2026-01-02T03:04:05.000Z host app 42 - - " + tag.encode() + b"-huge " + b"x" * 60000
    with FaultProxy(isolated.url) as proxy:
        proxy.max_body = 100_000  # a batch of 400 events is about 300 kB; the huge event alone is over 120 kB
        cfg = to_config(config_dict(isolated, tmp_path / "q", [{"id": "s", "protocol": "tcp", "listen": "127.0.0.1:0"}],
                                    url=proxy.url, sink={"batch_max_events": 400}))
        with running(cfg) as col, InvariantWatch(col) as watch:
            lines = marker_lines(tag, n)
            send_tcp(port_of(col, "s"), [*lines[:600], huge, *lines[600:]], octet=True)
            assert col.metrics.wait({"shipped": n, "dead_lettered": 1}, 120), col.metrics.snapshot()
            snap = col.metrics.snapshot()
            learnt = col.sink.bulk.max_body
    assert proxy.too_large > 0 and learnt is not None and learnt <= 100_000
    assert snap["received"] == n + 1 and snap["shipped"] == n and snap["dead_lettered"] == 1
    assert snap["queued"] == 0 and snap["retried"] == 0 and watch.broken == []
    docs = originals(isolated)
    assert len(docs) == n and len(set(docs)) == n and not any("-huge " in d for d in docs)
    # the dead-letter document (raw text + document) is too large for the node as well: it is kept on disk
    kept = [orjson.loads(line) for line in (tmp_path / "q" / "deadletter.ndjson").read_bytes().splitlines()]
    assert len(kept) == 1 and kept[0]["event"]["original"] == huge.decode()
    assert kept[0]["error"]["status"] == 413 and kept[0]["error"]["type"] == "request_too_large"


def test_a_later_batch_answered_first_is_acknowledged_after_the_earlier_one(
        isolated: Settings, tmp_path: Path) -> None:
    n = 2000
    tag = f"order{uuid.uuid4().hex[:6]}"
    acked: list[int] = []
    with FaultProxy(isolated.url) as proxy:
        proxy.hold_first = True
        cfg = to_config(config_dict(isolated, tmp_path / "q", [{"id": "s", "protocol": "tcp", "listen": "127.0.0.1:0"}],
                                    url=proxy.url, sink={"batch_max_events": 500, "in_flight": 2}))
        with running(cfg) as col, InvariantWatch(col) as watch:
            col.queue.add_ack_listener(acked.append)
            send_tcp(port_of(col, "s"), marker_lines(tag, n), octet=True)
            assert col.metrics.wait({"shipped": n}, 120), col.metrics.snapshot()
            snap = col.metrics.snapshot()
    assert proxy.overtaken.is_set()  # the second request was answered while the first was held
    assert acked == sorted(set(acked)) and acked[-1] == n  # acknowledgements in queue order, each once
    assert snap["received"] == snap["shipped"] == n and snap["queued"] == 0 and watch.broken == []
    docs = originals(isolated)
    assert len(docs) == n and len(set(docs)) == n
