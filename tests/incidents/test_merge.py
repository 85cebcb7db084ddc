from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from soc.incidents import grouping
from soc.runtime import Runtime
from tests.incidents.conftest import T0, Alerts, bearer


def test_merge_then_unmerge_restores_both(rt: Runtime, alerts: Alerts, api: TestClient,
                                          tokens: dict[str, str]) -> None:
    first = alerts.add(ip="10.0.0.1", severity="low")
    alerts.add(ip="10.0.0.1", at=T0 + timedelta(minutes=1), severity="low")
    second = alerts.add(ip="10.0.0.2", severity="critical", at=T0 + timedelta(minutes=2))
    grouping.run(rt)
    a, b = rt.alerts.get(first)["incident_id"], rt.alerts.get(second)["incident_id"]
    head = bearer(tokens["analyst_a"])
    version_b = api.get(f"/api/v1/incidents/{b}", headers=head).json()["version"]
    api.patch(f"/api/v1/incidents/{b}", headers=head, json={"version": version_b, "status": "acknowledged"})

    merged = api.post(f"/api/v1/incidents/{a}/merge", headers=head, json={"sources": [b]})
    assert merged.status_code == 200, merged.text
    m = merged.json()
    assert m["merged_from"] == [b] and m["alert_count"] == 3 and m["severity"] == "critical"
    assert {"source.ip=10.0.0.1", "source.ip=10.0.0.2"} <= set(m["entities"])
    src = api.get(f"/api/v1/incidents/{b}", headers=head).json()
    assert src["merged_into"] == a and src["status"] == "closed" and src["resolution"] == "duplicate"
    # The source cannot be changed while merged; its alerts show under the target.
    r = api.patch(f"/api/v1/incidents/{b}", headers=head, json={"version": src["version"], "assignee": "x"})
    assert r.status_code == 409
    evidence = api.get(f"/api/v1/incidents/{a}/alerts", headers=head).json()["items"]
    assert len(evidence) == 3
    # A new alert of the source's key joins the target.
    alerts.add(ip="10.0.0.2", at=T0 + timedelta(minutes=5))
    assert grouping.run(rt).updated == [a]

    r = api.post(f"/api/v1/incidents/{a}/unmerge", headers=head, json={"source": b})
    assert r.status_code == 200, r.text
    # The target keeps the alert that joined it while merged (medium), and gives back the critical one.
    assert r.json()["merged_from"] == [] and r.json()["alert_count"] == 3 and r.json()["severity"] == "medium"
    src = api.get(f"/api/v1/incidents/{b}", headers=head).json()
    assert src["merged_into"] is None and src["status"] == "acknowledged" and src["resolution"] is None
    rt.client.indices.refresh(index=rt.names.audit)
    actions = {e["action"] for e in api.get("/api/v1/audit", headers=bearer(tokens["admin"])).json()["items"]}
    assert {"incident.merge", "incident.merged_into", "incident.unmerge", "incident.unmerged_from"} <= actions


def test_merges_across_agencies_or_of_merged_incidents_are_refused(rt: Runtime, alerts: Alerts, api: TestClient,
                                                                    tokens: dict[str, str]) -> None:
    made = [alerts.add(ip="10.0.0.1"), alerts.add(ip="10.0.0.2"), alerts.add(ip="10.0.0.3", agency="agency-b")]
    grouping.run(rt)
    a, b, c = (rt.alerts.get(aid)["incident_id"] for aid in made)
    admin = bearer(tokens["admin"])
    r = api.post(f"/api/v1/incidents/{a}/merge", headers=admin, json={"sources": [c]})
    assert r.status_code == 422 and "another agency" in r.json()["detail"]
    r = api.post(f"/api/v1/incidents/{a}/merge", headers=admin, json={"sources": [a]})
    assert r.status_code == 422
    # An analyst of agency-a cannot name agency-b's incident at all.
    r = api.post(f"/api/v1/incidents/{a}/merge", headers=bearer(tokens["analyst_a"]), json={"sources": [c]})
    assert r.status_code == 404
    assert api.post(f"/api/v1/incidents/{a}/merge", headers=admin, json={"sources": [b]}).status_code == 200
    r = api.post(f"/api/v1/incidents/{b}/merge", headers=admin, json={"sources": [a]})
    assert r.status_code == 422
    r = api.post(f"/api/v1/incidents/{a}/unmerge", headers=admin, json={"source": c})
    assert r.status_code == 422
