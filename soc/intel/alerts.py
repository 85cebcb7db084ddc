"""Alert documents for indicator matches (the contract is soc.alerts.documents).

One alert per (indicator, event): its id is ``alert_id("intel:<indicator id>", event id)``, so a
re-run, the re-checked stretch of a window and the retro-hunt never duplicate one. It carries ECS
``threat.indicator.*`` (type, name, provider = the feed, confidence) and ``threat.feed.name``.
"""

from __future__ import annotations

import ipaddress
from typing import Any, cast

from soc import ecs
from soc.alerts.documents import SEVERITY_RANK, AlertDoc, EventRef, alert_id
from soc.detection.alerting import timing

# Event fields each kind of atom is matched on. Hash fields count where the log streams map them.
FIELDS: dict[str, tuple[str, ...]] = {
    "ipv4-addr": ("source.ip", "destination.ip"), "ipv6-addr": ("source.ip", "destination.ip"),
    "domain-name": ("url.domain",), "url": ("url.original",),
    "md5": ("file.hash.md5",), "sha1": ("file.hash.sha1",), "sha256": ("file.hash.sha256",)}
ENTITIES = ("source.ip", "destination.ip", "user.name", "host.name", "url.domain")
SOURCE_FIELDS = ["@timestamp", "event.ingested", "organization.id", "event.original", "url.original", "file.hash",
                 *ENTITIES]


def fields_of(atom: dict[str, Any]) -> tuple[str, ...]:
    return FIELDS[atom.get("hash") or atom["type"]]


def atom_query(atom: dict[str, Any]) -> dict[str, Any]:
    """Events holding the atom in one of its fields (the value is a query term, never query syntax)."""
    should = [{"terms": {f: [atom["value"]]}} for f in fields_of(atom)]
    return should[0] if len(should) == 1 else {"bool": {"should": should, "minimum_should_match": 1}}


def indicator_query(ind: dict[str, Any]) -> list[dict[str, Any]]:
    return [atom_query(a) for a in ind["atoms"]]


def confidence_label(value: int | None) -> str:
    """ECS threat.indicator.confidence from a 0-100 score (the STIX None/Low/Med/High scale)."""
    if value is None:
        return "Not Specified"
    return "None" if value == 0 else "Low" if value < 30 else "Medium" if value < 70 else "High"


def severity(value: int | None) -> str:
    return "medium" if value is None else "high" if value >= 70 else "medium" if value >= 30 else "low"


def matched(atom: dict[str, Any], flat: dict[str, Any]) -> tuple[str, str] | None:
    """(field, value) of the event that holds the atom."""
    for f in fields_of(atom):
        got = flat.get(f)
        for v in got if isinstance(got, list) else [got]:
            if v is None:
                continue
            if atom["type"] in ("ipv4-addr", "ipv6-addr"):
                try:
                    if ipaddress.ip_address(str(v)) in ipaddress.ip_network(atom["value"], strict=False):
                        return f, str(v)
                except ValueError:
                    continue
            elif str(v).lower() == atom["value"].lower():
                return f, str(v)
    return None


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _indicator_fields(ind: dict[str, Any]) -> dict[str, Any]:
    atom = ind["atoms"][0]
    out: dict[str, Any] = {"type": ind["type"], "name": ind["name"], "provider": ind["feed"],
                           "confidence": confidence_label(ind.get("confidence"))}
    if ind.get("description"):
        out["description"] = ind["description"]
    if ind.get("first_import"):
        out["first_seen"] = ind["first_import"]
    if atom["type"] in ("ipv4-addr", "ipv6-addr"):
        out["ip"] = atom["value"]
    elif atom["type"] == "domain-name":
        out["url"] = {"domain": atom["value"]}
    elif atom["type"] == "url":
        out["url"] = {"original": atom["value"]}
    else:
        out["file"] = {"hash": {atom["hash"]: atom["value"]}}
    return out


def build(ind: dict[str, Any], hit: dict[str, Any], created: str, window: dict[str, str],
          how: str = "window") -> tuple[str, AlertDoc]:
    """The alert of one event matching one indicator (``how``: "window" or "retro-hunt")."""
    flat = ecs.flatten(hit.get("_source", {}))
    agency = str(flat.get("organization.id") or "unknown")
    level = severity(ind.get("confidence"))
    on = matched(ind["atoms"][0], flat) or (fields_of(ind["atoms"][0])[0], ind["atoms"][0]["value"])
    entities = {f: flat[f] for f in ENTITIES if flat.get(f) not in (None, "")}
    when = str(flat.get("@timestamp") or flat.get("event.ingested") or created)
    feed = ind["feed"]
    doc: dict[str, Any] = {
        "kind": "match", "created": created,
        "rule": {"id": f"intel:{feed}", "name": f"Threat intelligence: {feed}", "level": level, "author": feed,
                 "reference": [], "tags": ["threat-intel"]},
        "threat": {"tactic": {"name": []}, "technique": {"id": []}, "indicator": _indicator_fields(ind),
                   "feed": {"name": feed}, "matched": {"field": on[0], "atomic": on[1], "how": how}},
        "severity": level, "severity_rank": SEVERITY_RANK[level], "organization": {"id": agency},
        **_nest(entities), **timing(when, created, window),
        "events": [EventRef(index=hit["_index"], id=hit["_id"])], "event_count": 1,
        "group_key": f"{on[0]}={on[1]}", "first_seen": when, "last_seen": when,
        "window": {"start": when, "end": when},
        "summary": f"{feed}: {on[0]} {on[1]} is indicator {ind['name'][:200]}",
    }
    return alert_id(f"intel:{ind['id']}", hit["_id"]), cast(AlertDoc, doc)
