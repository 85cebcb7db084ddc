"""The collector's endpoint, over real HTTP on loopback: prometheus_client's exposition of one
snapshot per scrape (the counters' invariant holds in every scrape while they move), /health and /wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from collectors.metrics import Metrics, MetricsServer


@pytest.fixture
def served() -> Iterator[tuple[Metrics, str]]:
    metrics = Metrics(unhealthy_after=3600)
    server = MetricsServer(metrics, "127.0.0.1", 0)
    server.start()
    try:
        yield metrics, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_every_scrape_is_one_consistent_snapshot(served: tuple[Metrics, str]) -> None:
    metrics, url = served
    stop = threading.Event()

    def churn() -> None:  # events arrive, some are dropped, the sink acknowledges and dead-letters
        i = 0
        while not stop.is_set():
            i += 1
            metrics.accepted("a" if i % 2 else "b", 3, 1, 0, queued=i % 5 != 0)
            if metrics.queued >= 2:
                metrics.acknowledged(1, 1, 0)

    workers = [threading.Thread(target=churn) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        with httpx.Client(timeout=10) as http:
            scrapes = [_samples(http.get(f"{url}/metrics").text) for _ in range(40)]
    finally:
        stop.set()
        for w in workers:
            w.join()
    moved = {s[("soc_collector_received_total", ())] for s in scrapes}
    assert len(moved) > 1, "the counters did not move while scraped"
    for s in scrapes:
        def v(name: str, s: dict[tuple[str, tuple[tuple[str, str], ...]], float] = s) -> float:
            return s[(f"soc_collector_{name}", ())]
        assert v("received_total") == v("shipped_total") + v("dead_lettered_total") + v("dropped_total") + v("queued")
        by_source = sum(s[("soc_collector_source_received_total", (("source", sid),))] for sid in ("a", "b"))
        assert by_source == v("received_total")


def test_names_labels_and_process_metrics(served: tuple[Metrics, str]) -> None:
    metrics, url = served
    metrics.accepted("web", 4, 1, 1, queued=True)
    metrics.refused("syslog-udp")
    metrics.add_file_source("web", {"lines": 4, "files": 1})
    resp = httpx.get(f"{url}/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    s = _samples(resp.text)
    assert s[("soc_collector_received_total", ())] == 4 and s[("soc_collector_parse_failures_total", ())] == 1
    assert s[("soc_collector_queued", ())] == 4 and s[("soc_collector_healthy", ())] == 1
    assert s[("soc_collector_source_refused_total", (("source", "syslog-udp"),))] == 1
    assert s[("soc_collector_tail_lines_total", (("source", "web"),))] == 4
    assert s[("soc_collector_tail_lost_bytes_total", (("source", "web"),))] == 0
    assert any(name.startswith("process_") for name, _ in s)


def test_health_turns_degraded_while_the_sink_fails() -> None:
    metrics = Metrics(unhealthy_after=1e-9)  # degraded as soon as the sink has failed at all
    server = MetricsServer(metrics, "127.0.0.1", 0)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
        metrics.sink_failed("connection refused")
        resp = httpx.get(f"{url}/health", timeout=10)
        assert resp.status_code == 503
        assert resp.json()["status"] == "degraded" and resp.json()["last_error"] == "connection refused"
        text = httpx.get(f"{url}/metrics", timeout=10).text
        assert _samples(text)[("soc_collector_healthy", ())] == 0
        metrics.sink_ok()
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    finally:
        server.stop()


def test_wait_answers_when_counters_reach_their_values(served: tuple[Metrics, str]) -> None:
    metrics, url = served
    assert httpx.get(f"{url}/wait", params={"shipped": 1, "timeout": 0.2}, timeout=10).status_code == 408
    def ship() -> None:
        metrics.accepted("web", 2, 0, 0, queued=True)
        metrics.acknowledged(2, 0, 0)

    timer = threading.Timer(0.2, ship)
    timer.start()
    resp = httpx.get(f"{url}/wait", params={"shipped": 2, "timeout": 60}, timeout=70)
    timer.join()
    assert resp.status_code == 200 and resp.json()["shipped"] == 2 and resp.json()["queued"] == 0
    assert httpx.get(f"{url}/wait", params={"shipped": "two"}, timeout=10).status_code == 400
    assert httpx.get(f"{url}/nothing", timeout=10).status_code == 404
