"""Evidence: an incident's alerts with their matched raw events, and context events around them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from soc.incidents import grouping
from soc.runtime import Runtime
from tests.incidents.conftest import T0, Alerts, bearer


def _event(rt: Runtime, minutes: float, ip: str, agency: str = "agency-a", path: str = "/") -> dict[str, str]:
    at = T0 + timedelta(minutes=minutes)
    doc: dict[str, Any] = {"@timestamp": at.isoformat(), "event": {"dataset": "nginx.access",
                                                                  "original": f"{ip} GET {path}"},
                           "organization": {"id": agency}, "source": {"ip": ip}, "url": {"path": path}}
    resp = rt.client.index(index=rt.names.stream("logs-web", agency), body=doc, op_type="create", refresh=True)
    return {"index": resp["_index"], "id": resp["_id"]}


def test_alerts_carry_their_events_and_context_is_scoped_and_paged(rt: Runtime, alerts: Alerts, api: TestClient,
                                                                   tokens: dict[str, str]) -> None:
    matched = [_event(rt, 0, "10.0.0.1", path="/etc/passwd"), _event(rt, 1, "10.0.0.1", path="/.env")]
    for m in range(2, 8):
        _event(rt, m * 5, "10.0.0.1")  # context: same entity, up to 35 minutes in
    _event(rt, 120, "10.0.0.1")  # too late
    _event(rt, 3, "10.0.0.2")  # another entity
    _event(rt, 3, "10.0.0.1", agency="agency-b")  # same address, another agency
    foreign = _event(rt, 1, "10.0.0.1", agency="agency-b")
    alerts.add(at=T0, events=[matched[0]])
    alerts.add(at=T0 + timedelta(minutes=1), events=[matched[1], foreign,
                                                     {"index": rt.names.users, "id": "anything"}])
    iid = grouping.run(rt).created[0]
    head = bearer(tokens["analyst_a"])

    items = api.get(f"/api/v1/incidents/{iid}/alerts", headers=head).json()["items"]
    assert len(items) == 2
    shown = sorted(e["event"]["original"] for i in items for e in i["events"])
    assert shown == ["10.0.0.1 GET /.env", "10.0.0.1 GET /etc/passwd"]  # nothing of agency-b, no other index

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"before_minutes": 10, "after_minutes": 40, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.get(f"/api/v1/incidents/{iid}/context", headers=head, params=params).json()
        seen += [e["@timestamp"] for e in page["items"]]
        assert all(e["organization"]["id"] == "agency-a" and e["source"]["ip"] == "10.0.0.1" for e in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 8 and seen == sorted(seen)  # 2 matched + 6 context, oldest first
    r = api.get(f"/api/v1/incidents/{iid}/context", headers=head, params={"before_minutes": 99999})
    assert r.status_code == 422


def test_usual_response_sizes_of_several_agencies_come_each_from_its_own_stream(rt: Runtime) -> None:
    from soc.incidents.outcome_store import OutcomeStore

    ops: list[dict[str, Any]] = []
    for agency, sizes in (("agency-a", [100, 200, 300]), ("agency-b", [5000, 7000, 9000, 11000])):
        for n, size in enumerate(sizes):
            doc = {"@timestamp": (T0 + timedelta(minutes=n)).isoformat(), "organization": {"id": agency},
                   "event": {"dataset": "nginx.access", "original": f"GET /p {size}"}, "url": {"path": "/p"},
                   "http": {"response": {"status_code": 200, "body": {"bytes": size}}}}
            ops += [{"create": {"_index": rt.names.stream("logs-web", agency)}}, doc]
    ops += [{"create": {"_index": rt.names.stream("logs-web", "agency-c")}},  # two answers: too few to judge
            {"@timestamp": T0.isoformat(), "organization": {"id": "agency-c"}, "url": {"path": "/p"},
             "http": {"response": {"status_code": 200, "body": {"bytes": 1}}}}]
    rt.client.bulk(body=ops, refresh=True)
    span = (T0.isoformat(), (T0 + timedelta(hours=1)).isoformat())
    got = OutcomeStore(rt.client, rt.names).usual_sizes_many(
        {a: (["/p", "/q"], *span) for a in ("agency-a", "agency-b", "agency-c", "agency-none")})
    assert got == {"agency-a": {"/p": 200.0}, "agency-b": {"/p": 8000.0}, "agency-c": {}, "agency-none": {}}
