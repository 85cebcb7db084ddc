"""Public addresses get geo and AS data from a MaxMind-format database; special ranges never do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soc import search
from soc.config import Settings
from soc.intel import geo, service
from tests.intel.feeds import ADMIN, cycle, intel_alerts, web_event, write
from tests.intel.geodb import build


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return build(tmp_path / "test-city-asn.mmdb")


def test_public_addresses_are_enriched_and_special_ranges_are_only_labelled(db_path: Path) -> None:
    db = geo.databases((db_path,))
    doc: dict[str, Any] = {"source": {"ip": "8.8.8.8"}, "destination": {"ip": "14.160.3.4"}}
    geo.enrich(doc, db)
    assert doc["source"] == {"ip": "8.8.8.8", "geo": {"country_iso_code": "US", "country_name": "United States",
                                                      "city_name": "Mountain View"},
                             "as": {"number": 15169, "organization": {"name": "Example Search Co"}}}
    assert doc["destination"]["geo"]["country_iso_code"] == "VN" and "labels" not in doc
    v6: dict[str, Any] = {"source": {"ip": "2606:4700::1111"}}
    assert geo.enrich(v6, db)["source"]["as"] == {"number": 13335, "organization": {"name": "Example Edge"}}
    assert "city_name" not in v6["source"]["geo"]
    for address, scope in (("203.0.113.9", "documentation"), ("2001:db8::5", "documentation"),
                           ("10.2.3.4", "private"), ("127.0.0.1", "loopback"), ("100.64.0.1", "shared"),
                           ("169.254.1.1", "link-local")):
        special: dict[str, Any] = {"source": {"ip": address}}
        geo.enrich(special, db)
        assert special == {"source": {"ip": address}, "labels": {"source_ip_scope": scope}}, address
    unknown: dict[str, Any] = {"source": {"ip": "9.9.9.9"}}  # public, not in the database
    assert geo.enrich(unknown, db) == {"source": {"ip": "9.9.9.9"}}


def test_a_changed_database_file_is_read_again(tmp_path: Path) -> None:
    path = build(tmp_path / "db.mmdb")
    first = geo.databases((path,))
    assert geo.databases((path,)) is first
    build(tmp_path / "db2.mmdb").replace(path)
    import os

    os.utime(path, (1, 1))  # another modification time, as an update in place gives
    assert geo.databases((path,)) is not first


def test_alerts_carry_geo_beside_public_addresses(isolated: Settings, db_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC_GEOIP_DATABASES", str(db_path))
    service.import_text(search.client(isolated), search.names(isolated), ADMIN,
                        "8.8.8.8\n203.0.113.10\n", "geo-feed")
    cycle(isolated)
    write(isolated, [web_event({"source.ip": "8.8.8.8"}), web_event({"source.ip": "203.0.113.10"})])
    cycle(isolated)
    by = {a["source"]["ip"]: a for a in intel_alerts(isolated)}
    assert by["8.8.8.8"]["source"]["geo"]["country_name"] == "United States"
    assert by["8.8.8.8"]["source"]["as"]["number"] == 15169
    doc = by["203.0.113.10"]
    assert "geo" not in doc["source"] and "as" not in doc["source"]
    assert doc["labels"] == {"source_ip_scope": "documentation"}


def test_an_unreadable_database_leaves_enrichment_out_and_says_so(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "broken.mmdb").write_bytes(b"not a database")
    for path in (tmp_path / "absent.mmdb", tmp_path / "broken.mmdb"):
        assert geo.databases((path,)) is None
    assert sum("address enrichment is off" in r.message for r in caplog.records) == 2
    doc: dict[str, Any] = {"source": {"ip": "10.0.0.1"}}
    assert geo.enrich(doc, None) == {"source": {"ip": "10.0.0.1"}, "labels": {"source_ip_scope": "private"}}
