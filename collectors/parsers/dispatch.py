"""Routes a record to its parser. Placeholder until the parsers land: every record is a parse failure."""

from __future__ import annotations

from typing import Any

from collectors.parsers import ParseContext


def parse(kind: str, raw: bytes, ctx: ParseContext) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    return {
        "@timestamp": ctx.received_at.isoformat().replace("+00:00", "Z"),
        "message": text,
        "event": {"original": text, "dataset": "syslog" if kind == "syslog" else f"{kind.split('-')[0]}.access"},
        "tags": ["_parse_failure"],
    }
