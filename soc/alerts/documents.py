"""The stored alert document in ``soc-alerts`` (written by detection, read by incidents).

Detection creates alerts with ``op_type=create`` and a deterministic id (see ``alert_id``), so a
re-run never duplicates one. Detection never changes an alert afterwards; the incident service
sets ``incident_id`` when it groups the alert (the only field anyone updates).

Exceptions (``soc-exceptions``) are written by the incident service and read by detection:
``{"rule_id", "organization": {"id"} (or "*"), "conditions": [{"field", "op", "value"}],
"enabled", "expires", "owner", "reason", "incident_id", "hits", "last_hit"}`` where op is one of
``equals``, ``contains``, ``startswith``, ``endswith``, ``cidr``. Detection suppresses a match that
satisfies every condition of an enabled, unexpired exception for the rule and agency, and adds
one to that exception's ``hits`` (and sets ``last_hit``) instead of writing an alert.
"""

from __future__ import annotations

import hashlib
from typing import Literal, NotRequired, TypedDict

Severity = Literal["informational", "low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


class RuleRef(TypedDict):
    id: str  # the Sigma rule id (UUID) or the project's rule id
    title: str
    level: Severity
    tags: list[str]  # Sigma tags, e.g. attack.initial-access, attack.t1190


class EventRef(TypedDict):
    index: str  # the concrete backing index the event is in
    id: str


class AlertDoc(TypedDict):
    kind: Literal["match", "correlation"]
    created: str  # ISO 8601 UTC, when the alert was written
    # event time of the (first) matched event, or the correlation window's end
    rule: RuleRef
    severity: Severity
    severity_rank: int
    organization: dict[str, str]  # {"id": agency}
    events: list[EventRef]  # the matched events (correlations: a bounded sample, newest last)
    event_count: int
    entity: dict[str, str]  # the entity fields the alert is about, e.g. {"source.ip": ..., "user.name": ...}
    group_key: str  # what the incident service groups on, besides rule and agency
    summary: str  # one line for humans (built from fields, not trusted content)
    first_seen: str
    last_seen: str
    window: NotRequired[dict[str, str]]  # {"start", "end"} of the ingest-time window that found it
    incident_id: NotRequired[str | None]


def alert_id(rule_id: str, key: str) -> str:
    """Deterministic id: rule + matched document id, or rule + group key + window for correlations."""
    return hashlib.sha256(f"{rule_id}\x00{key}".encode()).hexdigest()[:40]
