"""The incident endpoints send JSON built without the response models (less CPU per request);
it must be exactly what the models give, and still validate against the OpenAPI schemas."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from soc.incidents import grouping, model, sla
from soc.incidents.schemas import IncidentOut, IncidentPage, incident_dict
from soc.incidents.store import Version
from soc.runtime import Runtime
from tests.incidents.conftest import T0, Alerts, Clock, bearer


def _docs() -> list[dict[str, Any]]:
    alert = {"rule": {"id": "r1", "name": "Rule 1"}, "severity": "high", "organization": {"id": "so-tttt"},
             "group_key": "source.ip=10.0.0.1", "first_seen": T0.isoformat(), "last_seen": T0.isoformat()}
    new = model.new_incident("inc-1", model.group_key(alert), alert, T0)
    model.fold_alert(new, alert | {"rule": {"id": "r2", "name": "Rule 2", "tags": ["attack.t1190"]}})
    sla.set_dues(new, sla.SlaPolicy())
    acked = model.apply_patch(new, {"status": "acknowledged", "assignee": "ana"}, "ana", T0 + timedelta(minutes=5))
    commented = acked | {"comments": [{"id": "c1", "at": T0.isoformat(), "author": "ana",
                                       "text": "chặn ở biên \u2028 \"quoted\""}]}
    resolved = model.apply_patch(commented, {"status": "resolved", "resolution": "benign"}, "ana",
                                 T0 + timedelta(hours=1))
    sla.evaluate(resolved, T0 + timedelta(days=2))
    merged = new | {"merged_into": "inc-2", "merge_state": {"step": "done"}, "merged_from": ["inc-0"]}
    sparse = {k: v for k, v in new.items() if k not in ("resolution", "assignee", "merged_from", "merged_into",
                                                         "acknowledged_at", "tta_seconds", "history", "comments")}
    return [new, acked, commented, resolved, merged, sparse | {"sla": {}}, sparse | {"sla": None}]


def test_incident_dict_is_what_the_model_dumps() -> None:
    for doc in _docs():
        for full in (True, False):
            version = Version(12, 3)
            expected = IncidentOut.of(doc, version, full=full).model_dump(mode="json")
            got = incident_dict(doc, version, full=full)
            assert got == expected
            assert list(got) == list(expected)  # same key order as the schema
            assert IncidentOut.model_validate(got).model_dump(mode="json") == expected


def test_api_answers_validate_and_equal_the_stored_incident(rt: Runtime, alerts: Alerts, api: TestClient,
                                                            tokens: dict[str, str], clock: Clock) -> None:
    alerts.add(ip="10.0.0.1")
    alerts.add(ip="10.0.0.2")
    iid = grouping.run(rt).created[0]
    head = bearer(tokens["analyst_a"])
    current = api.get(f"/api/v1/incidents/{iid}", headers=head)
    assert current.status_code == 200 and current.headers["content-type"] == "application/json"
    clock.advance(minutes=5)
    r = api.patch(f"/api/v1/incidents/{iid}", headers=head,
                  json={"version": current.json()["version"], "status": "acknowledged", "assignee": "ana"})
    assert r.status_code == 200, r.text
    stored = rt.incidents.get(iid)
    assert r.json() == IncidentOut.of(stored.doc, stored.version).model_dump(mode="json")
    r = api.post(f"/api/v1/incidents/{iid}/comments", headers=head, json={"text": "xin chào"})
    assert r.status_code == 201 and r.json()["comments"][0]["text"] == "xin chào"
    rt.incidents.refresh()
    page = api.get("/api/v1/incidents", headers=head, params={"status": ["new", "acknowledged"]})
    assert page.status_code == 200
    body = IncidentPage.model_validate(page.json())
    assert body.total == 2 and {i.id for i in body.items} >= {iid}
    for item in page.json()["items"]:
        stored = rt.incidents.get(item["id"])
        assert item == IncidentOut.of(stored.doc, stored.version, full=False).model_dump(mode="json")
    r = api.patch(f"/api/v1/incidents/{iid}", headers=head, json={"version": "0-1", "status": "in_progress"})
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
