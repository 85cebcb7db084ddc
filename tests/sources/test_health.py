"""Health states (pure), and silence on the real node: a short threshold opens a "log source
silent" incident through grouping, a repeated check adds nothing, and returning events resolve it."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from soc import search
from soc.config import Settings
from soc.runtime import Runtime
from soc.sources import configs, health, jobs, service, silence
from tests.sources.conftest import ADMIN, CollectorProcess, add_agency, free_port

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _source(**kw: object) -> dict[str, object]:
    return {"id": "s1", "organization": {"id": "a"}, "type": "syslog", "name": "fw",
            "silence_after_minutes": 10, "created": (NOW - timedelta(days=2)).isoformat()} | kw


def _at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


def test_states() -> None:
    busy = {"last_ingested": _at(1), "last_event": _at(1), "hour": 600, "day": 14400, "day_failures": 10}
    h = health.evaluate(_source(expected_rate=10), busy, {"@timestamp": _at(0.5)}, NOW)
    assert h.state == "healthy" and h.rate_hour == 10 and h.rate_day == 10 and h.heartbeat_age_s == 30
    assert h.parse_failure_rate is not None and abs(h.parse_failure_rate - 10 / 14400) < 1e-4
    slow = health.evaluate(_source(expected_rate=100), busy, None, NOW)
    assert slow.state == "degraded" and "expected 100" in slow.reasons[0]
    broken = health.evaluate(_source(), busy | {"day_failures": 2000}, None, NOW)
    assert broken.state == "degraded" and "could not be parsed" in broken.reasons[0]
    stale = health.evaluate(_source(), busy, {"@timestamp": _at(30)}, NOW)
    assert stale.state == "degraded" and "heartbeat" in stale.reasons[0]
    quiet = health.evaluate(_source(), busy | {"last_ingested": _at(11)}, None, NOW)
    assert quiet.state == "silent" and quiet.silent_for_s == 660
    never = health.evaluate(_source(), None, None, NOW)
    assert never.state == "silent" and "since onboarding" in never.reasons[0]
    new = health.evaluate(_source(created=_at(2)), None, None, NOW)
    assert new.state == "degraded" and new.reasons == ["waiting for the first event"]


def _incidents(rt: Runtime, source_id: str) -> list[dict[str, object]]:
    rt.incidents.refresh()
    resp = rt.client.search(index=rt.names.incidents, body={"query": {"term": {
        "keys": silence.incident_key("so-test", source_id)}}})
    return [h["_source"] for h in resp["hits"]["hits"]]


def test_silence_opens_and_resolves_an_incident(isolated: Settings, tmp_path: Path,
                                                 processes: list[object]) -> None:
    client, names = search.client(isolated), search.names(isolated)
    rt = Runtime.build(isolated)
    add_agency(isolated)
    port = free_port()
    source = service.new_source(client, names, ADMIN, "so-test", "syslog", "Mail relay", silence_after=1,
                                port=port, protocol="tcp")
    sid = source["id"]
    created = datetime.fromisoformat(source["created"])

    # two minutes after onboarding, nothing arrived: silent, and an incident opens
    healths, outcome = jobs.run_health(isolated, now=created + timedelta(minutes=2), runtime=rt)
    mine = next(h for h in healths if h.source_id == sid)
    assert mine.state == "silent" and outcome.silent == [sid] and outcome.alerts_created == 1
    [incident] = _incidents(rt, sid)
    assert incident["status"] == "new" and str(incident["title"]).startswith("Log source silent")
    assert incident["organization"] == {"id": "so-test"} and f"log.source.id={sid}" in incident["entities"]  # type: ignore[operator]
    # a second check during the same silence adds no alert and no incident
    _, again = jobs.run_health(isolated, now=created + timedelta(minutes=3), runtime=rt)
    assert again.alerts_created == 0 and len(_incidents(rt, sid)) == 1

    # events return through a real collector: healthy, and the incident is resolved
    col_file = tmp_path / "collector.yml"
    col_file.write_text(service.collector_config(client, names, ADMIN, "col-so-test", isolated.url,
                                                 isolated.index_prefix,
                                                 configs.Paths(
                                                     queue_dir=str(tmp_path / "queue"))))
    collector = CollectorProcess(col_file, tmp_path / "queue")
    processes.append(collector)
    collector.start()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"<13>1 2026-05-04T10:00:00Z relay postfix 1 - - back again\n")
    collector.wait(shipped=1)
    healths, outcome = jobs.run_health(isolated, runtime=rt)
    mine = next(h for h in healths if h.source_id == sid)
    assert mine.state == "healthy" and mine.last_event is not None and mine.rate_hour > 0
    [incident] = _incidents(rt, sid)
    assert outcome.resolved == [incident["id"]]
    assert incident["status"] == "resolved" and incident["resolution"] == "true_positive"
    # resolving happened once: a later healthy check finds no open incident to resolve
    _, later = jobs.run_health(isolated, runtime=rt)
    assert later.resolved == []


def test_late_and_future_dated_events_are_reported() -> None:
    stats = {"last_ingested": _at(1), "last_event": _at(1), "hour": 60, "day": 1440, "day_failures": 0,
             "day_late": 12, "day_future": 3, "day_no_time": 1}
    h = health.evaluate(_source(), stats, None, NOW)
    assert (h.late_events, h.future_events, h.timeless_events) == (12, 3, 1)
    assert h.state == "healthy"  # counted, not a fault: a backfill of old files is late by design


def test_late_events_are_counted_per_source_on_the_real_node(isolated: Settings) -> None:
    from soc.detection import store as detection_store
    from soc.sources import store

    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated)
    fw = service.new_source(client, names, ADMIN, "so-test", "syslog", "Edge firewall", protocol="udp",
                            collector_address="col.example", port=free_port())
    now = datetime.now(UTC)
    events = [{"@timestamp": detection_store.iso(t), "organization": {"id": "so-test"},
               "event": {"dataset": "syslog", "original": f"line {i}"}, "log": {"source": {"id": fw["id"]}}}
              for i, t in enumerate([now - timedelta(days=9), now - timedelta(days=8), now - timedelta(minutes=1),
                                     now + timedelta(hours=1)])]
    detection_store.index_events(client, names, events)
    stats = store.event_stats(client, names.syslog, [fw["id"]], datetime.now(UTC) + timedelta(minutes=5))[fw["id"]]
    assert (stats["day_late"], stats["day_future"], stats["day"]) == (2, 1, 4)
    [h] = health.compute(client, names, [fw])
    assert h.late_events == 2 and h.future_events == 1
