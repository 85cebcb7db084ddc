"""Helpers for the file-source tests: configs, a continuous line writer, searching what arrived."""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from collectors.config import CollectorConfig
from soc import search
from soc.config import Settings
from tests.collectors.conftest import config_dict, scan, to_config

FAST = {"poll_seconds": 0.02, "scan_seconds": 0.1, "close_idle_seconds": 0.5, "partial_flush_seconds": 0.5}


def file_source(source_id: str, fmt: str, paths: list[str], **options: Any) -> dict[str, Any]:
    return {"id": source_id, "type": "file", "format": fmt, "paths": paths, **FAST, **options}


def tail_config(settings: Settings, queue_dir: Path, sources: list[dict[str, Any]]) -> CollectorConfig:
    return to_config(config_dict(settings, queue_dir, sources, sink={"batch_max_events": 2000}))


def docs(settings: Settings, source_id: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    """Every document of ``source_id`` in logs-web and logs-syslog (one consistent scroll)."""
    names = search.names(settings)
    hits = scan(settings, f"{names.web},{names.syslog}", {"term": {"log.source.id": source_id}}, fields)
    return [h["_source"] | {"_id": h["_id"]} for h in hits]


def originals(settings: Settings, source_id: str) -> Counter[str]:
    return Counter(d["event"]["original"] for d in docs(settings, source_id, ["event.original"]))


class Writer:
    """Appends numbered lines (O_APPEND, as web servers write) at a bounded rate in a thread.

    ``reopen()`` makes it open the path again (what nginx does on USR1 after a rename); ``pause``
    holds it. ``written`` lists every line number in the order written.
    """

    def __init__(self, path: Path, tag: str, rate: int = 3000) -> None:
        self.path = path
        self.tag = tag
        self.rate = rate
        self.count = 0
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lock = threading.Lock()
        self.progress = threading.Condition(self.lock)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def line(self, n: int) -> bytes:
        return (f'127.0.0.{n % 250 + 1} - - [10/Oct/2025:13:55:36 +0700] "GET /{self.tag}/{n:07d} HTTP/1.1" '
                f'200 {n % 5000} "-" "writer/1.0"\n').encode()

    def write(self, lines: int) -> None:
        with self.lock:
            os.write(self.fd, b"".join(self.line(self.count + i) for i in range(lines)))
            self.count += lines
            self.progress.notify_all()

    def reopen(self) -> None:
        with self.lock:
            os.close(self.fd)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _run(self) -> None:
        step = max(1, self.rate // 100)
        while not self.stop_event.wait(0.01):
            self.write(step)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(5)

    def wait_for(self, lines: int, timeout: float = 30) -> None:
        """Block until ``lines`` more lines were written (condition on the writer's own progress)."""
        with self.progress:
            target = self.count + lines
            assert self.progress.wait_for(lambda: self.count >= target, timeout), "the writer stalled"

    def close(self) -> None:
        os.close(self.fd)

    def expected(self) -> set[str]:
        return {self.line(n).decode().rstrip("\n") for n in range(self.count)}
