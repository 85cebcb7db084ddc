"""The ingest pipeline judges each event's own time against its arrival: late, future, missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from soc import search
from soc.config import Settings
from soc.detection import store


def _stored(settings: Settings, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    client, names = search.client(settings), search.names(settings)
    store.index_events(client, names, events)
    hits = client.search(index=names.syslog, body={"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
    return {h["_source"]["message"]: h["_source"] for h in hits}


def _tags(doc: dict[str, Any]) -> list[str]:
    """The event's tags but the tenancy step's (these test events come from no registered source)."""
    return [t for t in doc.get("tags", []) if t != "_unknown_source"]


def _event(message: str, when: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"message": message, "event": {"dataset": "syslog", "original": message},
                           "organization": {"id": "dept-a"}}
    if when is not None:
        doc["@timestamp"] = when
    return doc


def test_late_future_and_missing_event_times_are_tagged_and_none_is_dropped(isolated: Settings) -> None:
    now = datetime.now(UTC)
    got = _stored(isolated, [
        _event("on time", store.iso(now - timedelta(seconds=30))),
        _event("three hours late", store.iso(now - timedelta(hours=3))),
        _event("eight days late", store.iso(now - timedelta(days=8))),
        _event("from the future", store.iso(now + timedelta(hours=2))),
        _event("slightly ahead", store.iso(now + timedelta(seconds=20))),
        _event("as epoch millis", int((now - timedelta(days=9)).timestamp() * 1000)),
    ])
    assert len(got) == 6
    assert _tags(got["on time"]) == [] and _tags(got["three hours late"]) == []
    assert _tags(got["slightly ahead"]) == []  # within the skew bound
    assert _tags(got["eight days late"]) == ["_late"]
    assert _tags(got["as epoch millis"]) == ["_late"]
    future = got["from the future"]
    assert _tags(future) == ["_future_timestamp"]
    assert future["@timestamp"] == future["event"]["ingested"]  # clamped to arrival
    assert future["soc"]["original_timestamp"] == store.iso(now + timedelta(hours=2))


def test_an_unreadable_event_time_keeps_the_arrival_time(isolated: Settings) -> None:
    # A data stream refuses a document without a time; the pipeline gives it the arrival time first.
    # (A shipper other than ours may send anything: the text is not a date.)
    client, names = search.client(isolated), search.names(isolated)
    stream = names.stream("logs-syslog", "dept-a")
    resp = client.bulk(body=[{"create": {"_index": stream}},
                             {**_event("no date", None), "tags": "_parse_failure"},
                             {"create": {"_index": stream}}, _event("garbled date", "Thursday-ish")],
                       refresh=True)
    assert not resp["errors"], resp
    hits = client.search(index=names.syslog, body={"query": {"match_all": {}}})["hits"]["hits"]
    got = {h["_source"]["message"]: h["_source"] for h in hits}
    assert _tags(got["no date"]) == ["_parse_failure", "_time_missing"]
    assert _tags(got["garbled date"]) == ["_time_missing"]
    for src in got.values():
        assert src["@timestamp"] == src["event"]["ingested"]
