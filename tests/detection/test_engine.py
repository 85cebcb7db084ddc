"""The runner on a real node: modifiers, late events, crashes, concurrent runners, correlations, exceptions."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc import search
from soc.alerts import store as alert_store
from soc.config import Settings
from soc.detection import convert, rules, ruletest, runner, store
from soc.detection.settings import DetectionSettings
from tests.detection.seams import InjectedCrash, crash_before

ROOT = Path(__file__).resolve().parents[2]
DS = DetectionSettings(settle_s=0, first_lookback_s=600)
ONLY_NEW = replace(DS, recheck_s=0)  # no re-checked stretch: a cycle sees only its own window


def _web(uri: str, ua: str = "Mozilla/5.0", ip: str = "203.0.113.7", line: str | None = None,
         **extra: Any) -> dict[str, Any]:
    from urllib.parse import unquote

    return {"@timestamp": store.iso(extra.pop("when", datetime.now(UTC))), "organization": {"id": "dept-a"},
            "event": {"dataset": "nginx.access", "original": line or f'{ip} - - "GET {uri} HTTP/1.1" 200 1 "-" "{ua}"'},
            "source": {"ip": ip}, "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
            "url": {"original": uri, "decoded": {"original": unquote(uri)}}, "user_agent": {"original": ua}}


def _rule(tmp_path: Path, name: str, detection: str, logsource: str = "category: webserver") -> list[convert.Result]:
    f = tmp_path / f"{name}.yml"
    f.write_text(f"title: {name}\nid: 7d5f0c1e-2222-4a7b-9c1d-{abs(hash(name)) % 10**12:012d}\n"
                 f"logsource: {{{logsource}}}\ndetection:\n{detection}\nlevel: high\nauthor: tester\n"
                 "tags: [attack.initial-access, attack.t1190]\n")
    loaded, problems = rules.load([f])
    assert not problems
    return convert.compile_rules(loaded)


def _alerts(settings: Settings) -> list[dict[str, Any]]:
    return alert_store.alerts_by_org(search.client(settings), search.names(settings))


def _index(settings: Settings, events: list[dict[str, Any]]) -> None:
    store.index_events(search.client(settings), search.names(settings), events)


MODIFIER_CASES = [
    ("    sel: {cs-uri-query|contains: 'UNION SELECT'}\n    condition: sel", "/a?q=union%20select", "/a?q=union"),
    ("    sel: {cs-uri-query|startswith: '/ADMIN'}\n    condition: sel", "/admin/x", "/x/admin"),
    ("    sel: {cs-uri-query|endswith: '.PHP'}\n    condition: sel", "/a/b.php", "/a/b.php.txt"),
    ("    sel: {cs-uri-query: '/wp-*.php'}\n    condition: sel", "/WP-login.php", "/wp-login.phps"),
    ("    sel: {cs-uri-query|re: 'id=[0-9]+x'}\n    condition: sel", "/p?id=42x&z=1", "/p?id=x"),
    ("    sel: {cs-uri-query|re|i: 'ID=[0-9]+'}\n    condition: sel", "/p?id=7", "/p?idx=7"),
    ("    sel: {cs-uri-query|contains|all: ['cmd', 'exec']}\n    condition: sel", "/a?exec=1&cmd=2", "/a?cmd=2"),
    ("    sel: {cs-uri-query|base64offset|contains: 'whoami'}\n    condition: sel", "/a?x=d2hvYW1p", "/a?x=aGVsbG8="),
]


@pytest.mark.parametrize("where", ["local", "node"])
@pytest.mark.parametrize(("detection", "hit", "miss"), MODIFIER_CASES)
def test_modifier_semantics_on_real_node(isolated: Settings, tmp_path: Path, detection: str, hit: str,
                                         miss: str, where: str) -> None:
    """Each modifier, matched in the service on the fetched window and searched on the node."""
    compiled = _rule(tmp_path, "mod", detection)
    assert isinstance(compiled[0], convert.Compiled), compiled
    _index(isolated, [_web(hit), _web(miss, ip="203.0.113.8")])
    report = runner.run_cycle(isolated, DS if where == "local" else replace(DS, local_max_events=0), compiled)
    assert [a["source"]["ip"] for a in _alerts(isolated)] == ["203.0.113.7"]
    # a real regex stays on the node; every other modifier is matched locally when asked to
    assert report.matched_locally == (1 if where == "local" and compiled[0].local else 0)
    assert (compiled[0].local is None) == ("|re" in detection)


def test_cidr_and_keywords_case_insensitive_on_raw_line(isolated: Settings, tmp_path: Path) -> None:
    compiled = _rule(tmp_path, "kw", "    kw: ['jndi:LDAP', 'a@b<c>']\n    net: {c-ip|cidr: '10.1.0.0/16'}\n"
                                     "    condition: kw and net")
    _index(isolated, [_web("/", ip="10.1.2.3", line="GET /?x=${JNDI:ldap://h} 10.1.2.3"),
                      _web("/", ip="10.1.2.4", line="GET /?x=A@B<C> 10.1.2.4"),
                      _web("/", ip="10.2.2.3", line="GET /?x=${jndi:ldap://h}"),
                      _web("/", ip="10.1.2.5", line="GET /?x=jndi-ldap")])
    runner.run_cycle(isolated, DS, compiled)
    assert sorted(a["source"]["ip"] for a in _alerts(isolated)) == ["10.1.2.3", "10.1.2.4"]


def test_late_event_crash_and_rerun_exactly_once(isolated: Settings, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _rule(tmp_path, "trav", "    sel: {c-uri|contains: '../'}\n    condition: sel")
    old = datetime.now(UTC) - timedelta(hours=1)
    _index(isolated, [_web("/../etc/passwd", when=old)])  # event time an hour ago, ingested now
    crash_before(monkeypatch, "before_checkpoint")
    with pytest.raises(InjectedCrash):
        runner.run_cycle(isolated, DS, compiled, streams=("logs-web",))
    assert len(_alerts(isolated)) == 1
    report = runner.run_cycle(isolated, DS, compiled)  # same window again: no duplicate
    assert report.alerts_created == 0 and report.alerts_existing == 1
    _index(isolated, [_web("/../../x", ip="203.0.113.9")])
    crash_before(monkeypatch, "before_alerts")
    with pytest.raises(InjectedCrash):
        runner.run_cycle(isolated, DS, compiled, streams=("logs-web",))
    report = runner.run_cycle(isolated, DS, compiled)  # no gap
    assert report.alerts_created == 1
    alerts = _alerts(isolated)
    assert len(alerts) == 2
    assert {a["rule"]["author"] for a in alerts} == {"tester"}
    assert alerts[0]["threat"]["technique"]["id"] == ["T1190"]


def test_two_runners_each_window_once(isolated: Settings, tmp_path: Path) -> None:
    compiled = _rule(tmp_path, "trav2", "    sel: {c-uri|contains: '../'}\n    condition: sel")
    _index(isolated, [_web(f"/../{i}", ip=f"203.0.113.{i}") for i in range(1, 6)])
    reports: list[runner.CycleReport] = []

    def go() -> None:
        reports.append(runner.run_cycle(isolated, DS, compiled))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # Two runners that start in the same instant may race for the leases and leave a slot to the next
    # cycle (one of them stands by): that cycle must finish the work, and nothing may be made twice.
    reports.append(runner.run_cycle(isolated, DS, compiled))
    assert sum(r.alerts_created for r in reports) == 5
    windows = [(s, w) for r in reports for s, w in r.windows.items()]
    assert len(windows) == len(set(windows))
    assert len(_alerts(isolated)) == 5


def test_exception_suppresses_and_counts(isolated: Settings, tmp_path: Path) -> None:
    compiled = _rule(tmp_path, "trav3", "    sel: {c-uri|contains: '../'}\n    condition: sel")
    client = search.client(isolated)
    names = search.names(isolated)
    rule_id = compiled[0].rule.id
    client.index(index=names.exceptions, id="ex1", refresh=True, body={
        "rule_id": rule_id, "organization": {"id": "dept-a"}, "enabled": True, "hits": 0,
        "conditions": [{"field": "source.ip", "op": "cidr", "value": "192.0.2.0/24"}]})
    _index(isolated, [_web("/../a", ip="192.0.2.5"), _web("/../b", ip="203.0.113.5")])
    report = runner.run_cycle(isolated, DS, compiled)
    assert report.suppressed == 1 and report.alerts_created == 1
    assert client.get(index=names.exceptions, id="ex1")["_source"]["hits"] == 1


@pytest.mark.parametrize("where", ["local", "node"])
def test_correlation_burst_across_cycles_fires_once(isolated: Settings, where: str) -> None:
    """The probe answered from the window read once, or by an aggregation on the node."""
    loaded, _ = rules.load([ROOT / "rules/linux/sshd/bruteforce.yml"])
    compiled = convert.compile_rules(loaded)
    ds = DS if where == "local" else replace(DS, local_max_events=0)

    def fails(n: int) -> list[dict[str, Any]]:
        return [{"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": "dept-b"},
                 "event": {"dataset": "syslog", "original": f"sshd[{i}]: Failed password for root from 198.18.0.1"},
                 "process": {"name": "sshd"}, "source": {"ip": "198.18.0.1"}} for i in range(n)]

    _index(isolated, fails(6))
    first = runner.run_cycle(isolated, ds, compiled)
    assert first.alerts_created == 0 and first.probed_here == (1 if where == "local" else 0)
    _index(isolated, fails(6))
    assert runner.run_cycle(isolated, ds, compiled).alerts_created == 1
    _index(isolated, fails(3))
    assert runner.run_cycle(isolated, ds, compiled).alerts_created == 0
    [alert] = _alerts(isolated)
    assert alert["kind"] == "correlation" and alert["group_key"] == "source.ip=198.18.0.1"


def test_correlation_probe_limits_the_aggregation_to_groups_with_new_matches(isolated: Settings,
                                                                            tmp_path: Path) -> None:
    loaded, _ = rules.load([ROOT / "rules/linux/sshd/bruteforce.yml"])
    compiled = convert.compile_rules(loaded)

    def fails(ip: str, n: int) -> list[dict[str, Any]]:
        return [{"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": "dept-b"},
                 "event": {"dataset": "syslog", "original": f"sshd[{i}]: Failed password for root from {ip}"},
                 "process": {"name": "sshd"}, "source": {"ip": ip}} for i in range(n)]

    _index(isolated, fails("198.18.0.1", 6) + fails("198.18.0.2", 9))
    first = runner.run_cycle(isolated, ONLY_NEW, compiled)
    assert first.alerts_created == 0 and first.correlations_evaluated == 1
    # Only .1 gets new failures: its earlier six still count (the restricted aggregation covers the
    # whole timespan), .2 stays at nine and is not evaluated.
    _index(isolated, fails("198.18.0.1", 4))
    second = runner.run_cycle(isolated, ONLY_NEW, compiled)
    assert second.alerts_created == 1 and second.correlations_evaluated == 1
    assert [a["group_key"] for a in _alerts(isolated)] == ["source.ip=198.18.0.1"]
    # Nothing new for the base rule (an unrelated web event only): no aggregation at all.
    _index(isolated, [_web("/index.html")])
    third = runner.run_cycle(isolated, ONLY_NEW, compiled)
    assert third.alerts_created == 0 and third.correlations_evaluated == 0
    # .2 reaches ten with one more failure and fires in the cycle that sees it.
    _index(isolated, fails("198.18.0.2", 1))
    fourth = runner.run_cycle(isolated, ONLY_NEW, compiled)
    assert fourth.alerts_created == 1 and fourth.correlations_evaluated == 1
    # A "fewer than" condition is judged at each event too (on event time, silence has no moment):
    # a lone failure from a new address is "fewer than 2 in 5 minutes" for its group.
    f = tmp_path / "quiet.yml"
    f.write_text((ROOT / "rules/linux/sshd/bruteforce.yml").read_text()
                 .replace("gte: 10", "lt: 2").replace("e47561a2-2a77-51ee-ab4d-b31fbd198ddd",
                                                     "e47561a2-2a77-51ee-ab4d-b31fbd198dde"))
    loaded, problems = rules.load([f])
    assert not problems
    quiet = convert.compile_rules(loaded)
    assert runner.run_cycle(isolated, ONLY_NEW, quiet).correlations_evaluated == 0
    _index(isolated, fails("198.18.0.3", 1))
    lone = runner.run_cycle(isolated, ONLY_NEW, quiet)
    assert lone.correlations_evaluated == 1 and lone.alerts_created == 1


def test_rule_state_documents_count_hits_and_skip_idle_rewrites(isolated: Settings, tmp_path: Path) -> None:
    compiled = (_rule(tmp_path, "state-hit", "    sel: {c-uri|contains: '/etc/shadow'}\n    condition: sel")
                + _rule(tmp_path, "state-idle", "    sel: {c-uri|contains: '/never/seen'}\n    condition: sel"))
    hit_id, idle_id = (c.rule.id for c in compiled)
    client, names = search.client(isolated), search.names(isolated)

    def states() -> dict[str, dict[str, Any]]:
        client.indices.refresh(index=names.rules_state)
        return store.rule_states(client, names)

    _index(isolated, [_web("/etc/shadow", ip="203.0.113.1")])
    runner.run_cycle(isolated, DS, compiled)
    first = states()
    assert first[hit_id]["hits"] == 1 and first[hit_id]["errors"] == 0 and first[hit_id]["last_error"] is None
    assert first[idle_id]["hits"] == 0 and first[idle_id]["last_run"]  # every rule gets a state at once
    _index(isolated, [_web("/etc/shadow", ip="203.0.113.2")])
    runner.run_cycle(isolated, DS, compiled)
    second = states()
    assert second[hit_id]["hits"] == 2 and second[hit_id]["last_run"] >= first[hit_id]["last_run"]
    assert second[idle_id] == first[idle_id]  # nothing new for it: not rewritten within STATE_EVERY_S


def test_rules_whose_exact_values_are_absent_from_the_window_are_not_searched(isolated: Settings,
                                                                             tmp_path: Path) -> None:
    compiled = _rule(tmp_path, "ftp", "    keywords: ['connection refused']\n    condition: keywords",
                     logsource="product: linux, service: vsftpd")
    assert compiled[0].required == (("process.name", frozenset({"vsftpd"})),)

    def line(program: str, n: int) -> dict[str, Any]:
        return {"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": "dept-c"},
                "event": {"dataset": "syslog", "original": f"{program}[{n}]: connection refused"},
                "message": "connection refused", "process": {"name": program}}

    node = replace(DS, local_max_events=0)  # the check saves searches on the node; local matching needs none
    _index(isolated, [line("sshd", 1), line("cron", 2)])
    report = runner.run_cycle(isolated, node, compiled)
    assert report.skipped == 1 and report.alerts_created == 0
    _index(isolated, [line("sshd", 3), line("VsFTPd", 4)])  # matched case-insensitively, as Sigma wants
    report = runner.run_cycle(isolated, node, compiled)
    assert report.skipped == 0 and report.alerts_created == 1
    _index(isolated, [line("sshd", 5), line("VSFTPD", 6)])
    report = runner.run_cycle(isolated, DS, compiled)  # matched here: nothing to skip, the same alert
    assert report.matched_locally == 1 and report.alerts_created == 1


def test_a_cycle_refreshes_the_streams_so_nothing_waits_for_the_refresh_interval(isolated: Settings,
                                                                                 tmp_path: Path) -> None:
    compiled = _rule(tmp_path, "refresh", "    sel: {c-uri|contains: '/wp-config.php.bak'}\n    condition: sel")
    client, names = search.client(isolated), search.names(isolated)
    _index(isolated, [_web("/index.html")])  # creates the stream's backing index
    client.indices.put_settings(index=names.web, body={"index": {"refresh_interval": "-1"}})
    client.index(index=names.stream("logs-web", "dept-a"), op_type="create",
                 body=_web("/wp-config.php.bak", ip="203.0.113.77"))
    hidden = client.count(index=names.web, body={"query": {"term": {"source.ip": "203.0.113.77"}}})["count"]
    assert hidden == 0  # not searchable: no scheduled refresh will ever come
    report = runner.run_cycle(isolated, DS, compiled)  # one shot (soc detect --once): refreshes first
    assert report.alerts_created == 1


def test_scheduled_cycles_refresh_the_streams_too(isolated: Settings, tmp_path: Path) -> None:
    """Not left to the streams' own refresh: under load it lagged past the re-checked stretch."""
    compiled = _rule(tmp_path, "late", "    sel: {c-uri|contains: '/wp-config.php.bak'}\n    condition: sel")
    client, names = search.client(isolated), search.names(isolated)
    _index(isolated, [_web("/index.html")])
    client.indices.put_settings(index=names.web, body={"index": {"refresh_interval": "-1"}})
    client.index(index=names.stream("logs-web", "dept-a"), op_type="create",
                 body=_web("/wp-config.php.bak", ip="203.0.113.78"))
    first = runner.run_cycle(isolated, DS, compiled, owner="scheduler-1")
    assert first.ran and first.alerts_created == 1


