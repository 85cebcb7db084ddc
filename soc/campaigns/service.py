"""Campaigns: an attacking address, or the user agent of web attacks, seen by two or more agencies
within a window.

An all-agency reader sees each campaign whole: the entity, its agencies, first and last seen, the
rules it triggered and the incident ids. A reader scoped to some agencies sees only the part of a
campaign inside them (their agencies' incidents, rules and times) and ``active_elsewhere``: the
entity is attacking other agencies too. Nothing of another agency (its name, its incidents, their
ids, rules or times, nor how many there are) reaches a scoped reader.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from soc.auth import Principal
from soc.errors import Invalid
from soc.incidents import model
from soc.runtime import Runtime

WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=90)
MIN_AGENCIES = 2
# (incident field, entity): attacking addresses, and the user agents of web attacks (fingerprints)
ENTITY_FIELDS = (("entities", "source.ip"), ("fingerprints", "user_agent.original"))


def _view(who: Principal, entity: str, agencies: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The part of one campaign ``who`` may see (None: nothing of it is theirs)."""
    mine = {agency: incidents for agency, incidents in agencies.items() if who.sees(agency)}
    if not mine:
        return None
    incidents = sorted((i for group in mine.values() for i in group), key=lambda i: model.parse_time(i["last_seen"]))
    return {
        "entity": entity, "agencies": sorted(mine),
        "active_elsewhere": len(mine) < len(agencies),
        "first_seen": min((i["first_seen"] for i in incidents), key=model.parse_time),
        "last_seen": incidents[-1]["last_seen"],
        "rules": sorted({r for i in incidents for r in i.get("rule_ids", [])}),
        "incident_ids": [i["id"] for i in reversed(incidents)],
        "compromise_likely": any(i.get("outcome") == "compromise_likely" for i in incidents),
    }


def campaigns(rt: Runtime, who: Principal, since: datetime | None = None, limit: int = 100) -> dict[str, Any]:
    who.require_reader()
    now = rt.clock()
    start = since or now - WINDOW
    if start < now - MAX_WINDOW:
        raise Invalid(f"since: campaigns look back at most {MAX_WINDOW.days} days")
    items = []
    for field, name in ENTITY_FIELDS:
        for row in rt.incidents.shared_entities(field, name, model.iso(start), MIN_AGENCIES):
            seen = _view(who, row["entity"], row["agencies"])
            if seen is not None:
                items.append(seen)
    items.sort(key=lambda c: model.parse_time(c["last_seen"]), reverse=True)
    items.sort(key=lambda c: -len(c["agencies"]))  # the widest first, then the most recent
    return {"items": items[:limit], "since": model.iso(start)}
