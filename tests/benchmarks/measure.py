"""What every benchmark reports the same way: spread over runs, load average, and stored documents.

The end of an ingest measurement is taken from the stored documents themselves: the latest
``event.ingested`` (stamped by the node's ingest pipeline, whoever wrote the document) once the
stream holds all of them. The collector, rsyslog and the raw ``_bulk`` baseline are all timed
this way, so no shipper gains or loses from how its end is observed, and the end is not rounded
to a polling interval. It assumes the node runs on this machine (one clock), as the benchmarks
do: they only talk to loopback.
"""

from __future__ import annotations

import os
import ssl
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from soc import search
from soc.config import Settings


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as printed beside every run."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def spread(values: Sequence[float], fmt: Callable[[float], str] = lambda v: f"{v:,.0f}") -> str:
    """``min / median / max (n runs)``: never a single figure without its spread."""
    if not values:
        return "no runs"
    return (f"{fmt(min(values))} / {fmt(statistics.median(values))} / {fmt(max(values))} "
            f"({len(values)} run{'s' if len(values) != 1 else ''})")


DATASETS = {"syslog": "syslog", "web": "nginx.access"}


def log_stream(settings: Settings, kind: str, agency: str) -> str:
    """The data stream a collector of ``agency`` writes ``kind`` ("syslog" or "web") events to.

    Asked of the project's Names API, as the collector does; baselines write where it writes.
    """
    return stream_of(search.names(settings), kind, agency)


def stream_of(names: search.Names, kind: str, agency: str) -> str:
    """``log_stream`` for a deployment's names."""
    if hasattr(names, "stream_for"):
        try:
            return str(names.stream_for(DATASETS[kind], agency))
        except TypeError:  # the single-stream naming (one stream for every agency)
            pass
    return names.syslog if kind == "syslog" else names.web


def streams_pattern(settings: Settings, kind: str) -> str:
    """Every stream of ``kind`` in this deployment (one per agency, or one in all)."""
    names = search.names(settings)
    name = names.syslog if kind == "syslog" else names.web
    return name if name.endswith("*") else f"{name}*"


def access(settings: Settings) -> dict[str, Any]:
    """httpx arguments that reach the cluster of ``settings`` (credentials and CA of a secured node)."""
    out: dict[str, Any] = {}
    if settings.opensearch_user:
        out["auth"] = (settings.opensearch_user, settings.opensearch_password or "")
    if settings.opensearch_ca_file:
        out["verify"] = ssl.create_default_context(cafile=settings.opensearch_ca_file)
    return out


def stored(settings: Settings, pattern: str) -> tuple[int, float | None]:
    """(documents stored, latest ``event.ingested`` as epoch seconds) after a refresh."""
    url = settings.url
    httpx.post(f"{url}/{pattern}/_refresh", timeout=60, **access(settings))
    body = {"size": 0, "track_total_hits": True, "aggs": {"last": {"max": {"field": "event.ingested"}}}}
    r = httpx.post(f"{url}/{pattern}/_search", json=body, timeout=60, **access(settings))
    if r.status_code != 200:
        return 0, None
    data = r.json()
    last = data.get("aggregations", {}).get("last", {}).get("value")  # absent while no stream exists
    return int(data["hits"]["total"]["value"]), (last / 1000 if last is not None else None)


def wait_stored(settings: Settings, pattern: str, n: int, timeout: float = 600, poll: float = 0.5) -> float:
    """Waits until ``pattern`` holds ``n`` documents; returns the epoch of the last one's indexing.

    The poll interval only decides when the benchmark looks, not the time it reports (that is the
    last ``event.ingested``), so it is coarse, to keep the polling's own load on the node small.
    """
    deadline = time.monotonic() + timeout
    while True:
        got, last = stored(settings, pattern)
        if got >= n and last is not None:
            if got > n:
                raise RuntimeError(f"{pattern} holds {got} documents, {n} were sent: duplicates")
            return last
        if time.monotonic() > deadline:
            raise RuntimeError(f"{pattern} holds {got} of {n} documents after {timeout:.0f} s")
        time.sleep(poll)


def stamp() -> str:
    """UTC time of day for a run line."""
    return datetime.now(UTC).strftime("%H:%M:%S UTC")