def test_per_rule_cap_counts_overflow(isolated: Settings, tmp_path: Path) -> None:
    compiled = _rule(tmp_path, "cap", "    sel: {c-uri|contains: '../'}\n    condition: sel")
    _index(isolated, [_web(f"/../{i}", ip=f"203.0.113.{i}") for i in range(1, 8)])
    report = runner.run_cycle(isolated, replace(DS, per_rule_cap=5, page_size=2), compiled)
    assert report.overflow_rules == [compiled[0].rule.id]
    assert report.alerts_created == 6  # five matches (paged 2 at a time) and the overflow alert


def test_project_rules_pass_their_events(isolated: Settings) -> None:
    loaded, problems = rules.load([ROOT / "rules"])
    assert not problems and len(loaded) >= 30
    results = ruletest.run(search.client(isolated), search.names(isolated), convert.compile_rules(loaded))
    failed = [r for r in results if not r.passed]
    assert results and not failed, failed


@pytest.mark.parametrize("where", ["local", "node"])
def test_paging_through_equal_ingest_times_sees_each_match_once(isolated: Settings, tmp_path: Path,
                                                                where: str) -> None:
    """Pages of two: the window's read for local matching, or the rule's own search on the node."""
    compiled = _rule(tmp_path, "page", "    sel: {c-uri|contains: '/etc/'}\n    condition: sel")
    _index(isolated, [_web(f"/etc/{i}", ip=f"203.0.113.{i}") for i in range(1, 10)])  # one bulk: shared ms
    ds = replace(DS, fetch_page=2) if where == "local" else replace(DS, page_size=2, local_max_events=0)
    report = runner.run_cycle(isolated, ds, compiled)
    assert report.fetched == (9 if where == "local" else 0)
    assert report.requests >= 5 and report.alerts_created == 9
    assert sorted(a["source"]["ip"] for a in _alerts(isolated)) == sorted(f"203.0.113.{i}" for i in range(1, 10))


