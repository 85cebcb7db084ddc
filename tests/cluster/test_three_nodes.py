"""A three-node cluster loses a node mid-stream: nothing is lost, detection goes on, the cluster heals.

Three real OpenSearch nodes on loopback form one cluster (one replica per shard). A real collector
process receives syslog over TCP and ships to all three nodes (fail-over on connection errors);
the service scheduler runs detection and grouping. The node holding the primary of the syslog
write index is killed with SIGKILL while events flow; afterwards every event is there exactly
once, a brute force sent after the kill still becomes an incident, and the restarted node brings
the cluster back to green.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soc import search
from soc.config import Settings, default_cache
from soc.opensearch import bootstrap, dist, node
from soc.scheduler import ServiceScheduler

MARKED = 3000  # benign events with unique markers
HEAP = "512m"


def _consecutive_free(count: int) -> int:
    for _ in range(50):
        base = node.free_port()
        if base + count < 65000 and all(node.port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no consecutive free ports")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Path, int]]:
    home = Path(tempfile.mkdtemp(prefix="soc-cluster-"))
    home.chmod(0o755)
    base = _consecutive_free(3)
    distribution = dist.install(Settings().opensearch_version, default_cache())
    try:
        node.start(distribution, home, base, heap=HEAP, nodes=3, timeout=240)
        yield home, base
    finally:
        node.stop(home, grace=10)
        shutil.rmtree(home, ignore_errors=True)


def _frame(msg: str) -> bytes:
    data = msg.encode()
    return str(len(data)).encode() + b" " + data


def _line(app: str, pid: int, text: str) -> str:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"<38>1 {now} web-01 {app} {pid} - - {text}"


def _send(port: int, messages: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        for i in range(0, len(messages), 200):
            s.sendall(b"".join(_frame(m) for m in messages[i:i + 200]))


def _wait(metrics_port: int, shipped: int, timeout: int = 180) -> dict[str, int]:
    url = f"http://127.0.0.1:{metrics_port}/wait?shipped={shipped}&timeout={timeout}"
    try:
        with urllib.request.urlopen(url, timeout=timeout + 10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"collector did not ship {shipped}: {exc.read()[:300]!r}") from None


def _primary_node(client: object, index: str) -> str:
    shards = client.cat.shards(index=index, format="json")  # type: ignore[attr-defined]
    return next(s["node"] for s in shards if s["prirep"] == "p" and s["state"] == "STARTED")


def test_losing_a_node_mid_stream_loses_nothing_and_detection_goes_on(
        cluster: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    home, base = cluster
    urls = ",".join(f"http://127.0.0.1:{base + i}" for i in range(3))
    settings = replace(Settings(opensearch_url=urls), index_prefix="c3-")
    client = search.client(settings)
    names = search.names(settings)
    bootstrap.init(settings, client, names)
    assert client.indices.get_settings(index=names.incidents)[names.incidents]["settings"]["index"][
        "number_of_replicas"] == "1"

    work = Path(tempfile.mkdtemp(prefix="soc-cluster-collector-"))
    syslog_port = node.free_port()
    conf = work / "collector.yml"
    conf.write_text(
        "organization:\n  id: so-cluster\ncollector:\n  id: col-cluster\n"
        f"  queue_dir: {work / 'queue'}\n  heartbeat_seconds: 3600\n"
        f"opensearch:\n  url: \"{urls}\"\n  index_prefix: c3-\n"
        "sink:\n  retry_initial_seconds: 0.2\n  retry_max_seconds: 2\n  request_timeout_seconds: 20\n"
        "metrics:\n  listen: 127.0.0.1:0\n"
        f"sources:\n  - id: cluster-syslog\n    type: syslog\n    protocol: tcp\n    listen: 127.0.0.1:{syslog_port}\n")
    collector = subprocess.Popen([str(Path(sys.executable).with_name("soc-collector")), "run", "-c", str(conf)],
                                 stdout=subprocess.DEVNULL, stderr=(work / "collector.log").open("wb"))
    monkeypatch.setenv("SOC_DETECT_SETTLE_S", "2")
    monkeypatch.setenv("SOC_DETECT_RULE_PATHS", "rules/linux/sshd")
    scheduler = ServiceScheduler(settings)
    stop_detection = threading.Event()
    detection_errors: list[str] = []

    def detect_loop() -> None:
        while not stop_detection.is_set():
            try:
                scheduler.detect_and_group()
            except Exception as exc:  # the cluster is failing over: a cycle may fail, the next retries
                detection_errors.append(repr(exc))
            stop_detection.wait(1.0)

    try:
        deadline = time.monotonic() + 30
        while not (work / "queue" / "runtime.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        metrics_port = json.loads((work / "queue" / "runtime.json").read_text())["metrics_port"]
        detector = threading.Thread(target=detect_loop, daemon=True)
        detector.start()

        first = [_line("CRON", 100 + i, f"(root) CMD (marker-{i:06d})") for i in range(MARKED // 2)]
        _send(syslog_port, first)
        _wait(metrics_port, len(first))

        write_index = client.indices.get_data_stream(name=names.syslog)["data_streams"][0]["indices"][-1]["index_name"]
        victim_name = _primary_node(client, write_index)
        victim = next(s for s in node.existing_specs(home) if s.name == victim_name)
        node.kill(victim)  # SIGKILL, mid-stream

        second = [_line("CRON", 100 + i, f"(root) CMD (marker-{i:06d})") for i in range(MARKED // 2, MARKED)]
        attack = [_line("sshd", 7000 + i, f"Failed password for root from 203.0.113.50 port {41000 + i} ssh2")
                  for i in range(15)]
        _send(syslog_port, second + attack)
        counters = _wait(metrics_port, MARKED + len(attack))
        assert counters["dead_lettered"] == 0 and counters["dropped"] == 0

        client.indices.refresh(index=names.syslog)
        assert client.count(index=names.syslog)["count"] == MARKED + len(attack)
        # Exactly, from the documents (a cardinality aggregation is an estimate: its hashes may collide).
        stored = [h["_source"]["event"]["original"] for h in client.search(index=names.syslog, body={
            "size": MARKED + len(attack) + 10, "_source": ["event.original"]})["hits"]["hits"]]
        assert sorted(set(stored)) == sorted(first + second + attack)

        deadline = time.monotonic() + 90
        found: list[dict[str, object]] = []
        while time.monotonic() < deadline and not found:
            client.indices.refresh(index=names.incidents)
            found = [h["_source"] for h in client.search(index=names.incidents, body={"query": {"term": {
                "entities": "source.ip=203.0.113.50"}}})["hits"]["hits"]]
            if not found:
                time.sleep(1)
        assert found, f"no incident for the brute force sent after the node was lost; errors: {detection_errors[-3:]}"
        assert any("Brute Force" in str(f["title"]) for f in found)
    finally:
        stop_detection.set()
        collector.terminate()
        try:
            collector.wait(timeout=20)
        except subprocess.TimeoutExpired:
            collector.kill()
        shutil.rmtree(work, ignore_errors=True)

    # The killed node comes back and the cluster heals.
    distribution = dist.install(Settings().opensearch_version, default_cache())
    node.start(distribution, home, base, heap=HEAP, nodes=3, timeout=240)
    health = client.transport.perform_request(
        "GET", "/_cluster/health?wait_for_status=green&wait_for_nodes=3&timeout=120s", params={"request_timeout": 150})
    assert health["status"] == "green" and health["number_of_nodes"] == 3
    assert os.path.exists(victim.pidfile)
