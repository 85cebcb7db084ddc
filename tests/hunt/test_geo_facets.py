"""Country and network as search facets and query fields: POST /api/v1/search on events the ingest
pipeline enriched (the suite's own geo databases, tests.intel.geodb)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc.config import Settings
from tests.hunt.conftest import NOW, bearer, index, web
from tests.intel.geodb import enriched

WINDOW = {"from": (NOW - timedelta(hours=2)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat()}
FACETS = ["source.geo.country_iso_code", "source.geo.country_name", "source.as.organization.name"]


@pytest.fixture()
def isolated(opensearch_settings: Settings, geoip_databases: tuple[Path, ...],
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """This module's deployment reads the geo databases (the app fixtures build on it)."""
    with enriched(opensearch_settings, geoip_databases, monkeypatch) as settings:
        yield settings


@pytest.fixture()
def world(rt: Any) -> None:  # the hunt fixtures' runtime
    index(rt, [
        web("8.8.8.8", "/wp-login.php", 401, ago=5),
        web("8.8.8.9", "/xmlrpc.php", 403, ago=6),
        web("14.160.3.3", "/admin", 404, ago=7),
        web("203.0.113.50", "/<script>", 400, ago=8),  # documentation: never looked up
        web("14.160.4.4", "/", 200, agency="agency-b", ago=9),
    ])


def find(api: TestClient, token: str, query: str, **extra: Any) -> Any:
    r = api.post("/api/v1/search", headers=bearer(token), json={"query": query, **WINDOW, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_country_and_network_are_facets_within_the_callers_agencies(api: TestClient, tokens: dict[str, str],
                                                                    world: None) -> None:
    got = find(api, tokens["analyst_a"], "", facets=FACETS)
    assert got["total"] == 4
    assert got["facets"]["source.geo.country_iso_code"] == [{"value": "US", "count": 2}, {"value": "VN", "count": 1}]
    assert got["facets"]["source.geo.country_name"] == [{"value": "United States", "count": 2},
                                                        {"value": "Vietnam", "count": 1}]
    assert got["facets"]["source.as.organization.name"] == [{"value": "Example Search Co", "count": 2},
                                                            {"value": "Example Telecom VN", "count": 1}]
    other = find(api, tokens["analyst_b"], "", facets=FACETS)
    assert other["facets"]["source.geo.country_iso_code"] == [{"value": "VN", "count": 1}]


@pytest.mark.parametrize(("query", "ips"), [
    ("source.geo.country_iso_code:US", {"8.8.8.8", "8.8.8.9"}),
    ('source.geo.country_name:"Vietnam"', {"14.160.3.3"}),
    ('source.as.organization.name:"Example Search Co"', {"8.8.8.8", "8.8.8.9"}),
    ("source.as.number:45899", {"14.160.3.3"}),
    ("NOT source.geo.country_iso_code:US", {"14.160.3.3", "203.0.113.50"}),
    ("labels.source_ip_scope:documentation", {"203.0.113.50"}),
    ("NOT source.geo.country_iso_code:*", {"203.0.113.50"}),
])
def test_country_and_network_are_query_fields(api: TestClient, tokens: dict[str, str], world: None,
                                              query: str, ips: set[str]) -> None:
    got = find(api, tokens["analyst_a"], query)
    assert {e["source"]["ip"] for e in got["items"]} == ips, query