def test_a_document_made_searchable_after_its_window_ran_is_still_evaluated(isolated: Settings,
                                                                          tmp_path: Path) -> None:
    compiled = _rule(tmp_path, "straggler", "    sel: {cs-uri-query|contains: '/etc/passwd'}\n    condition: sel")
    client, names = search.client(isolated), search.names(isolated)
    _index(isolated, [_web("/../../etc/passwd", ip="192.0.2.44")])
    [hit] = client.search(index=names.web, body={"query": {"match_all": {}}})["hits"]["hits"]
    stamped = store.parse_time(hit["_source"]["event"]["ingested"])
    # As if a cycle had passed this document's stamp before the document could be searched: the
    # checkpoint already stands just after it.
    for stream in ("logs-web", "logs-syslog"):
        store.set_checkpoint(client, names, f"detect:{stream}", stamped + timedelta(milliseconds=1))
    without = runner.run_cycle(isolated, replace(DS, recheck_s=0), compiled)
    assert without.alerts_created == 0  # the gap the re-check closes
    for stream in ("logs-web", "logs-syslog"):
        store.set_checkpoint(client, names, f"detect:{stream}", stamped + timedelta(milliseconds=1))
    report = runner.run_cycle(isolated, DS, compiled)
    assert report.alerts_created == 1
    assert report.fetched == 1  # the last window read did not hold it: fetched whole from the stretch
    # the next cycle counts the stretch again and adds nothing, and counts no second match; the
    # straggler is known by then, so it is not read again
    again = runner.run_cycle(isolated, DS, compiled)
    assert again.alerts_created == 0 and again.matches == 0 and again.fetched == 0


