"""Importing, listing and removing indicators: read the whole input, validate all of it, then write.

A malformed input (or a too-broad indicator) is refused with an error naming the object or line,
and nothing of it is written. Patterns and attributes the service cannot match are reported in the
result's notes, never dropped silently.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch

from soc.audit import store as audit
from soc.auth import Principal
from soc.errors import Invalid
from soc.intel import lists, misp, stix
from soc.intel import store as intel_store
from soc.intel.indicators import Indicator, IndicatorError
from soc.search import Names

FORMATS = ("auto", "stix", "misp", "csv", "list")
FEED_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOOKUP = {"ipv4-addr": "ip", "ipv6-addr": "ip", "domain-name": "domain", "url": "url", "file": "hash"}


@dataclass
class ImportResult:
    feed: str
    format: str
    read: int = 0  # indicators in the input (after merging duplicates)
    created: int = 0
    updated: int = 0
    expired: int = 0  # already past their end when imported (stored, never matched)
    notes: list[str] = field(default_factory=list)  # what was not imported, and why


def parse(text: str, fmt: str = "auto", kind: str | None = None, source: str = "input") -> tuple[
        str, list[Indicator], list[str]]:
    """(format, indicators, notes); Invalid naming ``source`` and the object or line when malformed."""
    if fmt not in FORMATS:
        raise Invalid(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
    stripped = text.lstrip("\ufeff \t\r\n")
    try:
        if fmt in ("stix", "misp") or (fmt == "auto" and stripped[:1] in ("{", "[")):
            try:
                doc = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise IndicatorError(f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
            if fmt == "auto":
                fmt = "stix" if isinstance(doc, dict) and doc.get("type") == "bundle" else "misp"
            found, notes = stix.parse(doc) if fmt == "stix" else misp.parse(doc)
        else:
            if fmt == "auto":
                fmt = "csv" if lists.looks_like_csv(stripped) else "list"
            found, notes = lists.parse_csv(text, kind) if fmt == "csv" else lists.parse_plain(text, kind)
    except IndicatorError as exc:
        raise Invalid(f"{source}: {exc}; nothing was imported") from None
    except (csv.Error, RecursionError, TypeError, AttributeError) as exc:  # shapes no reader expects
        raise Invalid(f"{source}: not a readable {fmt} file ({type(exc).__name__}: {exc}); nothing was imported"
                      ) from None
    return fmt, found, notes


def document(ind: Indicator, feed: str, now: datetime, expires_days: float) -> tuple[str, dict[str, Any]]:
    until = ind.valid_until or (now + timedelta(days=expires_days)).isoformat().replace("+00:00", "Z")
    doc: dict[str, Any] = {
        "feed": feed, "type": ind.type, "name": ind.name, "atom_count": len(ind.atoms),
        "atoms": [{"type": a.type, "value": a.value, **({"hash": a.hash} if a.hash else {})} for a in ind.atoms],
        "confidence": ind.confidence, "valid_from": ind.valid_from, "valid_until": until,
        "last_import": now.isoformat(), "source_ref": ind.source_ref, "description": ind.description,
        "tags": ind.tags, "where": ind.where}
    for kind in intel_store.LOOKUP_FIELDS:
        doc[kind] = []
    for a in ind.atoms:
        # one address is an exact term (cheap to look up by the thousand); a network a range
        kind = "address" if LOOKUP[a.type] == "ip" and "/" not in a.value else LOOKUP[a.type]
        doc[kind].append(a.value.lower() if a.type == "url" else a.value)
    return ind.ident(feed), doc


def import_text(client: OpenSearch, names: Names, who: Principal, text: str, feed: str, fmt: str = "auto",
                kind: str | None = None, expires_days: float = 90.0, source: str = "input",
                now: datetime | None = None, confidence: int | None = None) -> ImportResult:
    """Reads and checks all of ``text``, then writes its indicators into ``feed``. ``confidence``: given
    to indicators that carry none of their own."""
    who.require_admin(global_scope=True)  # indicators apply to every agency's events
    if not FEED_PATTERN.match(feed or ""):
        raise Invalid(f"feed name {feed!r}: letters, digits, '.', '_' and '-', at most 64 characters")
    if not 0 <= expires_days <= 3650:
        raise Invalid(f"expires {expires_days} days: give 0 to 3650")
    now = now or datetime.now(UTC)
    fmt, found, notes = parse(text, fmt, kind, source)
    for ind in found:
        ind.confidence = confidence if ind.confidence is None else ind.confidence
    docs = dict(document(ind, feed, now, expires_days) for ind in found)  # a repeated indicator: the last wins
    result = ImportResult(feed, fmt, read=len(docs), notes=notes)
    result.expired = sum(1 for d in docs.values()
                         if datetime.fromisoformat(d["valid_until"].replace("Z", "+00:00")) <= now)
    first = {"first_import": now.isoformat(), "retro": {"done": False}}
    result.created, result.updated = intel_store.upsert(client, names, [(i, d, first) for i, d in docs.items()])
    audit.append(client, names, [audit.entry(now, who.name, "intel.import", "feed", feed, None,
                                             f"{result.read} indicators from {source} ({fmt})",
                                             created=result.created, updated=result.updated, notes=notes[:20])])
    return result


def listing(client: OpenSearch, names: Names, who: Principal, feed: str | None = None, size: int = 100,
            offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    who.require_reader()
    return intel_store.listing(client, names, feed, min(max(size, 1), 1000), max(offset, 0))


def remove(client: OpenSearch, names: Names, who: Principal, ids: list[str] | None = None,
           feed: str | None = None) -> int:
    who.require_admin(global_scope=True)
    ids = [i for i in ids or [] if i]
    if not ids and not feed:
        raise Invalid("name the indicators to remove (ids) or a feed")
    gone = intel_store.remove(client, names, ids, feed)
    audit.append(client, names, [audit.entry(datetime.now(UTC), who.name, "intel.remove", "feed", feed or "-", None,
                                             f"{gone} indicators removed", ids=(ids or [])[:100])])
    return gone
