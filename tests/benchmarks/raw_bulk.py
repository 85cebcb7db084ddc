"""The raw ``_bulk`` baseline, made as strong as we can: pre-built bodies, several requests in flight.

A baseline that sends one uncompressed request at a time flatters whatever is compared with it.
Here the bodies (and their gzip, when asked) are built before the clock starts, and ``in_flight``
threads, each with its own kept-alive connection, post them from one shared list, so the node is
never idle between requests. Every setting asked for is measured and reported; the benchmarks
compare against the best of them in each run.
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass

import httpx

from soc.config import Settings
from tests.benchmarks import measure


@dataclass(frozen=True)
class Setting:
    in_flight: int
    gzip: bool

    @property
    def label(self) -> str:
        return f"{self.in_flight} in flight, {'gzip' if self.gzip else 'uncompressed'}"

    @classmethod
    def parse(cls, text: str) -> Setting:
        """``2:gzip`` or ``4:plain``."""
        count, _, kind = text.partition(":")
        if kind not in ("gzip", "plain") or not count.isdigit() or int(count) < 1:
            raise ValueError(f"a raw _bulk setting is IN_FLIGHT:gzip or IN_FLIGHT:plain, not {text!r}")
        return cls(int(count), kind == "gzip")


DEFAULT_SETTINGS = ("1:plain", "2:gzip", "2:plain", "4:plain")


def post_all(url: str, bodies: list[bytes], setting: Setting) -> float:
    """Posts every body (already compressed if the setting says so); returns the epoch it started."""
    headers = {"Content-Type": "application/x-ndjson"}
    if setting.gzip:
        headers["Content-Encoding"] = "gzip"
    todo = iter(range(len(bodies)))
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        with httpx.Client(timeout=300) as client:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                r = client.post(f"{url}/_bulk", content=bodies[i], headers=headers, params={"filter_path": "errors"})
                if r.status_code != 200 or r.json().get("errors"):
                    failures.append(r.text[:300])
                    return

    threads = [threading.Thread(target=worker) for _ in range(setting.in_flight)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"raw _bulk refused: {failures[0]}")
    return started


def run(settings: Settings, bodies: list[bytes], events: int, pattern: str, setting: Setting) -> float:
    """Events/s from the first request to the last document's ``event.ingested``."""
    ready = [gzip.compress(b, compresslevel=1) for b in bodies] if setting.gzip else bodies
    started = post_all(settings.url, ready, setting)
    return events / (measure.wait_stored(settings, pattern, events) - started)
