"""The rule lab on the real node: a preview's alerts are the alerts the engine raises for the same rule and
events (single rules and correlations judged on event time); bad rules are a 4xx with the reason."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc import cli
from soc.alerts import store as alert_store
from soc.detection import convert, rules, runner
from soc.detection.settings import DetectionSettings
from soc.runtime import Runtime
from tests.hunt.conftest import NOW, bearer, index, web

ROOT = Path(__file__).resolve().parents[2]
DS = DetectionSettings(settle_s=0, first_lookback_s=600)
WINDOW = {"from": (NOW - timedelta(hours=3)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat()}


def engine_alerts(rt: Runtime, path: Path) -> list[dict[str, Any]]:
    loaded, problems = rules.load([path])
    assert not problems
    report = runner.run_cycle(rt.settings, DS, convert.compile_rules(loaded))
    assert not report.errors, report.errors
    return alert_store.alerts_by_org(rt.client, rt.names)


def preview(api: TestClient, token: str, path: Path, **extra: Any) -> Any:
    r = api.post("/api/v1/rules/preview", headers=bearer(token),
                 json={"rule": path.read_text(), **WINDOW, "size": 200, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_single_rule_preview_equals_the_engine(rt: Runtime, api: TestClient, tokens: dict[str, str]) -> None:
    rule = ROOT / "rules/web/path_traversal.yml"
    index(rt, [web("10.0.0.1", "/../../etc/passwd", ago=5), web("10.0.0.2", "/a/%2e%2e/b", ago=65),
               web("10.0.0.1", "/x/..;/y", ago=125, user="bob"), web("10.0.0.3", "/index.html", ago=6),
               web("10.0.0.4", "/win.ini", ago=7, agency="agency-b"), web("10.0.0.5", "/ok", ago=8, agency="agency-b")])
    got = preview(api, tokens["admin"], rule)
    alerts = engine_alerts(rt, rule)
    assert got["total"] == len(alerts) == 4
    assert sorted(i["_id"] for i in got["items"]) == sorted(a["events"][0]["id"] for a in alerts)
    keys: dict[str, int] = {}
    for a in alerts:
        keys[a["group_key"]] = keys.get(a["group_key"], 0) + 1
    assert {e["entity"]: e["count"] for e in got["by_entity"]} == keys
    assert sum(d["count"] for d in got["per_day"]) == 4
    assert [(r["id"], r["alerts"], r["kind"]) for r in got["rules"]] == [
        ("15558330-321c-56de-bbee-2b60698cc68b", 4, "match")]
    # scope: each agency's analysts preview only their own events
    assert preview(api, tokens["analyst_a"], rule)["total"] == 3
    assert preview(api, tokens["analyst_b"], rule)["total"] == 1
    assert preview(api, tokens["analyst_a"], rule, agency="agency-b")["total"] == 0


def test_correlation_preview_equals_the_engine(rt: Runtime, api: TestClient, tokens: dict[str, str]) -> None:
    rule = ROOT / "rules/web/client_error_burst.yml"  # >= 20 client errors from one address within 1 minute
    burst = [web("10.0.0.1", f"/b{i}", 404, ago=30 + i / 60) for i in range(25)]  # 25 in 25 s: one episode
    trickle = [web("10.0.0.2", f"/t{i}", 404, ago=30 + i) for i in range(25)]  # one a minute: never
    twice = [web("10.0.0.3", f"/w{i}", 403, ago=60 + i / 30) for i in range(20)] + [
        web("10.0.0.3", f"/v{i}", 401, ago=20 + i / 30) for i in range(21)]  # two bursts 40 min apart
    quiet = [web("10.0.0.4", f"/ok{i}", 200, ago=30 + i / 60) for i in range(30)]  # not client errors
    index(rt, burst + trickle + twice + quiet)
    got = preview(api, tokens["admin"], rule)
    alerts = [a for a in engine_alerts(rt, rule) if a["kind"] == "correlation"]
    assert got["total"] == len(alerts) == 3
    assert sorted((i["group_key"], i["first_seen"], i["last_seen"]) for i in got["items"]) == sorted(
        (a["group_key"], a["first_seen"], a["last_seen"]) for a in alerts)
    assert {e["entity"]: e["count"] for e in got["by_entity"]} == {"source.ip=10.0.0.1": 1, "source.ip=10.0.0.3": 2}
    assert got["rules"][0]["kind"] == "event_count"


BAD_RULES = [
    ("title: x\ndetection: [unclosed\n", "not valid YAML at line 3"),
    ("title: x\nid: 6a0b7f0e-1111-4a7b-9c1d-000000000001\nlogsource: {category: webserver}\n"
     "detection:\n  sel: {c-uri|contains: a}\n", "condition"),
    ("title: x\nid: 6a0b7f0e-1111-4a7b-9c1d-000000000002\nlogsource: {product: windows, service: security}\n"
     "detection:\n  sel: {EventID: 4625}\n  condition: sel\n", "not mapped to a log stream"),
    ("just text", "rule"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_RULES)
def test_rules_that_do_not_parse_are_a_4xx(api: TestClient, tokens: dict[str, str], text: str, reason: str) -> None:
    r = api.post("/api/v1/rules/preview", headers=bearer(tokens["analyst_a"]), json={"rule": text, **WINDOW})
    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"]


def test_cli_preview(rt: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOC_OPENSEARCH_URL", rt.settings.url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", rt.settings.index_prefix)
    index(rt, [web("10.0.0.1", "/../../etc/passwd", ago=5), web("10.0.0.9", "/../x", ago=60 * 24 * 3)])
    rule = str(ROOT / "rules/web/path_traversal.yml")
    assert cli.main(["rules", "preview", rule, "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 alerts between") and "source.ip=10.0.0.1" in out
    assert cli.main(["rules", "preview", rule, "--since", "7d", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 2
    with pytest.raises(SystemExit):
        cli.main(["rules", "preview", rule, "--since", "forever"])
