"""Address enrichment: ``<side>.geo.*`` and ``<side>.as.*`` for public addresses, from MaxMind-format
databases the operator supplies (``SOC_GEOIP_DATABASES``: a City and an ASN file, or one with both).

Private, loopback, link-local, shared (CGNAT), documentation and other special ranges are never
looked up: they get ``labels.<side>_ip_scope`` (``private``, ``documentation``...; soc.intel.scopes) and
no geo.
A database is reopened when its file changes, so the operator updates it in place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import maxminddb

from soc.intel.scopes import scope

SIDES = ("source", "destination")
log = logging.getLogger(__name__)
_reported: set[str] = set()


class GeoDatabases:
    """Readers of one or more .mmdb files; a lookup merges what each knows about an address."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.readers = [maxminddb.open_database(str(p)) for p in paths]

    def lookup(self, address: str) -> dict[str, Any]:
        """{"geo": {...}, "as": {...}} with the fields known for a public address (empty when none)."""
        geo: dict[str, Any] = {}
        asn: dict[str, Any] = {}
        for reader in self.readers:
            got = reader.get(address)
            if not isinstance(got, dict):
                continue
            rec = cast(dict[str, Any], got)
            country = rec.get("country") or rec.get("registered_country") or {}
            if isinstance(country, dict) and country.get("iso_code"):
                geo["country_iso_code"] = country["iso_code"]
                name = (country.get("names") or {}).get("en")
                if name:
                    geo["country_name"] = name
            city = ((rec.get("city") or {}).get("names") or {}).get("en")
            if city:
                geo["city_name"] = city
            continent = ((rec.get("continent") or {}).get("names") or {}).get("en")
            if continent:
                geo["continent_name"] = continent
            if rec.get("autonomous_system_number") is not None:
                asn["number"] = int(rec["autonomous_system_number"])
            if rec.get("autonomous_system_organization"):
                asn["organization"] = {"name": str(rec["autonomous_system_organization"])}
        return {k: v for k, v in (("geo", geo), ("as", asn)) if v}


@lru_cache(maxsize=4)
def _open(paths: tuple[Path, ...], stamps: tuple[float, ...]) -> GeoDatabases:
    return GeoDatabases(paths)


def databases(paths: tuple[Path, ...]) -> GeoDatabases | None:
    """The readers of ``paths`` (cached until a file changes); None when no database is configured.

    A database that cannot be read is logged (once per path and reason) and enrichment is left out:
    detection goes on without geo rather than stopping on a misplaced file.
    """
    if not paths:
        return None
    try:
        return _open(paths, tuple(p.stat().st_mtime for p in paths))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        if str(exc) not in _reported:
            _reported.add(str(exc))
            log.error("address enrichment is off: cannot read SOC_GEOIP_DATABASES (%s)", exc)
        return None


def enrich(doc: dict[str, Any], db: GeoDatabases | None) -> dict[str, Any]:
    """Adds geo and AS data beside ``source.ip`` and ``destination.ip`` of a (nested) document."""
    for side in SIDES:
        part = doc.get(side)
        if not isinstance(part, dict) or not isinstance(part.get("ip"), str) or not part["ip"]:
            continue
        address = part["ip"]
        kind = scope(address)
        if kind is not None:
            doc.setdefault("labels", {})[f"{side}_ip_scope"] = kind
        elif db is not None:
            part.update(db.lookup(address))
    return doc
