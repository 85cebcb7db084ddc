"""The shape of a parsed event: the skeleton every parser fills, and the values it may hold.

Events are nested dicts with :mod:`soc.ecs` field names. Values that OpenSearch maps strictly
(``ip``, ``long``, ``date``) are validated here so that attacker-written text can never turn a
good line into a mapping error.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from collectors.parsers import ParseContext

PARSE_FAILURE = "_parse_failure"
MAX_LONG = 2**63 - 1


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(UTC)
    text = moment.replace(tzinfo=None).isoformat()
    return text + "Z"


def new(original: str, dataset: str, parser: str, timestamp: str) -> dict[str, Any]:
    """A fresh event around ``original``."""
    return {
        "@timestamp": timestamp,
        "event": {"original": original, "dataset": dataset, "kind": "event"},
        "soc": {"parser": parser},
    }


def failure(original: str, dataset: str, ctx: ParseContext) -> dict[str, Any]:
    """An event for a record no parser understood: kept whole, tagged, stamped with the receive time."""
    event = new(original, dataset, "none", utc_iso(ctx.received_at))
    event["message"] = original
    event["tags"] = [PARSE_FAILURE]
    if ctx.hostname:
        event["host"] = {"name": ctx.hostname}
    return event


def tag(event: dict[str, Any], name: str) -> None:
    tags = event.setdefault("tags", [])
    if name not in tags:
        tags.append(name)


@lru_cache(maxsize=16384)
def ip(value: str) -> str | None:
    """``value`` as a canonical IP address, or None when it is not one (a host name, ``-``, junk)."""
    if not value or len(value) > 64:
        return None
    if value[0] == "[" and value[-1] == "]":
        value = value[1:-1]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def long(value: str) -> int | None:
    """A non-negative decimal integer that fits an OpenSearch ``long``, or None."""
    if not value.isdigit() or not value.isascii() or len(value) > 19:
        return None
    number = int(value)
    return number if number <= MAX_LONG else None


def put(event: dict[str, Any], group: str, key: str, value: Any) -> None:
    """event[group][key] = value, creating the group."""
    node = event.get(group)
    if node is None:
        event[group] = {key: value}
    else:
        node[key] = value


def classify(
    event: dict[str, Any],
    action: str,
    category: tuple[str, ...],
    kind: tuple[str, ...],
    outcome: str | None = None,
) -> None:
    """Set event.action, event.category, event.type and (when known) event.outcome."""
    node = event["event"]
    node["action"] = action
    node["category"] = list(category)
    node["type"] = list(kind)
    if outcome is not None:
        node["outcome"] = outcome


def user(event: dict[str, Any], name: str | None, target: str | None = None) -> None:
    """user.name (who acted) and user.target.name (whom it was done to), both also in related.user."""
    node = event.get("user")
    if node is None:
        node = event["user"] = {}
    related: list[str] = []
    if name:
        node["name"] = name
        related.append(name)
    if target:
        node["target"] = {"name": target}
        if target not in related:
            related.append(target)
    if not node:
        del event["user"]
    if related:
        event.setdefault("related", {}).setdefault("user", []).extend(related)


def peer(event: dict[str, Any], address: str | None, port: str | None = None, group: str = "source") -> None:
    """source.* (or destination.*) from text: a valid IP goes to .ip, anything else to .address."""
    if not address:
        return
    node: dict[str, Any] = {}
    valid = ip(address)
    if valid is not None:
        node["ip"] = valid
        event.setdefault("related", {}).setdefault("ip", []).append(valid)
    else:
        node["address"] = address
    if port:
        number = long(port)
        if number is not None and number <= 65535:
            node["port"] = number
    event[group] = node
