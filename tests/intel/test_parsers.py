"""The importers on their own: what each format yields, what is reported, and what is refused (no node)."""

from __future__ import annotations

import json

import pytest

from soc.errors import Invalid
from soc.intel import service, stix
from soc.intel.indicators import Atom, IndicatorError, guess
from tests.intel.feeds import SHA256, misp_event, stix_bundle


def _atoms(pattern: str) -> list[list[str]]:
    return [[a.label for a in conj] for conj in stix.parse_pattern(pattern)]


def test_stix_patterns_become_alternatives_of_conjunctions() -> None:
    assert _atoms("[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '198.51.100.0/24']") == [
        ["198.51.100.1"], ["198.51.100.0/24"]]
    assert _atoms("[domain-name:value = 'A.Example.org.' AND url:value = 'https://a.example.org/x' OR "
                  "ipv6-addr:value = '2001:DB8::1'] OR [file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']") == [
        ["a.example.org", "https://a.example.org/x"], ["2001:db8::1"], ["md5:d41d8cd98f00b204e9800998ecf8427e"]]
    assert _atoms(f"[file:hashes.'SHA-256' = '{SHA256}']") == [[f"sha256:{SHA256}"]]
    assert _atoms("[url:value = 'http://x.example.org/it\\'s]']") == [["http://x.example.org/it's]"]]


@pytest.mark.parametrize(("pattern", "why"), [
    ("[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'a.example.org']", "AND between observations"),
    ("[ipv4-addr:value = '198.51.100.1'] WITHIN 300 SECONDS", "qualifiers"),
    ("[ipv4-addr:value != '198.51.100.1']", "operator '!='"),
    ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "operator 'ISSUBSET'"),
    ("[domain-name:value LIKE '%.example.org']", "operator 'LIKE'"),
    ("[email-addr:value = 'a@example.org']", "object path email-addr:value"),
    ("[(ipv4-addr:value = '198.51.100.1')]", "parenthesised"),
])
def test_unsupported_patterns_say_why(pattern: str, why: str) -> None:
    with pytest.raises(stix.Unsupported, match=why.replace("(", r"\(")):
        stix.parse_pattern(pattern)


def test_unsupported_indicators_are_reported_and_the_rest_imported() -> None:
    bundle = json.loads(stix_bundle("[ipv4-addr:value = '198.51.100.1']", "[process:name = 'x']"))
    bundle["objects"].append({"type": "indicator", "id": "indicator--7", "pattern": "rule x {}",
                              "pattern_type": "yara"})
    found, notes = stix.parse(bundle)
    assert [i.name for i in found] == ["198.51.100.1"] and found[0].confidence == 80
    assert found[0].valid_from == "2026-01-01T00:00:00Z" and found[0].source_ref.startswith("indicator--")
    assert len(notes) == 2 and "unsupported pattern" in notes[0] and "pattern_type 'yara'" in notes[1]


@pytest.mark.parametrize(("change", "message"), [
    ({"pattern": "[ipv4-addr:value = '198.51.100.999']"}, "'198.51.100.999' is not an IP address"),
    ({"pattern": None}, "no pattern"),
    ({"confidence": 250}, "confidence 250 is not between 0 and 100"),
    ({"valid_until": "next week"}, "valid_until 'next week' is not a date"),
    ({"pattern": "[ipv4-addr:value = '198.51.100.1' OR]"}, "the observation ends after OR"),
])
def test_a_malformed_indicator_names_its_object(change: dict[str, object], message: str) -> None:
    bundle = json.loads(stix_bundle("[ipv4-addr:value = '198.51.100.1']", "[ipv4-addr:value = '198.51.100.2']"))
    bundle["objects"][1].update(change)
    with pytest.raises(Invalid, match=f"^feed.json: {bundle['objects'][1]['id']}: .*{message}"):
        service.parse(json.dumps(bundle), source="feed.json")


