"""Detection's counters, kept by the runner; ``soc.telemetry`` exposes them at ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from threading import Lock

_lock = Lock()
_checkpoints: dict[str, datetime] = {}
_counters: dict[str, float] = {"alerts": 0, "suppressed": 0, "rejections": 0, "cycle_seconds": 0, "cycles": 0}
_rule_errors: dict[str, int] = {}
_time_tags: dict[str, int] = {}


def record_checkpoint(slot: str, end: datetime) -> None:
    """A slot's checkpoint moved (the stream's name when there is one rule group)."""
    with _lock:
        _checkpoints[slot] = end


def record_alerts(alerts: int, suppressed: int, errors: dict[str, str]) -> None:
    with _lock:
        _counters["alerts"] += alerts
        _counters["suppressed"] += suppressed
        for rule_id in errors:
            _rule_errors[rule_id] = _rule_errors.get(rule_id, 0) + 1


def record_time_tags(counts: dict[str, int]) -> None:
    """Events whose own time was flagged at ingest (_late: not correlated; _future_timestamp; _time_missing)."""
    with _lock:
        for tag, n in counts.items():
            _time_tags[tag] = _time_tags.get(tag, 0) + n


def record_cycle(seconds: float, rejections: int) -> None:
    with _lock:
        _counters["cycle_seconds"] = seconds
        _counters["cycles"] += 1
        _counters["rejections"] = rejections


@dataclass(frozen=True)
class Snapshot:
    """The counters at one moment, read under the lock (so a scrape never mixes two cycles)."""

    checkpoints: dict[str, datetime]
    counters: dict[str, float]
    rule_errors: dict[str, int]
    time_tags: dict[str, int]


def snapshot() -> Snapshot:
    with _lock:
        return Snapshot(dict(_checkpoints), dict(_counters), dict(_rule_errors), dict(_time_tags))
