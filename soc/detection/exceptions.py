"""Exceptions (written by the incident service): does one suppress a match? Pure logic, no I/O."""

from __future__ import annotations

import ipaddress
from typing import Any

from soc import ecs


def _values(event: dict[str, Any], name: str) -> list[str]:
    value = ecs.flatten(event).get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _condition_holds(event: dict[str, Any], cond: dict[str, Any]) -> bool:
    op = str(cond.get("op", "equals"))
    expected = str(cond.get("value", ""))
    for actual in _values(event, str(cond.get("field", ""))):
        a, e = actual.lower(), expected.lower()
        if op == "cidr":
            try:
                if ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False):
                    return True
            except ValueError:
                continue
        elif (op == "equals" and a == e) or (op == "contains" and e in a) \
                or (op == "startswith" and a.startswith(e)) or (op == "endswith" and a.endswith(e)):
            return True
    return False


def matching(exceptions: list[dict[str, Any]], rule_id: str, event: dict[str, Any]) -> str | None:
    """The id of the first exception that suppresses this match of ``rule_id``, if any."""
    agency = ((event.get("organization") or {}).get("id")) or ""
    for exc in exceptions:
        if exc.get("rule_id") not in (rule_id, "*"):
            continue
        scope = exc.get("organization")
        scope_id = scope.get("id") if isinstance(scope, dict) else scope
        if scope_id not in ("*", agency):
            continue
        conditions = exc.get("conditions") or []
        if conditions and all(_condition_holds(event, c) for c in conditions):
            return str(exc["_id"])
    return None
