"""Evaluation on the shared real logs: every attacker is detected by our rules, no alert is about benign actors only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from soc import search
from soc.config import Settings
from soc.detection import convert, evaluate, rules
from soc.opensearch import bootstrap

ROOT = Path(__file__).resolve().parents[2]


def test_discover_pairs_logs_with_labels(shared_dir: Path) -> None:
    files = {f.path.relative_to(shared_dir / "testdata").as_posix(): f for f in
             evaluate.discover(shared_dir / "testdata")}
    assert files["nginx/access.log"].kind == "nginx"
    assert files["nginx/access.json.log"].kind == "nginx-json"
    assert files["syslog/messages.rfc5424.log"].kind == "syslog"
    assert "nginx/error.log" not in files  # no labels, no access-log parser
    assert len({f.agency for f in files.values()}) == len(files)  # one agency per file: formats never add up


def test_attribution_counts_benign_only_alerts_as_false_positives() -> None:
    actor_of = {"a": "nikto", "b": "benign", "c": "system"}
    alerts = [{"rule": {"id": "r1", "name": "one"}, "events": [{"index": "i", "id": "a"}, {"index": "i", "id": "b"}]},
              {"rule": {"id": "r1", "name": "one"}, "events": [{"index": "i", "id": "b"}]},
              {"rule": {"id": "r2", "name": "two"}, "events": [{"index": "i", "id": "c"}]}]
    result = evaluate.attribute(alerts, actor_of, Counter({"nikto": 1, "benign": 1, "system": 1, "hydra": 4}), [])
    assert result.rules["r1"].actors == Counter({"benign": 2, "nikto": 1})
    assert result.rules["r1"].false_positives == Counter({"benign": 1})
    assert result.rules["r2"].false_positives == Counter({"system": 1})
    assert result.false_positive_alerts() == 2
    assert result.detected() == {"hydra": [], "nikto": ["one"]}


def test_project_rules_on_real_logs(isolated: Settings, shared_dir: Path) -> None:
    loaded, problems = rules.load([ROOT / "rules"])
    assert not problems
    compiled = convert.compile_rules(loaded)
    bootstrap.init(isolated, search.client(isolated), search.names(isolated), evaluate.HISTORY_LATENESS_S)
    result = evaluate.evaluate(search.client(isolated), search.names(isolated), shared_dir / "testdata", compiled)
    assert not result.errors
    assert set(result.attackers) == {"curl_payloads", "hydra", "nikto", "whatweb"}
    missed = [actor for actor, found in result.detected().items() if not found]
    assert not missed, evaluate.render(result)
    fps = {o.title: dict(o.false_positives) for o in result.rules.values() if o.false_positives}
    assert not fps, fps
    # not one benign or housekeeping line is named by any alert
    assert result.covered["benign"] == 0 and result.covered["system"] == 0
    # most of the attack traffic is named by some alert, not just one line per actor
    for actor in ("nikto", "curl_payloads"):
        assert result.covered[actor] >= 0.9 * result.lines[actor], evaluate.render(result)
    # the SSH brute force is caught by a correlation, not only by single lines
    hydra_rules = set(result.detected()["hydra"])
    assert "SSH Brute Force From One Address" in hydra_rules


def test_public_rules_run_on_real_logs(isolated: Settings, shared_dir: Path) -> None:
    loaded, _ = rules.load([shared_dir / "sigma/rules", shared_dir / "sigma/rules-emerging-threats"])
    compiled = convert.compile_rules(loaded)
    bootstrap.init(isolated, search.client(isolated), search.names(isolated), evaluate.HISTORY_LATENESS_S)
    result = evaluate.evaluate(search.client(isolated), search.names(isolated), shared_dir / "testdata", compiled)
    assert not result.errors
    detected = result.detected()
    assert detected["nikto"] and detected["curl_payloads"] and detected["whatweb"]
    # keyword rules with "@@version" search the raw line literally: a Safari "Version/" is no match
    sqli = [o for o in result.rules.values() if o.title == "SQL Injection Strings In URI"]
    assert sqli and not sqli[0].false_positives and sqli[0].actors["curl_payloads"] > 0
