"""Enrichment at ingest: events written to the log streams get geo and network data beside public
addresses from the node's ingest-geoip module and the suite's own databases; documentation, private
and other special addresses are labelled and never looked up (soc.opensearch.geoip)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from soc import search
from soc.config import Settings
from soc.intel import scopes
from soc.opensearch import bootstrap, geoip
from tests.collectors.conftest import config_dict, port_of, running, to_config
from tests.intel.feeds import web_event, write
from tests.intel.geodb import enriched

US = {"country_iso_code": "US", "country_name": "United States", "city_name": "Mountain View"}
DOCUMENTATION = ("192.0.2.44", "198.51.100.7", "203.0.113.5", "2001:db8::5")


@pytest.fixture()
def geo_settings(opensearch_settings: Settings, geoip_databases: tuple[Path, ...],
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with enriched(opensearch_settings, geoip_databases, monkeypatch) as settings:
        yield settings


def stored(settings: Settings, index: str | None = None) -> dict[str, dict[str, Any]]:
    """event.original -> the stored event, read back from the log streams."""
    client, names = search.client(settings), search.names(settings)
    target = index or ",".join(names(s) for s in search.LOG_STREAMS)
    client.indices.refresh(index=target)
    hits = client.search(index=target, body={"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
    return {h["_source"]["event"]["original"]: h["_source"] for h in hits}


def test_public_addresses_get_geo_and_network_and_special_ones_only_a_label(geo_settings: Settings) -> None:
    events = {
        "v4": web_event({"source.ip": "8.8.8.8", "destination.ip": "14.160.7.7"}),
        "v6": web_event({"source.ip": "2606:4700::1111"}),
        "unknown": web_event({"source.ip": "9.9.9.9"}),  # public, not in the database
        # a document claiming geo and a scope of its own: the pipeline's word replaces it
        "claims": web_event({"source.ip": "8.8.8.8", "source.geo.country_iso_code": "XX",
                             "source.as.number": 1, "labels.source_ip_scope": "private"}),
        **{f"doc-{a}": web_event({"source.ip": a, "destination.ip": "192.168.1.10"}) for a in DOCUMENTATION},
        "private": web_event({"source.ip": "10.1.2.3", "destination.ip": "8.8.8.8"}),
        "cgnat": web_event({"source.ip": "100.64.0.9"}),
    }
    for name, event in events.items():
        event["event"]["original"] = name
    write(geo_settings, list(events.values()))
    got = stored(geo_settings)
    v4 = got["v4"]
    assert v4["source"]["geo"] == US
    assert v4["source"]["as"] == {"number": 15169, "organization": {"name": "Example Search Co"}}
    assert v4["destination"]["geo"] == {"country_iso_code": "VN", "country_name": "Vietnam", "city_name": "Hanoi"}
    assert v4["destination"]["as"]["organization"]["name"] == "Example Telecom VN" and "labels" not in v4
    assert got["v6"]["source"]["geo"] == {"country_iso_code": "CA", "country_name": "Canada"}
    assert got["v6"]["source"]["as"]["number"] == 13335
    assert got["unknown"]["source"] == {"ip": "9.9.9.9"} and "labels" not in got["unknown"]
    assert got["claims"]["source"]["geo"] == US and got["claims"]["source"]["as"]["number"] == 15169
    assert "labels" not in got["claims"]
    # The suite's databases hold records for these ranges too: only never looking them up keeps them out.
    for address in DOCUMENTATION:
        doc = got[f"doc-{address}"]
        assert doc["source"] == {"ip": address}, address
        assert doc["destination"] == {"ip": "192.168.1.10"}, address
        assert doc["labels"] == {"source_ip_scope": "documentation", "destination_ip_scope": "private"}, address
    private = got["private"]
    assert private["source"] == {"ip": "10.1.2.3"} and private["labels"] == {"source_ip_scope": "private"}
    assert private["destination"]["geo"]["country_iso_code"] == "US"
    assert got["cgnat"]["labels"] == {"source_ip_scope": "shared"} and "geo" not in got["cgnat"]["source"]


def test_the_geo_fields_are_mapped_for_search_and_counting(geo_settings: Settings) -> None:
    write(geo_settings, [web_event({"source.ip": "8.8.8.8"}), web_event({"source.ip": "14.160.1.1"}),
                         web_event({"source.ip": "203.0.113.9"})])
    client, names = search.client(geo_settings), search.names(geo_settings)
    index = names("logs-web")
    client.indices.refresh(index=index)
    body = {"size": 0, "aggs": {
        "country": {"terms": {"field": "source.geo.country_iso_code"}},
        "org": {"terms": {"field": "source.as.organization.name"}},
        "asn": {"max": {"field": "source.as.number"}},
        "scope": {"terms": {"field": "labels.source_ip_scope"}}}}
    aggs = client.search(index=index, body=body)["aggregations"]
    assert {b["key"]: b["doc_count"] for b in aggs["country"]["buckets"]} == {"US": 1, "VN": 1}
    assert {b["key"] for b in aggs["org"]["buckets"]} == {"Example Search Co", "Example Telecom VN"}
    assert aggs["asn"]["value"] == 45899
    assert [(b["key"], b["doc_count"]) for b in aggs["scope"]["buckets"]] == [("documentation", 1)]


def test_without_a_database_the_pipeline_labels_and_looks_nothing_up(isolated: Settings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOC_GEOIP_DATABASES", raising=False)
    client, names = search.client(isolated), search.names(isolated)
    processors = client.ingest.get_pipeline(id=names.pipeline)[names.pipeline]["processors"]
    assert not [p for p in processors if "geoip" in p]
    write(isolated, [web_event({"source.ip": "8.8.8.8"}, agency="so-nogeo"),
                     web_event({"source.ip": "198.51.100.1"}, agency="so-nogeo")])
    docs = sorted(stored(isolated).values(), key=lambda d: d["source"]["ip"])
    assert docs[0]["source"] == {"ip": "198.51.100.1"} and docs[0]["labels"] == {"source_ip_scope": "documentation"}
    assert docs[1]["source"] == {"ip": "8.8.8.8"} and "labels" not in docs[1]


def test_a_database_the_module_cannot_serve_is_left_out_with_a_note(
        opensearch_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.intel.geodb import build

    odd = build(tmp_path / "combined.mmdb")  # type "SOC-Test-City-ASN": no kind the geoip processor reads
    monkeypatch.setenv("SOC_GEOIP_DATABASES", f"{odd},{tmp_path / 'absent.mmdb'}")
    scoped = replace(opensearch_settings, index_prefix=f"g{uuid.uuid4().hex[:10]}-")
    client = search.client(scoped)
    try:
        report = bootstrap.init(scoped, client, search.names(scoped))
        notes = " ".join(report.notes)
        assert "combined.mmdb is not a City, Country or GeoLite2-ASN database" in notes
        assert "absent.mmdb" in notes
    finally:
        bootstrap.remove_prefix(client, scoped.index_prefix)


def test_a_database_missing_on_the_node_turns_lookups_off_with_a_note(
        opensearch_settings: Settings, geoip_databases: tuple[Path, ...], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster the service did not start (no copy of the file in its config folder) refuses the
    processor; the pipeline is still made, with scope labels only, and the operator is told."""
    city = tmp_path / "Elsewhere-City.mmdb"
    city.write_bytes(geoip_databases[0].read_bytes())
    monkeypatch.setenv("SOC_GEOIP_DATABASES", str(city))
    scoped = replace(opensearch_settings, index_prefix=f"g{uuid.uuid4().hex[:10]}-")
    client, names = search.client(scoped), search.names(scoped)
    try:
        report = bootstrap.init(scoped, client, names)
        assert any("address enrichment at ingest is off" in n and "soc-Elsewhere-City.mmdb" in n
                   for n in report.notes), report.notes
        processors = client.ingest.get_pipeline(id=names.pipeline)[names.pipeline]["processors"]
        assert processors[-1]["script"]["tag"] == geoip.SCOPE_TAG
        assert not [p for p in processors if "geoip" in p]
    finally:
        bootstrap.remove_prefix(client, scoped.index_prefix)


