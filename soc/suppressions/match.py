"""Does a suppression rule cover an event? The one reading of a rule, used by detection and the API. No I/O.

A rule suppresses a match of its ``rule_id`` (or of any rule, ``"*"``) in its agency (or in all,
``"*"``) when it is enabled, has not expired, has at least one condition, and every condition
holds for some value of the event's field. A field's values are its value or the items of its
list value; a missing (null) value never satisfies a condition. Text comparisons ignore case;
``cidr`` reads the value as an address inside a range.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from soc import ecs

OPS = ("equals", "contains", "startswith", "endswith", "cidr")


def field_values(event: dict[str, Any], name: str) -> list[str]:
    """The values of ``name`` in an event (nested objects or flat dotted keys), nulls left out."""
    value = ecs.flatten(event).get(name)
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if v is not None]


def holds(op: str, want: str, have: str) -> bool:
    """One condition against one value."""
    if op == "cidr":
        try:
            return ipaddress.ip_address(have) in ipaddress.ip_network(want, strict=False)
        except ValueError:
            return False
    low, w = have.lower(), want.lower()
    return {"equals": low == w, "contains": w in low, "startswith": low.startswith(w),
            "endswith": low.endswith(w)}.get(op, False)


def _live(rule: dict[str, Any], now: datetime | None) -> bool:
    if not rule.get("enabled", True):
        return False
    expires = rule.get("expires")
    return now is None or not expires or datetime.fromisoformat(str(expires).replace("Z", "+00:00")) > now


def covers(rule: dict[str, Any], event: dict[str, Any], now: datetime | None = None) -> bool:
    """True when an enabled, unexpired rule's conditions all hold for ``event`` (agency and rule id aside).

    ``now`` None skips the expiry check (the store already returned only unexpired rules)."""
    conditions = rule.get("conditions") or []
    if not conditions or not _live(rule, now):
        return False
    return all(any(holds(str(c.get("op", "equals")), str(c.get("value", "")), v)
                   for v in field_values(event, str(c.get("field", "")))) for c in conditions)


def suppressing(rules: Iterable[dict[str, Any]], rule_id: str, event: dict[str, Any],
                now: datetime | None = None) -> str | None:
    """The id (``_id`` or ``id``) of the first rule that suppresses this match of ``rule_id``, if any."""
    agency = ((event.get("organization") or {}).get("id")) or ""
    for rule in rules:
        if rule.get("rule_id") not in (rule_id, "*"):
            continue
        scope = rule.get("organization")
        scope_id = scope.get("id") if isinstance(scope, dict) else scope
        if scope_id not in ("*", agency):
            continue
        if covers(rule, event, now):
            return str(rule.get("_id", rule.get("id")))
    return None
