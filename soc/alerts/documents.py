"""The stored alert document in ``soc-alerts`` (written by detection, read by incidents).

Detection creates alerts with ``op_type=create`` and a deterministic id (see ``alert_id``), so a
re-run never duplicates one. Afterwards detection changes only a correlation's episode fields
(``soc.detection.alerting.episode_update``, and ``superseded_by``) when later-arriving events
extend it; the incident service sets ``incident_id`` and ``grouped``.

A match that an active suppression rule covers (soc.suppressions) is counted on that rule instead
of being written as an alert.
"""

from __future__ import annotations

import hashlib
from typing import Literal, NotRequired, TypedDict

Severity = Literal["informational", "low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
# An alert detected this long after its events is flagged as late where it is shown (console, report).
LATE_NOTICE_S = 600.0


class RuleRef(TypedDict):
    id: str  # the Sigma rule id (UUID)
    name: str  # the Sigma title
    level: Severity  # the Sigma level
    author: str  # travels with every alert (the Detection Rule License requires it)
    reference: list[str]
    tags: list[str]  # Sigma tags, e.g. attack.initial-access, attack.t1190
    # The rule file's incident grouping, when it sets one: {"by": "attacker" | "rule", "window_s"}.
    grouping: NotRequired[dict[str, object]]


class EventRef(TypedDict):
    index: str  # the concrete backing index the event is in
    id: str


class Threat(TypedDict):
    tactic: dict[str, list[str]]  # {"name": ["initial-access"]}
    technique: dict[str, list[str]]  # {"id": ["T1190"]}


class AlertDoc(TypedDict):
    """Plus "@timestamp": the event time of what the alert reports (a match: its event; a correlation:
    the first event of its episode), "detected_at" (when detection wrote it) and "delay_s" (detection
    time minus event time; a correlation: minus its last event).

    Entity fields use ECS names at the top level when the alert is about them:
    ``source.ip``, ``user.name``, ``host.name``, ``url.domain`` (nested objects as in events).
    """

    kind: Literal["match", "correlation"]
    created: str  # ISO 8601 UTC, when the alert was written
    rule: RuleRef
    threat: Threat
    severity: Severity  # = rule.level
    severity_rank: int  # SEVERITY_RANK[severity]
    organization: dict[str, str]  # {"id": agency}
    events: list[EventRef]  # the matched events (bounded sample for correlations, newest last)
    event_count: int
    group_key: str  # the entity the incident service groups on, e.g. "source.ip=1.2.3.4"
    summary: str  # one line for humans, built by detection from fields
    first_seen: str
    last_seen: str
    window: NotRequired[dict[str, str]]  # {"start", "end"}: event time (a correlation: its episode)
    ingest_window: NotRequired[dict[str, str]]  # the ingest-time window of the cycle that found it
    # A correlation's episodes grow as late events arrive; when a late event joins two reported
    # episodes, the later alert points to the one that now covers both (grouping skips it).
    superseded_by: NotRequired[str]
    incident_id: NotRequired[str | None]
    # Set by the incident service only: False while an alert is claimed but its incident not yet
    # written (a run that stopped there is finished by the next one), True once confirmed.
    grouped: NotRequired[bool]


def alert_id(rule_id: str, key: str) -> str:
    """Deterministic id: rule + matched document id, or rule + group key + window for correlations."""
    return hashlib.sha256(f"{rule_id}\x00{key}".encode()).hexdigest()[:40]
