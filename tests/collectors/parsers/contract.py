"""The parser contract as a test aid: parse one line, and check the event every parser promises."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collectors.parsers import ParseContext, parse
from soc import ecs

RECEIVED = datetime(2026, 11, 27, 0, 3, tzinfo=UTC)


def run(kind: str, line: str | bytes, ctx: ParseContext | None = None, **context: Any) -> dict[str, Any]:
    """Parse one line and assert the contract every event keeps."""
    raw = line.encode() if isinstance(line, str) else line
    context.setdefault("received_at", RECEIVED)
    event = parse(kind, raw, ctx or ParseContext(**context))
    assert event["event"]["original"], "event.original is always kept"
    assert isinstance(event["@timestamp"], str) and event["@timestamp"].endswith("Z")
    assert ecs.unknown_fields(event) == [], f"fields outside soc.ecs: {ecs.unknown_fields(event)}"
    return event


def get(event: dict[str, Any], dotted: str) -> Any:
    """event['a']['b'] for 'a.b' (None when missing)."""
    node: Any = event
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def failed(event: dict[str, Any]) -> bool:
    return "_parse_failure" in event.get("tags", [])
