"""Small MaxMind-format databases the tests build themselves (made-up records, real file format)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MmdbU32, MMDBWriter
from netaddr import IPSet

from soc import search
from soc.config import Settings
from soc.opensearch import bootstrap

RECORDS: dict[str, dict[str, Any]] = {
    "8.8.8.0/24": {"country": {"iso_code": "US", "names": {"en": "United States"}},
                   "city": {"names": {"en": "Mountain View"}}, "location": {"latitude": 37.4, "longitude": -122.1},
                   "autonomous_system_number": 15169, "autonomous_system_organization": "Example Search Co"},
    "14.160.0.0/16": {"country": {"iso_code": "VN", "names": {"en": "Vietnam"}},
                      "city": {"names": {"en": "Hanoi"}},
                      "autonomous_system_number": 45899, "autonomous_system_organization": "Example Telecom VN"},
    "2606:4700::/32": {"country": {"iso_code": "CA", "names": {"en": "Canada"}},
                       "autonomous_system_number": 13335, "autonomous_system_organization": "Example Edge"},
    # a network whose name is markup: whatever shows it must escape it
    "45.33.0.0/16": {"country": {"iso_code": "JP", "names": {"en": "Japan"}},
                     "autonomous_system_number": 64500,
                     "autonomous_system_organization": "<img src=x onerror=alert(1)> Hosting"},
    # records for special ranges, so that a test proves they are never looked up
    "10.0.0.0/8": {"country": {"iso_code": "ZZ", "names": {"en": "Private"}}},
    "203.0.113.0/24": {"country": {"iso_code": "ZZ", "names": {"en": "Documentation"}}},
    "198.51.100.0/24": {"country": {"iso_code": "ZZ", "names": {"en": "Documentation"}},
                        "autonomous_system_number": 64496, "autonomous_system_organization": "Documentation AS"},
    "192.168.0.0/16": {"country": {"iso_code": "ZZ", "names": {"en": "Private"}},
                       "autonomous_system_number": 64497, "autonomous_system_organization": "Private AS"},
    "2001:db8::/32": {"country": {"iso_code": "ZZ", "names": {"en": "Documentation"}},
                      "autonomous_system_number": 64498, "autonomous_system_organization": "Documentation AS"},
}
AS_KEYS = ("autonomous_system_number", "autonomous_system_organization")


def _write(path: Path, database_type: str, records: dict[str, dict[str, Any]]) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type,
                        languages=["en"], description="test database")
    for network, record in records.items():
        if not record:
            continue
        if "autonomous_system_number" in record:  # an unsigned 32-bit number, as in MaxMind's files
            record = {**record, "autonomous_system_number": MmdbU32(record["autonomous_system_number"])}
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def build(path: Path) -> Path:
    """One database with both kinds of record (the alert-time reader merges what it finds)."""
    return _write(path, "SOC-Test-City-ASN", RECORDS)


def build_pair(folder: Path) -> tuple[Path, Path]:
    """A City and an ASN database, as MaxMind ships them (the ingest-geoip module reads one kind per file)."""
    folder.mkdir(parents=True, exist_ok=True)
    city = {n: {k: v for k, v in r.items() if k not in AS_KEYS} for n, r in RECORDS.items()}
    asn = {n: {k: v for k, v in r.items() if k in AS_KEYS} for n, r in RECORDS.items()}
    return (_write(folder / "Test-GeoLite2-City.mmdb", "GeoLite2-City", city),
            _write(folder / "Test-GeoLite2-ASN.mmdb", "GeoLite2-ASN", asn))


@contextmanager
def enriched(settings: Settings, databases: tuple[Path, ...], monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh deployment (own index prefix) whose ingest pipeline reads ``databases``: the session's node
    was given them at start (tests/conftest.py). A node the suite did not start lacks them: skipped."""
    if os.environ.get("SOC_TEST_OPENSEARCH_URL"):
        pytest.skip("the node was not started by the suite, so it has not the suite's geo databases")
    monkeypatch.setenv("SOC_GEOIP_DATABASES", ",".join(str(p) for p in databases))
    scoped = replace(settings, index_prefix=f"g{uuid.uuid4().hex[:10]}-")
    client = search.client(scoped)
    report = bootstrap.init(scoped, client, search.names(scoped))
    assert not [n for n in report.notes if "enrichment" in n], report.notes
    try:
        yield scoped
    finally:
        bootstrap.remove_prefix(client, scoped.index_prefix)
