"""Grouping: each alert without an incident joins the open incident of its key, or opens one.

The key is rule + agency + entity (the alert's ``group_key``). An alert joins when it was seen
within the rule's window (default one hour) of the incident's last alert; otherwise it opens a new
incident. Alerts are claimed with the version they were read at, so two grouping runs never take
the same alert; incidents are updated with optimistic concurrency and retried, so analysts'
changes made at the same moment are kept.

If the process stops between claiming alerts and writing their incident, those alerts point to an
incident that does not count them yet; ``soc incidents regroup``-style repair is not built yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from soc.audit import store as audit_store
from soc.auth import Principal
from soc.incidents import model, sla
from soc.incidents.alerts_store import PendingAlert
from soc.incidents.runtime import Runtime
from soc.incidents.service import IncidentService
from soc.incidents.store import Stale

GROUPER = Principal("grouping", "admin", ("*",))


@dataclass
class Plan:
    incident_id: str
    key: str
    existing: bool
    last_seen: str
    alerts: list[PendingAlert] = field(default_factory=list)


@dataclass
class GroupingResult:
    alerts: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def plan(rt: Runtime, pending: list[PendingAlert]) -> list[Plan]:
    by_key: dict[str, list[PendingAlert]] = defaultdict(list)
    for alert in pending:
        by_key[model.group_key(alert.doc)].append(alert)
    open_now = rt.incidents.open_by_keys(sorted(by_key))
    plans: list[Plan] = []
    for key, alerts in by_key.items():
        alerts.sort(key=lambda a: (model.parse_time(a.doc["first_seen"]), a.id))
        window = rt.grouping.window_for(alerts[0].doc["rule"]["id"])
        found = open_now.get(key)
        cur = Plan(found.doc["id"], key, True, found.doc["last_seen"]) if found else None
        for alert in alerts:
            if cur is None or model.parse_time(alert.doc["first_seen"]) > model.parse_time(cur.last_seen) + window:
                cur = Plan(model.incident_id_for(key, alert.id), key, False, alert.doc["last_seen"])
                plans.append(cur)
            elif not cur.alerts:
                plans.append(cur)
            cur.alerts.append(alert)
            cur.last_seen = max(cur.last_seen, alert.doc["last_seen"], key=model.parse_time)
    return plans


def run(rt: Runtime, batch: int = 500, max_batches: int = 200) -> GroupingResult:
    """Group every alert that has no incident yet; safe to run from several processes at once."""
    result = GroupingResult()
    service = IncidentService(rt)
    rt.incidents.refresh()
    for _ in range(max_batches):
        pending = rt.alerts.pending(batch)
        if not pending:
            break
        plans = plan(rt, pending)
        claimed = rt.alerts.claim([(a, p.incident_id) for p in plans for a in p.alerts], refresh=True)
        for p in plans:
            taken = [a for a in p.alerts if a.id in claimed]
            if not taken:
                continue
            result.alerts += len(taken)
            if not p.existing and _create(rt, p, taken):
                result.created.append(p.incident_id)
                continue
            service.mutate(GROUPER, p.incident_id, _folder(taken, rt), "incident.alerts_added",
                           {"alerts": [a.id for a in taken[:50]], "alerts_added": len(taken)})
            result.updated.append(p.incident_id)
        rt.incidents.refresh()
    return result


def _folder(alerts: list[PendingAlert], rt: Runtime) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def fold(doc: dict[str, Any]) -> dict[str, Any]:
        doc = dict(doc)
        for alert in alerts:
            model.fold_alert(doc, alert.doc)
        doc["updated"] = model.iso(rt.clock())
        return doc

    return fold


def _create(rt: Runtime, p: Plan, alerts: list[PendingAlert]) -> bool:
    """Open a new incident; False when it already exists (a repeated run), so the caller folds instead."""
    now = rt.clock()
    doc = model.new_incident(p.incident_id, p.key, alerts[0].doc, now)
    for alert in alerts:
        model.fold_alert(doc, alert.doc)
    sla.set_dues(doc, rt.sla)
    breaches = sla.evaluate(doc, now)
    try:
        rt.incidents.create(doc)
    except Stale:
        return False
    agency = doc["organization"]["id"]
    audit_store.append(rt.client, rt.names, [audit_store.entry(
        now, GROUPER.name, "incident.create", "incident", doc["id"], agency,
        f"opened with {len(alerts)} alerts", before={}, after=model.summary(doc),
        alerts=[a.id for a in alerts[:50]])])
    rt.publish("incident.created", doc)
    for kind in breaches:
        rt.publish("incident.sla_breach", doc, breach=kind)
    return True
