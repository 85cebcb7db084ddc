"""Alert documents from matches (the contract is soc.alerts.documents)."""

from __future__ import annotations

from typing import Any, cast

from soc import ecs
from soc.alerts.documents import SEVERITY_RANK, AlertDoc, EventRef, Severity, alert_id
from soc.detection.rules import LoadedRule, threat

ENTITY_FIELDS = ("source.ip", "user.name", "host.name", "url.domain")
MAX_EVENT_REFS = 50


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        node = out
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def base(rule: LoadedRule, kind: str, created: str, agency: str) -> dict[str, Any]:
    level = cast(Severity, rule.level if rule.level in SEVERITY_RANK else "medium")
    return {
        "kind": kind, "created": created,
        "rule": {"id": rule.id, "name": rule.title, "level": level, "author": rule.author,
                 "reference": rule.references, "tags": rule.tags},
        "threat": threat(rule.tags), "severity": level, "severity_rank": SEVERITY_RANK[level],
        "organization": {"id": agency},
    }


def from_hit(rule: LoadedRule, hit: dict[str, Any], created: str, window: dict[str, str]) -> tuple[str, AlertDoc]:
    src = hit.get("_source", {})
    flat = ecs.flatten(src)
    agency = str(flat.get("organization.id") or "unknown")
    entities = {f: flat[f] for f in ENTITY_FIELDS if flat.get(f) not in (None, "")}
    key = next((f"{f}={entities[f]}" for f in ENTITY_FIELDS if f in entities), f"rule={rule.id}")
    when = str(flat.get("@timestamp") or flat.get("event.ingested") or created)
    what = flat.get("url.original") or flat.get("event.original") or ""
    doc: dict[str, Any] = {
        **base(rule, "match", created, agency), **_nest(entities), "@timestamp": when,
        "events": [EventRef(index=hit["_index"], id=hit["_id"])], "event_count": 1, "group_key": key,
        "summary": f"{rule.title}: {key} {str(what)[:200]}".strip(), "first_seen": when, "last_seen": when,
        "window": window,
    }
    return alert_id(rule.id, hit["_id"]), cast(AlertDoc, doc)


def overflow(rule: LoadedRule, total: int, cap: int, agency: str, created: str,
             window: dict[str, str]) -> tuple[str, AlertDoc]:
    doc: dict[str, Any] = {
        **base(rule, "match", created, agency), "@timestamp": window["end"], "events": [], "event_count": total,
        "group_key": f"overflow={rule.id}", "first_seen": window["start"], "last_seen": window["end"],
        "summary": f"{rule.title}: {total} matches in one window, only {cap} turned into alerts", "window": window,
    }
    return alert_id(rule.id, f"overflow|{window['start']}|{window['end']}"), cast(AlertDoc, doc)


def correlation(rule: LoadedRule, group: dict[str, Any], count: int, events: list[EventRef], first: str,
                last: str, created: str, window: dict[str, str]) -> tuple[str, AlertDoc]:
    agency = str(group.get("organization.id") or "unknown")
    entities = {k: v for k, v in group.items() if k in ENTITY_FIELDS and v is not None}
    key = ",".join(f"{k}={v}" for k, v in sorted(group.items()) if k != "organization.id") or f"rule={rule.id}"
    doc: dict[str, Any] = {
        **base(rule, "correlation", created, agency), **_nest(entities), "@timestamp": window["end"],
        "events": events[-MAX_EVENT_REFS:], "event_count": count, "group_key": key,
        "summary": f"{rule.title}: {count} events for {key}", "first_seen": first, "last_seen": last,
        "window": window,
    }
    return alert_id(rule.id, f"{agency}|{key}|{window['start']}"), cast(AlertDoc, doc)
