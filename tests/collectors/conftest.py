"""Collector test helpers: configs, a collector run in-process or as a real process, senders."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from collectors.config import CollectorConfig, parse_config
from collectors.pipeline import Collector
from soc import search
from soc.config import Settings

REPO = Path(__file__).resolve().parents[2]


def config_dict(
    settings: Settings | None,
    queue_dir: Path,
    sources: list[dict[str, Any]],
    url: str | None = None,
    **sections: dict[str, Any],
) -> dict[str, Any]:
    prefix = settings.index_prefix if settings else "unused-"
    cfg: dict[str, Any] = {
        "organization": {"id": "so-test"},
        "collector": {"id": "col-test", "queue_dir": str(queue_dir), "heartbeat_seconds": 3600},
        "opensearch": {"url": url or (settings.url if settings else "http://127.0.0.1:9"), "index_prefix": prefix},
        "sink": {"retry_initial_seconds": 0.05, "retry_max_seconds": 1.0},
        "metrics": {"listen": "127.0.0.1:0"},
        "sources": sources,
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


def to_config(cfg: dict[str, Any]) -> CollectorConfig:
    return parse_config(yaml.safe_dump(cfg), "test.yml")


@contextmanager
def running(config: CollectorConfig) -> Iterator[Collector]:
    """A collector in this process, stopped at the end even on failure."""
    collector = Collector(config)
    collector.start()
    try:
        yield collector
    finally:
        collector.stop()


def port_of(collector: Collector, source_id: str) -> int:
    for src, lst in zip(collector.config.sources, collector.listeners, strict=True):
        if src.id == source_id:
            return int(lst.port)
    raise KeyError(source_id)


class CollectorProcess:
    """``soc-collector run`` as a real process (what the crash test kills)."""

    def __init__(self, config_path: Path, queue_dir: Path, command: list[str] | None = None) -> None:
        self.config_path = config_path
        self.queue_dir = queue_dir
        # the working tree's collector by default; an installed one runs outside the tree
        self.command = command or [sys.executable, "-m", "collectors.cli"]
        self.cwd = REPO if command is None else queue_dir.parent
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: list[str] = []
        self.runtime: dict[str, Any] = {}

    def start(self, timeout: float = 30) -> None:
        ready = threading.Event()
        self.proc = subprocess.Popen(
            [*self.command, "run", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
        )
        stderr = self.proc.stderr
        assert stderr is not None

        def drain() -> None:
            for raw in stderr:
                line = raw.decode(errors="replace")
                self.log.append(line)
                if " listening: " in line:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        assert ready.wait(timeout), "the collector did not start"
        assert self.proc.poll() is None, "".join(self.log[-20:])
        self.runtime = json.loads((self.queue_dir / "runtime.json").read_text())

    def port(self, source_id: str) -> int:
        return int(self.runtime["sources"][source_id])

    def wait(self, timeout: float = 60, **at_least: int) -> dict[str, Any]:
        params = {k: str(v) for k, v in at_least.items()} | {"timeout": str(timeout)}
        r = httpx.get(f"http://127.0.0.1:{self.runtime['metrics_port']}/wait", params=params, timeout=timeout + 10)
        snap: dict[str, Any] = r.json()
        assert r.status_code == 200, f"not reached {at_least}: {snap}\n{''.join(self.log[-20:])}"
        return snap

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture()
def processes() -> Iterator[list[Any]]:
    """Every process a test starts is registered here and ended at teardown, even on failure."""
    started: list[Any] = []
    yield started
    for item in reversed(started):
        if isinstance(item, CollectorProcess):
            item.kill()
        elif isinstance(item, subprocess.Popen) and item.poll() is None:
            item.kill()
            item.wait(30)


def send_tcp(port: int, frames: Iterable[bytes], octet: bool = False, chunk: int = 1000) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        batch: list[bytes] = []
        for frame in frames:
            batch.append(b"%d %s" % (len(frame), frame) if octet else frame + b"\n")
            if len(batch) >= chunk:
                sock.sendall(b"".join(batch))
                batch.clear()
        if batch:
            sock.sendall(b"".join(batch))


def scan(settings: Settings, index: str, query: dict[str, Any],
         fields: list[str] | None = None) -> list[dict[str, Any]]:
    """Every hit of ``query`` in ``index``, read through a scroll: one consistent snapshot of the index.

    (Paging with ``search_after`` on ``_doc`` skips or repeats documents when segments merge between
    pages, which they do while a large stream of documents settles.)"""
    client = search.client(settings)
    client.indices.refresh(index=index)
    body: dict[str, Any] = {"size": 10000, "sort": ["_doc"], "query": query}
    if fields is not None:
        body["_source"] = fields
    page = client.search(index=index, body=body, scroll="2m")
    out: list[dict[str, Any]] = []
    try:
        while page["hits"]["hits"]:
            out.extend(page["hits"]["hits"])
            page = client.scroll(scroll_id=page["_scroll_id"], scroll="2m")
    finally:
        client.clear_scroll(scroll_id=page["_scroll_id"])
    return out


def originals(settings: Settings, index: str | None = None) -> list[str]:
    """Every event.original in the syslog stream (or ``index``)."""
    name = index or search.names(settings).syslog
    return [h["_source"]["event"]["original"] for h in scan(settings, name, {"match_all": {}}, ["event.original"])]


def marker_lines(prefix: str, n: int, start: int = 0) -> list[bytes]:
    return [
        b"<134>1 2026-01-02T03:04:05.000Z host app 42 - - %s-%07d" % (prefix.encode(), i)
        for i in range(start, start + n)
    ]


def invariant_holds(snap: dict[str, Any]) -> bool:
    return bool(snap["received"] == snap["shipped"] + snap["dead_lettered"] + snap["dropped"] + snap["queued"])


class InvariantWatch:
    """Samples the counters in a thread while a test runs; every sample must keep the invariant."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.samples = 0
        self.broken: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.wait(0.01):
            snap = self.collector.metrics.snapshot()
            self.samples += 1
            if not invariant_holds(snap):
                self.broken.append(snap)

    def __enter__(self) -> InvariantWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(5)
