"""A labelled web capture made by real programs (Debian's nginx, curl, an HTTP client) for the
event-time tests, re-timed to a plan so the tests know which bursts are real.

The lines are what nginx wrote; only each line's time is set from the plan (the traffic itself is
made in a few seconds). Actors, by source address:

- 127.0.0.10 benign browsing: 140 requests over 7 minutes, a stale link now and then (404s, never
  more than a handful in any minute);
- 127.0.0.31 a slow prober: 20 404s spread over 10 minutes (never 20 in one minute);
- 127.0.0.32 a real burst: 25 404s within 40 seconds;
- 127.0.0.23 / .22 attack payloads and a scanner (single-event rules).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from soc.demo import traffic
from soc.opensearch.node import free_port

BENIGN, SLOW, BURST = "127.0.0.10", "127.0.0.31", "127.0.0.32"
_TIME = re.compile(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Capture:
    lines: list[str]  # in the plan's time order
    start: datetime


def _missing(port: int, source: str, n: int) -> None:
    curl = shutil.which("curl") or "/usr/bin/curl"
    for i in range(n):
        subprocess.run([curl, "-s", "-o", "/dev/null", "--max-time", "5", "--interface", source,
                        f"http://127.0.0.1:{port}/old/page-{i}.html"], check=False, timeout=10)


def _clf(moment: datetime) -> str:
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def _offset(source: str, i: int) -> float:
    """Seconds after the capture's start of the i-th line of an actor."""
    if source == BENIGN:
        return i * 3.0  # 140 lines over 7 minutes
    if source == SLOW:
        return 5.0 + i * 30.0  # 20 over 9.5 minutes
    if source == BURST:
        return 100.0 + i * 1.6  # 25 within 38.4 s
    return 200.0 + i  # attacks and the scanner


def make(folder: Path, start: datetime) -> Capture:
    site = traffic.start_nginx(folder, free_port())
    try:
        traffic.browse(site.port, 140, BENIGN)
        _missing(site.port, SLOW, 20)
        _missing(site.port, BURST, 25)
        traffic.attack(site.port)
    finally:
        traffic.stop_nginx(site)
    seen: dict[str, int] = {}
    timed: list[tuple[float, str]] = []
    for line in site.access_log.read_text().splitlines():
        source = line.split(" ", 1)[0]
        i = seen[source] = seen.get(source, -1) + 1
        at = start.replace(microsecond=0) + timedelta(seconds=_offset(source, i))
        timed.append((at.timestamp(), _TIME.sub(f"[{_clf(at)}]", line, count=1)))
    # (nginx's readiness probe adds a benign request or two)
    assert seen[BENIGN] + 1 >= 140 and seen[SLOW] + 1 == 20 and seen[BURST] + 1 == 25, seen
    return Capture([line for _, line in sorted(timed, key=lambda x: x[0])], start)
