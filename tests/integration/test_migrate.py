"""Upgrade on the real node: the single log streams and heartbeats of an earlier version move into
the agencies' streams and soc-heartbeats, with exact counts and the same ids."""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from soc import search
from soc.config import Settings
from soc.opensearch import bootstrap, templates
from soc.search import Names


def _old_stream(settings: Settings, client: OpenSearch, names: Names, logical: str,
                docs: list[tuple[str, dict[str, Any]]]) -> None:
    """A single stream as versions before per-agency streams made it (template ``logs-web*``)."""
    body = templates.stream_template(settings, names, logical, 0)
    body["index_patterns"] = [f"{names.legacy_stream(logical)}*"]
    body["priority"] = 200
    del body["template"]["settings"]["index"]["final_pipeline"]
    client.indices.put_index_template(name=names.legacy_stream(logical), body=body)
    ops: list[dict[str, Any]] = []
    for doc_id, doc in docs:
        ops += [{"create": {"_index": names.legacy_stream(logical), "_id": doc_id}}, doc]
    resp = client.bulk(body=ops, refresh=True)
    assert not resp["errors"], resp


def _doc(n: int, agency: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": f"2026-03-01T00:00:{n:02d}Z", "event": {"original": f"line {n}"}}
    if agency is not None:
        doc["organization"] = {"id": agency}
    return doc


def _ids(client: OpenSearch, index: str) -> dict[str, str]:
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
    return {h["_id"]: h["_source"]["event"]["original"] for h in hits}


def test_old_single_streams_move_into_the_agencies_streams(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    web = [(f"w{n}", _doc(n, "so-a" if n < 5 else "so-b")) for n in range(8)]  # 5 of so-a, 3 of so-b
    syslog = [(f"s{n}", _doc(n, "so-b")) for n in range(4)]
    _old_stream(isolated, client, names, "logs-web", web)
    _old_stream(isolated, client, names, "logs-syslog", syslog)
    # one event of so-a had already reached the new stream (a new collector wrote it first)
    client.create(index=names.stream("logs-web", "so-a"), id="w0", body=_doc(0, "so-a"), refresh=True)
    client.index(index=names.sources, id="heartbeat.col-1.fw", body={
        "kind": "heartbeat", "@timestamp": "2026-03-01T00:00:00Z", "organization": {"id": "so-a"},
        "log": {"source": {"id": "fw"}}}, refresh=True)

    steps = dict(bootstrap.init(isolated, client, names).steps)

    assert _ids(client, names.stream("logs-web", "so-a")) == {f"w{n}": f"line {n}" for n in range(5)}
    assert _ids(client, names.stream("logs-web", "so-b")) == {f"w{n}": f"line {n}" for n in range(5, 8)}
    assert _ids(client, names.stream("logs-syslog", "so-b")) == {f"s{n}": f"line {n}" for n in range(4)}
    assert client.count(index=names.web)["count"] == 8 and client.count(index=names.syslog)["count"] == 4
    assert steps[f"events of so-a from {names.legacy_stream('logs-web')}"].endswith("(4 copied, 1 already there)")
    assert steps[f"data stream {names.legacy_stream('logs-web')}"] == "deleted after moving all 8 events"
    for logical in search.LOG_STREAMS:
        assert not client.indices.get_data_stream(name=names.legacy_stream(logical), ignore=[404]).get("data_streams")
        assert not client.indices.exists_index_template(name=names.legacy_stream(logical))
    # heartbeats live apart from the source definitions now
    assert client.get(index=names.heartbeats, id="heartbeat.col-1.fw")["_source"]["log"]["source"]["id"] == "fw"
    assert client.count(index=names.sources)["count"] == 0
    # a second run has nothing left to move
    again = bootstrap.init(isolated, client, names)
    assert not again.changed, again.steps


def test_events_without_a_valid_agency_stay_in_the_old_stream(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    docs = [("a1", _doc(1, "so-a")), ("n1", _doc(2, None)), ("x1", _doc(3, "Not An Agency!"))]
    _old_stream(isolated, client, names, "logs-web", docs)

    steps = dict(bootstrap.init(isolated, client, names).steps)

    old = names.legacy_stream("logs-web")
    assert steps[f"data stream {old}"] == "kept: 2 events without a valid organization.id stay in it"
    assert _ids(client, names.stream("logs-web", "so-a")) == {"a1": "line 1"}
    assert _ids(client, old) == {"a1": "line 1", "n1": "line 2", "x1": "line 3"}  # nothing deleted
