"""On traffic real programs make (nginx + curl, logger + sshd lines), detected with the project's
rules: one case per attacker, none for benign visitors, and a guessed password escalates its case."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc.incidents import grouping, policy
from soc.runtime import Runtime
from tests.incidents import labelled
from tests.incidents.conftest import bearer


@pytest.fixture(scope="module")
def traffic() -> tuple[list[str], list[bytes]]:
    return labelled.make()


def _incidents(rt: Runtime) -> list[dict[str, Any]]:
    rt.incidents.refresh()
    resp = rt.client.search(index=rt.names.incidents, body={"size": 500})
    return [h["_source"] for h in resp["hits"]["hits"]]


def _alerts(rt: Runtime) -> list[dict[str, Any]]:
    rt.client.indices.refresh(index=rt.names.alerts)
    return [h["_source"] for h in rt.client.search(index=rt.names.alerts, body={"size": 2000})["hits"]["hits"]]


def _addresses(doc: dict[str, Any]) -> set[str]:
    return {e.split("=", 1)[1] for e in doc["entities"] if e.startswith("source.ip=")}


def cases_per_actor(alerts: list[dict[str, Any]], key: Any) -> dict[str, int]:
    """Distinct incident keys per attacking address under a key function (windows aside)."""
    keys: dict[str, set[str]] = defaultdict(set)
    for a in alerts:
        address = (a.get("source") or {}).get("ip")
        if address:
            keys[address].add(key(a))
    return {ip: len(k) for ip, k in sorted(keys.items())}


def test_one_case_per_attacker_none_for_benign_traffic(rt: Runtime, traffic: tuple[list[str], list[bytes]]) -> None:
    web, ssh = traffic
    labelled.index(rt.settings, "agency-a", web, ssh)
    labelled.detect(rt.settings)
    grouping.run(rt)
    incidents, alerts = _incidents(rt), _alerts(rt)
    per_actor: dict[str, int] = defaultdict(int)
    for doc in incidents:
        addresses = _addresses(doc)
        assert len(addresses) <= 1, f"an incident mixes actors: {addresses}"
        for address in addresses:
            per_actor[address] += 1
    assert labelled.BENIGN not in per_actor  # browsing, a publickey login and sudo open nothing
    attackers = {labelled.WINNER, labelled.LOSER, "127.0.0.23", "127.0.0.22", "127.0.0.32"}
    assert attackers <= set(per_actor), per_actor
    assert max(per_actor.values()) <= 2, per_actor
    # the same alerts grouped by rule: the attackers' cases split by rule (what the default replaced)
    by_rule = cases_per_actor(alerts, policy.rule_key)
    by_attacker = cases_per_actor(alerts, policy.GroupingPolicy().key)
    assert all(n == 1 for n in by_attacker.values()) and sum(by_rule.values()) > sum(by_attacker.values())
    print(f"\nalerts {len(alerts)}, incidents {len(incidents)}; cases per actor by rule {by_rule}, "
          f"by attacker {by_attacker}")


def test_a_guessed_password_escalates_the_case_with_its_reason(rt: Runtime, api: TestClient, tokens: dict[str, str],
                                                               traffic: tuple[list[str], list[bytes]]) -> None:
    web, ssh = traffic
    labelled.index(rt.settings, "agency-a", web, ssh)
    labelled.detect(rt.settings)
    grouping.run(rt)
    by_actor = {next(iter(_addresses(d))): d for d in _incidents(rt) if len(_addresses(d)) == 1}
    won, lost = by_actor[labelled.WINNER], by_actor[labelled.LOSER]
    assert won["outcome"] == "compromise_likely" and won["severity"] == "critical", won
    assert any(f"SSH login accepted for oracle from {labelled.WINNER}" in r for r in won["outcome_reasons"])
    assert lost["outcome"] == "attempts_failed" and lost["severity"] == "high" and lost["outcome_reasons"] == []
    [root_shell] = [d for d in _incidents(rt) if "user.name=oracle" in d["entities"] and not _addresses(d)]
    assert root_shell["outcome"] == "compromise_likely"  # sudo to root right after the guessed login
    assert any(f"by oracle after a login from {labelled.WINNER}" in r for r in root_shell["outcome_reasons"])
    assert by_actor["127.0.0.23"]["outcome"] != "compromise_likely"  # a static site answered the payloads as usual
    for alert in _alerts(rt):
        assert alert["outcome"]["result"] in ("succeeded", "failed", "possible", "unknown")
        if (alert.get("source") or {}).get("ip") == labelled.LOSER:
            assert alert["outcome"]["result"] == "failed"
    # the cases whose attempts all failed are closed together, with one resolution
    head = bearer(tokens["analyst_a"])
    failed = api.get("/api/v1/incidents", params={"outcome": "attempts_failed", "limit": 200}, headers=head).json()
    ids = [i["id"] for i in failed["items"]]
    assert lost["id"] in ids and won["id"] not in ids
    assert all(i["outcome"] == "attempts_failed" for i in failed["items"])
    done = api.post("/api/v1/incidents/bulk", headers=head,
                    json={"ids": ids, "action": "resolve", "resolution": "true_positive"})
    assert done.status_code == 200 and all(item["ok"] for item in done.json()["items"])
    still = api.get(f"/api/v1/incidents/{won['id']}", headers=head).json()
    assert still["status"] == "new" and still["outcome"] == "compromise_likely" and still["outcome_reasons"]
    assert api.get("/api/v1/incidents", params={"outcome": "worked"}, headers=head).status_code == 422
