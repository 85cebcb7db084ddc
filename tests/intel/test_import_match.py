"""Indicators from STIX, MISP and CSV feeds are imported, then matched by the detection cycle."""

from __future__ import annotations

import pytest

from soc import search
from soc.config import Settings
from soc.errors import Invalid
from soc.intel import service
from soc.intel import store as intel_store
from tests.intel.feeds import ADMIN, SHA256, ago, cycle, intel_alerts, misp_event, stix_bundle, web_event, write


def _import(settings: Settings, text: str, feed: str, **kw: object) -> service.ImportResult:
    return service.import_text(search.client(settings), search.names(settings), ADMIN, text, feed, **kw)  # type: ignore[arg-type]


def _by_value(alerts: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {a["threat"]["matched"]["atomic"]: a for a in alerts}  # type: ignore[index]


def test_a_stix_bundle_imports_and_its_indicators_match_new_events(isolated: Settings) -> None:
    bundle = stix_bundle(
        "[ipv4-addr:value = '198.51.100.7']",
        "[domain-name:value = 'login-portal.example.net' OR url:value = 'http://cdn.example.org/x.sh']",
        "[ipv4-addr:value = '198.51.100.8' AND domain-name:value = 'pair.example.net']",
        f"[file:hashes.'SHA-256' = '{SHA256}']",
        "[process:name = 'evil.exe']",  # well-formed, not matchable: reported
    )
    result = _import(isolated, bundle, "cert-vn")
    assert (result.format, result.read, result.created) == ("stix", 5, 5)
    assert len(result.notes) == 1 and "process:name" in result.notes[0] and "indicator--" in result.notes[0]
    cycle(isolated)  # the retro-hunt of the new indicators: nothing in the past
    assert intel_alerts(isolated) == []
    write(isolated, [
        web_event({"source.ip": "198.51.100.7", "url.original": "/"}),
        web_event({"source.ip": "192.0.2.1", "url.domain": "LOGIN-portal.example.net"}, agency="so-gtvt"),
        web_event({"source.ip": "198.51.100.8", "url.domain": "other.example.net"}),  # AND: only one atom
        web_event({"source.ip": "198.51.100.8", "url.domain": "pair.example.net"}),  # AND: both
        web_event({"source.ip": "192.0.2.2", "url.domain": "benign.example.com"}),
    ])
    cycle(isolated)
    got = intel_alerts(isolated)
    assert len(got) == 3
    by = _by_value(got)
    ip = by["198.51.100.7"]
    assert ip["threat"]["indicator"] == {  # type: ignore[index]
        "type": "ipv4-addr", "name": "198.51.100.7", "provider": "cert-vn", "confidence": "High",
        "ip": "198.51.100.7", "first_seen": ip["threat"]["indicator"]["first_seen"]}  # type: ignore[index]
    assert ip["threat"]["feed"] == {"name": "cert-vn"} and ip["severity"] == "high"  # type: ignore[index]
    assert ip["threat"]["matched"]["how"] == "window"  # type: ignore[index]
    domain = by["LOGIN-portal.example.net"]
    assert domain["organization"] == {"id": "so-gtvt"}
    assert domain["threat"]["indicator"]["url"] == {"domain": "login-portal.example.net"}  # type: ignore[index]
    assert by["198.51.100.8"]["threat"]["indicator"]["name"] == "198.51.100.8 AND pair.example.net"  # type: ignore[index]
    cycle(isolated)  # nothing new: nothing more
    assert len(intel_alerts(isolated)) == 3


def test_a_misp_event_and_a_csv_list_import_and_match(isolated: Settings) -> None:
    misp = misp_event(("ip-dst", "203.0.113.50"), ("hostname", "c2.example.org"), ("ip-src|port", "203.0.113.51|443"),
                      ("email-src", "a@example.org"), ("sha256", SHA256))
    result = _import(isolated, misp, "misp-sharing")
    assert (result.format, result.read) == ("misp", 4)
    assert result.notes == ["1 attributes not imported: type email-src"]
    csv_text = ("type,value,confidence,description\n"
                "ip,192.0.2.0/28,40,scanner range\n"
                "url,http://drop.example.com/payload.bin,,\n"
                "domain,drop.example.com,90,\n")
    result = _import(isolated, csv_text, "local-list")
    assert (result.format, result.read) == ("csv", 3)
    cycle(isolated)
    write(isolated, [
        web_event({"source.ip": "10.1.1.1", "destination.ip": "203.0.113.50"}),
        web_event({"source.ip": "192.0.2.9", "url.domain": "c2.example.org"}),
        web_event({"source.ip": "192.0.2.20"}),  # outside the /28
        web_event({"source.ip": "10.1.1.2", "url.original": "http://drop.example.com/payload.bin"}),
    ])
    cycle(isolated)
    by = _by_value(intel_alerts(isolated))
    assert set(by) == {"203.0.113.50", "c2.example.org", "192.0.2.9", "http://drop.example.com/payload.bin"}
    assert by["203.0.113.50"]["threat"]["matched"]["field"] == "destination.ip"  # type: ignore[index]
    assert by["203.0.113.50"]["threat"]["indicator"]["confidence"] == "High"  # type: ignore[index]
    assert by["192.0.2.9"]["threat"]["indicator"]["name"] == "192.0.2.0/28"  # type: ignore[index]
    assert by["192.0.2.9"]["threat"]["indicator"]["confidence"] == "Medium"  # type: ignore[index]
    assert by["192.0.2.9"]["group_key"] == "source.ip=192.0.2.9"


def test_the_retro_hunt_finds_events_older_than_the_import_exactly_once(isolated: Settings) -> None:
    write(isolated, [
        web_event({"source.ip": "198.51.100.66", "url.original": "/wp-login.php"}, when=ago(days=3)),
        web_event({"source.ip": "198.51.100.66"}, when=ago(days=45)),  # beyond the 30 days searched
        web_event({"source.ip": "198.51.100.67"}, when=ago(days=2)),
    ])
    cycle(isolated)  # the windows pass over the old events before any indicator exists
    assert intel_alerts(isolated) == []
    plain = "# attackers seen by a partner\n198.51.100.66\n\n"
    assert _import(isolated, plain, "partner").format == "list"
    cycle(isolated)
    got = intel_alerts(isolated)
    assert len(got) == 1
    assert got[0]["threat"]["matched"]["how"] == "retro-hunt"
    assert got[0]["delay_s"] > 2 * 86400
    client, names = search.client(isolated), search.names(isolated)
    doc = intel_store.listing(client, names)[0][0]
    assert doc["retro"]["done"] is True and doc["retro"]["alerts"] == 1
    cycle(isolated)
    _import(isolated, plain, "partner")  # a re-import updates the indicator, and does not hunt again
    cycle(isolated)
    assert len(intel_alerts(isolated)) == 1
    assert intel_store.listing(client, names)[0][0]["first_import"] == doc["first_import"]


def test_expired_indicators_stop_matching(isolated: Settings) -> None:
    past, future = ago(days=1).isoformat(), ago(days=-10).isoformat()
    _import(isolated, f"value,valid_until\n198.51.100.90,{future}\n198.51.100.91,{past}\n", "feed-x")
    cycle(isolated)
    write(isolated, [web_event({"source.ip": "198.51.100.90"}), web_event({"source.ip": "198.51.100.91"})])
    cycle(isolated)
    assert set(_by_value(intel_alerts(isolated))) == {"198.51.100.90"}
    # the feed now says the first one ended yesterday: new events no longer match it
    result = _import(isolated, f"value,valid_until\n198.51.100.90,{past}\n", "feed-x")
    assert (result.created, result.updated, result.expired) == (0, 1, 1)
    write(isolated, [web_event({"source.ip": "198.51.100.90"})])
    cycle(isolated)
    assert len(intel_alerts(isolated)) == 1


def test_a_malformed_bundle_is_refused_naming_the_object_and_nothing_is_imported(isolated: Settings) -> None:
    good = "[ipv4-addr:value = '198.51.100.1']"
    bad_id = "indicator--0b6d2e1c-6c1d-4f6b-9a77-1f1b7c0e2a11"
    bundle = stix_bundle(good, good.replace("1'", "2'"))
    bundle = bundle.replace('"objects": [', '"objects": [{"type": "indicator", "spec_version": "2.1", '
                            f'"id": "{bad_id}", "pattern": "[ipv4-addr:value = \'198.51.100.3\'", '
                            '"pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}, ')
    with pytest.raises(Invalid, match=rf"feed.json: {bad_id}: an observation '\[' is never closed; nothing was"):
        _import(isolated, bundle, "broken", source="feed.json")
    with pytest.raises(Invalid, match="line 3: 'not a domain!' is not a valid domain name"):
        _import(isolated, "198.51.100.1\nexample.org\nnot a domain!\n", "broken")
    with pytest.raises(Invalid, match="not valid JSON at line 1"):
        _import(isolated, '{"type": "bundle", "objects": [', "broken")
    assert intel_store.count(search.client(isolated), search.names(isolated)) == 0


@pytest.mark.parametrize(("text", "reason"), [
    ("0.0.0.0/0", "too broad: a /0 network"), ("10.0.0.0/7", "too broad: a /7 network"),
    ("com", "too broad: it is a public suffix"), ("gov.vn", "too broad: it is a public suffix"),
    ("2001::/16", "too broad: a /16 network"),
])
def test_a_too_broad_indicator_is_refused_with_the_reason(isolated: Settings, text: str, reason: str) -> None:
    with pytest.raises(Invalid, match=f"line 2: '{text}' is {reason}"):
        _import(isolated, f"198.51.100.1\n{text}\n", "broad")
    assert intel_store.count(search.client(isolated), search.names(isolated)) == 0


def test_a_window_with_thousands_of_distinct_addresses_is_matched(isolated: Settings) -> None:
    # a lookup on the ip_range field costs a query clause per address: the window's are asked in chunks
    _import(isolated, "198.51.100.200\n2001:db8::77\n", "big-window")
    cycle(isolated)
    crowd = [web_event({"source.ip": f"10.{i // 250}.{i % 250}.1"}) for i in range(2500)]
    write(isolated, [*crowd, web_event({"source.ip": "198.51.100.200"}), web_event({"source.ip": "2001:db8::77"})])
    cycle(isolated)
    assert set(_by_value(intel_alerts(isolated))) == {"198.51.100.200", "2001:db8::77"}


def test_a_file_hash_indicator_matches_an_event_naming_the_file(isolated: Settings) -> None:
    _import(isolated, stix_bundle(f"[file:hashes.'SHA-256' = '{SHA256}']"), "hashes")
    cycle(isolated)
    write(isolated, [web_event({"source.ip": "10.0.0.9", "file.hash.sha256": SHA256.upper()}),
                     web_event({"source.ip": "10.0.0.9", "file.hash.sha256": "0" * 64})])
    cycle(isolated)
    (got,) = intel_alerts(isolated)
    assert got["threat"]["indicator"]["file"] == {"hash": {"sha256": SHA256}}
    assert got["threat"]["matched"]["field"] == "file.hash.sha256"