def test_misp_composite_types_objects_and_context_attributes() -> None:
    event = json.loads(misp_event(("domain|ip", "a.example.org|198.51.100.1"), ("filename|sha256", f"x.exe|{SHA256}")))
    event["Event"]["Object"] = [{"uuid": "o1", "Attribute": [{"type": "url", "value": "http://a.example.org/p",
                                                             "to_ids": True}]}]
    event["Event"]["Attribute"].append({"type": "ip-dst", "value": "198.51.100.2", "to_ids": False})
    fmt, found, notes = service.parse(json.dumps(event))
    assert fmt == "misp" and [i.name for i in found] == [f"sha256:{SHA256}", "http://a.example.org/p"]
    assert all(i.confidence == 85 for i in found)
    assert notes == ["1 attributes not imported: to_ids false", "1 attributes not imported: type domain|ip"]
    event["Event"]["Attribute"][1]["value"] = "x.exe|nothex"
    with pytest.raises(Invalid, match=r"event .*: attribute .*: 'nothex' is not a sha256 hash"):
        service.parse(json.dumps(event))


def test_plain_lists_guess_types_and_csv_reads_columns() -> None:
    assert guess("198.51.100.0/24") == Atom("ipv4-addr", "198.51.100.0/24")
    assert guess("198.51.100.5/24") == Atom("ipv4-addr", "198.51.100.0/24")
    assert guess(SHA256.upper()) == Atom("file", SHA256, "sha256")
    assert guess("http://a.example.org/x") == Atom("url", "http://a.example.org/x")
    assert guess("Bücher.example") == Atom("domain-name", "xn--bcher-kva.example")
    fmt, found, _ = service.parse("# feed\n198.51.100.1\n\nevil.example.org\n")
    assert fmt == "list" and [i.where for i in found] == ["line 2", "line 4"]
    fmt, found, _ = service.parse("value\n0123456789abcdef0123456789abcdef\n", kind="md5")
    assert fmt == "csv" and found[0].atoms[0].hash == "md5"
    with pytest.raises(Invalid, match="line 1: unknown columns colour"):
        service.parse("value,colour\nx.example.org,red\n")
    with pytest.raises(Invalid, match="line 3: no value"):
        service.parse("value,type\nx.example.org,domain\n,domain\n")
    with pytest.raises(Invalid, match=r"line 1: 'example\.org' is not an IP address or network"):
        service.parse("example.org\n", kind="ip")


@pytest.mark.parametrize(("value", "reason"), [
    ("0.0.0.0", "unspecified or multicast"), ("255.255.255.255", "broadcast"), ("::/0", "too broad"),
    ("co.uk", "public suffix"), ("github.io", "public suffix"), ("*.example.org", "wildcard"),
    ("http:///path", "is not a URL"), ("localhost", "public suffix"),
])
def test_values_that_match_everything_or_nothing_are_refused(value: str, reason: str) -> None:
    with pytest.raises(IndicatorError, match=reason):
        guess(value)


def test_urls_without_a_scheme_are_http_and_other_schemes_are_refused() -> None:
    _, found, _ = service.parse("value\nevil.example.com/x/y.php\n", kind="url")
    assert found[0].atoms[0] == Atom("url", "http://evil.example.com/x/y.php")
    with pytest.raises(Invalid, match=r"line 2: 'javascript://x\.example\.org/': only http, https, ftp URLs"):
        service.parse("value\njavascript://x.example.org/\n", kind="url")


@pytest.mark.parametrize("text", ["value\nx\x00y.example.org\n", "[" * 100000, '{"Event": {"Attribute": [{"type": '
                                  '"domain", "value": "a.example.org", "Tag": 5}], "Object": [{"Attribute": 3}]}}',
                                  '{"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--1", '
                                  '"pattern": "[url:value = \'http://a.example.org/\']", "labels": 7}]}'])
def test_odd_shapes_are_refused_or_read_never_a_crash(text: str) -> None:
    try:
        service.parse(text)
    except Invalid as exc:
        assert "nothing was imported" in str(exc)