def test_a_straggler_among_documents_read_before_is_found_by_the_stretch_count(isolated: Settings,
                                                                               tmp_path: Path) -> None:
    """The stretch is only counted while it holds the documents the last read saw; one more there
    (stamped before the last window's end, searchable after it) is listed and read whole."""
    compiled = _rule(tmp_path, "straggler2", "    sel: {cs-uri-query|contains: '/etc/passwd'}\n    condition: sel")
    client, names = search.client(isolated), search.names(isolated)
    _index(isolated, [_web("/index.html", ip="192.0.2.10")])
    first = runner.run_cycle(isolated, DS, compiled)
    assert first.fetched == 1 and first.alerts_created == 0
    _index(isolated, [_web("/../../etc/passwd", ip="192.0.2.45")])
    [late] = [h for h in client.search(index=names.web, body={"query": {"match_all": {}}})["hits"]["hits"]
              if h["_source"]["source"]["ip"] == "192.0.2.45"]
    stamped = store.parse_time(late["_source"]["event"]["ingested"])
    # as if the last window had ended just after this event while it was not yet searchable: the
    # slot's checkpoint stands after it, and the last read (the memo) holds only the first event
    store.set_checkpoint(client, names, "detect:logs-web", stamped + timedelta(milliseconds=1))
    report = runner.run_cycle(isolated, DS, compiled)
    assert report.alerts_created == 1, report
    assert report.fetched == 1  # the straggler only: the first event is known
    assert report.stretch_listed == 1 and report.stragglers == 1
    # both are known now: the stretch's count equals them, and it is not listed again
    quiet = runner.run_cycle(isolated, DS, compiled)
    assert quiet.alerts_created == 0 and quiet.matches == 0 and quiet.fetched == 0
    assert quiet.stretch_listed == 0 and quiet.stragglers == 0


