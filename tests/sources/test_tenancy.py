"""Tenancy on the real node: the agency of an event is the data stream it was written to; events of a
sender that is not a registered source of that agency are tagged and listed by source health;
heartbeats are read from soc-heartbeats only; one agency id rule everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from opensearchpy import RequestError

from collectors.config import CollectorConfigError, parse_config
from soc import search
from soc.agencies import service as agencies
from soc.config import Settings
from soc.errors import Invalid
from soc.sources import health, service
from tests.sources.conftest import ADMIN, add_agency


def _event(text: str, source_id: str | None, claimed: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": datetime.now(UTC).isoformat(), "event": {"original": text}}
    if source_id is not None:
        doc["log"] = {"source": {"id": source_id}}
    if claimed is not None:
        doc["organization"] = {"id": claimed}
    return doc


def _stored(settings: Settings, text: str) -> dict[str, Any]:
    client, names = search.client(settings), search.names(settings)
    client.indices.refresh(index=f"{names.web},{names.syslog}")
    [hit] = client.search(index=f"{names.web},{names.syslog}",
                          body={"query": {"match_phrase": {"event.original": text}}})["hits"]["hits"]
    return dict(hit["_source"]) | {"_index": hit["_index"]}


def test_a_document_claiming_another_agency_is_stored_as_the_streams(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    client.index(index=names.stream("logs-web", "agency-a"), body=_event("claims b", None, "agency-b"),
                 op_type="create")
    client.index(index=names.stream("logs-web", "agency-a"), body=_event("claims nothing", None, None),
                 op_type="create")
    stored = _stored(isolated, "claims b")
    assert stored["organization"]["id"] == "agency-a"
    assert stored["soc"]["claimed_organization_id"] == "agency-b"  # kept for the analyst, never trusted
    assert names.agency_of(stored["_index"]) == "agency-a"
    assert _stored(isolated, "claims nothing")["organization"]["id"] == "agency-a"
    # agency B's reads (scoped by organization.id) see none of it
    client.indices.refresh(index=names.web)
    assert client.count(index=names.web, body={"query": {"term": {"organization.id": "agency-b"}}})["count"] == 0


@pytest.mark.parametrize("agency", ["x", "-bad", "a.b", "a_b"])
def test_a_stream_of_no_valid_agency_is_refused_and_not_created(isolated: Settings, agency: str) -> None:
    client, names = search.client(isolated), search.names(isolated)
    target = f"{isolated.index_prefix}logs-web-{agency}"
    with pytest.raises(RequestError) as err:
        client.index(index=target, body=_event("nowhere", None, "agency-a"), op_type="create")
    assert "not the log data stream of a valid agency" in str(err.value.info)
    assert not client.indices.get_data_stream(name=target, ignore=[404]).get("data_streams")
    with pytest.raises(ValueError, match="not an agency id"):
        names.stream("logs-web", agency)


def test_unknown_sources_are_tagged_and_listed_and_count_for_no_source(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated, "so-a")
    add_agency(isolated, "so-b")
    src = service.new_source(client, names, ADMIN, "so-a", "syslog", "Firewall", protocol="udp", port=7001)
    sid = src["id"]
    client.index(index=names.stream("logs-syslog", "so-a"), body=_event("registered", sid, None), op_type="create")
    # so-b's collector (or anyone writing so-b's stream) uses so-a's source id: tagged, not so-a's event
    client.index(index=names.stream("logs-syslog", "so-b"), body=_event("planted", sid, "so-a"), op_type="create")
    client.index(index=names.stream("logs-syslog", "so-a"), body=_event("stranger", "nobody-1", None),
                 op_type="create")
    assert "_unknown_source" not in (_stored(isolated, "registered").get("tags") or [])
    planted = _stored(isolated, "planted")
    assert planted["organization"]["id"] == "so-b" and "_unknown_source" in planted["tags"]
    assert "_unknown_source" in _stored(isolated, "stranger")["tags"]

    [mine] = health.compute(client, names, [src])
    assert mine.rate_hour == round(1 / 60, 3)  # only the event written to its own agency's stream
    listed = {(h.agency, h.source_id): h for h in health.unknown(client, names, None)}
    assert set(listed) == {("so-b", sid), ("so-a", "nobody-1")}
    assert listed[("so-b", sid)].state == "unknown" and listed[("so-b", sid)].type == "syslog"
    assert {h.source_id for h in health.unknown(client, names, ["so-a"])} == {"nobody-1"}  # scoped

    # removing the source: its later events are unknown too
    service.remove(client, names, ADMIN, sid)
    client.index(index=names.stream("logs-syslog", "so-a"), body=_event("after removal", sid, None), op_type="create")
    assert "_unknown_source" in _stored(isolated, "after removal")["tags"]


def test_health_reads_heartbeats_from_their_own_index_and_agency(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated, "so-a")
    src = service.new_source(client, names, ADMIN, "so-a", "syslog", "Switch", protocol="udp", port=7002)
    now = datetime.now(UTC).isoformat()

    def beat(agency: str, collector: str) -> dict[str, Any]:
        return {"kind": "heartbeat", "@timestamp": now, "organization": {"id": agency},
                "log": {"source": {"id": src["id"]}}}

    client.index(index=names.heartbeats, id=f"heartbeat.col-x.{src['id']}", body=beat("so-other", "col-x"),
                 refresh=True)
    [h] = health.compute(client, names, [src])
    assert h.heartbeat_age_s is None  # another agency's heartbeat for the source does not count
    client.index(index=names.heartbeats, id=f"heartbeat.col-so-a.{src['id']}", body=beat("so-a", "col-so-a"),
                 refresh=True)
    [h] = health.compute(client, names, [src])
    assert h.heartbeat_age_s is not None and h.heartbeat_age_s < 60


COLLECTOR = """organization:
  id: {agency}
collector:
  id: col-1
  queue_dir: /tmp/q
opensearch:
  url: http://127.0.0.1:9200
sources:
  - id: fw
    protocol: udp
    listen: 127.0.0.1:0
"""


@pytest.mark.parametrize("agency", ["'*'", "So-A", "a_b", "x", "'-ab'", "'a b'", "ab/c"])
def test_one_agency_rule_everywhere(agency: str) -> None:
    with pytest.raises(CollectorConfigError, match=r"^c\.yml:2: organization\.id .* is not an agency id"):
        parse_config(COLLECTOR.format(agency=agency), "c.yml")
    value = agency.strip("'")
    assert not search.is_agency_id(value)
    with pytest.raises(Invalid, match="not an agency id"):
        agencies.new_document(value, "Tên", "Name")
    assert parse_config(COLLECTOR.format(agency="so-a"), "c.yml").organization_id == "so-a"
