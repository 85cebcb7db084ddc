"""Notifications follow the case: one per attacker's case and one per escalation, not one per rule,
on sshd lines made with ``logger`` and detected with the project's rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from soc.accounts import store as accounts_store
from soc.incidents import grouping
from soc.runtime import Runtime
from tests.incidents import labelled
from tests.incidents.test_sla_and_webhooks import Receiver


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _delivered(rt: Runtime, receiver: Receiver, n: int) -> list[dict[str, Any]]:
    assert rt.notifier is not None and rt.notifier.drain(20)
    return [json.loads(r["body"]) for r in receiver.wait_for(n)]


def test_one_notification_per_case_and_per_escalation(rt: Runtime, receiver: Receiver) -> None:
    accounts_store.create_webhook(rt.client, rt.names, "soc-chat", receiver.url, ["agency-a"], "low")
    frames = [f for f in labelled.ssh_lines() if b"sudo" not in f]  # sshd only: the guessers' cases
    accepted = [f for f in frames if b"Accepted password" in f]
    assert len(accepted) == 1
    labelled.index(rt.settings, "agency-a", [], [f for f in frames if f not in accepted])
    labelled.detect(rt.settings)
    grouping.run(rt)
    first = _delivered(rt, receiver, 2)
    assert sorted(p["event"] for p in first) == ["incident.created", "incident.created"]
    won = next(p["incident"] for p in first if f"source.ip={labelled.WINNER}" in p["incident"]["entities"])

    labelled.index(rt.settings, "agency-a", [], accepted)  # the guess that worked arrives
    labelled.detect(rt.settings)
    grouping.run(rt)
    got = _delivered(rt, receiver, 3)
    assert len(got) == 3, [p["event"] for p in got]
    escalated = got[2]
    assert escalated["event"] == "incident.escalated" and escalated["incident"]["id"] == won["id"]
    assert escalated["outcome"] == "compromise_likely" and escalated["previous_severity"] == "high"
    assert any(f"SSH login accepted for oracle from {labelled.WINNER}" in r for r in escalated["reasons"])
    doc = rt.incidents.get(str(won["id"])).doc
    assert len(doc["rule_ids"]) >= 2  # a second rule joined the case: no second "created"
    assert doc["severity"] == "critical" and doc["sla"]["ack_due"] < won["sla"]["ack_due"]
    grouping.run(rt)  # nothing new: nothing sent again
    assert rt.notifier is not None and rt.notifier.drain(10) and len(receiver.requests) == 3
