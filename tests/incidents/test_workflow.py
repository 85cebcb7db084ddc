"""The triage workflow through the HTTP API, with the audit trail it leaves."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from soc.audit import store as audit_store
from soc.incidents import grouping
from soc.runtime import Runtime
from tests.incidents.conftest import Alerts, Clock, bearer


def _one_incident(rt: Runtime, alerts: Alerts, **kw: Any) -> str:
    alerts.add(**kw)
    return grouping.run(rt).created[0]


def _patch(api: TestClient, token: str, iid: str, **changes: Any) -> Any:
    current = api.get(f"/api/v1/incidents/{iid}", headers=bearer(token)).json()
    return api.patch(f"/api/v1/incidents/{iid}", headers=bearer(token), json={"version": current["version"], **changes})


def test_full_workflow_with_reopen_comments_and_timeline(rt: Runtime, alerts: Alerts, api: TestClient,
                                                         tokens: dict[str, str], clock: Clock) -> None:
    iid = _one_incident(rt, alerts)
    tok = tokens["analyst_a"]
    clock.advance(minutes=5)
    r = _patch(api, tok, iid, status="acknowledged", assignee="ana")
    assert r.status_code == 200, r.text
    assert r.json()["tta_seconds"] == 300 and r.json()["assignee"] == "ana"
    assert _patch(api, tok, iid, status="in_progress").status_code == 200
    r = api.post(f"/api/v1/incidents/{iid}/comments", headers=bearer(tok), json={"text": "blocked at the edge"})
    assert r.status_code == 201 and r.json()["comments"][0]["author"] == "ana"
    clock.advance(minutes=55)
    r = _patch(api, tok, iid, status="resolved", resolution="true_positive")
    assert r.json()["status"] == "resolved" and r.json()["ttr_seconds"] == 3600
    assert _patch(api, tok, iid, status="closed").json()["closed_at"]
    r = _patch(api, tok, iid, status="in_progress")  # reopen
    assert r.status_code == 200 and r.json()["resolution"] is None and r.json()["resolved_at"] is None
    statuses = [h["status"] for h in r.json()["history"]]
    assert statuses == ["new", "acknowledged", "in_progress", "resolved", "closed", "in_progress"]
    rt.client.indices.refresh(index=rt.names.audit)
    timeline = api.get(f"/api/v1/incidents/{iid}/timeline", headers=bearer(tok)).json()["items"]
    actions = [t["action"] for t in timeline]
    assert actions == ["incident.create"] + ["incident.update"] * 2 + ["incident.comment"] + \
        ["incident.update"] * 3
    ack = timeline[1]
    assert ack["actor"] == "ana" and ack["details"]["before"]["status"] == "new"
    assert ack["details"]["after"] == {"status": "acknowledged", "assignee": "ana"}


def test_illegal_and_invalid_changes_are_refused_and_change_nothing(rt: Runtime, alerts: Alerts,
                                                                    api: TestClient, tokens: dict[str, str]) -> None:
    iid = _one_incident(rt, alerts)
    tok = tokens["analyst_a"]
    r = _patch(api, tok, iid, status="resolved")
    assert r.status_code == 422 and "resolution" in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
    r = _patch(api, tok, iid, status="resolved", resolution="benign")
    assert _patch(api, tok, iid, status="closed").status_code == 200
    r = _patch(api, tok, iid, status="acknowledged")
    assert r.status_code == 409 and "closed to acknowledged" in r.json()["detail"]
    r = _patch(api, tok, iid, assignee="x", colour="red")
    assert r.status_code == 422 and any(e["field"] == "body.colour" for e in r.json()["errors"])
    r = _patch(api, tok, iid, status="done")
    assert r.status_code == 422 and any(e["field"] == "body.status" for e in r.json()["errors"])
    r = api.patch(f"/api/v1/incidents/{iid}", headers=bearer(tok), content=b"{", )
    assert r.status_code == 422
    r = api.post(f"/api/v1/incidents/{iid}/comments", headers=bearer(tok), json={"text": "x" * 300_000})
    assert r.status_code == 413
    assert api.get("/api/v1/incidents/nope", headers=bearer(tok)).status_code == 404
    doc = api.get(f"/api/v1/incidents/{iid}", headers=bearer(tok)).json()
    assert doc["status"] == "closed" and doc["assignee"] is None and doc["comments"] == []


def test_bulk_actions_apply_to_all_or_none(rt: Runtime, alerts: Alerts, api: TestClient,
                                           tokens: dict[str, str]) -> None:
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        alerts.add(ip=ip)
    ids = grouping.run(rt).created
    tok = tokens["analyst_a"]
    r = api.post("/api/v1/incidents/bulk", headers=bearer(tok), json={"ids": ids, "action": "acknowledge"})
    assert r.status_code == 200 and all(i["ok"] for i in r.json()["items"])
    r = api.post("/api/v1/incidents/bulk", headers=bearer(tok),
                 json={"ids": ids, "action": "assign", "assignee": "ana"})
    assert r.status_code == 200
    # One illegal item refuses the whole request.
    _patch(api, tok, ids[0], status="resolved", resolution="benign")
    r = api.post("/api/v1/incidents/bulk", headers=bearer(tok), json={"ids": ids, "action": "acknowledge"})
    assert r.status_code == 409 or r.status_code == 422
    assert ids[0] in r.json()["detail"]
    r = api.post("/api/v1/incidents/bulk", headers=bearer(tok),
                 json={"ids": ids[1:], "action": "resolve", "resolution": "false_positive"})
    assert r.status_code == 200
    rt.incidents.refresh()
    page = api.get("/api/v1/incidents", headers=bearer(tok), params={"status": "resolved", "assignee": "ana"}).json()
    assert page["total"] == 3


def test_listing_filters_sorts_and_pages_on_the_server(rt: Runtime, alerts: Alerts, api: TestClient,
                                                       tokens: dict[str, str]) -> None:
    for i in range(7):
        alerts.add(ip=f"10.0.1.{i}", severity="high" if i % 2 else "low", refresh=False)
    alerts.add(agency="agency-b", ip="10.9.9.9")
    grouping.run(rt)
    rt.incidents.refresh()
    tok = tokens["analyst_a"]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, "sort": "-severity"}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/api/v1/incidents", headers=bearer(tok), params=params).json()
        seen += [i["id"] for i in page["items"]]
        assert page["total"] == 7
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7  # agency-b's incident is not among them
    high = api.get("/api/v1/incidents", headers=bearer(tok), params={"severity": "high"}).json()
    assert high["total"] == 3 and {i["severity"] for i in high["items"]} == {"high"}
    text = api.get("/api/v1/incidents", headers=bearer(tok), params={"q": "10.0.1.4"}).json()
    assert text["total"] >= 1 and "source.ip=10.0.1.4" in text["items"][0]["entities"]
    bad = api.get("/api/v1/incidents", headers=bearer(tok), params={"cursor": "garbage!"})
    assert bad.status_code == 422 and "cursor" in bad.json()["detail"]

    def forged(sort: str, values: list[Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps([sort, values]).encode()).decode().rstrip("=")

    # well-formed cursors whose values do not fit the sort are refused before reaching OpenSearch
    for cursor in (forged("-severity", ["high", 1, "x"]), forged("-severity", [3, 1]),
                   forged("-severity", [3, 1, 7]), forged("-last_seen", [1, "a"])):
        r = api.get("/api/v1/incidents", headers=bearer(tok), params={"sort": "-severity", "cursor": cursor})
        assert r.status_code == 422 and "cursor" in r.json()["detail"], cursor
    admin = bearer(tokens["admin"])
    r = api.get("/api/v1/audit", headers=admin, params={"cursor": forged("audit", [1, "not-a-sequence-number"])})
    assert r.status_code == 422 and "cursor" in r.json()["detail"]
    same_moment = datetime.now(UTC)  # entries with one timestamp: the sequence number orders them
    audit_store.append(rt.client, rt.names, [
        audit_store.entry(same_moment, "root", "test.mark", "incident", f"inc-{n}", "agency-a", f"mark {n}")
        for n in range(3)], refresh=True)
    first = api.get("/api/v1/audit", headers=admin, params={"limit": 1}).json()
    assert first["next_cursor"]  # a real cursor still pages on
    rest = api.get("/api/v1/audit", headers=admin, params={"limit": 1, "cursor": first["next_cursor"]})
    assert rest.status_code == 200 and not {e["id"] for e in rest.json()["items"]} & {
        e["id"] for e in first["items"]}
    marks, cursor = [], None
    while True:  # newest first; entries of one moment in the reverse of the order they were written
        params = {"limit": 1, "action": "test.mark"} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/audit", headers=admin, params=params).json()
        marks += [e["summary"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert marks == ["mark 2", "mark 1", "mark 0"]
