"""The service's own evaluation of rule queries (soc.detection.local): units, then the whole engine.

The rule-by-rule comparison with the node's answers (every project and public rule, rule samples,
real logs and probes) is in ``test_dsl.py``; here the value semantics are pinned one by one, and a
cycle's matches are shown to be the same whether a window is matched in the service or searched.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc import search
from soc.config import Settings
from soc.detection import convert, correlate, dsl, local, rules, runner, store
from soc.detection.convert import CompiledCorrelation
from soc.detection.settings import DetectionSettings
from soc.detection.slots import Slot

ROOT = Path(__file__).resolve().parents[2]


def _m(query: str, source: dict[str, Any]) -> bool:
    matcher = local.matcher(query)
    assert matcher is not None, query
    return matcher(local.Doc(source))


@pytest.mark.parametrize(("pattern", "value", "hit"), [
    ("*union*select*", "/a?q=union%20select", True),
    ("*union*select*", "/a?q=select union", False),
    ("/wp-*.php", "/wp-login.php", True),
    ("/wp-*.php", "/wp-login.phps", False),
    ("a?c", "abc", True),
    ("a?c", "a\u00e9c", True),  # one code point
    ("a?c", "abbc", False),
    ("*\\*x", "a*x", True),
    ("*\\*x", "abx", False),
    ("*line\nbreak*", "a line\nbreak here", True),
    ("ab*ba", "aba", False),  # the ends may not overlap
    ("ab*ba", "abba", True),
    ("*a*b*c", "xaybzc", True),
    ("*a*b*c", "xcybza", False),
    ("/x*/y*.php", "/x1/y2.php", True),
])
def test_wildcard_patterns_match_the_whole_value(pattern: str, value: str, hit: bool) -> None:
    assert local.pattern_test(pattern)(value) is hit


def test_contained_literals_are_every_occurrence_of_every_literal() -> None:
    """``*literal*`` leaves share one Aho-Corasick pass per value: overlapping literals, one literal
    the prefix or suffix of another, several values, non-ASCII and a doubled star all answer as a
    substring search does."""
    q = ("url.original:(*abc* OR *bcd* OR *ab* OR *cd* OR *\u0130x*) AND url.original:**zz**"
         " AND NOT url.original:*okay*")
    cases = {"/abcd/zz": True, "/ab/zz": True, "/b/c/d/zz": False, "/abcd/z/z": False,
             "/\u0130x/zz": True, "/ix/zz": True,  # the pattern sub-field is lower-cased, as Lucene does
             "/abcd/zz/okay": False}
    for value, hit in cases.items():
        assert _m(q, {"url": {"original": value}}) is hit, value
    assert _m(q, {"url": {"original": ["/nothing", "/cd-zz"]}})  # one value holds both
    held = local.matcher(q)  # its literals stay registered while it lives
    doc = local.Doc({"url": {"original": "/xabcdx"}})
    ids = doc.contained("url.original")
    for lit in ("abc", "bcd", "ab", "cd", "zz"):
        got = local.LITERALS.register("url.original", [lit])
        local.LITERALS.release("url.original", [lit])
        assert (got <= ids) is (lit != "zz"), lit
    assert held is not None
    assert local.matcher("url.original:**zz**") is not None
    assert local._pattern_parts("**zz**") == [None, "zz", None]


def test_literals_are_held_only_while_a_matcher_tests_them() -> None:
    """The rule lab compiles rules tried once: their literals leave the automata with their matchers."""
    import gc

    before = local.LITERALS.count("user_agent.original")
    kept = local.matcher("user_agent.original:*lab-kept-7f3a*")
    tried = local.matcher("user_agent.original:(*lab-tried-7f3a* OR *lab-kept-7f3a*)")
    assert kept is not None and tried is not None
    assert local.LITERALS.count("user_agent.original") == before + 2
    assert tried(local.Doc({"user_agent": {"original": "x LAB-TRIED-7f3a y"}}))
    del tried
    gc.collect()
    assert local.LITERALS.count("user_agent.original") == before + 1  # the kept matcher still tests its own
    assert kept(local.Doc({"user_agent": {"original": "lab-kept-7f3a"}}))
    assert not kept(local.Doc({"user_agent": {"original": "lab-tried-7f3a"}}))
    del kept
    gc.collect()
    assert local.LITERALS.count("user_agent.original") == before


def test_lower_case_is_lucene_s_one_code_point_at_a_time() -> None:
    assert local.java_lower("\u0130STANBUL") == "istanbul"  # str.lower() would give two code points
    assert local.java_lower("ÉCOLE") == "école"


def test_values_of_dotted_and_nested_sources_are_the_same() -> None:
    nested = local.values_of({"url": {"original": "/x"}, "tags": ["a", None, "b"],
                              "http": {"response": {"status_code": 404}}})
    dotted = local.values_of({"url.original": "/x", "tags": ["a", "b"], "http.response.status_code": 404})
    assert nested == dotted == {"url.original": ["/x"], "tags": ["a", "b"], "http.response.status_code": [404]}
    mixed = {"url": {"original": "/x"}, "url.path": "/p", "http": {"response.status_code": 404},
             "related": [{"ip": "192.0.2.1"}, {"ip": ["192.0.2.2", None]}], "empty": {}}
    every = local.values_of(mixed)
    for fld in ("url.original", "url.path", "http.response.status_code", "related.ip", "empty", "missing.field"):
        assert local.lookup(mixed, fld) == every.get(fld, []), fld
    assert local.lookup(mixed, "related.ip") == ["192.0.2.1", "192.0.2.2"]


def test_keyword_terms_are_case_sensitive_and_lower_cased_ones_are_not() -> None:
    assert _m("event.dataset:nginx.access", {"event": {"dataset": "nginx.access"}})
    assert not _m("event.dataset:nginx.access", {"event": {"dataset": "NGINX.access"}})  # plain keyword
    assert _m("user_agent.original:Nikto", {"user_agent": {"original": "nikto"}})  # ci_keyword


def test_values_beyond_ignore_above_are_not_indexed_so_never_match() -> None:
    long_path = "/" + "a" * 9000
    assert not _m("url.original:*aaa*", {"url": {"original": long_path}})
    assert _m("url.original:*aaa*", {"url": {"original": long_path[:8000]}})
    assert not _m("_exists_:url.original", {"url": {"original": long_path}})


def test_nul_is_replaced_as_the_pattern_normalizer_does() -> None:
    assert _m("url.original:*passwd\\|*", {"url": {"original": "/f=../etc/PASSWD|"}})
    assert _m("url.original:*\ufffd*", {"url": {"original": "/a\x00b"}})


def test_numbers_are_coerced_and_compared() -> None:
    assert _m("http.response.status_code:404", {"http": {"response": {"status_code": "404"}}})
    assert _m("http.response.status_code:404", {"http": {"response": {"status_code": 404.9}}})
    assert _m("http.response.status_code:>=500", {"http": {"response": {"status_code": 503}}})
    assert not _m("http.response.status_code:>=500", {"http": {"response": {"status_code": 404}}})


def test_addresses_and_blocks_with_ipv4_mapped_ipv6() -> None:
    assert _m("source.ip:10.0.0.0\\/8", {"source": {"ip": "10.2.3.4"}})
    assert _m("source.ip:10.0.0.0\\/8", {"source": {"ip": "::ffff:10.2.3.4"}})
    assert not _m("source.ip:10.0.0.0\\/8", {"source": {"ip": "11.2.3.4"}})
    assert _m("source.ip:2001\\:db8\\:\\:\\/32", {"source": {"ip": "2001:db8::5"}})
    assert _m("source.ip:192.0.2.7", {"source": {"ip": "192.0.2.7"}})


def test_boolean_logic_and_missing_fields() -> None:
    q = "(url.original:*admin* OR url.original:*login*) AND NOT source.ip:10.0.0.0\\/8"
    assert _m(q, {"url": {"original": "/Admin"}, "source": {"ip": "192.0.2.1"}})
    assert not _m(q, {"url": {"original": "/Admin"}, "source": {"ip": "10.0.0.1"}})
    assert _m(q, {"url": {"original": "/login"}})  # NOT of a missing field holds
    assert not _m(q, {"source": {"ip": "192.0.2.1"}})


def test_wildcards_left_on_the_field_itself() -> None:
    assert _m("url.original:*..\\\\*", {"url": {"original": "/A/..\\B"}})  # a backslash before the star
    assert _m("user.name:*$", {"user": {"name": "WEB01$"}})
    assert not _m("http.response.status_code:*200*", {"http": {"response": {"status_code": 1200}}})


@pytest.mark.parametrize("query", ["message:foo", "url.domain:/[a-z]+/", "url.domain:/a~b/", "url.query:/id=[0-9]+/",
                                   "event.dataset:/\\d+/", "@timestamp:2026", "source.ip:10.*"])
def test_leaves_the_node_answers_differently_are_left_to_the_node(query: str) -> None:
    assert local.matcher(query) is None
    with pytest.raises(local.NotLocal):
        local.compile_tree(dsl.parse(query))


# --- the engine: the same matches matched here or searched ---------------------------------------

def _events() -> list[dict[str, Any]]:
    import yaml

    out: list[dict[str, Any]] = []
    for efile in sorted((ROOT / "rules").rglob("*" + rules.EVENTS_SUFFIX)):
        data = yaml.safe_load(efile.read_text(encoding="utf-8")) or {}
        for case in data.get("match", []) + data.get("nomatch", []):
            for event in (case["events"] if isinstance(case, dict) and "events" in case else [case]):
                doc = dict(event)
                doc["@timestamp"] = store.iso(datetime.now(UTC))
                doc["organization"] = {"id": "local-eq-a" if len(out) % 2 else "local-eq-b"}
                out.append(doc)
    return out


def _hits(settings: Settings, compiled: list[convert.Result], ds: DetectionSettings,
          start: datetime, end: datetime) -> tuple[dict[tuple[str, str], tuple[list[str], int]], runner.CycleReport]:
    client, names = search.client(settings), search.names(settings)
    report = runner.CycleReport()
    works = [runner.plan(compiled, Slot(s, 0, 1), start, end, ds) for s in search.LOG_STREAMS]
    got = runner._batched_hits(client, names, works, ds, report, batched=True)
    return {(slot.stream, rule): ([h["_id"] for h in hits], total)  # rules without a match may have no entry
            for (slot, rule), (hits, total) in got.items() if total}, report


def test_a_window_matched_here_gives_the_node_s_matches_in_the_same_order(isolated: Settings) -> None:
    loaded, problems = rules.load([ROOT / "rules"])
    assert not problems
    compiled = convert.compile_rules(loaded)
    client, names = search.client(isolated), search.names(isolated)
    start = store.node_now(client) - timedelta(seconds=1)
    store.index_events(client, names, _events())
    end = store.node_now(client) + timedelta(seconds=1)
    base = DetectionSettings(settle_s=0, recheck_s=0, per_rule_cap=3,
                             disabled_for_agency=frozenset({f"{loaded[0].id}:local-eq-a"}))
    here, r_here = _hits(isolated, compiled, base, start, end)
    there, r_there = _hits(isolated, compiled, replace(base, local_max_events=0), start, end)
    assert r_here.matched_locally >= 20 and r_here.fetched > 0
    assert r_there.matched_locally == 0 and r_there.fetched == 0
    assert here == there  # same rules, same documents in window order up to the cap, same totals
    assert sum(1 for _, total in here.values() if total) >= 20
    assert any(total > len(ids) for ids, total in here.values())  # the cap was exercised


def _correlation_cases() -> list[list[dict[str, Any]]]:
    import yaml

    cases: list[list[dict[str, Any]]] = []
    for efile in sorted((ROOT / "rules").rglob("*" + rules.EVENTS_SUFFIX)):
        data = yaml.safe_load(efile.read_text(encoding="utf-8")) or {}
        cases += [c["events"] for c in data.get("match", []) + data.get("nomatch", [])
                  if isinstance(c, dict) and "events" in c]
    return cases


def test_correlation_probes_answered_here_equal_the_node_s(isolated: Settings) -> None:
    """Groups (agency, group-by values as the aggregation returns them) and event-time buckets, with
    an excluded agency, a late event, an IPv6 and an IPv4-mapped address, and upper-case names."""
    import copy

    from soc.detection import correlation

    loaded, _ = rules.load([ROOT / "rules"])
    compiled = convert.compile_rules(loaded)
    corrs = [c for c in compiled if isinstance(c, convert.CompiledCorrelation)]
    client, names = search.client(isolated), search.names(isolated)
    now = store.node_now(client)
    events: list[dict[str, Any]] = []
    for n, case in enumerate(_correlation_cases()):
        for k, event in enumerate(case):
            doc = copy.deepcopy(event)
            doc["@timestamp"] = store.iso(now - timedelta(seconds=41 * k + 400 * n))
            doc["organization"] = {"id": f"probe-{n % 3}"}
            if n % 4 == 1 and "source" in doc:
                doc["source"]["ip"] = ["2001:0db8:0:0::" + str(k % 3), "::ffff:192.0.2.9"][k % 2]
            if n % 5 == 2 and "user" in doc:
                doc["user"]["name"] = str(doc["user"]["name"]).upper()
            events.append(doc)
    late = copy.deepcopy(events[0])
    late["@timestamp"] = store.iso(now - timedelta(days=8))  # tagged _late by the pipeline: never probed
    start = now - timedelta(seconds=1)
    store.index_events(client, names, [*events, late])
    end = store.node_now(client) + timedelta(seconds=1)
    ds = DetectionSettings(settle_s=0, recheck_s=0)
    report = runner.CycleReport()
    docs: dict[str, list[tuple[local.Doc, frozenset[str]]]] = {}
    bases = [b for c in corrs for b in c.bases]
    for stream in search.LOG_STREAMS:
        work = runner.Work(Slot(stream, 0, 1), start, end, [], [])
        hits = runner._fetch_window(client, names, work, ds, report)
        assert hits is not None
        docs[stream] = []
        for h in hits:
            doc = local.Doc(h["_source"])
            docs[stream].append((doc, frozenset(b.rule.id for b in bases if b.local and b.local(doc))))
    assert report.fetched == len(events) + 1
    compared = with_groups = 0
    for c in corrs:
        for must_not in ([], [{"terms": {"organization.id": ["probe-1"]}}]):
            here = correlation.Probe(c, must_not)
            assert correlation.probe_locally(here, docs[c.streams[0]]), c.rule.title
            there = correlation.Probe(c, must_not)
            after = None
            while True:
                resp = client.search(index=names(c.streams[0]),
                                     body=correlation.probe_body(c, start, end, must_not, after))
                after = correlation.read_probe(there, resp)
                if not after:
                    break
            mine = {g: sorted(b) for g, b in here.buckets.items()}
            assert mine == {g: sorted(b) for g, b in there.buckets.items()}, c.rule.title
            compared += 1
            with_groups += bool(here.buckets)
    assert compared == 2 * len(corrs) >= 10 and with_groups >= 8
    # groups keyed by an address carry its canonical text, as the aggregation gives it
    keys = {v for c in corrs for d, _ in docs[c.streams[0]] for v in local.doc_values(d, "source.ip")}
    assert "192.0.2.9" in keys and {"2001:db8::", "2001:db8::2"} & keys


def test_keyword_wildcards_and_regexes_are_answered_as_the_node_answers(isolated: Settings) -> None:
    """The leaves the query string runs on the field itself: node and service, value by value."""
    client, names = search.client(isolated), search.names(isolated)
    domains = ["a" * 149, "a" * 151, "API.example.com", "x.y", "d" * 5000]
    datasets = ["nginx.access", "Nginx.access", "nginx.error", "x" * 5000]
    users = ["WEB01$", "web01", "#-1", "#4294967295", "#-Root"]
    events = [{"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": "kw-probe"},
               "event": {"dataset": ds}, "url": {"domain": d, "original": f"/a/..\\{d[:3]}"}, "user": {"name": u},
               "http": {"response": {"status_code": 1200 + n}}}
              for n, (d, ds, u) in enumerate(zip(domains * 2, datasets * 3, users * 2, strict=False))]
    store.index_events(client, names, events)
    queries = ["url.domain:/.*.{150}.*/", "url.domain:/.{3,6}/", "url.domain:/[^.]+\\..+/",
               "event.dataset:/nginx\\.[a-z]+/", "event.dataset:/(n|N)ginx.*/",
               "url.original:*..\\\\*", "user.name:*$", "user.name:#\\-*", "user.name:#*4294967295",
               "http.response.status_code:*200*", "event.dataset:Nginx*", "url.domain:API*"]
    both = f"{names.web},{names.syslog}"  # the dataset decides the stream
    docs = _all_docs(client, both)
    assert len(docs) == len(events)
    matched = 0
    for q in queries:
        matcher = local.matcher(q)
        assert matcher is not None, q
        want = {h["_id"] for h in client.search(index=both, body={
            "size": 100, "query": {"query_string": {"query": q, "analyze_wildcard": True}}})["hits"]["hits"]}
        assert {i for i, d in docs if matcher(d)} == want, q
        matched += bool(want)
    assert matched >= 9


def _all_docs(client: Any, index: str) -> list[tuple[str, local.Doc]]:
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"size": 1000, "query": {"match_all": {}}})["hits"]["hits"]
    return [(h["_id"], local.Doc(h["_source"])) for h in hits]


def test_group_requests_name_only_their_agency_s_streams() -> None:
    """Candidates, fetches and counts of a group read its agency's data streams (organization.id is the
    stream's agency, set by the ingest pipeline); a value that names no agency keeps the whole pattern."""
    [corr] = [c for c in convert.compile_rules(rules.load([ROOT / "rules"])[0])
              if isinstance(c, CompiledCorrelation) and c.streams == ("logs-web",)][:1]
    names = search.names(Settings(index_prefix="t-"))
    item = correlate.Item(corr, names("logs-web"), None, None, [], {}, None, names)
    assert item.index_for("dept-a") == "t-logs-web-dept-a"
    assert item.index_for("Not An Agency,logs-*") == "t-logs-web-*"
    item.probe.buckets[("dept-a", "198.51.100.1")].append(0)
    item.probe.buckets[("dept-a", "198.51.100.2")].append(0)
    item.probe.buckets[("dept-b", "198.51.100.1")].append(60_000)
    parts = {p.index: sorted(p.probe.buckets) for p in correlate._parts(item)}
    assert parts == {"t-logs-web-dept-a": [("dept-a", "198.51.100.1"), ("dept-a", "198.51.100.2")],
                     "t-logs-web-dept-b": [("dept-b", "198.51.100.1")]}
    without = correlate.Item(corr, names("logs-web"), None, None, [], {}, None)
    without.probe.buckets.update(item.probe.buckets)
    assert [p.index for p in correlate._parts(without)] == ["t-logs-web-*"]
