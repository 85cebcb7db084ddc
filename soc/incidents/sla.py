"""Service levels: targets to acknowledge and to resolve, per severity, with per-agency overrides.

The clock is the SLA's, counted from the incident's creation. A breach is flagged once, when it
first becomes true (at a change or at a periodic check), and the caller notifies it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from soc.incidents.model import OPEN_STATUSES, iso, parse_time


@dataclass(frozen=True)
class Target:
    acknowledge: timedelta
    resolve: timedelta


DEFAULT_TARGETS: dict[str, Target] = {
    "critical": Target(timedelta(minutes=15), timedelta(hours=4)),
    "high": Target(timedelta(minutes=30), timedelta(hours=8)),
    "medium": Target(timedelta(hours=4), timedelta(days=1)),
    "low": Target(timedelta(hours=24), timedelta(days=3)),
    "informational": Target(timedelta(days=3), timedelta(days=7)),
}


@dataclass(frozen=True)
class SlaPolicy:
    targets: dict[str, Target] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    # agency -> severity -> target, for agencies with their own agreement.
    overrides: dict[str, dict[str, Target]] = field(default_factory=dict)

    def target(self, agency: str, severity: str) -> Target:
        return self.overrides.get(agency, {}).get(severity) or self.targets[severity]


def set_dues(doc: dict[str, Any], policy: SlaPolicy) -> None:
    """(Re)compute the due times from creation and the current severity (escalation tightens them)."""
    target = policy.target(doc["organization"]["id"], doc["severity"])
    created = parse_time(doc["created"])
    sla = dict(doc.get("sla") or {})
    sla["ack_due"] = iso(created + target.acknowledge)
    sla["resolve_due"] = iso(created + target.resolve)
    sla.setdefault("ack_breached", False)
    sla.setdefault("resolve_breached", False)
    doc["sla"] = sla


def evaluate(doc: dict[str, Any], now: datetime) -> list[str]:
    """Flag breaches that have become true; returns the newly breached kinds ("acknowledge", "resolve")."""
    sla = doc.get("sla") or {}
    if not sla.get("ack_due"):
        return []
    new: list[str] = []
    acked = parse_time(doc["acknowledged_at"]) if doc.get("acknowledged_at") else None
    if not sla.get("ack_breached") and (acked or now) > parse_time(sla["ack_due"]):
        sla["ack_breached"] = True
        new.append("acknowledge")
    resolved = parse_time(doc["resolved_at"]) if doc.get("resolved_at") else None
    still_open = doc["status"] in OPEN_STATUSES
    if not sla.get("resolve_breached") and (resolved or (now if still_open else None)) is not None:
        when = resolved or now
        if when > parse_time(sla["resolve_due"]):
            sla["resolve_breached"] = True
            new.append("resolve")
    doc["sla"] = sla
    return new


def breach_candidates(now: datetime) -> dict[str, Any]:
    """A query for open incidents that may have breached and are not flagged yet."""
    t = iso(now)
    return {"bool": {"filter": [{"terms": {"status": list(OPEN_STATUSES)}}],
                     "must_not": [{"exists": {"field": "merged_into"}}],
                     "should": [
                         {"bool": {"filter": [{"term": {"status": "new"}}, {"range": {"sla.ack_due": {"lt": t}}},
                                              {"term": {"sla.ack_breached": False}}]}},
                         {"bool": {"filter": [{"range": {"sla.resolve_due": {"lt": t}}},
                                              {"term": {"sla.resolve_breached": False}}]}}],
                     "minimum_should_match": 1}}
