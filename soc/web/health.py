"""Source health as the console shows it: last event, rate, parse-failure rate, silent ones first.

Pure functions over what ``store.source_activity`` and ``store.onboarded_sources`` return, so the
ordering and the thresholds are tested without a server.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

DEFAULT_SILENCE = timedelta(minutes=60)
FAILURE_WARN = 0.05


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def health(activity: list[dict[str, Any]], onboarded: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """One row per source: onboarded sources with no events yet are included (and are silent)."""
    rows: dict[str, dict[str, Any]] = {}
    for src in onboarded:
        sid = str(src.get("id") or "")
        rows[sid] = {"id": sid, "name": src.get("name") or sid, "agency": (src.get("organization") or {}).get("id"),
                     "type": src.get("type"), "events": 0, "last": None, "hour": 0, "failed": 0,
                     "silence": timedelta(minutes=int(src.get("silence_after_minutes") or 60))}
    for act in activity:
        sid = str(act["id"] or "")
        row = rows.setdefault(sid, {"id": sid, "name": sid or None, "agency": act.get("agency"), "type": None,
                                    "silence": DEFAULT_SILENCE})
        row.update(events=act["events"], last=act["last"], hour=act["hour"], failed=act["failed"])
        row["agency"] = row.get("agency") or act.get("agency")
    out = []
    for row in rows.values():
        last = _parse(row["last"])
        quiet = (now - last) if last else None
        row["quiet_seconds"] = quiet.total_seconds() if quiet is not None else None
        row["silent"] = quiet is None or quiet > row["silence"]
        row["rate_per_min"] = round(row["hour"] / 60, 2)
        row["failure_rate"] = row["failed"] / row["events"] if row["events"] else 0.0
        row["failing"] = row["failure_rate"] >= FAILURE_WARN
        out.append(row)
    # Silent first (longest silence first, never-seen before all), then failing, then by name.
    out.sort(key=lambda r: (not r["silent"], -(r["quiet_seconds"] if r["quiet_seconds"] is not None else 1e18),
                            not r["failing"], str(r["name"] or "")))
    return out
