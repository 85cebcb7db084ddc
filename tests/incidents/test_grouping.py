from __future__ import annotations

import time
from datetime import timedelta

from soc.incidents import grouping
from soc.runtime import GroupingPolicy, Runtime
from tests.incidents.conftest import T0, Alerts


def _incidents(rt: Runtime) -> list[dict]:
    rt.incidents.refresh()
    resp = rt.client.search(index=rt.names.incidents, body={"size": 100, "sort": [{"first_seen": "asc"}]})
    return [h["_source"] for h in resp["hits"]["hits"]]


def test_alerts_of_one_key_within_the_window_share_an_incident(rt: Runtime, alerts: Alerts) -> None:
    alerts.add(at=T0)
    alerts.add(at=T0 + timedelta(minutes=40), severity="high")
    alerts.add(at=T0 + timedelta(minutes=70), severity="low")  # 30 min after the previous one
    result = grouping.run(rt)
    assert result.alerts == 3
    [inc] = _incidents(rt)
    assert inc["alert_count"] == 3
    assert inc["severity"] == "high"  # the highest of its alerts
    assert inc["first_seen"].startswith("2025-03-03T08:00") and inc["last_seen"].startswith("2025-03-03T09:10")
    assert "T1190" in inc["tags"] and "tactic:initial-access" in inc["tags"]
    assert "source.ip=10.0.0.1" in inc["entities"]
    assert inc["organization"]["id"] == "agency-a" and inc["rule_ids"] == ["rule-a"]
    claimed = rt.client.search(index=rt.names.alerts, body={"query": {"term": {"incident_id": inc["id"]}}},
                               track_total_hits=True)
    assert claimed["hits"]["total"]["value"] == 3


def test_a_gap_longer_than_the_window_opens_a_new_incident(rt: Runtime, alerts: Alerts) -> None:
    alerts.add(at=T0)
    alerts.add(at=T0 + timedelta(minutes=61, seconds=1))
    grouping.run(rt)
    assert [i["alert_count"] for i in _incidents(rt)] == [1, 1]


def _five(alerts: Alerts) -> None:
    alerts.add()
    alerts.add(rule="rule-b")
    alerts.add(agency="agency-b")
    alerts.add(ip="10.0.0.2")
    alerts.add(key="user.name=root", ip="10.0.0.1")


def test_rule_centred_grouping_splits_by_rule_agency_and_entity(rt: Runtime, alerts: Alerts) -> None:
    rt.grouping = GroupingPolicy(default="rule")
    _five(alerts)
    grouping.run(rt)
    assert len(_incidents(rt)) == 5


def test_attacker_centred_grouping_splits_by_agency_and_attacker_only(rt: Runtime, alerts: Alerts) -> None:
    _five(alerts)
    grouping.run(rt)
    by_size = sorted(_incidents(rt), key=lambda i: -i["alert_count"])
    assert [i["alert_count"] for i in by_size] == [3, 1, 1]
    assert by_size[0]["rule_ids"] == ["rule-a", "rule-b"]
    assert by_size[0]["keys"] == ["@attacker|agency-a|source.ip=10.0.0.1"]


def test_a_per_rule_window_overrides_the_default(rt: Runtime, alerts: Alerts) -> None:
    rt.grouping = GroupingPolicy(per_rule={"rule-a": timedelta(hours=6)})
    alerts.add(at=T0)
    alerts.add(at=T0 + timedelta(hours=5))
    alerts.add(rule="rule-b", ip="10.0.0.2", at=T0)
    alerts.add(rule="rule-b", ip="10.0.0.2", at=T0 + timedelta(hours=5))
    grouping.run(rt)
    counts = sorted((i["rule_ids"][0], i["alert_count"]) for i in _incidents(rt))
    assert counts == [("rule-a", 2), ("rule-b", 1), ("rule-b", 1)]


def test_later_runs_join_the_open_incident_and_escalate(rt: Runtime, alerts: Alerts) -> None:
    alerts.add(at=T0)
    grouping.run(rt)
    alerts.add(at=T0 + timedelta(minutes=10), severity="critical")
    again = grouping.run(rt)
    assert again.created == [] and len(again.updated) == 1
    [inc] = _incidents(rt)
    assert inc["alert_count"] == 2 and inc["severity"] == "critical"
    assert grouping.run(rt).alerts == 0  # nothing left to group, nothing counted twice
    assert _incidents(rt)[0]["alert_count"] == 2


