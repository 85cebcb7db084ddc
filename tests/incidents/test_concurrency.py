"""Optimistic concurrency: two writers with the same version, and writers racing the grouping job."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from soc.incidents import grouping
from soc.incidents.service import IncidentService
from soc.incidents.store import Stale
from soc.runtime import Runtime
from tests.incidents.conftest import T0, Alerts, bearer


def test_two_writers_with_the_same_version_one_wins_one_gets_409(rt: Runtime, alerts: Alerts, api: TestClient,
                                                                 tokens: dict[str, str]) -> None:
    alerts.add()
    iid = grouping.run(rt).created[0]
    head = bearer(tokens["analyst_a"])
    version = api.get(f"/api/v1/incidents/{iid}", headers=head).json()["version"]
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def write(who: str) -> None:
        barrier.wait()
        results[who] = api.patch(f"/api/v1/incidents/{iid}", headers=head,
                                 json={"version": version, "assignee": who})

    threads = [threading.Thread(target=write, args=(n,)) for n in ("ana", "bea")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409]
    loser = next(r for r in results.values() if r.status_code == 409).json()
    winner = next(n for n, r in results.items() if r.status_code == 200)
    assert loser["current"]["incident"]["assignee"] == winner  # the 409 carries the current state
    assert api.get(f"/api/v1/incidents/{iid}", headers=head).json()["assignee"] == winner


def test_comments_and_grouping_racing_lose_nothing(rt: Runtime, alerts: Alerts, tokens: dict[str, str]) -> None:
    alerts.add(at=T0)
    iid = grouping.run(rt).created[0]
    for i in range(1, 21):
        alerts.add(at=T0 + timedelta(seconds=i), refresh=False)
    rt.client.indices.refresh(index=rt.names.alerts)
    from soc.auth import Principal

    ana = Principal("ana", "analyst", ("agency-a",))
    service = IncidentService(rt)
    errors: list[BaseException] = []

    def comment(n: int) -> None:
        try:
            for j in range(5):
                service.comment(ana, iid, f"note {n}-{j}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    def group() -> None:
        try:
            grouping.run(rt, batch=3)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=comment, args=(n,)) for n in range(3)] + [threading.Thread(target=group)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    doc = rt.incidents.get(iid).doc
    assert len(doc["comments"]) == 15
    assert doc["alert_count"] == 21


def test_a_stale_store_write_is_refused(rt: Runtime, alerts: Alerts) -> None:
    alerts.add()
    iid = grouping.run(rt).created[0]
    first = rt.incidents.get(iid)
    rt.incidents.replace(first.doc | {"assignee": "x"}, first.version)
    try:
        rt.incidents.replace(first.doc | {"assignee": "y"}, first.version)
    except Stale:
        pass
    else:
        raise AssertionError("a write with an old version was accepted")
    assert rt.incidents.get(iid).doc["assignee"] == "x"


def test_a_batched_change_leaves_an_incident_changed_meanwhile_to_be_redone(rt: Runtime, alerts: Alerts) -> None:
    """``change_many`` writes each incident with the version it read: one an analyst changed between
    the read and the write is not overwritten but handed back, and ``mutate`` then applies the change
    on top of the analyst's."""
    alerts.add(ip="10.0.0.1")
    alerts.add(ip="10.0.0.2")
    a, b = sorted(grouping.run(rt).created)
    service = IncidentService(rt)

    def meddled(doc: dict[str, Any]) -> dict[str, Any]:  # an analyst writes while the batch is planned
        current = rt.incidents.get(doc["id"])
        rt.incidents.replace({**current.doc, "assignee": "analyst-1"}, current.version)
        return plain(doc)

    def plain(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "tags": [*doc["tags"], "batched"]}

    redo = service.change_many(grouping.GROUPER, {a: meddled, b: plain}, "incident.update", {})
    assert redo == {a}
    assert "batched" in rt.incidents.get(b).doc["tags"]
    assert rt.incidents.get(a).doc["assignee"] == "analyst-1" and "batched" not in rt.incidents.get(a).doc["tags"]
    service.mutate(grouping.GROUPER, a, plain, "incident.update", shown=False)
    done = rt.incidents.get(a).doc
    assert done["assignee"] == "analyst-1" and "batched" in done["tags"]
    assert service.change_many(grouping.GROUPER, {"no-such-incident": plain}, "incident.update", {}) == {
        "no-such-incident"}
