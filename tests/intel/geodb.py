"""A small MaxMind-format database the tests build themselves (made-up records, real file format)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

RECORDS: dict[str, dict[str, Any]] = {
    "8.8.8.0/24": {"country": {"iso_code": "US", "names": {"en": "United States"}},
                   "city": {"names": {"en": "Mountain View"}},
                   "autonomous_system_number": 15169, "autonomous_system_organization": "Example Search Co"},
    "14.160.0.0/16": {"country": {"iso_code": "VN", "names": {"en": "Vietnam"}},
                      "city": {"names": {"en": "Hanoi"}},
                      "autonomous_system_number": 45899, "autonomous_system_organization": "Example Telecom VN"},
    "2606:4700::/32": {"country": {"iso_code": "CA", "names": {"en": "Canada"}},
                       "autonomous_system_number": 13335, "autonomous_system_organization": "Example Edge"},
    # records for special ranges, so that a test proves they are never looked up
    "10.0.0.0/8": {"country": {"iso_code": "ZZ", "names": {"en": "Private"}}},
    "203.0.113.0/24": {"country": {"iso_code": "ZZ", "names": {"en": "Documentation"}}},
}


def build(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="SOC-Test-City-ASN",
                        languages=["en"], description="test database")
    for network, record in RECORDS.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path
