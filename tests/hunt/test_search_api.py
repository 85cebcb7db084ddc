"""POST /api/v1/search on the real node: the language's conditions, scope, facets, histogram, paging."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc.runtime import Runtime
from tests.hunt.conftest import NOW, bearer, index, web

WINDOW = {"from": (NOW - timedelta(hours=2)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat()}


@pytest.fixture()
def world(rt: Runtime) -> None:
    index(rt, [
        web("10.1.2.3", "/wp-admin/setup.php", 404, ago=5, user="Alice"),
        web("10.1.2.4", "/index.html", 200, ago=15),
        web("10.9.0.1", "/search?q=union%20select", 500, ago=25, ua="sqlmap/1.7"),
        web("192.168.5.5", "/Admin/Login", 403, ago=35, user="root"),
        web("172.16.0.9", "/robots.txt", 200, ago=300),  # outside the window
        web("10.1.2.3", "/wp-admin/other.php", 404, agency="agency-b", ago=5),
        {"@timestamp": (NOW - timedelta(minutes=20)).isoformat(), "organization": {"id": "agency-a"},
         "event": {"dataset": "syslog", "original": "sshd[77]: Failed password for invalid user oracle from 10.9.0.1"},
         "process": {"name": "sshd", "pid": 77}, "source": {"ip": "10.9.0.1"}, "user": {"name": "oracle"},
         "host": {"name": "db01"}},
    ])


def find(api: TestClient, token: str, query: str, **extra: Any) -> Any:
    r = api.post("/api/v1/search", headers=bearer(token), json={"query": query, **WINDOW, **extra})
    assert r.status_code == 200, r.text
    return r.json()


CASES = [
    ("", 6),
    ("source.ip:10.0.0.0/8", 5),  # CIDR; agency-b's event counted for the admin
    ("source.ip:10.1.2.3", 2),
    ("http.response.status_code:[400 TO 499]", 3),
    ("http.response.status_code:>=500", 1),
    ("http.response.status_code:<404", 2),
    ("http.response.status_code:{403 TO 500}", 2),
    ("url.path:*ADMIN*", 3),  # case-insensitive infix on the wildcard sub-field
    ("url.path:/wp-admin*", 2),
    ('"failed password"', 1),  # free text on the raw line, any case
    ("SQLMAP", 1),
    ("user.name:alice", 1),  # a lower-cased keyword matches whatever the case
    ("user.name:*", 3),
    ("NOT user.name:*", 3),
    ("source.ip:10.0.0.0/8 AND NOT http.response.status_code:404", 3),
    ("process.name:sshd OR http.response.status_code:403", 2),
    ("(url.path:*admin* OR sqlmap) AND http.response.status_code:(403 OR 500)", 2),
    ("host.name:(web01 OR db01) wp-admin", 2),
    ("event.original:\"invalid user oracle\"", 1),
    ("@timestamp:[" + (NOW - timedelta(minutes=12)).isoformat().replace("+00:00", "Z") + " TO *]", 2),
    ("organization.id:agency-b", 1),
]


def test_language_on_the_real_node(api: TestClient, tokens: dict[str, str], world: None) -> None:
    wrong = []
    for query, total in CASES:  # one world for every case: each test's own index prefix costs seconds
        got = find(api, tokens["admin"], query)
        if got["total"] != total or len(got["items"]) != total:
            wrong.append((query, total, [i["event"]["original"] for i in got["items"]]))
    assert not wrong


def test_scope_one_agency_sees_only_its_own(api: TestClient, tokens: dict[str, str], world: None) -> None:
    assert find(api, tokens["analyst_a"], "")["total"] == 5
    assert find(api, tokens["analyst_a"], "organization.id:agency-b")["total"] == 0
    assert find(api, tokens["analyst_a"], "", agency="agency-b") == {
        "total": 0, "items": [], "next": None, "histogram": [], "facets": {}, "timed_out": False}
    assert find(api, tokens["analyst_b"], "wp-admin")["total"] == 1
    everything = find(api, tokens["admin"], "wp-admin", facets=["organization.id"])
    assert everything["facets"]["organization.id"] == [{"value": "agency-a", "count": 1},
                                                       {"value": "agency-b", "count": 1}]
    r = api.post("/api/v1/search", headers=bearer(tokens["collector"]), json={"query": ""})
    assert r.status_code == 403


def test_facets_histogram_and_order(api: TestClient, tokens: dict[str, str], world: None) -> None:
    got = find(api, tokens["analyst_a"], "", facets=["http.response.status_code", "source.ip", "event.original"],
               histogram=True, sort="-@timestamp")
    assert got["facets"]["source.ip"][0] == {"value": "10.9.0.1", "count": 2}
    assert {"value": 404, "count": 1} in got["facets"]["http.response.status_code"]
    assert sum(b["count"] for b in got["histogram"]) == 5
    assert 24 <= len(got["histogram"]) <= 26  # two hours in 5-minute buckets, empty ones included
    times = [i["@timestamp"] for i in got["items"]]
    assert times == sorted(times, reverse=True)
    assert all(i["organization"]["id"] == "agency-a" and i["_id"] for i in got["items"])
    asc = find(api, tokens["analyst_a"], "", sort="http.response.status_code")
    codes = [i.get("http", {}).get("response", {}).get("status_code") for i in asc["items"]]
    assert codes == [200, 403, 404, 500, None]