def test_resolved_incidents_take_no_new_alerts(rt: Runtime, alerts: Alerts) -> None:
    alerts.add(at=T0)
    grouping.run(rt)
    [inc] = _incidents(rt)
    stored = rt.incidents.get(inc["id"])
    rt.incidents.replace(stored.doc | {"status": "resolved", "resolution": "benign"}, stored.version, refresh=True)
    alerts.add(at=T0 + timedelta(minutes=5))
    grouping.run(rt)
    assert sorted(i["alert_count"] for i in _incidents(rt)) == [1, 1]


def test_grouping_runs_take_turns_under_a_lease(rt: Runtime, alerts: Alerts) -> None:
    alerts.add(at=T0)
    held = grouping._take_lease(rt, "other-process", lease_s=60)
    assert held is not None
    # Another process holds the lease: this one leaves the alerts to it (no second incident for a key
    # whose alerts the two processes would each claim part of).
    assert grouping.run_exclusive(rt, "this-process") is None
    assert _incidents(rt) == []
    assert grouping._take_lease(rt, "third-process", lease_s=60) is None
    # The holder runs and gives the lease back; the next run of anyone finds nothing left to do.
    done = grouping.run_exclusive(rt, "other-process")
    assert done is not None and done.alerts == 1
    alerts.add(at=T0 + timedelta(minutes=5))
    later = grouping.run_exclusive(rt, "this-process")
    assert later is not None and later.alerts == 1 and later.created == []
    assert [i["alert_count"] for i in _incidents(rt)] == [2]


def test_an_expired_grouping_lease_is_taken_over(rt: Runtime, alerts: Alerts) -> None:
    alerts.add(at=T0)
    assert grouping._take_lease(rt, "stopped-process", lease_s=0.05) is not None
    time.sleep(0.3)  # the holder stopped without giving the lease back; it expires
    result = grouping.run_exclusive(rt, "this-process")
    assert result is not None and result.alerts == 1


def test_a_run_opening_many_incidents_counts_and_audits_each(rt: Runtime, alerts: Alerts) -> None:
    """The new incidents of a batch are opened in one request, their counts and outcomes read in one
    search: each still gets its own alert count, and one creation entry in the audit trail."""
    for n in range(30):
        for k in range(n % 3 + 1):
            alerts.add(agency=f"agency-{n % 4}", ip=f"10.1.0.{n}", at=T0 + timedelta(minutes=k), refresh=False)
    rt.client.indices.refresh(index=rt.names.alerts)
    result = grouping.run(rt)
    assert len(result.created) == 30 and not result.updated and result.alerts == len(alerts.written)
    rt.client.indices.refresh(index=f"{rt.names.incidents},{rt.names.audit}")
    incidents = {h["_id"]: h["_source"] for h in rt.client.search(
        index=rt.names.incidents, body={"size": 100, "query": {"match_all": {}}})["hits"]["hits"]}
    assert sorted(incidents) == sorted(result.created)
    for iid, doc in incidents.items():
        n = int(doc["title"].rsplit("10.1.0.", 1)[1].rstrip(")"))  # the address the incident is about
        assert doc["alert_count"] == rt.alerts.count([iid]) == n % 3 + 1
    opened = rt.client.search(index=rt.names.audit,
                              body={"size": 100, "query": {"term": {"action": "incident.create"}}})
    assert sorted(h["_source"]["object_id"] for h in opened["hits"]["hits"]) == sorted(incidents)


def test_tallies_equal_each_incident_s_own_count_and_outcomes(rt: Runtime) -> None:
    results = ["succeeded", "failed", "possible", None]
    body: list[dict[str, object]] = []
    for n in range(40):
        doc: dict[str, object] = {"incident_id": f"inc-{n % 7}", "first_seen": T0.isoformat(), "kind": "match"}
        if results[n % 4]:
            doc["outcome"] = {"result": results[n % 4], "reason": f"reason {n % 3}"}
        body += [{"index": {"_index": rt.names.alerts, "_id": f"tally-{n}"}}, doc]
    rt.client.bulk(body=body, refresh=True)
    ids = [f"inc-{i}" for i in range(7)] + ["inc-none"]
    tallies = rt.alerts.tallies(ids)
    assert "inc-none" not in tallies
    for iid in ids[:-1]:
        count, counts, reasons = tallies[iid]
        assert count == rt.alerts.count([iid])
        assert (counts, reasons) == rt.alerts.outcomes([iid])
    assert sum(t[0] for t in tallies.values()) == 40
