"""The incident's story (lanes per rule in ATT&CK order on event time) and its history in the reader's
language, without a server."""

from __future__ import annotations

from typing import Any

from soc.incidents import model, outcome, storyline
from soc.web import history, i18n


def _alert(rule: str, tactics: list[str], first: str, last: str | None = None,
           severity: str = "medium") -> dict[str, Any]:
    return {"rule": {"id": rule, "name": f"Rule {rule}"}, "threat": {"tactic": {"name": tactics}},
            "severity": severity, "first_seen": f"2026-11-27T00:{first}+00:00",
            "last_seen": f"2026-11-27T00:{last or first}+00:00", "event_count": 2}


def test_lanes_follow_the_kill_chain_then_event_time() -> None:
    alerts = [_alert("xss", ["initial-access"], "00:10"), _alert("scan", ["reconnaissance"], "05:00"),
              _alert("xss", ["initial-access"], "02:00", "03:00", "high"), _alert("odd", [], "00:00"),
              _alert("shell", ["persistence", "initial_access"], "01:00"), _alert("new", ["not-a-tactic"], "04:00")]
    lanes = storyline.lanes(alerts)
    assert [lane.rule_id for lane in lanes] == ["scan", "xss", "shell", "new", "odd"]
    xss = lanes[1]
    assert (xss.tactic, xss.alerts, xss.events, xss.severity) == ("initial-access", 2, 4, "high")
    assert xss.first.endswith("00:10+00:00") and xss.last.endswith("03:00+00:00")
    assert xss.left == round(100 * 10 / 300, 2) and xss.width == round(100 * 170 / 300, 2)
    assert sorted(xss.marks) == [round(100 * 10 / 300, 2), 40.0]
    assert lanes[0].left == 99.5 and lanes[4].left == 0.0 and lanes[4].width == 0.5  # a point is still drawn
    assert lanes[3].tactic == "not-a-tactic" and lanes[3].tactic_key is None and lanes[4].tactic is None
    cells = xss.cells  # 40 cells of 2.5 %: the span covers 3.33 % to 60 %, alerts start at 3.33 % and 40 %
    assert len(cells) == storyline.CELLS and cells[0] == "" and cells[1] == "on mark" and cells[16] == "on mark"
    assert cells[2:16] == ["on"] * 14 and cells[23] == "on" and cells[24:] == [""] * 16
    assert lanes[0].cells[-1] == "on mark"
    assert storyline.lanes([]) == []


def test_every_tactic_and_history_sentence_is_in_both_catalogs() -> None:
    en, vi = i18n.catalog("en"), i18n.catalog("vi")
    wanted = [f"tactic.{t.replace('-', '_')}" for t in storyline.TACTICS] + ["tactic.none"]
    wanted += [f"history.{verb}" for verb in history.KNOWN] + [f"outcome.{o}" for o in model.OUTCOMES]
    wanted += [f"outcome.result.{r}" for r in outcome.RESULTS]
    assert [k for k in wanted if k not in en or k not in vi] == []


def test_history_reads_in_vietnamese() -> None:
    update = {"action": "incident.update", "actor": "ana", "@timestamp": "2026-11-27T00:00:00+00:00",
              "details": {"before": {"status": "new"}, "after": {"status": "acknowledged"}}}
    created = {"action": "incident.create", "actor": "grouping", "details": {"after": {"alert_count": 3}}}
    added = {"action": "incident.alerts_added", "details": {"alerts_taken": 2}}
    bulk = {"action": "incident.bulk.resolve", "details": {"before": {"resolution": None},
                                                            "after": {"resolution": "benign"}}}
    [u, c, a, b] = history.lines("vi", [update, created, added, bulk])
    assert u["text"] == "đã thay đổi" and u["changes"] == ["Trạng thái: mới → đã tiếp nhận"]
    assert c["text"] == "mở với 3 cảnh báo" and c["changes"] == []
    assert a["text"] == "thêm 2 cảnh báo"
    assert b["text"] == "thay đổi hàng loạt: " + i18n.translate("vi", "bulk.resolve")
    assert b["changes"] == ["Kết luận: — → " + i18n.translate("vi", "resolution.benign")]
    assert history.sentence("en", {"action": "incident.something_new"}) == "incident.something_new"
