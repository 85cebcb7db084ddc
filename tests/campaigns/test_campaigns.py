"""Campaigns on the real node: the same labelled traffic in two agencies forms campaigns, and an
agency's analyst sees only their own part of them (never another agency's incident ids)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from soc.incidents import grouping
from soc.main import create_app
from soc.runtime import Runtime
from tests.incidents import labelled
from tests.incidents.conftest import T0, Alerts, bearer


@pytest.fixture(scope="module")
def traffic() -> tuple[list[str], list[bytes]]:
    return labelled.make()


def _agency_of(rt: Runtime, incident_id: str) -> str:
    return str(rt.incidents.get(incident_id).doc["organization"]["id"])


def test_the_same_attackers_in_two_agencies_form_campaigns(rt: Runtime, api: TestClient, tokens: dict[str, str],
                                                          traffic: tuple[list[str], list[bytes]]) -> None:
    web, ssh = traffic
    labelled.index(rt.settings, "agency-a", web, ssh)
    labelled.index(rt.settings, "agency-b", web[: len(web) // 2], ssh)  # b sees part of the web traffic
    labelled.detect(rt.settings)
    grouping.run(rt)
    r = api.get("/api/v1/campaigns", headers=bearer(tokens["admin"]))
    assert r.status_code == 200, r.text
    found = {c["entity"]: c for c in r.json()["items"]}
    for address in (labelled.WINNER, labelled.LOSER):
        c = found[f"source.ip={address}"]
        assert c["agencies"] == ["agency-a", "agency-b"] and not c["active_elsewhere"]
        assert sorted({_agency_of(rt, i) for i in c["incident_ids"]}) == ["agency-a", "agency-b"]
        assert c["rules"] and c["first_seen"] <= c["last_seen"]
    assert found[f"source.ip={labelled.WINNER}"]["compromise_likely"] is True
    assert f"source.ip={labelled.BENIGN}" not in found
    agents = [c for e, c in found.items() if e.startswith("user_agent.original=")]
    assert agents and all(c["agencies"] == ["agency-a", "agency-b"] for c in agents)  # the same tools, two agencies
    assert not any("Firefox" in e or "Chrome" in e for e in found)  # browsers raised no alert: no fingerprint

    mine = api.get("/api/v1/campaigns", headers=bearer(tokens["analyst_a"]))
    assert mine.status_code == 200
    text = mine.text
    others = [i for c in found.values() for i in c["incident_ids"] if _agency_of(rt, i) == "agency-b"]
    assert others and not any(i in text for i in others)  # never another agency's incident ids
    assert "agency-b" not in text
    for c in mine.json()["items"]:
        assert c["agencies"] == ["agency-a"] and c["active_elsewhere"] is True
        assert {_agency_of(rt, i) for i in c["incident_ids"]} == {"agency-a"}
    assert {c["entity"] for c in mine.json()["items"]} == set(found)


def test_a_scoped_analyst_sees_only_campaigns_touching_their_agency(rt: Runtime, alerts: Alerts, api: TestClient,
                                                                   tokens: dict[str, str]) -> None:
    alerts.add(ip="203.0.113.1", agency="agency-a")
    alerts.add(ip="203.0.113.1", agency="agency-b", rule="rule-b")
    alerts.add(ip="203.0.113.1", agency="agency-c", at=T0 + timedelta(minutes=5))
    alerts.add(ip="203.0.113.2", agency="agency-b")
    alerts.add(ip="203.0.113.2", agency="agency-c")
    alerts.add(ip="203.0.113.3", agency="agency-a")  # one agency only: no campaign
    grouping.run(rt)
    every = api.get("/api/v1/campaigns", headers=bearer(tokens["admin"])).json()["items"]
    assert [(c["entity"], c["agencies"]) for c in every] == [
        ("source.ip=203.0.113.1", ["agency-a", "agency-b", "agency-c"]),
        ("source.ip=203.0.113.2", ["agency-b", "agency-c"])]
    a = api.get("/api/v1/campaigns", headers=bearer(tokens["analyst_a"])).json()["items"]
    assert [(c["entity"], c["agencies"], c["rules"], c["active_elsewhere"]) for c in a] == [
        ("source.ip=203.0.113.1", ["agency-a"], ["rule-a"], True)]
    assert a[0]["first_seen"] == a[0]["last_seen"] == T0.isoformat()  # its own times, not agency-c's later ones
    b = api.get("/api/v1/campaigns", headers=bearer(tokens["analyst_b"])).json()["items"]
    assert [c["entity"] for c in b] == ["source.ip=203.0.113.1", "source.ip=203.0.113.2"]
    assert api.get("/api/v1/campaigns").status_code == 401
    bad = api.get("/api/v1/campaigns", params={"since": "2020-01-01T00:00:00Z"}, headers=bearer(tokens["admin"]))
    assert bad.status_code == 422 and "90 days" in bad.text


def test_fuzzing_the_campaigns_and_outcome_listing_finds_no_server_error(rt: Runtime, alerts: Alerts,
                                                                         tokens: dict[str, str]) -> None:
    alerts.add(ip="203.0.113.1", agency="agency-a")
    alerts.add(ip="203.0.113.1", agency="agency-b")
    grouping.run(rt)
    app = create_app(runtime=rt)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations: list[Any] = [cast(Any, result).ok() for result in schema.get_all_operations()]
    wanted = [op for op in operations if op.label in ("GET /api/v1/campaigns", "GET /api/v1/incidents")]
    assert len(wanted) == 2
    codes: list[int] = []
    with TestClient(app):
        for operation in wanted:
            @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def check(case: Any) -> None:
                for token in (tokens["admin"], tokens["analyst_a"]):
                    response = case.call(headers=bearer(token))
                    codes.append(response.status_code)
                    assert response.status_code < 500, response.text[:300]

            check()
    assert any(c == 200 for c in codes) and any(c == 422 for c in codes)