ADDRESSES = ("8.8.8.8", "0.0.0.0", "0.1.2.3", "127.0.0.1", "169.254.9.9", "224.0.0.1", "255.255.255.255",
             "100.64.0.1", "100.128.0.1", "10.0.0.1", "172.31.255.255", "172.32.0.1", "192.168.0.1",
             "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.255", "203.0.113.0", "203.0.114.1", "240.0.0.1",
             "::", "::1", "fe80::1", "fc00::1", "fdff::1", "ff02::1", "2001:db8::1", "2001:db9::1", "3fff::1",
             "2001::1", "2606:4700::1111", "2a00:1450::1", "64:ff9b::808:808", "::ffff:8.8.8.8",
             "::ffff:10.0.0.1", "::ffff:203.0.113.7", "1:2:3:4:5:6:7:8", "2001:0db8:0000:0000:0000:0000:0000:0001")


def test_the_pipelines_scope_agrees_with_the_alerts_scope(opensearch_settings: Settings) -> None:
    """One table, two evaluators: the Painless step and soc.intel.scopes give each address the same kind."""
    client = search.client(opensearch_settings)
    docs = [{"_source": {"source": {"ip": a}}} for a in ADDRESSES]
    resp = client.ingest.simulate(body={"pipeline": {"processors": [geoip.scope_step()]}, "docs": docs})
    painless = [d["doc"]["_source"].get("labels", {}).get("source_ip_scope") for d in resp["docs"]]
    python = [scopes.scope(a) for a in ADDRESSES]
    assert painless == python
    assert python.count(None) == 8 and python[ADDRESSES.index("2001:db8::1")] == "documentation"


