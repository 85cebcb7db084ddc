"""Attacker-centred grouping: the policy's choices, the rule files' attribute and settings, and the
continuation of incidents grouped by rule before."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.alerts.documents import SEVERITY_RANK, alert_id
from soc.config import Settings
from soc.detection import alerting, rules
from soc.errors import ConfigError
from soc.incidents import grouping, policy
from soc.runtime import GroupingPolicy, Runtime
from tests.incidents.conftest import T0, Alerts


def _incidents(rt: Runtime) -> list[dict[str, Any]]:
    rt.incidents.refresh()
    resp = rt.client.search(index=rt.names.incidents, body={"size": 100, "sort": [{"first_seen": "asc"}]})
    return [h["_source"] for h in resp["hits"]["hits"]]


def _alert(rt: Runtime, rule: str, n: int, *, ip: str | None = None, user: str | None = None,
           grouping_attr: dict[str, Any] | None = None, minutes: int = 0, group_key: str | None = None) -> str:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    doc: dict[str, Any] = {
        "kind": "match", "created": at, "@timestamp": at, "severity": "medium", "severity_rank": 3,
        "rule": {"id": rule, "name": f"Rule {rule}", "level": "medium", "author": "t", "reference": [], "tags": []},
        "threat": {"tactic": {"name": []}, "technique": {"id": []}}, "organization": {"id": "agency-a"},
        "events": [], "event_count": 1, "summary": rule, "first_seen": at, "last_seen": at,
        "group_key": group_key or (f"source.ip={ip}" if ip else f"user.name={user}" if user else f"rule={rule}")}
    if ip:
        doc["source"] = {"ip": ip}
    if user:
        doc["user"] = {"name": user}
    if grouping_attr:
        doc["rule"]["grouping"] = grouping_attr
    aid = alert_id(rule, f"{n}")
    rt.client.index(index=rt.names.alerts, id=aid, body=doc, refresh=True)
    return aid


def test_a_rule_file_can_keep_its_alerts_rule_centred(rt: Runtime) -> None:
    for n, rule in enumerate(["ssh-fail", "web-scan", "ssh-fail"]):
        _alert(rt, rule, n, ip="203.0.113.5", minutes=n)
    _alert(rt, "noisy", 10, ip="203.0.113.5", grouping_attr={"by": "rule"})
    _alert(rt, "noisy", 11, ip="203.0.113.6", grouping_attr={"by": "rule"})
    grouping.run(rt)
    got = sorted((i["rule_ids"], i["alert_count"]) for i in _incidents(rt))
    assert got == [(["noisy"], 1), (["noisy"], 1), (["ssh-fail", "web-scan"], 3)]


def test_a_setting_keeps_a_rule_rule_centred_whatever_its_file_says(rt: Runtime) -> None:
    rt.grouping = GroupingPolicy.from_settings(replace(rt.settings, incident_group_by_rule="web-scan"))
    _alert(rt, "ssh-fail", 1, ip="203.0.113.5")
    _alert(rt, "web-scan", 2, ip="203.0.113.5", grouping_attr={"by": "attacker"})
    grouping.run(rt)
    assert sorted(i["rule_ids"] for i in _incidents(rt)) == [["ssh-fail"], ["web-scan"]]


def test_account_rules_group_on_the_user_and_alerts_without_an_attacker_by_rule(rt: Runtime) -> None:
    _alert(rt, "sudo-root", 1, user="mallory")
    _alert(rt, "new-account", 2, user="mallory", minutes=5)
    _alert(rt, "overflow", 3, group_key="overflow=overflow")
    _alert(rt, "overflow", 4, group_key="overflow=overflow", minutes=1)
    _alert(rt, "other-rule", 5, group_key="overflow=other-rule")
    grouping.run(rt)
    got = sorted((i["keys"], i["alert_count"]) for i in _incidents(rt))
    assert got == [(["@attacker|agency-a|user.name=mallory"], 2), (["other-rule|agency-a|overflow=other-rule"], 1),
                   (["overflow|agency-a|overflow=overflow"], 2)]


def test_an_open_rule_centred_incident_is_continued_by_the_attackers_alerts(rt: Runtime, alerts: Alerts) -> None:
    rt.grouping = GroupingPolicy(default="rule")  # as before the upgrade
    alerts.add(rule="rule-a", ip="198.51.100.7")
    alerts.add(rule="rule-a", ip="198.51.100.8")
    grouping.run(rt)
    rt.grouping = GroupingPolicy()
    alerts.add(rule="rule-a", ip="198.51.100.7", at=T0 + timedelta(minutes=10))
    alerts.add(rule="rule-b", ip="198.51.100.7", at=T0 + timedelta(minutes=20))
    result = grouping.run(rt)
    assert result.created == [] and len(result.updated) == 1
    [kept] = [i for i in _incidents(rt) if i["alert_count"] == 3]
    assert kept["keys"] == ["@attacker|agency-a|source.ip=198.51.100.7", "rule-a|agency-a|source.ip=198.51.100.7"]
    assert kept["rule_ids"] == ["rule-a", "rule-b"]
    alerts.add(rule="rule-c", ip="198.51.100.7", at=T0 + timedelta(minutes=30))
    assert grouping.run(rt).updated == [kept["id"]]  # found by its attacker key from now on
    assert len(_incidents(rt)) == 2


def test_the_attribute_checks() -> None:
    assert policy.check_rule_attribute("rule") == {"by": "rule"}
    assert policy.check_rule_attribute({"by": "attacker", "window": "2h"}) == {"by": "attacker", "window_s": 7200}
    for bad, reason in ((7, "must be"), ("actor", "'attacker' or 'rule'"),
                        ({"by": "rule", "span": "1h"}, "unknown keys"),
                        ({"window": "forever"}, "not a duration"), ({"window": "90d"}, "between")):
        with pytest.raises(ValueError, match=reason):
            policy.check_rule_attribute(bad)
    with pytest.raises(ConfigError, match="incident_grouping"):
        GroupingPolicy.from_settings(Settings(incident_grouping="agency"))
    window = GroupingPolicy.from_settings(Settings(incident_window_minutes=15)).window_for(
        {"rule": {"id": "x", "grouping": {"by": "attacker", "window_s": 600}}})
    assert window == timedelta(minutes=10)


RULE = """title: Grouped Rule
id: 5f1f0a52-3c3e-4a35-9d3b-1d2a1d0c0b01
status: experimental
logsource: {{product: linux, service: sshd}}
detection:
  selection: {{process.name: sshd}}
  condition: selection
level: low
{extra}
"""


def test_a_malformed_grouping_is_refused_when_rules_load_naming_the_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(RULE.format(extra="grouping: {by: rule, window: 30m}"))
    bad.write_text(RULE.format(extra="grouping: {by: everything}").replace("5f1f0a52", "6f1f0a52"))
    loaded, problems = rules.load([tmp_path])
    assert [r.path for r in loaded] == [good]
    assert [p.path for p in problems] == [bad] and "'attacker' or 'rule'" in problems[0].reason
    doc = alerting.base(loaded[0], "match", T0.isoformat(), "agency-a")
    assert doc["rule"]["grouping"] == {"by": "rule", "window_s": 1800}
    assert SEVERITY_RANK[doc["severity"]] == 2