def test_a_window_larger_than_the_local_bound_is_matched_in_pieces_losing_nothing(isolated: Settings,
                                                                                   tmp_path: Path) -> None:
    """A backlog is read and matched a bounded number of events at a time: the window is cut, the
    next cycle goes on from the cut, and every match is alerted once (recheck off: pieces only)."""
    from soc.detection import cli

    compiled = _rule(tmp_path, "piece", "    sel: {c-uri|contains: '/etc/'}\n    condition: sel")
    for i in range(1, 10):  # one request each: each event gets its own ingest stamp
        _index(isolated, [_web(f"/etc/{i}", ip=f"203.0.113.{i}"), _web("/index.html", ip=f"198.51.100.{i}")])
    client = search.client(isolated)
    ds = replace(DS, local_max_events=5, recheck_s=0)
    reports = cli.backfill(isolated, ds, compiled, client, store.node_now(client))
    # 18 events, at most 5 new ones per piece plus those stamped in the same millisecond as the last
    assert sum(r.cut_windows for r in reports) >= 2 and all(r.fetched <= 6 for r in reports)
    assert sum(r.alerts_created for r in reports) == 9
    assert sorted(a["source"]["ip"] for a in _alerts(isolated)) == sorted(f"203.0.113.{i}" for i in range(1, 10))