def _logger(port: int, message: str) -> None:
    subprocess.run(["logger", "--rfc5424", "-n", "127.0.0.1", "-P", str(port), "-T", "--octet-count",
                    "-t", "sshd", message], check=True, timeout=30)


def test_a_line_sent_by_logger_through_the_collector_is_enriched(geo_settings: Settings, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    cfg = to_config(config_dict(geo_settings, tmp_path / "q", [
        {"id": "tcp-1", "protocol": "tcp", "listen": "127.0.0.1:0"}]))
    with running(cfg) as col:
        port = port_of(col, "tcp-1")
        _logger(port, f"Failed password for invalid user u{tag} from 14.160.20.30 port 50022 ssh2")
        _logger(port, f"Failed password for invalid user u{tag} from 203.0.113.77 port 50023 ssh2")
        assert col.metrics.wait({"shipped": 2}, 60), col.metrics.snapshot()
    got = {d["source"]["ip"]: d for d in stored(geo_settings, search.names(geo_settings).syslog).values()
           if tag in d["event"]["original"]}
    attacker = got["14.160.20.30"]
    assert attacker["process"]["name"] == "sshd" and attacker["user"]["name"] == f"u{tag}"
    assert attacker["source"]["geo"]["country_name"] == "Vietnam"
    assert attacker["source"]["as"] == {"number": 45899, "organization": {"name": "Example Telecom VN"}}
    doc = got["203.0.113.77"]
    assert "geo" not in doc["source"] and "as" not in doc["source"]
    assert doc["labels"] == {"source_ip_scope": "documentation"}


def test_soc_init_again_leaves_the_enriching_pipeline_as_it_is(geo_settings: Settings) -> None:
    client, names = search.client(geo_settings), search.names(geo_settings)
    processors = client.ingest.get_pipeline(id=names.pipeline)[names.pipeline]["processors"]
    assert [p["geoip"]["tag"] for p in processors if "geoip" in p] == [
        "soc-geoip-source-city", "soc-geoip-source-asn", "soc-geoip-destination-city", "soc-geoip-destination-asn"]
    report = bootstrap.init(geo_settings, client, names)
    assert (f"ingest pipeline {names.pipeline}", "unchanged") in report.steps
