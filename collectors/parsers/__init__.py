"""Parsers: raw bytes of one log record -> one ECS event (a nested dict).

The contract every parser keeps (the pipeline relies on it):

- ``parse(kind, raw, ctx)`` never raises; whatever ``raw`` holds, it returns an event.
- The event always has ``event.original`` (the raw text, decoded safely) and ``@timestamp``
  (ISO 8601, UTC). A record no parser understands gets ``tags: ["_parse_failure"]`` and the
  receive time as ``@timestamp``.
- Field names are those of :mod:`soc.ecs` (tested against it).
- The pipeline, not the parser, adds ``organization.id``, ``agent.id``, ``observer.name``,
  ``log.source.id`` and the document id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

KINDS = ("syslog", "nginx", "apache", "nginx-json")


@dataclass(frozen=True)
class ParseContext:
    """What a parser may know beyond the record itself."""

    timezone: str = "UTC"  # for timestamps without an offset (RFC 3164), per source
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))  # also anchors year inference
    peer_ip: str | None = None  # the sender's address (syslog over the network)
    hostname: str | None = None  # fallback host.name when the record has none
    domain: str | None = None  # url.domain for access logs whose lines do not carry a vhost


def parse(kind: str, raw: bytes, ctx: ParseContext) -> dict[str, Any]:
    """Parse one record of ``kind`` (one of KINDS)."""
    from collectors.parsers import dispatch

    return dispatch.parse(kind, raw, ctx)
