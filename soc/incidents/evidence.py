"""Evidence of an incident: its alerts with their matched events, and context events around them."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from soc.auth import Principal
from soc.incidents import model
from soc.incidents.evidence_store import EvidenceStore
from soc.incidents.service import IncidentService, decode_cursor, encode_cursor
from soc.runtime import Runtime

MAX_EVENTS_PER_ALERT = 20
MAX_CONTEXT = timedelta(hours=24)


def alerts(rt: Runtime, who: Principal, incident_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
    incident = IncidentService(rt).get(who, incident_id).doc
    agency = incident["organization"]["id"]
    after = decode_cursor("alerts", cursor) if cursor else None
    ids = [incident_id, *incident.get("merged_from", [])]
    rows = rt.alerts.search([{"terms": {"incident_id": ids}}, {"term": {"organization.id": agency}}], limit, after)
    refs = [r for _, a in rows for r in (a.get("events") or [])[-MAX_EVENTS_PER_ALERT:]]
    found = EvidenceStore(rt.client, rt.names).events(refs)
    items = []
    for _, alert in rows:
        events = []
        for ref in (alert.get("events") or [])[-MAX_EVENTS_PER_ALERT:]:
            event = found.get((ref.get("index"), ref.get("id")))
            # An event of another agency is never shown, whatever an alert points to.
            if event is not None and model.dotted(event, "organization.id") == agency:
                events.append(event | {"_index": ref["index"], "_id": ref["id"]})
        items.append({"alert": alert, "events": events})
    nxt = encode_cursor("alerts", rows[-1][0]) if len(rows) == limit else None
    return {"items": items, "next_cursor": nxt}


def entity_terms(entities: list[str]) -> dict[str, list[str]]:
    """"field=value" strings of an incident as term lists per ECS field (unknown fields are skipped)."""
    out: dict[str, list[str]] = {name: [] for name in model.ENTITY_FIELDS}
    for text in entities:
        name, sep, value = text.partition("=")
        if not sep or name not in out or not value:
            continue
        if name == "source.ip":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                continue
        out[name].append(value)
    return {k: sorted(set(v)) for k, v in out.items() if v}


def context(rt: Runtime, who: Principal, incident_id: str, before: timedelta, after: timedelta,
            cursor: str | None, limit: int) -> dict[str, Any]:
    incident = IncidentService(rt).get(who, incident_id).doc
    before, after = min(before, MAX_CONTEXT), min(after, MAX_CONTEXT)
    start = model.parse_time(incident["first_seen"]) - before
    end = model.parse_time(incident["last_seen"]) + after
    position = decode_cursor("context", cursor) if cursor else None
    rows = EvidenceStore(rt.client, rt.names).around(incident["organization"]["id"],
                                                    entity_terms(incident.get("entities", [])),
                                                    model.iso(start), model.iso(end), limit, position)
    nxt = encode_cursor("context", rows[-1][0]) if len(rows) == limit else None
    return {"items": [doc for _, doc in rows], "next_cursor": nxt, "start": model.iso(start), "end": model.iso(end)}
