"""Detection metrics in Prometheus text format (the API serves ``render()``)."""

from __future__ import annotations

from datetime import UTC, datetime
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


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    lines = ["# HELP soc_detection_lag_seconds now minus the detection checkpoint, per slot (stream or stream#group)",
             "# TYPE soc_detection_lag_seconds gauge"]
    with _lock:
        for stream, end in sorted(_checkpoints.items()):
            lines.append(f'soc_detection_lag_seconds{{stream="{_label(stream)}"}} {(now - end).total_seconds():.3f}')
        lines += ["# TYPE soc_detection_cycle_seconds gauge",
                  f"soc_detection_cycle_seconds {_counters['cycle_seconds']:.3f}",
                  "# TYPE soc_detection_cycles_total counter", f"soc_detection_cycles_total {_counters['cycles']:.0f}",
                  "# TYPE soc_detection_alerts_total counter", f"soc_detection_alerts_total {_counters['alerts']:.0f}",
                  "# TYPE soc_detection_suppressed_total counter",
                  f"soc_detection_suppressed_total {_counters['suppressed']:.0f}",
                  "# TYPE soc_detection_opensearch_rejections_total counter",
                  f"soc_detection_opensearch_rejections_total {_counters['rejections']:.0f}",
                  "# TYPE soc_detection_rule_errors_total counter"]
        lines += [f'soc_detection_rule_errors_total{{rule="{_label(r)}"}} {n}' for r, n in sorted(_rule_errors.items())]
        lines += ["# HELP soc_detection_flagged_time_events_total events whose own time the ingest pipeline flagged"
                  " (_late events are not correlated)", "# TYPE soc_detection_flagged_time_events_total counter"]
        lines += [f'soc_detection_flagged_time_events_total{{tag="{_label(t)}"}} {n}'
                  for t, n in sorted(_time_tags.items())]
    return "\n".join(lines) + "\n"
