"""The DSL the engine runs finds exactly what the backend's query string finds, rule by rule, on the real node."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.parsers import ParseContext, parse
from soc import search
from soc.config import Settings
from soc.detection import convert, dsl, evaluate, local, rules, store

ROOT = Path(__file__).resolve().parents[2]


# --- the translator alone -------------------------------------------------------------------------

def test_parse_and_render_keep_structure_and_escapes() -> None:
    query = 'a.b:(x OR y\\-z) AND NOT (c:/re\\/x/ OR d:"p \\(q\\)") AND _exists_:e'
    assert dsl.render(dsl.parse(query)) == ('((a.b:x OR a.b:y\\-z) AND NOT (c:/re\\/x/ OR d:"p \\(q\\)") '
                                            'AND _exists_:e)')


@pytest.mark.parametrize("query", ["a:1 OR b:2 AND c:3", "a:1 OR NOT b:2", "a:1 b:2", "a:(1", "a:/x", "(a:1"])
def test_ambiguous_or_broken_queries_are_refused(query: str) -> None:
    with pytest.raises(dsl.Untranslatable):
        dsl.translate(query)


@pytest.mark.parametrize(("regex", "pattern"), [
    (".*[jJ][nN][dD][iI]\\:.*", "*jndi:*"),
    (".*.*[tT][oO]\\ [gG][rR]\\ '[aA]'.*.*", "**to gr 'a'**"),
    (".*[aA]\\*\\?.[bB]", "*a\\*\\??b"),
    (".*[aA]\\\\[bB].*", "*a\\\\b*"),
])
def test_pipeline_spelled_raw_line_regexes_become_lower_case_wildcards(regex: str, pattern: str) -> None:
    assert dsl.raw_line_pattern(regex) == pattern


@pytest.mark.parametrize("regex", [".*Accepted.*", ".*[aA]\\d.*", ".*[aA]+.*", "[a-z].*", ".*[aB].*", ".*[aA]\\\\.*"])
def test_other_raw_line_regexes_stay_on_the_case_sensitive_field(regex: str) -> None:
    assert dsl.raw_line_pattern(regex) is None
    assert "query_string" in dsl.translate(f"event.original.keyword:/{regex}/")


def test_oversized_queries_are_cut_into_parts_whose_union_is_the_query() -> None:
    patterns = " OR ".join(f"*\\/public\\/plugins\\/plugin{n:03d}name\\/*" for n in range(60))
    query = f"http.response.status_code:200 AND (url.original:({patterns}) OR url.path:\\/admin)"
    tree = dsl.parse(query)
    assert dsl.clauses(tree) > dsl.MAX_CLAUSES
    with pytest.raises(dsl.Untranslatable):
        dsl.translate(query)
    parts = dsl.split(tree)
    assert len(parts) >= 2 and all(dsl.clauses(p) <= dsl.MAX_CLAUSES for p in parts)
    status = dsl.Leaf("http.response.status_code", "term", "200")
    branches: list[dsl.Tree] = []
    for part in parts:  # each part keeps the AND's other operand and takes some of the OR's branches
        assert isinstance(part, dsl.Node) and part.op == "and" and part.items[0] == status
        rest = part.items[1]
        branches += list(rest.items) if isinstance(rest, dsl.Node) and rest.op == "or" else [rest]
    assert branches == dsl._flat_or(tree.items[1] if isinstance(tree, dsl.Node) else tree)
    assert len(dsl.translate_parts(query)) == len(parts)
    assert dsl.split(dsl.parse("url.path:\\/admin")) == [dsl.parse("url.path:\\/admin")]
    with pytest.raises(dsl.Untranslatable):  # a negation cannot be cut into a union
        dsl.split(dsl.parse(f"NOT url.original:({patterns})"))


def test_required_terms_are_the_exact_keyword_values_every_match_carries() -> None:
    tree = dsl.parse("process.name:Vsftpd AND http.request.method:(POST OR PUT) AND url.path:\\/a\\ b "
                     "AND event.original.keyword:*x* AND url.original:*\\/admin*")
    assert dsl.required_terms(tree) == (("process.name", frozenset({"vsftpd"})),
                                        ("http.request.method", frozenset({"post", "put"})),
                                        ("url.path", frozenset({"/a b"})))
    for loose in ("process.name:vsftpd OR url.path:x",  # either side may match alone
                  "NOT process.name:vsftpd",  # a negation requires nothing
                  "process.name:vsft*",  # a pattern, not an exact value
                  "(process.name:vsftpd AND url.path:x) OR process.name:sshd",
                  "source.ip:10.0.0.1"):  # not a keyword field
        assert dsl.required_terms(dsl.parse(loose)) == (), loose


def test_patterns_move_to_wildcard_subfields_and_terms_stay() -> None:
    out = dsl.translate("url.original:*union\\ select* AND http.request.method:POST AND url.path:/.*\\.php/")
    assert out == {"bool": {"filter": [
        {"wildcard": {"url.original.wildcard": {"value": "*union select*"}}},
        {"query_string": {"query": "http.request.method:POST", "analyze_wildcard": True}},
        {"regexp": {"url.path.wildcard": {"value": ".*\\.php", "flags": "ALL"}}}]}}
    # a literal backslash just before a wildcard is misread by the trigram extraction: stays
    assert dsl.translate("url.original:*..\\\\*") == {"query_string": {"query": "url.original:*..\\\\*",
                                                                       "analyze_wildcard": True}}
    # a field without a wildcard sub-field keeps its pattern
    assert "query_string" in dsl.translate("process.name:ssh*")


# --- both forms on the real node ------------------------------------------------------------------

TRICKY = [  # raw lines and URLs that probe case, escapes, NUL and long values
    ("/A/B.PHP?Q=UNION%20Select%201", "GET /A/B.PHP?Q=UNION%20Select%201 HTTP/1.1"),
    ("/logbook.pl?file=../../etc/PASSWD\x00|", "GET /logbook.pl?file=../../etc/PASSWD%00| HTTP/1.1"),
    ("/x?a=..\\..\\windows\\win.ini", "GET /x?a=..\\..\\windows\\win.ini HTTP/1.1"),
    ("/?x=${JNDI:LDAP://h/a}", "GET /?x=${JNDI:LDAP://h/a} HTTP/1.1"),
    ("/" + "a" * 9000 + "/.env", "GET /" + "a" * 9000 + "/.env HTTP/1.1"),
]


def _web(uri: str, line: str, n: int) -> dict[str, Any]:
    from urllib.parse import unquote

    return {"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": "dsl-tricky"},
            "event": {"dataset": "nginx.access", "original": line}, "source": {"ip": f"192.0.2.{n % 250}"},
            "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
            "url": {"original": uri, "decoded": {"original": unquote(uri)}, "path": uri.split("?")[0]},
            "user_agent": {"original": "Mozilla/5.0 (X11) Nikto"}}


def _rule_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for efile in sorted((ROOT / "rules").rglob("*" + rules.EVENTS_SUFFIX)):
        data = yaml.safe_load(efile.read_text(encoding="utf-8")) or {}
        for case in data.get("match", []) + data.get("nomatch", []):
            for event in (case["events"] if isinstance(case, dict) and "events" in case else [case]):
                doc = copy.deepcopy(event)
                doc.setdefault("@timestamp", store.iso(datetime.now(UTC)))
                doc["organization"] = {"id": "dsl-rules"}
                events.append(doc)
    return events


def _stream_docs(client: Any, index: str) -> list[tuple[str, local.Doc]]:
    resp = client.search(index=index, body={"size": 10000, "query": {"match_all": {}}}, ignore_unavailable=True)
    assert resp["hits"]["total"]["value"] <= 10000
    return [(h["_id"], local.Doc(h["_source"])) for h in resp["hits"]["hits"]]


def _compare(settings: Settings, compiled: list[convert.Result]) -> tuple[int, int]:
    """Every rule's hits with the query string, with the DSL and with the local matcher (the service's
    own evaluation of the query on fetched documents); returns (rules compared, rules with hits)."""
    client, names = search.client(settings), search.names(settings)
    client.indices.refresh(index=",".join(names(s) for s in search.LOG_STREAMS), ignore_unavailable=True)
    docs = {s: _stream_docs(client, names(s)) for s in search.LOG_STREAMS}
    singles = [c for c in compiled if isinstance(c, convert.Compiled)]
    # nearly every rule runs as DSL, whole or cut into parts
    assert sum(1 for c in singles if c.search or c.parts) >= 0.9 * len(singles)
    requests: list[tuple[str, dict[str, Any]]] = []
    for c in singles:
        index = ",".join(names(s) for s in c.streams)
        for query in (c.query_string(), *c.searches()):
            requests.append((index, {"size": 10000, "_source": False, "query": query}))
    responses: list[dict[str, Any]] = []
    for i in range(0, len(requests), 40):
        responses += store.msearch(client, requests[i:i + 40], 2, 120)
    with_hits = 0
    at = 0
    matched_here: list[bool] = []
    for c in singles:
        plain, built = responses[at], responses[at + 1:at + 1 + len(c.searches())]
        at += 1 + len(c.searches())
        for r in (plain, *built):
            assert "error" not in r, (c.rule.path.name, r.get("error"))
        want = {h["_id"] for h in plain["hits"]["hits"]}
        got = {h["_id"] for r in built for h in r["hits"]["hits"]}
        assert got == want, (c.rule.path.name, c.query, c.search or c.parts)
        if c.local is not None:
            here = {i for s in c.streams for i, d in docs[s] if c.local(d)}
            assert here == want, (c.rule.path.name, c.query, sorted(here ^ want)[:5])
            matched_here.append(bool(want))
        with_hits += bool(want)
    # nearly every rule is matched locally too, and the comparison saw matches
    assert len(matched_here) >= 0.9 * len(singles) and sum(matched_here) >= 0.8 * with_hits
    return len(singles), with_hits


def test_project_rules_dsl_equals_query_string(isolated: Settings) -> None:
    loaded, problems = rules.load([ROOT / "rules"])
    assert not problems
    events = _rule_events() + [_web(uri, line, n) for n, (uri, line) in enumerate(TRICKY)]
    client, names = search.client(isolated), search.names(isolated)
    store.index_events(client, names, events)  # raises if any is refused (the NUL one included)
    compared, with_hits = _compare(isolated, convert.compile_rules(loaded))
    assert compared >= 30 and with_hits >= 25


def test_public_rules_dsl_equals_query_string_on_real_logs(isolated: Settings, shared_dir: Path) -> None:
    loaded, problems = rules.load([shared_dir / "sigma/rules", shared_dir / "sigma/rules-emerging-threats"])
    assert not problems
    client, names = search.client(isolated), search.names(isolated)
    ctx = ParseContext(timezone="UTC", received_at=datetime.now(UTC), hostname="dsl")
    docs: list[tuple[str, dict[str, Any]]] = []
    for f in evaluate.discover(shared_dir / "testdata"):
        for number, raw in enumerate(f.path.read_bytes().splitlines()):
            event = parse(f.kind, raw, ctx)
            event["organization"] = {"id": f.agency}
            docs.append((f"{f.agency}-{number}", event))
    docs += [(f"tricky-{n}", _web(uri, line, n)) for n, (uri, line) in enumerate(TRICKY)]
    assert store.index_documents(client, names, docs) == len(docs)
    compared, with_hits = _compare(isolated, convert.compile_rules(loaded))
    assert compared >= 110 and with_hits >= 5


# --- every moved pattern, probed alone ------------------------------------------------------------

def _literal(pattern: str, star: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        out.append(star if ch == "*" else "Q" if ch == "?" else ch)
        i += 1
    return "".join(out)


def _moved_leaves(compiled: list[convert.Result]) -> list[tuple[str, dsl.Leaf, str]]:
    """(stream, leaf, wildcard pattern) of every pattern leaf the DSL moves to a wildcard sub-field."""
    out: list[tuple[str, dsl.Leaf, str]] = []

    def walk(stream: str, tree: dsl.Tree) -> None:
        if isinstance(tree, dsl.Node):
            for item in tree.items:
                walk(stream, item)
            return
        moved = dsl._leaf(tree)
        if moved and "wildcard" in moved:
            out.append((stream, tree, next(iter(moved["wildcard"].values()))["value"]))

    for c in compiled:
        if isinstance(c, convert.Compiled) and (c.search or c.parts):
            walk(c.streams[0], dsl.parse(c.query))
    return out


def _set(doc: dict[str, Any], field: str, value: str) -> None:
    parts = field.removesuffix(".keyword").split(".")
    node = doc
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _probe_leaves(settings: Settings, compiled: list[convert.Result]) -> tuple[int, int]:
    """Index, for every moved pattern, a case-flipped value it must match and one with a character
    dropped from its middle; compare each pattern's hits as query string and as DSL."""
    client, names = search.client(settings), search.names(settings)
    leaves = _moved_leaves(compiled)
    events: list[dict[str, Any]] = []
    for stream, leaf, pattern in leaves:
        hit = _literal(pattern, "Xy").swapcase()
        for value in (hit, hit[:len(hit) // 2] + hit[len(hit) // 2 + 1:]):
            doc: dict[str, Any] = {"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": "probes"},
                                   "event": {"dataset": "nginx.access" if stream == "logs-web" else "syslog"}}
            _set(doc, leaf.field, value)
            events.append(doc)
    store.index_events(client, names, events)
    requests: list[tuple[str, dict[str, Any]]] = []
    for stream, leaf, _ in leaves:
        for query in ({"query_string": {"query": dsl.render(leaf), "analyze_wildcard": True}}, dsl.to_dsl(leaf)):
            requests.append((names(stream), {"size": 10000, "_source": False, "query": query}))
    responses: list[dict[str, Any]] = []
    for i in range(0, len(requests), 100):
        responses += store.msearch(client, requests[i:i + 100], 2, 120)
    client.indices.refresh(index=",".join(names(s) for s in search.LOG_STREAMS), ignore_unavailable=True)
    docs = {s: _stream_docs(client, names(s)) for s in search.LOG_STREAMS}
    with_hits = 0
    for n, (stream, leaf, pattern) in enumerate(leaves):
        plain, built = responses[2 * n], responses[2 * n + 1]
        assert "error" not in plain and "error" not in built, (leaf, plain.get("error"), built.get("error"))
        want = {h["_id"] for h in plain["hits"]["hits"]}
        assert {h["_id"] for h in built["hits"]["hits"]} == want, (leaf, pattern)
        matcher = local.leaf(leaf)  # every moved pattern is matched locally as well
        assert {i for i, d in docs[stream] if matcher(d)} == want, (leaf, pattern)
        with_hits += bool(want)
    return len(leaves), with_hits


def test_every_moved_pattern_of_project_rules_matches_as_before(isolated: Settings) -> None:
    loaded, _ = rules.load([ROOT / "rules"])
    probed, with_hits = _probe_leaves(isolated, convert.compile_rules(loaded))
    assert probed >= 300 and with_hits == probed


def test_every_moved_pattern_of_public_rules_matches_as_before(isolated: Settings, shared_dir: Path) -> None:
    loaded, _ = rules.load([shared_dir / "sigma/rules", shared_dir / "sigma/rules-emerging-threats"])
    probed, with_hits = _probe_leaves(isolated, convert.compile_rules(loaded))
    assert probed >= 400 and with_hits >= 0.95 * probed
