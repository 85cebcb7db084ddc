"""Outcome rules without a node: web status and size, how events combine, and the case's escalation."""

from __future__ import annotations

from typing import Any

from soc.incidents import model, outcome


def test_web_answers_are_judged_by_status_and_the_paths_usual_size() -> None:
    judge = outcome.Judge.__new__(outcome.Judge)  # web() reads no logs: sizes are given
    events: list[dict[str, Any]] = [
        {"http": {"response": {"status_code": 404, "body": {"bytes": 153}}}, "url": {"path": "/x"}},
        {"http": {"response": {"status_code": 200, "body": {"bytes": 5130}}}, "url": {"path": "/p"}},
        {"http": {"response": {"status_code": 200, "body": {"bytes": 91000}}}, "url": {"path": "/p"}},
        {"http": {"response": {"status_code": 302, "body": {"bytes": 0}}}, "url": {"path": "/new"}}]
    got = judge.web("agency-a", events, {"/p": 5120.0})
    assert [v[0] for v in got] == ["failed", "failed", "succeeded", "possible"]
    assert got[2][1] == "HTTP 200 with 91000 bytes where /p usually answers 5120"


def test_an_alert_takes_its_strongest_verdict() -> None:
    assert outcome.combine([("failed", "a"), ("succeeded", "b"), ("possible", "c")]) == \
        {"result": "succeeded", "reason": "b"}
    assert outcome.combine([("failed", "a"), ("failed", "b")]) == {"result": "failed", "reason": "a"}
    assert outcome.combine([("failed", "a"), ("possible", "c")]) == {"result": "possible", "reason": "c"}
    assert outcome.combine([]) == {"result": "unknown", "reason": ""}


def test_a_case_escalates_once_when_a_success_appears() -> None:
    doc: dict[str, Any] = {"severity": "medium", "severity_rank": 3}
    model.apply_outcome(doc, {"failed": 3}, [])
    assert (doc["outcome"], doc["severity"]) == ("attempts_failed", "medium")
    model.apply_outcome(doc, {"failed": 3, "unknown": 1}, [])
    assert doc["outcome"] == "undetermined"
    model.apply_outcome(doc, {"failed": 3, "succeeded": 1}, ["login accepted"])
    assert (doc["outcome"], doc["severity"]) == ("compromise_likely", "high")
    assert doc["outcome_reasons"] == ["login accepted"]
    model.apply_outcome(doc, {"failed": 3, "succeeded": 2}, ["login accepted"])  # folded again: no second rise
    assert doc["severity"] == "high"
    high: dict[str, Any] = {"severity": "high", "severity_rank": 4}
    model.apply_outcome(high, {"succeeded": 1}, [])
    assert high["severity"] == "critical"
