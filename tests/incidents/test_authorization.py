"""Role x agency x endpoint: who may read and change what; other agencies' ids answer 404."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from soc.incidents import grouping
from soc.runtime import Runtime
from tests.incidents.conftest import Alerts, bearer

# (caller, can read agency-a, can write agency-a, admin endpoints)
CALLERS = {
    "admin": (True, True, True),
    "analyst_a": (True, True, False),
    "analyst_b": (False, False, False),
    "viewer_a": (True, False, False),
    "collector": (False, False, False),
}


@pytest.fixture()
def world(rt: Runtime, alerts: Alerts) -> dict[str, str]:
    a_alert = alerts.add(agency="agency-a", ip="10.0.0.1")
    b_alert = alerts.add(agency="agency-b", ip="10.0.0.2")
    grouping.run(rt)
    ids = {}
    for aid, agency in ((a_alert, "a"), (b_alert, "b")):
        ids[f"incident_{agency}"] = rt.alerts.get(aid)["incident_id"]
        ids[f"alert_{agency}"] = aid
    return ids


def test_authorization_matrix(rt: Runtime, api: TestClient, tokens: dict[str, str], world: dict[str, str]) -> None:
    ia, ib = world["incident_a"], world["incident_b"]
    failures = []

    def check(caller: str, method: str, path: str, want: int, **kw: object) -> None:
        r = api.request(method, path, headers=bearer(tokens[caller]), **kw)  # type: ignore[arg-type]
        if r.status_code != want:
            failures.append(f"{caller} {method} {path}: {r.status_code} (wanted {want}) {r.text[:120]}")

    for caller, (reads, writes, admin) in CALLERS.items():
        collector = caller == "collector"
        read = 403 if collector else (200 if reads else 404)
        check(caller, "GET", f"/api/v1/incidents/{ia}", read)
        check(caller, "GET", f"/api/v1/incidents/{ia}/alerts", read)
        check(caller, "GET", f"/api/v1/incidents/{ia}/context", read)
        check(caller, "GET", f"/api/v1/incidents/{ia}/timeline", read)
        check(caller, "GET", f"/api/v1/alerts/{world['alert_a']}", read)
        write = 200 if writes else (403 if caller in ("viewer_a", "collector") else 404)
        check(caller, "POST", f"/api/v1/incidents/{ia}/comments", 201 if write == 200 else write, json={"text": "hi"})
        version = rt.incidents.get(ia).version
        check(caller, "PATCH", f"/api/v1/incidents/{ia}", write, json={"version": str(version), "assignee": caller})
        # The other agency: an analyst of agency-a cannot see or guess it.
        if caller in ("analyst_a", "viewer_a"):
            check(caller, "GET", f"/api/v1/incidents/{ib}", 404)
            check(caller, "GET", f"/api/v1/alerts/{world['alert_b']}", 404)
            check(caller, "GET", f"/api/v1/incidents/{ib}/alerts", 404)
        admin_code = 200 if admin else 403
        for path in ("/api/v1/users", "/api/v1/tokens", "/api/v1/webhooks", "/api/v1/audit"):
            check(caller, "GET", path, admin_code)
        check(caller, "POST", "/api/v1/users", 201 if admin else 403,
              json={"name": f"u-{caller}", "role": "viewer", "agencies": ["agency-a"]})
    assert failures == []


def test_listings_only_show_the_callers_agencies(rt: Runtime, api: TestClient, tokens: dict[str, str],
                                                  world: dict[str, str]) -> None:
    rt.incidents.refresh()

    def ids(token: str, path: str, **params: str) -> set[str]:
        return {i["id"] for i in api.get(path, headers=bearer(tokens[token]), params=params).json()["items"]}

    assert ids("analyst_a", "/api/v1/incidents") == {world["incident_a"]}
    assert ids("analyst_a", "/api/v1/incidents", agency="agency-b") == set()
    assert ids("analyst_b", "/api/v1/incidents") == {world["incident_b"]}
    assert ids("admin", "/api/v1/incidents") == {world["incident_a"], world["incident_b"]}
    assert ids("viewer_a", "/api/v1/alerts") == {world["alert_a"]}
    metrics = api.get("/api/v1/incidents/metrics", headers=bearer(tokens["analyst_b"])).json()
    assert metrics["incidents"] == 1


def test_missing_bad_and_revoked_tokens_get_401(rt: Runtime, api: TestClient, tokens: dict[str, str]) -> None:
    assert api.get("/api/v1/incidents").status_code == 401
    assert api.get("/api/v1/incidents", headers=bearer("soc_wrong")).status_code == 401
    admin = bearer(tokens["admin"])
    made = api.post("/api/v1/tokens", headers=admin, json={"name": "prog", "role": "viewer",
                                                          "agencies": ["agency-a"]}).json()
    assert api.get("/api/v1/incidents", headers=bearer(made["token"])).status_code == 200
    assert api.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 200
    r = api.get("/api/v1/incidents", headers=bearer(made["token"]))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    rt.client.indices.refresh(index=rt.names.audit)
    trail = api.get("/api/v1/audit", headers=admin, params={"object_id": made["id"]}).json()["items"]
    assert [(e["action"], e["actor"]) for e in trail] == [("token.revoke", "root"), ("token.create", "root")]
    assert made["token"] not in str(trail)  # the secret is never written anywhere


def test_a_user_token_follows_the_user(rt: Runtime, api: TestClient, tokens: dict[str, str],
                                       world: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    assert api.post("/api/v1/users", headers=admin, json={"name": "dana", "role": "analyst",
                                                          "agencies": ["agency-b"]}).status_code == 201
    tok = api.post("/api/v1/tokens", headers=admin, json={"name": "dana-laptop", "user": "dana"}).json()["token"]
    assert api.get(f"/api/v1/incidents/{world['incident_a']}", headers=bearer(tok)).status_code == 404
    api.patch("/api/v1/users/dana", headers=admin, json={"agencies": ["agency-a"]})
    assert api.get(f"/api/v1/incidents/{world['incident_a']}", headers=bearer(tok)).status_code == 200
    api.patch("/api/v1/users/dana", headers=admin, json={"disabled": True})
    assert api.get(f"/api/v1/incidents/{world['incident_a']}", headers=bearer(tok)).status_code == 401
