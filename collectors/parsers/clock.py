"""Syslog timestamps to UTC: RFC 3339 stamps, and BSD stamps that carry no year and no zone.

A BSD (RFC 3164) stamp such as ``Dec 31 23:59:58`` is read in the source's time zone and given
the year that puts it closest to the moment it was received: a Dec 31 line received on Jan 1 is
from last year, a Jan 1 line received on Dec 31 (a sender's clock running ahead) is from next year.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectors.parsers.event import utc_iso

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "UT", "Etc/UTC", "Etc/GMT"})


@lru_cache(maxsize=256)
def zone(name: str) -> tzinfo | None:
    """A time zone from an IANA name (``Asia/Ho_Chi_Minh``), ``UTC`` or a fixed offset (``+07:00``)."""
    if name in _UTC_NAMES:
        return UTC
    offset = _OFFSET.fullmatch(name)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta >= timedelta(hours=24):
            return None
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def rfc3339(stamp: str, default_zone: tzinfo) -> str | None:
    """``2026-11-26T23:59:17.277913+00:00`` as UTC ISO; a stamp without offset is in ``default_zone``."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        try:
            moment = datetime.fromisoformat(stamp.upper())
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_zone)
    try:
        return utc_iso(moment)
    except OverflowError:
        return None


def bsd(
    month: str,
    day: int,
    year: int | None,
    clock: str,
    fraction: str | None,
    where: tzinfo,
    received_ordinal: int,
) -> str | None:
    """A BSD stamp (``clock`` is ``HH:MM:SS``) as UTC ISO, or None when it names no real moment."""
    return _bsd(month, day, year, clock, fraction or "", where, received_ordinal)


@lru_cache(maxsize=8192)
def _bsd(
    month: str, day: int, year: int | None, clock: str, fraction: str, where: tzinfo, received_ordinal: int
) -> str | None:
    month_number = MONTHS.get(month)
    if month_number is None or not clock[:2].isdigit():
        return None
    hour, minute, second = int(clock[0:2]), int(clock[3:5]), int(clock[6:8])
    micro = int((fraction + "000000")[:6]) if fraction else 0
    if year is None:
        year = _closest_year(month_number, day, received_ordinal)
        if year is None:
            return None
    try:
        moment = datetime(year, month_number, day, hour, minute, second, micro, tzinfo=where)
        return utc_iso(moment)
    except (ValueError, OverflowError):
        return None


def _closest_year(month: int, day: int, received_ordinal: int) -> int | None:
    received_year = datetime.fromordinal(received_ordinal).year
    best: tuple[int, int] | None = None
    for year in (received_year - 1, received_year, received_year + 1):
        try:
            distance = abs(datetime(year, month, day).toordinal() - received_ordinal)
        except ValueError:  # Feb 29 outside a leap year, day 31 of a short month
            continue
        if best is None or distance < best[0]:
            best = (distance, year)
    return best[1] if best else None
