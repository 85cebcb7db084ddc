"""Coverage on the real node: with the project's rules, an agency whose web events carry URLs and
status codes but no User-Agent sees the URL rules as able to fire and the scanner-UA rule as not,
with the missing field named; a disabled rule is left out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from soc import search
from soc.config import Settings
from soc.detection import convert, rules
from soc.detection.settings import DetectionSettings
from soc.sources import coverage, service
from tests.sources.conftest import ADMIN, add_agency

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_coverage_lists_rules_whose_fields_never_appear(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated)
    src = service.new_source(client, names, ADMIN, "so-test", "nginx", "Portal", host="web-01",
                             log_path="/var/log/nginx/access.log")
    ops: list[object] = []
    for i in range(5):
        ops += [{"create": {"_index": names.stream("logs-web", "so-test")}}, {
            "@timestamp": "2026-05-04T10:00:00Z", "event": {"original": f"line {i}", "dataset": "nginx.access"},
            "organization": {"id": "so-test"}, "log": {"source": {"id": src["id"]}},
            "source": {"ip": "10.0.0.5"}, "url": {"original": f"/page?id={i}", "path": "/page"},
            "http": {"request": {"method": "GET"}, "response": {"status_code": 200}}}]
    assert not client.bulk(body=ops, refresh=True)["errors"]
    loaded, problems = rules.load([RULES])
    assert not problems
    results = convert.compile_rules(loaded)
    ds = DetectionSettings(rule_paths=(RULES,))
    report = coverage.check(client, names, "so-test", "nginx", results, ds)
    assert report.events == 5 and report.sources == [src["id"]]
    by_title = {r.title: r for r in report.can_fire + report.cannot_fire}
    scanner = by_title["Vulnerability Scanner Or Fuzzer User Agent"]
    assert scanner in report.cannot_fire and scanner.missing == ["user_agent.original"]
    assert "user_agent.original" in scanner.reason
    assert by_title["SQL Injection Patterns In Request URI"] in report.can_fire
    assert by_title["Unusual HTTP Method"] in report.can_fire
    # only web rules are considered for a web source type
    assert not any(r.title.startswith("SSH") for r in report.can_fire + report.cannot_fire)
    # a disabled rule is not part of the dry run
    off = replace(ds, disabled_rules=frozenset({scanner.rule_id}))
    assert scanner.rule_id not in {r.rule_id for r in coverage.check(client, names, "so-test", "nginx", results,
                                                                      off).cannot_fire}
    # another agency without events: every web rule is listed as unable to fire, with the reason
    add_agency(isolated, "so-empty")
    empty = coverage.check(client, names, "so-empty", "nginx", results, ds)
    assert empty.events == 0 and not empty.can_fire and len(empty.cannot_fire) == len(report.can_fire) + len(
        report.cannot_fire)
