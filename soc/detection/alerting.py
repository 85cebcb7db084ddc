"""Alert documents from matches (the contract is soc.alerts.documents)."""

from __future__ import annotations

from datetime import datetime
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
    ref: dict[str, Any] = {"id": rule.id, "name": rule.title, "level": level, "author": rule.author,
                           "reference": rule.references, "tags": rule.tags}
    if rule.grouping is not None:  # how the incident service groups this rule's alerts
        ref["grouping"] = rule.grouping
    return {
        "kind": kind, "created": created, "rule": ref,
        "threat": threat(rule.tags), "severity": level, "severity_rank": SEVERITY_RANK[level],
        "organization": {"id": agency},
    }


def _seconds_between(earlier: str, later: str) -> float:
    try:
        a = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
        b = datetime.fromisoformat(later.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return round((b - a).total_seconds(), 3)


def timing(event_time: str, created: str, ingest_window: dict[str, str]) -> dict[str, Any]:
    """Alert times: ``@timestamp`` is when what it reports happened; ``detected_at`` when detection wrote
    it; ``delay_s`` the difference (a backlog or a replay shows as a long delay, not as a new time)."""
    return {"@timestamp": event_time, "detected_at": created, "delay_s": _seconds_between(event_time, created),
            "ingest_window": ingest_window}


def from_hit(rule: LoadedRule, hit: dict[str, Any], created: str, window: dict[str, str]) -> tuple[str, AlertDoc]:
    src = hit.get("_source", {})
    flat = ecs.flatten(src)
    agency = str(flat.get("organization.id") or "unknown")
    entities = {f: flat[f] for f in ENTITY_FIELDS if flat.get(f) not in (None, "")}
    key = next((f"{f}={entities[f]}" for f in ENTITY_FIELDS if f in entities), f"rule={rule.id}")
    when = str(flat.get("@timestamp") or flat.get("event.ingested") or created)
    what = flat.get("url.original") or flat.get("event.original") or ""
    doc: dict[str, Any] = {
        **base(rule, "match", created, agency), **_nest(entities), **timing(when, created, window),
        "events": [EventRef(index=hit["_index"], id=hit["_id"])], "event_count": 1, "group_key": key,
        "summary": f"{rule.title}: {key} {str(what)[:200]}".strip(), "first_seen": when, "last_seen": when,
        "window": {"start": when, "end": when},
    }
    return alert_id(rule.id, hit["_id"]), cast(AlertDoc, doc)


def overflow(rule: LoadedRule, total: int, cap: int, agency: str, created: str,
             window: dict[str, str]) -> tuple[str, AlertDoc]:
    doc: dict[str, Any] = {
        **base(rule, "match", created, agency), **timing(window["end"], created, window), "events": [],
        "event_count": total, "group_key": f"overflow={rule.id}", "first_seen": window["start"],
        "last_seen": window["end"], "window": window,
        "summary": f"{rule.title}: {total} matches in one window, only {cap} turned into alerts",
    }
    return alert_id(rule.id, f"overflow|{window['start']}|{window['end']}"), cast(AlertDoc, doc)


def correlation_key(rule_id: str, group: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(agency, group key, group) of a correlation group (agency + group-by values)."""
    agency = str(group.get("organization.id") or "unknown")
    key = ",".join(f"{k}={v}" for k, v in sorted(group.items()) if k != "organization.id") or f"rule={rule_id}"
    return agency, key, group


def correlation_id(rule_id: str, agency: str, key: str, first_seen: str) -> str:
    """An episode's alert id: rule, agency, group and the event time it started at when first reported."""
    return alert_id(rule_id, f"{agency}|{key}|{first_seen}")


def correlation(rule: LoadedRule, group: dict[str, Any], count: int, events: list[EventRef], first: str,
                last: str, created: str, ingest_window: dict[str, str]) -> tuple[str, AlertDoc]:
    """An episode of a correlation: its event-time bounds are ``window`` (= first_seen, last_seen)."""
    agency, key, _ = correlation_key(rule.id, group)
    entities = {k: v for k, v in group.items() if k in ENTITY_FIELDS and v is not None}
    doc: dict[str, Any] = {
        **base(rule, "correlation", created, agency), **_nest(entities), **timing(first, created, ingest_window),
        "delay_s": _seconds_between(last, created),
        "events": events[-MAX_EVENT_REFS:], "event_count": count, "group_key": key,
        "summary": f"{rule.title}: {count} events for {key}", "first_seen": first, "last_seen": last,
        "window": {"start": first, "end": last},
    }
    return correlation_id(rule.id, agency, key, first), cast(AlertDoc, doc)


EPISODE_FIELDS = ("@timestamp", "events", "event_count", "summary", "first_seen", "last_seen", "window")


def episode_update(doc: AlertDoc) -> dict[str, Any]:
    """The fields of a reported episode that change when late or further events extend it (its detection
    time, delay, rule and incident stay)."""
    fields: dict[str, Any] = dict(doc)
    return {k: fields[k] for k in EPISODE_FIELDS}