def test_busy_scheduled_cycles_refresh_ahead_and_lose_nothing(isolated: Settings, tmp_path: Path) -> None:
    """A busy scheduled cycle starts the next cycle's snapshot (node time, then the refresh) once it has
    read its windows; the next cycle, run at once, ends its window at that snapshot. An event indexed
    after the snapshot waits for the cycle after, and nothing is skipped or seen twice."""
    compiled = _rule(tmp_path, "ahead", "    sel: {c-uri|contains: '/etc/shadow'}\n    condition: sel")
    client, names = search.client(isolated), search.names(isolated)
    _index(isolated, [_web("/index.html")])
    client.indices.put_settings(index=names.web, body={"index": {"refresh_interval": "-1"}})

    def add(ip: str) -> None:  # searchable only once a cycle's snapshot refreshes the stream
        client.index(index=names.stream("logs-web", "dept-a"), op_type="create", body=_web("/etc/shadow", ip=ip))

    busy = replace(DS, interval_s=0.001)  # every cycle takes the whole period: the scheduler loops
    runner.forget_ahead()
    add("203.0.113.81")
    first = runner.run_cycle(isolated, busy, compiled, owner="scheduler-ahead")
    assert not first.refreshed_ahead and first.alerts_created == 1
    add("203.0.113.82")  # after the snapshot the first cycle started ahead
    second = runner.run_cycle(isolated, busy, compiled, owner="scheduler-ahead")
    assert second.refreshed_ahead and second.alerts_created == 0
    third = runner.run_cycle(isolated, busy, compiled, owner="scheduler-ahead")
    assert third.refreshed_ahead and third.alerts_created == 1
    assert first.windows["logs-web"][1] == second.windows["logs-web"][0]  # windows follow each other
    assert second.windows["logs-web"][1] == third.windows["logs-web"][0]
    assert sorted(a["source"]["ip"] for a in _alerts(isolated)) == ["203.0.113.81", "203.0.113.82"]

    # Cycles shorter than the period (followed at the period's next tick) start no snapshot ahead:
    # the next takes a fresh one and sees what came in between.
    idle = replace(DS, interval_s=60.0)
    runner.run_cycle(isolated, idle, compiled, owner="scheduler-ahead")  # after a busy one: may start one
    runner.run_cycle(isolated, idle, compiled, owner="scheduler-ahead")  # after an idle one: starts none
    add("203.0.113.83")
    after = runner.run_cycle(isolated, idle, compiled, owner="scheduler-ahead")
    assert not after.refreshed_ahead and after.alerts_created == 1
    runner.forget_ahead()
