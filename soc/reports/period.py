"""ISO weeks in the report's time zone: parsing ``YYYY-Www`` and the UTC ranges a report covers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from soc.errors import Invalid

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {name!r}") from None


@dataclass(frozen=True)
class Week:
    """One ISO week, Monday 00:00 to the next Monday 00:00 in ``tz``."""

    year: int
    number: int
    tz: str

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def start(self) -> datetime:
        local = datetime.fromisocalendar(self.year, self.number, 1).replace(tzinfo=zone(self.tz))
        return local.astimezone(UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    def previous(self) -> Week:
        return containing(self.start - timedelta(days=3), self.tz)

    def next(self) -> Week:
        return containing(self.start + timedelta(days=10), self.tz)

    def days(self) -> list[str]:
        """The seven local dates of the week, ``YYYY-MM-DD``."""
        first = datetime.fromisocalendar(self.year, self.number, 1)
        return [(first + timedelta(days=i)).date().isoformat() for i in range(7)]


def parse(text: str, tz: str) -> Week:
    match = WEEK_RE.match(text.strip())
    if not match:
        raise Invalid(f"week {text!r} is not of the form YYYY-Www (for example 2025-W10)")
    year, number = int(match[1]), int(match[2])
    try:
        datetime.fromisocalendar(year, number, 1)
    except ValueError:
        raise Invalid(f"week {text!r} does not exist: {year} has no week {number}") from None
    zone(tz)
    return Week(year, number, tz)


def containing(at: datetime, tz: str) -> Week:
    local = at.astimezone(zone(tz))
    year, number, _ = local.isocalendar()
    return Week(year, number, tz)


def last_complete(now: datetime, tz: str) -> Week:
    """The ISO week before the one ``now`` falls in (what a Monday-morning report covers)."""
    return containing(now, tz).previous()
