"""The books of recent base matches (soc.detection.recent): correlations judged on what the windows
already read give the same alerts as correlations judged by searching the node."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.parsers import ParseContext, parse
from soc import search
from soc.config import Settings
from soc.detection import convert, recent, rules, runner, store
from soc.detection.convert import CompiledCorrelation
from soc.detection.settings import DetectionSettings
from soc.opensearch import bootstrap

ROOT = Path(__file__).resolve().parents[2]
DS = DetectionSettings(settle_s=0, first_lookback_s=3600)


def _corr(kind: str = "event_count") -> CompiledCorrelation:
    compiled = convert.compile_rules(rules.load([ROOT / "rules"])[0])
    return next(c for c in compiled if isinstance(c, CompiledCorrelation) and c.kind == kind)


def _entry(t: int, index: str, seq: int, bases: frozenset[int] = frozenset({0}), *values: str) -> recent.Entry:
    return recent.Entry(t, index, seq, f"id-{index}-{seq}", bases, min(values) if values else None, frozenset(values))


def test_a_book_answers_spans_in_the_node_s_order_and_forgets_by_event_time() -> None:
    corr = _corr("value_count")
    book = recent.Book((), 60_000, 180_000, complete_from=600_000, last_end=0)
    g = ("dept-a", "198.51.100.1")
    for e in (_entry(660_500, ".ds-b", 2, frozenset({0}), "bob"), _entry(660_500, ".ds-a", 9, frozenset({0}), "amy"),
              _entry(700_000, ".ds-a", 10, frozenset({0}), "amy"), _entry(790_000, ".ds-a", 11, frozenset({0}), "cy")):
        book.add(g, e)
    book.add(g, _entry(700_000, ".ds-a", 10, frozenset({0}), "amy"))  # read again (re-checked stretch): once
    book.add(("dept-b", "198.51.100.1"), _entry(700_000, ".ds-c", 1, frozenset({0}), "zed"))
    assert book.size == 5
    assert [(e.t, e.index, e.seq) for e in book.entries(g, 660_500, 790_000)] == [
        (660_500, ".ds-a", 9), (660_500, ".ds-b", 2), (700_000, ".ds-a", 10), (790_000, ".ds-a", 11)]
    assert [e.seq for e in book.entries(g, 660_501, 789_999)] == [10]  # both ends inclusive, nothing outside
    assert book.count(corr, g, 600_000, 800_000) == 3  # distinct users, as the node's cardinality counts
    totals = book.totals(corr, g, [(600_000, 700_000), (650_000, 800_000)])
    assert totals["doc_count"] == 4 and totals["distinct"]["value"] == 3 and totals["b0"]["doc_count"] == 4
    assert [p.value for p in book.points(g, 0, 10**9)] == ["amy", "bob", "amy", "cy"]
    assert book.covers(600_000) and not book.covers(599_999)
    book.evict(now_ms=900_000)  # keeps 180 s of event time: buckets from 720 s on
    assert book.complete_from == 720_000 and not book.covers(700_000)
    assert [e.seq for e in book.entries(g, 0, 10**9)] == [11] and book.size == 1


def test_the_first_value_is_the_node_s_first_doc_value() -> None:
    assert recent._node_order("ip", ["10.0.0.2", "2001:db8::1", "10.0.0.10"]) == "10.0.0.2"  # v4 sorts as ::ffff:
    assert recent._node_order("ip", ["2001:db8::1", "::1"]) == "::1"
    assert recent._node_order("keyword", ["b", "B", "é", "a"]) == "B"
    assert recent._node_order("long", [10, 9]) == 9


def _events(now: datetime) -> list[dict[str, Any]]:
    """Web and SSH events of two agencies: real bursts, slow trickles, a spray, a brute force then a
    login, and a burst that arrives two hours late (beyond every book's horizon)."""
    ctx = ParseContext(timezone="UTC", received_at=now)
    out: list[dict[str, Any]] = []

    def web(ip: str, when: datetime, status: int, agency: str, path: str = "/old.html", method: str = "GET") -> None:
        raw = f'{ip} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "{method} {path} HTTP/1.1" {status} 153 "-" "curl/8.5"'
        out.append({**parse("nginx", raw.encode(), ctx), "organization": {"id": agency}})

    def ssh(what: str, when: datetime, agency: str) -> None:
        raw = f"{when:%b} {when.day:>2} {when:%H:%M:%S} host1 sshd[4242]: {what}"
        out.append({**parse("syslog", raw.encode(), ctx), "organization": {"id": agency}})

    for agency in ("dept-a", "dept-b"):
        for k in range(25):  # a client error burst
            web("198.51.100.10", now - timedelta(seconds=50) + timedelta(seconds=1.5 * k), 404, agency)
        for k in range(20):  # a slow one: 20 in ten minutes
            web("198.51.100.11", now - timedelta(minutes=10) + timedelta(seconds=29 * k), 404, agency)
        for k in range(9):  # server errors, 8 within 5 minutes are a burst
            web("198.51.100.12", now - timedelta(minutes=4) + timedelta(seconds=20 * k), 502, agency)
        for k in range(12):  # refused logins
            web("198.51.100.13", now - timedelta(minutes=3) + timedelta(seconds=9 * k), 401, agency, "/login", "POST")
        for k in range(6):  # one address, six users
            ssh(f"Failed password for invalid user u{k} from 203.0.113.5 port {4000 + k} ssh2",
                now - timedelta(minutes=6) + timedelta(seconds=30 * k), agency)
        for k in range(8):  # guessing, then in
            ssh(f"Failed password for root from 203.0.113.6 port {5000 + k} ssh2",
                now - timedelta(minutes=9) + timedelta(seconds=20 * k), agency)
        ssh("Accepted password for root from 203.0.113.6 port 5100 ssh2", now - timedelta(minutes=5), agency)
    for k in range(25):  # two hours late
        web("198.51.100.14", now - timedelta(hours=2, seconds=50) + timedelta(seconds=1.5 * k), 404, "dept-a")
    return out


def _deliver(settings: Settings, compiled: list[convert.Result], events: list[dict[str, Any]],
             ds: DetectionSettings) -> tuple[
        list[tuple[Any, ...]], int, int]:
    client, names = search.client(settings), search.names(settings)
    here = node = 0
    for i in range(0, len(events), 23):
        if i == 23 * 4:  # books started again while the last read is still known: seeded to the window's end
            recent.forget()
        store.index_events(client, names, events[i:i + 23])
        report = runner.run_cycle(settings, ds, compiled)
        assert not report.errors, report.errors
        here, node = here + report.groups_here, node + report.groups_node
    client.indices.refresh(index=names.alerts)
    hits = client.search(index=names.alerts, body={"size": 1000, "query": {"term": {"kind": "correlation"}}})
    alerts = sorted((h["_source"]["rule"]["id"], h["_source"]["organization"]["id"], h["_source"]["group_key"],
                     h["_source"]["first_seen"], h["_source"]["last_seen"], h["_source"].get("event_count"),
                     h["_source"].get("superseded_by"),
                     len(h["_source"].get("events", [])))  # ids differ: the node makes them
                    for h in hits["hits"]["hits"])
    return alerts, here, node


def test_correlations_judged_on_the_books_equal_those_judged_by_the_node(opensearch_settings: Settings) -> None:
    compiled = convert.compile_rules(rules.load([ROOT / "rules"])[0])
    now = datetime.now(UTC)
    events = _events(now)
    random.Random(11).shuffle(events)
    results = {}
    # the shipped settings, then no books (SOC_DETECT_RECENT_MAX_ENTRIES=0): every group searched on the node
    for way, ds in (("books", DS), ("node", replace(DS, recent_max_entries=0))):
        recent.forget()
        with bootstrap.scratch(opensearch_settings, f"scratch-recent-{way}-") as s:
            results[way] = _deliver(s, compiled, [dict(e) for e in events], ds)
    books, here, node = results["books"]
    assert here > 0 and node > 0  # the late burst is searched on the node even with books
    assert results["node"][1] == 0
    assert books == results["node"][0]
    fired = {(a[0], a[1], a[2]) for a in books if a[6] is None}
    burst = "2f84518d-20c9-5170-b649-127b24a2f7f9"
    assert {(r, o, k) for r, o, k in fired if r == burst} == {
        (burst, "dept-a", "source.ip=198.51.100.10"), (burst, "dept-b", "source.ip=198.51.100.10"),
        (burst, "dept-a", "source.ip=198.51.100.14")}
    assert len({r for r, _, _ in fired}) >= 5  # bursts, server errors, logins, spray, guessing then in


def test_a_gap_between_windows_starts_the_book_again(isolated: Settings) -> None:
    corr = _corr()
    client, names = search.client(isolated), search.names(isolated)
    index = names("logs-web")
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    recent.forget()
    book = recent.update(client, corr, "logs-web", index, [], t0, t0 + timedelta(seconds=10), [], 30, 1000)
    assert book is not None and book.last_end == recent._ms(t0 + timedelta(seconds=10))
    again = recent.update(client, corr, "logs-web", index, [], t0 + timedelta(seconds=5),
                          t0 + timedelta(seconds=20), [], 30, 1000)
    assert again is book  # the next window starts before the last one's end: it follows on
    other = recent.update(client, corr, "logs-web", index, [], t0 + timedelta(seconds=25),
                          t0 + timedelta(seconds=30), [], 30, 1000)
    assert other is not None and other is not book  # a gap: started again from the node
    assert recent.update(client, corr, "logs-web", index, [], t0 + timedelta(seconds=30),
                         t0 + timedelta(seconds=40), None, 30, 1000) is None  # the window was not read here
