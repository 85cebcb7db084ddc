"""How the service writes and reads times: ISO 8601 text, in UTC.

Two forms are stored, and both stay as they have always been written:

- events, detection windows, checkpoints and searches: milliseconds with ``Z``
  (``2026-03-02T09:00:00.123Z``), as the ingest pipeline stamps ``event.ingested``;
- the service's own records (incidents, audit, accounts, reports): Python's full form with
  microseconds and ``+00:00`` (``exact=True``).
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(at: datetime, *, exact: bool = False) -> str:
    """``at`` as ISO 8601 text in UTC (a naive time is taken as UTC)."""
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return at.isoformat() if exact else at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """The time in ISO 8601 text (either form, or any offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now_iso(*, exact: bool = False) -> str:
    """The current time, formatted by ``iso``."""
    return iso(datetime.now(UTC), exact=exact)
