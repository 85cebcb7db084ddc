"""An incident's alerts as a story: one lane per rule, ordered by ATT&CK tactic, placed on event time.

The tactic order is the ATT&CK enterprise kill chain; a rule's tactic comes from its alert's
``threat.tactic.name`` (what ``soc.detection.rules.threat`` derives from the rule's tags). A rule
with several tactics is placed at its earliest one; a rule with none comes last. Within a tactic,
lanes follow the event time they started at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from soc.alerts.documents import SEVERITY_RANK
from soc.incidents import model
from soc.runtime import Runtime

TACTICS = ("reconnaissance", "resource-development", "initial-access", "execution", "persistence",
           "privilege-escalation", "defense-evasion", "stealth", "credential-access", "discovery", "lateral-movement",
           "collection", "command-and-control", "exfiltration", "impact")
CELLS = 40  # how finely a lane's span is drawn
MAX_ALERTS = 200  # the newest alerts shown on the story; the incident says how many there are


def tactic_rank(name: str) -> int:
    """Kill-chain position; a tactic this version does not know after the known ones, none last."""
    norm = name.lower().replace("_", "-")
    return TACTICS.index(norm) if norm in TACTICS else len(TACTICS) + (0 if norm else 1)


@dataclass
class Lane:
    rule_id: str
    rule_name: str
    tactic: str | None  # the earliest tactic of the rule, "initial-access"; None when untagged
    severity: str
    first: str
    last: str
    alerts: int = 0
    events: int = 0
    left: float = 0.0  # where the lane's span starts and how wide it is, in % of the incident's span
    width: float = 0.0
    marks: list[float] = field(default_factory=list)  # each alert's start, in % of the span

    @property
    def cells(self) -> list[str]:
        """The span drawn as CELLS equal cells: "" outside it, "on" inside, "on mark" where an alert
        starts (plain elements and classes: the console allows no inline style)."""
        out = []
        for n in range(CELLS):
            lo, hi = 100.0 * n / CELLS, 100.0 * (n + 1) / CELLS
            inside = self.left < hi and self.left + self.width > lo
            marked = any(lo <= m < hi or (m == 100.0 and n == CELLS - 1) for m in self.marks)
            out.append("on mark" if marked else "on" if inside else "")
        return out

    @property
    def tactic_key(self) -> str | None:
        """The tactic's catalog key; None for no tactic or one this version does not know (shown as written)."""
        return self.tactic.replace("-", "_") if self.tactic in TACTICS else None


def lanes(alerts: list[dict[str, Any]]) -> list[Lane]:
    """Lanes for some alerts, positioned between the earliest and the latest event time among them."""
    by_rule: dict[str, Lane] = {}
    for a in alerts:
        tactics = sorted((a.get("threat") or {}).get("tactic", {}).get("name", []) or [], key=tactic_rank)
        lane = by_rule.get(a["rule"]["id"])
        if lane is None:
            lane = by_rule[a["rule"]["id"]] = Lane(a["rule"]["id"], a["rule"].get("name", a["rule"]["id"]),
                                                   tactics[0].replace("_", "-") if tactics else None,
                                                   a["severity"], a["first_seen"], a["last_seen"])
        lane.alerts += 1
        lane.events += int(a.get("event_count") or 1)
        lane.first = min(lane.first, a["first_seen"], key=model.parse_time)
        lane.last = max(lane.last, a["last_seen"], key=model.parse_time)
        if SEVERITY_RANK[a["severity"]] > SEVERITY_RANK[lane.severity]:
            lane.severity = a["severity"]
    if not by_rule:
        return []
    start = min(model.parse_time(lane.first) for lane in by_rule.values())
    end = max(model.parse_time(lane.last) for lane in by_rule.values())
    span = max((end - start).total_seconds(), 1.0)

    def pct(at: datetime) -> float:
        return round(100.0 * (at - start).total_seconds() / span, 2)

    for lane in by_rule.values():
        lane.left = pct(model.parse_time(lane.first))
        lane.width = max(round(pct(model.parse_time(lane.last)) - lane.left, 2), 0.5)
        lane.left = min(lane.left, round(100.0 - lane.width, 2))  # a point at the end is still drawn
    for a in alerts:
        by_rule[a["rule"]["id"]].marks.append(pct(model.parse_time(a["first_seen"])))
    return sorted(by_rule.values(), key=lambda lane: (tactic_rank(lane.tactic or ""), model.parse_time(lane.first),
                                                      lane.rule_id))


def for_incident(rt: Runtime, doc: dict[str, Any]) -> list[Lane]:
    """The story of an incident (and of those merged into it); the caller has checked it may see it."""
    rows = rt.alerts.search([{"terms": {"incident_id": [doc["id"], *doc.get("merged_from", [])]}}], MAX_ALERTS)
    return lanes([alert for _, alert in rows])
