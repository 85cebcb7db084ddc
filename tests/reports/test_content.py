"""The known two-week dataset gives exactly the expected figures in the JSON content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from soc import search
from soc.config import Settings
from soc.errors import Invalid
from soc.reports import content, period
from soc.reports.settings import ReportSettings
from tests.reports import conftest
from tests.reports.conftest import AFTER, ATTACKER_SSH, ATTACKER_WEB, FORMULA_USER, XSS_PATH, A, B, C

TZ = "Asia/Ho_Chi_Minh"


def d(cur: float | None, prev: float | None, delta: float | None, pct: float | None) -> dict[str, object]:
    return {"current": cur, "previous": prev, "delta": delta, "change_pct": pct}


def test_week_bounds_are_local_mondays() -> None:
    w = period.parse("2025-W10", TZ)
    assert w.start == datetime(2025, 3, 2, 17, tzinfo=UTC)
    assert w.end == datetime(2025, 3, 9, 17, tzinfo=UTC)
    assert w.previous().label == "2025-W09" and w.next().label == "2025-W11"
    assert period.parse("2021-W01", TZ).previous().label == "2020-W53"
    assert period.last_complete(datetime(2025, 3, 10, 0, 30, tzinfo=UTC), TZ).label == "2025-W10"
    # Sunday 23:30 UTC is already Monday in Hanoi: the complete week is the one that just ended.
    assert period.last_complete(datetime(2025, 3, 16, 17, 30, tzinfo=UTC), TZ).label == "2025-W11"
    for bad in ("2025-10", "2025-W54", "2019-W53", "W10", "2025-W1"):
        with pytest.raises(Invalid):
            period.parse(bad, TZ)


def test_province_figures(dataset: Settings) -> None:
    client, names = search.client(dataset), search.names(dataset)
    c = content.build(client, names, period.parse("2025-W10", TZ), None, "vi", ReportSettings(), AFTER)

    assert c["report"]["scope"] == "province" and c["report"]["agency"] is None
    ev = c["events"]
    assert ev["total"] == d(22, 11, 11, 100.0)
    by_id = {a["id"]: a for a in ev["agencies"]}
    assert [a["id"] for a in ev["agencies"]] == [A, B, C]
    assert by_id[A]["name"] == "Sở Thông tin và Truyền thông"
    assert {k: by_id[A][k] for k in ("current", "previous", "delta")} == {"current": 20, "previous": 6, "delta": 14}
    assert by_id[A]["sources"] == [{"id": "a-web", **d(17, 4, 13, 325.0)}, {"id": "a-ssh", **d(3, 0, 3, None)},
                                   {"id": "a-old", **d(0, 2, -2, -100.0)}]
    # The event one second before the week is last week's; the one at the next week's first instant is neither.
    assert by_id[B]["sources"] == [{"id": "b-ssh", **d(2, 5, -3, -60.0)}]
    assert {k: by_id[C][k] for k in ("current", "previous", "sources")} == {"current": 0, "previous": 0, "sources": []}

    health = {(s["agency"], s["source"]): s for s in c["source_health"]["sources"]}
    assert health[(A, "a-web")] == {"agency": A, "source": "a-web", "events": 17, "silent_hours": 165,
                                    "degraded_hours": 1, "median_per_hour": 8}
    assert health[(A, "a-old")]["silent_hours"] == 168 and health[(A, "a-old")]["events"] == 0
    assert health[(B, "b-ssh")]["silent_hours"] == 167
    assert (c["source_health"]["silent_hours"], c["source_health"]["degraded_hours"]) == (667, 1)

    al = c["alerts"]
    assert al["total"] == d(4, 1, 3, 300.0)
    assert {r["severity"]: (r["current"], r["previous"]) for r in al["by_severity"]} == {
        "critical": (1, 0), "high": (2, 0), "medium": (1, 1), "low": (0, 0), "informational": (0, 0)}
    assert [(r["tactic"], r["current"], r["previous"]) for r in al["by_tactic"]] == [
        ("initial-access", 2, 0), ("credential-access", 1, 1), ("persistence", 1, 0)]
    assert [(r["id"], r["name"], r["level"], r["count"]) for r in al["by_rule"]] == [
        ("r-web", "Web scanner", "high", 2), ("r-crit", "Web shell", "critical", 1),
        ("r-ssh", "SSH brute force", "medium", 1)]
    assert al["per_day"] == {"2025-03-03": 3, "2025-03-04": 0, "2025-03-05": 0, "2025-03-06": 0,
                             "2025-03-07": 1, "2025-03-08": 0, "2025-03-09": 0}

    inc = c["incidents"]
    assert inc["opened"] == d(2, 3, -1, -33.3)  # the merged incident is not counted
    assert inc["acknowledged"] == d(2, 2, 0, 0.0)
    assert inc["resolved"] == d(2, 1, 1, 100.0)
    assert inc["open_at_end"] == d(2, 2, 0, 0.0)
    assert inc["mtta_seconds"] == d(2100, 2700, -600, -22.2)  # (600 + 3600) / 2 and (3600 + 1800) / 2
    assert inc["mttr_seconds"] == d(129600, 36000, 93600, 260.0)  # (7200 + 252000) / 2
    assert inc["ack_breaches"] == d(1, 1, 0, 0.0) and inc["resolve_breaches"] == d(1, 1, 0, 0.0)
    assert inc["opened_by_severity"] == {"critical": 1, "high": 1}
    assert inc["resolutions"] == {"true_positive": 1, "false_positive": 1}

    top = c["top"]
    assert top["attackers"] == [{"ip": ATTACKER_WEB, "alerts": 3, "agencies": 2, "rules": 2},
                                {"ip": ATTACKER_SSH, "alerts": 1, "agencies": 1, "rules": 1}]
    assert top["urls"] == [{"value": "/wp-login.php", "count": 5}, {"value": "/.env", "count": 2},
                           {"value": XSS_PATH, "count": 1}]
    assert top["hosts"] == [{"value": "web01", "count": 3}]
    # user.name is a case-insensitive keyword: the aggregation returns it lower-cased.
    assert top["accounts"] == [{"value": "root", "count": 2}, {"value": FORMULA_USER.lower(), "count": 1}]

    assert [(n["id"], n["severity"], n["status"], n["resolution"]) for n in c["notable"]] == [
        ("i1", "critical", "resolved", "true_positive"), ("i2", "high", "acknowledged", None)]
    assert c["notable"][0]["note"] == "Blocked <b>203.0.113.7</b> at the firewall"

    assert c["changes"]["total"] == 2
    assert [(e["action"], e["object_id"]) for e in c["changes"]["items"]] == [
        ("rule.disable", "r-ssh"), ("exception.create", "ex-1")]
    assert [r["metric"] for r in c["deltas"]][:3] == ["m_events", "m_alerts", "m_opened"]
    assert c["deltas"][0] == {"metric": "m_events", **d(22, 11, 11, 100.0)}


def test_agency_scope(dataset: Settings) -> None:
    client, names = search.client(dataset), search.names(dataset)
    week = period.parse("2025-W10", TZ)
    a = content.build(client, names, week, A, "en", ReportSettings(), AFTER)
    assert a["report"]["agency"] == {"id": A, "name_vi": "Sở Thông tin và Truyền thông",
                                     "name_en": "Department of Information and Communications"}
    assert [x["id"] for x in a["events"]["agencies"]] == [A]
    assert a["events"]["total"] == d(20, 6, 14, 233.3)
    assert a["alerts"]["total"] == d(3, 0, 3, None)
    assert [x["ip"] for x in a["top"]["attackers"]] == [ATTACKER_WEB, ATTACKER_SSH]
    assert a["top"]["attackers"][0]["alerts"] == 2
    assert a["incidents"]["opened"]["current"] == 2 and a["incidents"]["opened"]["previous"] == 0
    assert a["changes"]["total"] == 2  # its exception and the global rule change

    b = content.build(client, names, week, B, "vi", ReportSettings(), AFTER)
    assert b["events"]["total"] == d(2, 5, -3, -60.0)
    assert b["alerts"]["by_rule"] == [{"id": "r-crit", "name": "Web shell", "level": "critical", "count": 1}]
    assert b["incidents"]["resolved"] == d(1, 1, 0, 0.0) and b["incidents"]["mttr_seconds"]["current"] == 252000
    assert b["notable"] == []  # i6 (high) was resolved before the week began
    assert b["changes"]["total"] == 1
    # B's attacker also hit A's web server, but B's report only counts B's events.
    assert b["top"]["urls"] == [] and b["top"]["hosts"] == []


def test_running_week_counts_only_elapsed_hours(dataset: Settings) -> None:
    client, names = search.client(dataset), search.names(dataset)
    week = period.parse("2025-W10", TZ)
    now = datetime(2025, 3, 4, 17, tzinfo=UTC)  # two full days into the week
    c = content.build(client, names, week, A, "vi", ReportSettings(), now)
    health = {s["source"]: s for s in c["source_health"]["sources"]}
    assert health["a-web"]["silent_hours"] == 48 - 3
    assert health["a-old"]["silent_hours"] == 48


def test_a_backlog_counts_in_the_week_it_happened_and_is_flagged_late(dataset: Settings) -> None:
    client, names = search.client(dataset), search.names(dataset)
    week = period.parse("2025-W10", TZ)
    before = content.build(client, names, week, None, "en", ReportSettings(), AFTER)["alerts"]
    # events of this week, detected nine days later (an agency's link was down)
    doc = conftest._alert(9, "r-web", "Web scanner", "high", "initial-access", conftest.A, conftest.ATTACKER_WEB,
                          conftest.S + timedelta(hours=3))
    doc["created"] = doc["detected_at"] = (conftest.S + timedelta(days=9)).isoformat()
    doc["delay_s"] = 9 * 86400.0 - 3 * 3600.0
    client.index(index=names.alerts, id="backlog-1", body=doc, refresh=True)
    after = content.build(client, names, week, None, "en", ReportSettings(), AFTER)["alerts"]
    assert after["total"]["current"] == before["total"]["current"] + 1
    assert (before["late"], after["late"]) == (0, 1)
