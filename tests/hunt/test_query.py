"""The search language without a server: what each syntax becomes, and where and why bad input fails."""

from __future__ import annotations

import pytest

from soc.errors import BadQuery
from soc.hunt import query

RAW = "event.original.wildcard"


def test_fields_values_and_operators() -> None:
    assert query.parse("") == {"match_all": {}}
    assert query.parse("source.ip:10.0.0.0/8") == {"term": {"source.ip": "10.0.0.0/8"}}
    assert query.parse("source.ip:2001:db8::1") == {"term": {"source.ip": "2001:db8::1"}}
    assert query.parse(r"url.original:http://x/y\?a=1") == {"term": {"url.original": "http://x/y?a=1"}}
    assert query.parse('message:"a b"') == {"match_phrase": {"message": "a b"}}
    assert query.parse("user.name:*") == {"exists": {"field": "user.name"}}
    assert query.parse("http.response.status_code:[400 TO 499]") == {
        "range": {"http.response.status_code": {"gte": 400, "lte": 499}}}
    assert query.parse("http.response.status_code:{400 TO *]") == {"range": {"http.response.status_code": {"gt": 400}}}
    assert query.parse("http.response.status_code:>=500") == {"range": {"http.response.status_code": {"gte": 500}}}
    assert query.parse("@timestamp:<2025-03-01T08:00:00+07:00") == {
        "range": {"@timestamp": {"lt": "2025-03-01T01:00:00.000Z"}}}
    assert query.parse("url.path:*WP-Admin*") == {"wildcard": {"url.path.wildcard": {
        "value": "*wp-admin*"}}}
    assert query.parse("host.name:web*") == {"wildcard": {"host.name": {"value": "web*", "case_insensitive": True}}}
    assert query.parse(r"url.path:a\*b") == {"term": {"url.path": "a*b"}}  # an escaped star is literal
    assert query.parse('"a*b c"') == {"wildcard": {RAW: {"value": "*a\\*b c*"}}}
    both = query.parse("a1x b2y OR NOT c3z")
    assert both == {"bool": {"should": [
        {"bool": {"filter": [{"wildcard": {RAW: {"value": "*a1x*"}}},
                             {"wildcard": {RAW: {"value": "*b2y*"}}}]}},
        {"bool": {"must_not": [{"wildcard": {RAW: {"value": "*c3z*"}}}]}}],
        "minimum_should_match": 1}}
    assert query.parse("NOT NOT abc") == query.parse("abc")
    assert query.parse("abc AND NOT user.name:root") == {"bool": {
        "filter": [{"wildcard": {RAW: {"value": "*abc*"}}}],
        "must_not": [{"term": {"user.name": "root"}}]}}
    assert query.parse("host.name:(a1 OR b1 c1)") == {"bool": {"should": [
        {"term": {"host.name": v}} for v in ("a1", "b1", "c1")], "minimum_should_match": 1}}
    assert query.fields_of("source.ip:1.2.3.4 AND (url.path:/x OR source.ip:1.1.1.1)") == ["source.ip", "url.path"]


# (query, position, words of the reason)
ERRORS = [
    ("foo.bar:1", 0, "unknown field"),
    ("abc AND nope:1", 8, "unknown field"),
    ("/etc.*/", 0, "regular expressions"),
    ("url.path:*a", 9, "at least 3"),
    ("user.name:*oot", 10, "may not start with a wildcard"),
    ("abc OR ?x", 7, "at least 3"),
    ("source.ip:10.0.0.*", 10, "wildcards work on keyword fields only"),
    ("http.response.status_code:abc", 26, "not a whole number"),
    ("http.response.status_code:[500 TO 400]", 0, "lower bound is above"),
    ("message:[a TO b]", 0, "ranges work on numbers"),
    ("@timestamp:>yesterday", 12, "ISO-8601"),
    ("source.ip:1.2.3", 10, "not an IP address"),
    ("(abc", 4, "')' to close"),
    ("abc)", 3, "unexpected ')'"),
    ('"abc', 0, "not closed"),
    ("AND abc", 0, "expected a condition"),
    ("abc OR", 6, "expected a condition"),
    ("NOT", 0, "NOT needs a condition"),
    (":abc", 0, "field name is missing"),
    ("user.name:", 10, "expected a value"),
    ("http.response.status_code:[1 2]", 29, "expected TO"),
    ("a\x00bc", 1, "control characters"),
    ("(" * 25 + "abc" + ")" * 25, 20, "nest at most"),
    (" OR ".join(f"host.name:h{i}" for i in range(101)), 1700, "at most 100 conditions"),  # the 101st value
    (" ".join(f"abc{i}" for i in range(9)), 40, "at most 8 patterns"),
]


@pytest.mark.parametrize(("text", "position", "reason"), ERRORS)
def test_errors_name_position_and_reason(text: str, position: int, reason: str) -> None:
    with pytest.raises(BadQuery) as caught:
        query.parse(text)
    assert reason in caught.value.reason
    assert caught.value.position == position, caught.value


def test_long_queries_are_refused() -> None:
    with pytest.raises(BadQuery, match="at most 4000 characters"):
        query.parse("a" * 4001)
