"""Grouping is crash-safe: a run stopped after any step is finished by the next run, with exact counts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from soc.incidents import grouping
from soc.runtime import Runtime
from tests.incidents.conftest import T0, Alerts


class Crash(Exception):
    pass


Arm = Callable[..., None]


@pytest.fixture
def crash_at(monkeypatch: pytest.MonkeyPatch) -> Arm:
    """Arms grouping's step seam: the next run stops after the ``nth`` step called ``name`` (once)."""

    def arm(name: str, nth: int = 1) -> None:
        seen = {"n": 0}

        def hook(step: str) -> None:
            if step == name:
                seen["n"] += 1
                if seen["n"] == nth:
                    raise Crash(f"stopped after {name} #{nth}")

        monkeypatch.setattr(grouping, "step_hook", hook)

    return arm


def _incidents(rt: Runtime) -> dict[str, dict]:
    rt.incidents.refresh()
    resp = rt.client.search(index=rt.names.incidents, body={"size": 100})
    return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}


def _alerts(rt: Runtime) -> dict[str, dict]:
    rt.client.indices.refresh(index=rt.names.alerts)
    resp = rt.client.search(index=rt.names.alerts, body={"size": 1000})
    return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}


def _creations(rt: Runtime) -> list[str]:
    rt.client.indices.refresh(index=rt.names.audit)
    resp = rt.client.search(index=rt.names.audit, body={"size": 1000, "query": {"term": {"action": "incident.create"}}})
    return sorted(h["_source"]["object_id"] for h in resp["hits"]["hits"])


def assert_exact(rt: Runtime, expected_alerts: int) -> dict[str, dict]:
    """Every alert belongs to one existing incident, is confirmed, and is counted exactly once."""
    incidents, alerts = _incidents(rt), _alerts(rt)
    assert len(alerts) == expected_alerts
    per_incident: dict[str, int] = {}
    for aid, alert in alerts.items():
        assert alert.get("incident_id") in incidents, f"alert {aid} lost"
        assert alert.get("grouped") is True, f"alert {aid} left half-done"
        per_incident[alert["incident_id"]] = per_incident.get(alert["incident_id"], 0) + 1
    assert {i: doc["alert_count"] for i, doc in incidents.items()} == per_incident
    assert _creations(rt) == sorted(incidents)  # each incident opened (and audited) once
    return incidents


def _two_keys(alerts: Alerts) -> None:
    alerts.add(at=T0, refresh=False)
    alerts.add(at=T0 + timedelta(minutes=5), severity="critical", refresh=False)
    alerts.add(ip="10.0.0.2", at=T0, refresh=False)
    alerts.add(ip="10.0.0.2", at=T0 + timedelta(minutes=3), refresh=False)
    alerts.add(ip="10.0.0.2", at=T0 + timedelta(minutes=4), refresh=True)


@pytest.mark.parametrize(("step", "nth"), [("claimed", 1), ("written", 1), ("written", 2), ("confirmed", 1)])
def test_a_run_stopped_after_any_step_is_finished_by_the_next(rt: Runtime, alerts: Alerts, crash_at: Arm,
                                                              step: str, nth: int) -> None:
    _two_keys(alerts)
    crash_at(step, nth)
    with pytest.raises(Crash):
        grouping.run(rt)
    half = _alerts(rt)
    assert all(a.get("incident_id") for a in half.values())  # claimed: no longer "new"...
    if step != "confirmed":
        assert any(a.get("grouped") is False for a in half.values())  # ...but visibly unfinished
    again = grouping.run(rt)
    assert again.alerts == (0 if step == "confirmed" else 5)  # the unfinished alerts were taken up again
    incidents = assert_exact(rt, 5)
    assert sorted(i["alert_count"] for i in incidents.values()) == [2, 3]
    assert {i["severity"] for i in incidents.values()} == {"critical", "medium"}
    assert grouping.run(rt).alerts == 0
    assert_exact(rt, 5)


@pytest.mark.parametrize("step", ["claimed", "written"])
def test_a_stopped_run_that_joined_an_existing_incident_is_repaired(rt: Runtime, alerts: Alerts, crash_at: Arm,
                                                                    step: str) -> None:
    alerts.add(at=T0)
    [iid] = grouping.run(rt).created
    alerts.add(at=T0 + timedelta(minutes=10), refresh=False)
    alerts.add(at=T0 + timedelta(minutes=20), severity="high")
    crash_at(step)
    with pytest.raises(Crash):
        grouping.run(rt)
    assert grouping.run(rt).updated == [iid]
    incidents = assert_exact(rt, 3)
    assert incidents[iid]["alert_count"] == 3 and incidents[iid]["severity"] == "high"
    assert incidents[iid]["last_seen"].startswith("2025-03-03T08:20")


def test_repeated_crashes_then_a_clean_run(rt: Runtime, alerts: Alerts, crash_at: Arm) -> None:
    _two_keys(alerts)
    for step in ("claimed", "written", "claimed"):
        crash_at(step)
        with pytest.raises(Crash):
            grouping.run(rt)
    grouping.run(rt)
    assert sorted(i["alert_count"] for i in assert_exact(rt, 5).values()) == [2, 3]


def test_concurrent_runs_count_every_alert_once(rt: Runtime, alerts: Alerts) -> None:
    for n in range(24):
        alerts.add(ip=f"10.0.0.{n % 3}", at=T0 + timedelta(minutes=n), refresh=n == 23)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            grouping.run(rt, batch=4)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    incidents = assert_exact(rt, 24)
    assert sum(i["alert_count"] for i in incidents.values()) == 24


def test_a_claim_cut_off_half_way_keeps_one_incident_per_key(rt: Runtime, alerts: Alerts) -> None:
    """A bulk claim that stopped after some items: the rest join the incident the first ones name."""
    _two_keys(alerts)
    pending = rt.alerts.pending(100)
    plans = grouping.plan(rt, pending)
    first = [(p.alerts[0], p.incident_id) for p in plans]  # only each incident's first alert got claimed
    assert rt.alerts.claim(first, refresh=True) == {a.id for a, _ in first}
    assert _incidents(rt) == {}
    grouping.run(rt)
    incidents = assert_exact(rt, 5)
    assert sorted(incidents) == sorted(p.incident_id for p in plans)
    assert sorted(i["alert_count"] for i in incidents.values()) == [2, 3]
