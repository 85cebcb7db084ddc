"""A silent source opens an incident of its own; it is resolved when events return.

There is no "open an incident" call in the incident service: incidents are opened by grouping
alerts. So a silent source writes an alert in the ``soc.alerts.documents`` shape, with the rule id
``soc-source-silent`` and the group key ``log.source.id=<id>``, and grouping is run at once to
open (or join) the incident. The alert id is the rule, the source and the start of the silence,
so repeated checks during one silence add nothing. When events return, the open incident of that
key is moved to ``resolved`` through the incident service (audited like any change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from soc.alerts import store as alerts_store
from soc.alerts.documents import SEVERITY_RANK, AlertDoc, Severity, alert_id
from soc.auth import Principal
from soc.incidents import grouping, model
from soc.incidents.service import IncidentService
from soc.runtime import Runtime
from soc.sources.health import Health

RULE_ID = "soc-source-silent"
RULE_NAME = "Log source silent"
SEVERITY: Severity = "high"
WATCHER = Principal("source-health", "admin", ("*",))


@dataclass
class SilenceResult:
    silent: list[str] = field(default_factory=list)  # source ids found silent
    alerts_created: int = 0  # new silence alerts (0 when every silence was already reported)
    resolved: list[str] = field(default_factory=list)  # incident ids resolved


def group_key(source_id: str) -> str:
    return f"log.source.id={source_id}"


def incident_key(agency: str, source_id: str) -> str:
    return f"{RULE_ID}|{agency}|{group_key(source_id)}"


def alert_for(source: dict[str, Any], h: Health, now: datetime) -> tuple[str, AlertDoc]:
    started = h.last_event or source.get("created") or now.isoformat()
    doc: AlertDoc = {
        "kind": "match", "created": now.isoformat(),
        "rule": {"id": RULE_ID, "name": RULE_NAME, "level": SEVERITY, "author": "SOC service (source health)",
                 "reference": [], "tags": []},
        "threat": {"tactic": {"name": []}, "technique": {"id": []}},
        "severity": SEVERITY, "severity_rank": SEVERITY_RANK[SEVERITY],
        "organization": {"id": h.agency}, "events": [], "event_count": 0, "group_key": group_key(h.source_id),
        "summary": (f"log source {h.source_id} ({h.name}, {h.type}) of agency {h.agency} is silent: "
                    + "; ".join(h.reasons)),
        "first_seen": started, "last_seen": now.isoformat(),
    }
    return alert_id(RULE_ID, f"{h.source_id}|{started}"), doc


def apply(rt: Runtime, sources: list[dict[str, Any]], healths: list[Health],
          now: datetime | None = None) -> SilenceResult:
    now = now or datetime.now(UTC)
    by_id = {s["id"]: s for s in sources}
    result = SilenceResult()
    silent = [h for h in healths if h.state == "silent"]
    if silent:
        created, _ = alerts_store.create_alerts(rt.client, rt.names, [alert_for(by_id[h.source_id], h, now)
                                                                      for h in silent])
        result.silent = [h.source_id for h in silent]
        result.alerts_created = created
        if created:
            grouping.run(rt)
    back = {incident_key(h.agency, h.source_id): h for h in healths if h.state != "silent"}
    if back:
        rt.incidents.refresh()
        service = IncidentService(rt)
        for stored in rt.incidents.open_by_keys(sorted(back)).values():
            service.mutate(WATCHER, stored.doc["id"], lambda d: model.apply_patch(
                d, {"status": "resolved", "resolution": "true_positive"}, WATCHER.name, rt.clock()),
                "incident.source_back")
            result.resolved.append(stored.doc["id"])
    return result
