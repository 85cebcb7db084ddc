"""How alerts group into incidents: around the attacker (the default), or around the rule.

Attacker-centred: one open incident per agency and attacking entity (the alert's ``source.ip``, or
its ``user.name`` when it has no address, as account rules have), collecting every rule that
entity triggers within the window. Rule-centred: one per rule, agency and the alert's group key
(how incidents were grouped before). An alert that names no attacking entity groups by rule.

A rule chooses in its Sigma file with the custom attribute ``grouping``::

    grouping: rule                 # or: attacker
    grouping: {by: rule, window: 2h}

and an admin can override any rule with settings (``incident_group_by_rule``: rule ids grouped by
rule; ``incident_grouping``: the default; ``incident_window_minutes``). A malformed attribute is a
load problem of the rule's file (``check_rule_attribute``), so it never reaches an alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from soc.errors import ConfigError
from soc.incidents.model import dotted

ATTACKER, RULE = "attacker", "rule"
MODES = (ATTACKER, RULE)
ATTACKER_FIELDS = ("source.ip", "user.name")  # what names an attacker, in order of preference
ATTACKER_KEY = "@attacker"  # the first part of an attacker-centred key (no rule id starts with "@")
MAX_WINDOW = timedelta(days=30)
_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"window {text!r} is not a duration like 30m, 2h or 1d")
    span = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(minutes=1) <= span <= MAX_WINDOW:
        raise ValueError(f"window {text!r} must be between 1 minute and 30 days")
    return span


def check_rule_attribute(value: Any) -> dict[str, Any]:
    """The ``grouping`` attribute of a rule file as the alert carries it (``{"by", "window_s"}``);
    raises ValueError with the reason when it is malformed."""
    if isinstance(value, str):
        value = {"by": value}
    if not isinstance(value, dict):
        raise ValueError("grouping must be 'attacker', 'rule' or a mapping with by and window")
    unknown = sorted(str(k) for k in value if k not in ("by", "window"))
    if unknown:
        raise ValueError(f"grouping has unknown keys {', '.join(unknown)} (known: by, window)")
    by = value.get("by", ATTACKER)
    if by not in MODES:
        raise ValueError(f"grouping by {by!r}: it must be 'attacker' or 'rule'")
    out: dict[str, Any] = {"by": by}
    if "window" in value:
        out["window_s"] = int(parse_duration(str(value["window"])).total_seconds())
    return out


def attacker(alert: dict[str, Any]) -> str | None:
    """The attacking entity an alert names ("source.ip=1.2.3.4"), or None."""
    for name in ATTACKER_FIELDS:
        value = dotted(alert, name)
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else None
        if value not in (None, ""):
            return f"{name}={value}"
    return None


def rule_key(alert: dict[str, Any]) -> str:
    """The rule-centred key: rule, agency and the entity the alert is about."""
    return f"{alert['rule']['id']}|{alert['organization']['id']}|{alert.get('group_key', '')}"


def is_attacker_key(key: str) -> bool:
    return key.startswith(ATTACKER_KEY + "|")


@dataclass(frozen=True)
class GroupingPolicy:
    window: timedelta = timedelta(hours=1)
    per_rule: dict[str, timedelta] = field(default_factory=dict)  # rule id -> window (settings)
    by_rule: frozenset[str] = frozenset()  # rule ids an admin keeps rule-centred
    default: str = ATTACKER

    @classmethod
    def from_settings(cls, settings: Any) -> GroupingPolicy:
        default = str(getattr(settings, "incident_grouping", ATTACKER) or ATTACKER)
        if default not in MODES:
            raise ConfigError(f"incident_grouping: {default!r} must be 'attacker' or 'rule'")
        minutes = int(getattr(settings, "incident_window_minutes", 60))
        if not 1 <= minutes <= int(MAX_WINDOW.total_seconds() // 60):
            raise ConfigError("incident_window_minutes: between 1 and 43200")
        rules = str(getattr(settings, "incident_group_by_rule", "") or "")
        return cls(window=timedelta(minutes=minutes), default=default,
                   by_rule=frozenset(r.strip() for r in rules.split(",") if r.strip()))

    def mode(self, alert: dict[str, Any]) -> str:
        rule = alert["rule"]
        if rule["id"] in self.by_rule:
            return RULE
        chosen = (rule.get("grouping") or {}).get("by") or self.default
        return str(chosen) if chosen in MODES else self.default

    def key(self, alert: dict[str, Any]) -> str:
        """The incident key of an alert under this policy."""
        entity = attacker(alert) if self.mode(alert) == ATTACKER else None
        if entity is None:
            return rule_key(alert)
        return f"{ATTACKER_KEY}|{alert['organization']['id']}|{entity}"

    def window_for(self, alert: dict[str, Any] | str) -> timedelta:
        """How long after an incident's last alert another alert still joins it."""
        if isinstance(alert, str):
            return self.per_rule.get(alert, self.window)
        rule = alert["rule"]
        if rule["id"] in self.per_rule:
            return self.per_rule[rule["id"]]
        seconds = (rule.get("grouping") or {}).get("window_s")
        return timedelta(seconds=int(seconds)) if seconds else self.window
