"""Suppression rules (HTTP: /exceptions): created from an incident, governed (owner, reason, expiry),
audited, applied by detection."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from soc.incidents import grouping
from soc.runtime import Runtime
from soc.suppressions import store as suppression_store
from soc.suppressions.match import covers, suppressing
from tests.incidents.conftest import T0, Alerts, Clock, bearer

EVENT_IN = {"organization": {"id": "agency-a"}, "source": {"ip": "10.0.0.7"}, "url": {"path": "/health"}}
EVENT_OUT = {"organization": {"id": "agency-a"}, "source": {"ip": "10.9.0.7"}, "url": {"path": "/health"}}


def _spec(**kw: object) -> dict[str, object]:
    return {"rule_id": "rule-a", "owner": "ana", "reason": "the load balancer's health probe",
            "expires": (T0 + timedelta(days=30)).isoformat(),
            "conditions": [{"field": "source.ip", "op": "cidr", "value": "10.0.0.0/24"},
                           {"field": "url.path", "op": "equals", "value": "/health"}]} | kw


def test_exception_lifecycle_is_audited_and_applied_by_detection(rt: Runtime, alerts: Alerts, api: TestClient,
                                                                 tokens: dict[str, str], clock: Clock) -> None:
    alerts.add()
    iid = grouping.run(rt).created[0]
    head = bearer(tokens["analyst_a"])
    r = api.post(f"/api/v1/incidents/{iid}/exceptions", headers=head, json=_spec())
    assert r.status_code == 201, r.text
    exc = r.json()
    assert exc["agency"] == "agency-a" and exc["incident_id"] == iid and exc["enabled"] and exc["hits"] == 0

    # Detection reads it through the suppressions store and suppresses only what the conditions cover.
    active = suppression_store.active(rt.client, rt.names, T0)
    assert [e["_id"] for e in active] == [exc["id"]]
    assert suppressing(active, "rule-a", EVENT_IN) == exc["id"]
    assert suppressing(active, "rule-a", EVENT_OUT) is None
    assert suppressing(active, "rule-b", EVENT_IN) is None
    assert covers(active[0], EVENT_IN, T0) and not covers(active[0], EVENT_OUT, T0)
    suppression_store.count_hits(rt.client, rt.names, {exc["id"]: 3}, T0.isoformat())
    assert api.get(f"/api/v1/exceptions/{exc['id']}", headers=head).json()["hits"] == 3

    listed = api.get("/api/v1/exceptions", headers=head, params={"active": "true"}).json()["items"]
    assert [e["id"] for e in listed] == [exc["id"]]
    assert api.get("/api/v1/exceptions", headers=bearer(tokens["analyst_b"])).json()["items"] == []
    assert api.get(f"/api/v1/exceptions/{exc['id']}", headers=bearer(tokens["analyst_b"])).status_code == 404
    assert api.post(f"/api/v1/exceptions/{exc['id']}/expire", headers=bearer(tokens["viewer_a"])).status_code == 403

    clock.advance(hours=1)
    r = api.post(f"/api/v1/exceptions/{exc['id']}/expire", headers=head)
    assert r.status_code == 200 and not r.json()["enabled"]
    assert suppression_store.active(rt.client, rt.names, clock.now) == []
    assert api.get("/api/v1/exceptions", headers=head, params={"active": "true"}).json()["items"] == []
    assert api.delete(f"/api/v1/exceptions/{exc['id']}", headers=head).status_code == 204
    assert api.get(f"/api/v1/exceptions/{exc['id']}", headers=head).status_code == 404

    rt.client.indices.refresh(index=rt.names.audit)
    trail = api.get("/api/v1/audit", headers=bearer(tokens["admin"]), params={"object_type": "exception"}).json()
    assert [e["action"] for e in trail["items"]] == ["exception.delete", "exception.expire", "exception.create"]
    assert trail["items"][-1]["actor"] == "ana"


def test_bad_exceptions_are_refused_with_a_reason(rt: Runtime, alerts: Alerts, api: TestClient,
                                                  tokens: dict[str, str]) -> None:
    alerts.add()
    iid = grouping.run(rt).created[0]
    head = bearer(tokens["analyst_a"])
    url = f"/api/v1/incidents/{iid}/exceptions"
    cases = [
        (_spec(rule_id="rule-zzz"), "rule_id"),
        (_spec(conditions=[{"field": "no.such.field", "op": "equals", "value": "x"}]), "no.such.field"),
        (_spec(conditions=[{"field": "source.ip", "op": "cidr", "value": "not-a-net"}]), "not-a-net"),
        (_spec(expires=(T0 - timedelta(days=1)).isoformat()), "expires"),
        (_spec(conditions=[]), "conditions"),
        (_spec(owner=None), "owner"),
        (_spec(colour="red"), "colour"),
    ]
    for body, reason in cases:
        r = api.post(url, headers=head, json=body)
        assert r.status_code == 422, (body, r.text)
        assert reason in r.text
    rt.client.indices.refresh(index=rt.names.exceptions)
    assert api.get("/api/v1/exceptions", headers=head).json()["items"] == []


EVENT_B = {"organization": {"id": "agency-b"}, "source": {"ip": "10.0.0.7"}, "url": {"path": "/health"}}


def test_an_exception_covers_its_incidents_agency_unless_an_all_agency_admin_makes_it_global(
        rt: Runtime, alerts: Alerts, api: TestClient, tokens: dict[str, str]) -> None:
    alerts.add()
    iid = grouping.run(rt).created[0]
    url = f"/api/v1/incidents/{iid}/exceptions"
    # an analyst of the agency: scoped to agency-a, whatever the same event looks like elsewhere
    local = api.post(url, headers=bearer(tokens["analyst_a"]), json=_spec()).json()
    assert local["agency"] == "agency-a"
    r = api.post(url, headers=bearer(tokens["analyst_a"]), json=_spec(scope="all"))
    assert r.status_code == 403 and "only an admin" in r.text
    assert api.post(url, headers=bearer(tokens["analyst_a"]), json=_spec(scope="province")).status_code == 422
    active = suppression_store.active(rt.client, rt.names, T0)
    assert suppressing(active, "rule-a", EVENT_IN) == local["id"]
    assert suppressing(active, "rule-a", EVENT_B) is None  # not agency-b's
    # an admin of every agency may make it global: it then covers agency-b's events too
    r = api.post(url, headers=bearer(tokens["admin"]), json=_spec(scope="all"))
    assert r.status_code == 201, r.text
    everywhere = r.json()
    assert everywhere["agency"] == "*"
    active = suppression_store.active(rt.client, rt.names, T0)
    assert suppressing(active, "rule-a", EVENT_B) == everywhere["id"]
    # agency-b's analyst sees the global one, never agency-a's
    seen = api.get("/api/v1/exceptions", headers=bearer(tokens["analyst_b"])).json()["items"]
    assert [e["id"] for e in seen] == [everywhere["id"]]
