"""The incident document and its rules, as pure functions: statuses, transitions, folding alerts in.

A stored incident (``soc-incidents``, ``_id`` = ``id``)::

    {id, title, status, resolution, severity, severity_rank, assignee, organization: {id},
     rule_ids: [...], keys: [...],             # grouping keys "rule|agency|entity" it collects
     alert_count, first_seen, last_seen, tags: [...], entities: ["source.ip=1.2.3.4", ...],
     created, updated, acknowledged_at, resolved_at, closed_at, tta_seconds, ttr_seconds,
     history: [{status, at, actor}], comments: [{id, at, author, text}],
     sla: {ack_due, resolve_due, ack_breached, resolve_breached},
     merged_into, merged_from: [...], merge_state: {...},
     outcome, outcome_reasons: [...], outcome_counts: {succeeded, failed, possible, unknown},
     fingerprints: ["user_agent.original=…"]}
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import partial
from typing import Any

from soc import timefmt
from soc.alerts.documents import SEVERITY_RANK
from soc.errors import Conflict, Invalid
from soc.timefmt import parse_time as parse_time

STATUSES = ("new", "acknowledged", "in_progress", "resolved", "closed")
OPEN_STATUSES = ("new", "acknowledged", "in_progress")
RESOLUTIONS = ("true_positive", "false_positive", "benign", "duplicate")
SEVERITIES = tuple(SEVERITY_RANK)
# Allowed moves; resolved/closed -> in_progress is "reopen".
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "in_progress", "resolved"}),
    "acknowledged": frozenset({"in_progress", "resolved"}),
    "in_progress": frozenset({"resolved"}),
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset({"in_progress"}),
}
# Alert fields that name an entity, copied into the incident's entity list when present.
ENTITY_FIELDS = ("source.ip", "user.name", "host.name", "url.domain")
MAX_COMMENT_COUNT = 1000
MAX_FINGERPRINTS = 20
PATCHABLE = ("status", "resolution", "assignee", "severity", "title")


# A record's times are written in soc.timefmt's exact form (what incidents have always stored).
iso = partial(timefmt.iso, exact=True)


def dotted(doc: dict[str, Any], path: str) -> Any:
    """``doc["source"]["ip"]`` for "source.ip", accepting flat dotted keys too."""
    if path in doc:
        return doc[path]
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def group_key(alert: dict[str, Any]) -> str:
    """What incidents group on: rule, agency and the entity the alert is about."""
    return f"{alert['rule']['id']}|{alert['organization']['id']}|{alert.get('group_key', '')}"


def incident_id_for(key: str, first_alert_id: str) -> str:
    """Deterministic, so a grouping run that is repeated opens the same incident, not a second."""
    return hashlib.sha256(f"{key}\x00{first_alert_id}".encode()).hexdigest()[:32]


def alert_tags(alert: dict[str, Any]) -> set[str]:
    threat = alert.get("threat") or {}
    tags = {t for t in alert.get("rule", {}).get("tags", []) if t.startswith("attack.")}
    tags.update((threat.get("technique") or {}).get("id", []))
    tags.update(f"tactic:{name}" for name in (threat.get("tactic") or {}).get("name", []))
    return tags


def alert_entities(alert: dict[str, Any]) -> set[str]:
    out = {f"{name}={value}" for name in ENTITY_FIELDS if (value := dotted(alert, name)) not in (None, "", [])}
    if alert.get("group_key"):
        out.add(str(alert["group_key"]))
    return out


def new_incident(incident_id: str, key: str, alert: dict[str, Any], now: datetime) -> dict[str, Any]:
    entity = alert.get("group_key") or alert["organization"]["id"]
    return {
        "id": incident_id, "title": f"{alert['rule']['name']} ({entity})", "status": "new", "resolution": None,
        "severity": alert["severity"], "severity_rank": SEVERITY_RANK[alert["severity"]], "assignee": None,
        "organization": {"id": alert["organization"]["id"]}, "rule_ids": [], "keys": [key], "alert_count": 0,
        "first_seen": alert["first_seen"], "last_seen": alert["last_seen"], "tags": [], "entities": [],
        "created": iso(now), "updated": iso(now), "acknowledged_at": None, "resolved_at": None, "closed_at": None,
        "tta_seconds": None, "ttr_seconds": None, "history": [{"status": "new", "at": iso(now), "actor": "grouping"}],
        "comments": [], "sla": {}, "merged_into": None, "merged_from": [],
    }


def fold_alert(doc: dict[str, Any], alert: dict[str, Any]) -> None:
    """Add one alert to an incident: seen times, escalating severity, rules, tags, entities.

    Idempotent (folding the same alert twice changes nothing); ``alert_count`` is not touched here
    because it is counted from the alerts that carry the incident's id.
    """
    doc["first_seen"] = min(doc["first_seen"], alert["first_seen"], key=parse_time)
    doc["last_seen"] = max(doc["last_seen"], alert["last_seen"], key=parse_time)
    # the longest time between an alert's events and its detection (late data, an outage's backlog)
    if alert.get("delay_s") is not None:
        doc["detection_delay_s"] = max(float(doc.get("detection_delay_s") or 0.0), float(alert["delay_s"]))
    rank = SEVERITY_RANK[alert["severity"]]
    if rank > int(doc["severity_rank"]):
        doc["severity"], doc["severity_rank"] = alert["severity"], rank
    doc["rule_ids"] = sorted(set(doc["rule_ids"]) | {alert["rule"]["id"]})
    doc["tags"] = sorted(set(doc["tags"]) | alert_tags(alert))
    doc["entities"] = sorted(set(doc["entities"]) | alert_entities(alert))
    if alert.get("fingerprints"):  # user agents of web alerts, for campaigns (a few: attackers write them)
        doc["fingerprints"] = sorted(set(doc.get("fingerprints", [])) | set(alert["fingerprints"]))[:MAX_FINGERPRINTS]


OUTCOMES = ("compromise_likely", "attempts_failed", "undetermined")


def escalated(rank: int) -> int:
    """The severity rank of a case whose attack likely worked: one step up, at least high."""
    return min(SEVERITY_RANK["critical"], max(SEVERITY_RANK["high"], rank + 1))


def outcome_of(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if counts.get("succeeded"):
        return "compromise_likely"
    return "attempts_failed" if total and counts.get("failed", 0) == total else "undetermined"


def apply_outcome(doc: dict[str, Any], counts: dict[str, int], reasons: list[str]) -> None:
    """The case's outcome from its alerts' (``soc.incidents.outcome``): compromise likely when any
    succeeded, which raises its severity once; attempts failed when every alert failed."""
    state = outcome_of(counts)
    if state == "compromise_likely" and doc.get("outcome") != state:
        rank = escalated(int(doc["severity_rank"]))
        doc["severity"], doc["severity_rank"] = next(s for s, r in SEVERITY_RANK.items() if r == rank), rank
    doc["outcome"] = state
    doc["outcome_reasons"] = list(reasons)
    doc["outcome_counts"] = {k: v for k, v in sorted(counts.items()) if v}


def _check_patch(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    if doc.get("merged_into"):
        raise Conflict(f"incident {doc['id']} is merged into {doc['merged_into']}; un-merge it first")
    current = doc["status"]
    target = patch.get("status", current)
    if target != current and target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current]))
        raise Conflict(f"an incident cannot go from {current} to {target} (from {current}: {allowed})")
    if target == "resolved" and target != current and not patch.get("resolution"):
        raise Invalid("resolution: resolving needs a resolution (" + ", ".join(RESOLUTIONS) + ")")
    if patch.get("resolution") and target not in ("resolved", "closed"):
        raise Invalid(f"resolution: only a resolved incident has a resolution (status would be {target})")


def apply_patch(doc: dict[str, Any], patch: dict[str, Any], actor: str, now: datetime) -> dict[str, Any]:
    """The incident after a change; raises (and changes nothing) when the change is not allowed."""
    _check_patch(doc, patch)
    new = dict(doc)
    for name in ("assignee", "title"):
        if name in patch:
            new[name] = patch[name]
    if "severity" in patch:
        new["severity"], new["severity_rank"] = patch["severity"], SEVERITY_RANK[patch["severity"]]
    target = patch.get("status", doc["status"])
    if "resolution" in patch and patch["resolution"] is not None:
        new["resolution"] = patch["resolution"]
    if target != doc["status"]:
        set_status(new, target, actor, now)
    new["updated"] = iso(now)
    return new


def set_status(doc: dict[str, Any], target: str, actor: str, now: datetime) -> None:
    """Move to ``target`` recording history and the times MTTA and MTTR come from."""
    doc["history"] = [*doc.get("history", []), {"status": target, "at": iso(now), "actor": actor}]
    created = parse_time(doc["created"])
    if doc["status"] == "new" and doc.get("acknowledged_at") is None:
        doc["acknowledged_at"] = iso(now)
        doc["tta_seconds"] = max(0, int((now - created).total_seconds()))
    if target == "resolved":
        doc["resolved_at"] = iso(now)
        doc["ttr_seconds"] = max(0, int((now - created).total_seconds()))
    elif target == "closed":
        doc["closed_at"] = iso(now)
    elif target in OPEN_STATUSES:  # reopen
        doc["resolution"], doc["resolved_at"], doc["closed_at"], doc["ttr_seconds"] = None, None, None, None
    doc["status"] = target


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields an audit entry records before and after a change."""
    return {k: doc.get(k) for k in ("status", "resolution", "assignee", "severity", "title", "alert_count",
                                     "merged_into", "merged_from", "outcome")}
