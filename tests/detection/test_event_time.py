"""Detection judged on event time, on the real node: however a capture is delivered (at once, in
chunks out of order, through a collector whose OpenSearch goes away and comes back) the alerts are
the same, benign traffic raises none, and a slow burst never passes for a fast one."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from soc import search
from soc.config import Settings
from soc.detection import convert, rules, runner, store
from soc.detection.episodes import Condition, Point
from soc.detection.settings import DetectionSettings
from soc.opensearch import bootstrap
from tests.collectors.fault_proxy import FaultProxy
from tests.detection import capture
from tests.detection.test_episodes import reference

ROOT = Path(__file__).resolve().parents[2]
DS = DetectionSettings(settle_s=0, first_lookback_s=3600)
BURST_RULE = "2f84518d-20c9-5170-b649-127b24a2f7f9"  # Burst Of Client Errors From One Address (20 in 1 min)
Key = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def labelled() -> Iterator[capture.Capture]:
    # three hours old when delivered: a backlog after an outage
    start = datetime.now(UTC) - timedelta(hours=3)
    folder = Path(tempfile.mkdtemp(prefix="soc-et-site-"))  # nginx's worker user must traverse it
    folder.chmod(0o755)
    try:
        yield capture.make(folder / "site", start)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def compiled() -> list[convert.Result]:
    loaded, problems = rules.load([ROOT / "rules"])
    assert not problems
    return convert.compile_rules(loaded)


def _replay(settings: Settings, files: list[Path], queue: Path, url: str | None = None,
            wait: bool = True) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("soc-collector")
    proc = subprocess.Popen([str(exe), "replay", "--type", "nginx", "--agency", "dept-a", "--source", "web-1",
                             "--url", url or settings.url, "--index-prefix", settings.index_prefix,
                             "--queue-dir", str(queue), *map(str, files)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if wait:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out
    return proc


def _write(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _alerts(settings: Settings) -> set[Key]:
    client, names = search.client(settings), search.names(settings)
    client.indices.refresh(index=names.alerts)
    hits = client.search(index=names.alerts, body={"size": 10000, "query": {"bool": {
        "must_not": [{"exists": {"field": "superseded_by"}}]}}})["hits"]["hits"]
    return {(h["_source"]["rule"]["id"], h["_source"]["group_key"], h["_source"]["window"]["start"],
             h["_source"]["window"]["end"]) for h in hits}


def _cycle(settings: Settings, compiled: list[convert.Result]) -> runner.CycleReport:
    report = runner.run_cycle(settings, DS, compiled)
    assert not report.errors, report.errors
    return report


def _check(found: set[Key]) -> None:
    bursts = [k for k in found if k[0] == BURST_RULE]
    assert len(bursts) == 1 and bursts[0][1] == f"source.ip={capture.BURST}", bursts
    assert not [k for k in found if capture.BENIGN in k[1]], "benign browsing raised alerts"
    assert not [k for k in found if capture.SLOW in k[1]], "a slow prober passed for a burst"
    assert any("127.0.0.23" in k[1] for k in found)  # the payloads are found too


def test_same_alerts_at_once_in_chunks_out_of_order_and_through_an_outage(
        opensearch_settings: Settings, labelled: capture.Capture, compiled: list[convert.Result],
        tmp_path: Path) -> None:
    results: dict[str, set[Key]] = {}
    lines = labelled.lines
    # 1. at once: one replay, then `soc detect --once` as an operator would run it
    with bootstrap.scratch(opensearch_settings, "scratch-et-") as s:
        _replay(s, [_write(tmp_path / "a", "access.log", lines)], tmp_path / "qa")
        env = {**os.environ, "SOC_OPENSEARCH_URL": s.url, "SOC_INDEX_PREFIX": s.index_prefix}
        out = subprocess.run([str(Path(sys.executable).with_name("soc")), "detect", "--once"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"{len(lines)} events" in out.stdout, out.stdout  # the last seconds are not held back
        assert "incidents: " in out.stdout and " 0 opened" not in out.stdout, out.stdout
        results["at once"] = _alerts(s)
        client, names = search.client(s), search.names(s)
        client.indices.refresh(index=names.incidents)
        keys = {str(h["_source"].get("keys")) for h in client.search(
            index=names.incidents, body={"size": 100, "query": {"match_all": {}}})["hits"]["hits"]}
        assert any(capture.BURST in str(k) for k in keys), keys
    # 2. in chunks, shuffled, each replayed on its own with a detection cycle in between
    rnd = random.Random(14)
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    chunks = [shuffled[i:i + 37] for i in range(0, len(shuffled), 37)]
    with bootstrap.scratch(opensearch_settings, "scratch-et-") as s:
        for n, chunk in enumerate(chunks):
            _replay(s, [_write(tmp_path / "b", f"part-{n}.log", chunk)], tmp_path / f"qb{n}")
            _cycle(s, compiled)
        results["chunks out of order"] = _alerts(s)
    # 3. a collector whose OpenSearch is cut mid-way: the second half waits in its queue, cycles run
    #    meanwhile on the first half, then the backlog is flushed at once
    half = len(lines) // 2
    with bootstrap.scratch(opensearch_settings, "scratch-et-") as s, FaultProxy(s.url) as proxy:
        _replay(s, [_write(tmp_path / "c", "first.log", lines[:half])], tmp_path / "qc1", proxy.url)
        _cycle(s, compiled)
        proxy.mode = "down"
        pending = _replay(s, [_write(tmp_path / "c", "second.log", lines[half:])], tmp_path / "qc2", proxy.url,
                          wait=False)
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while proxy.dropped_connections < 3 and datetime.now(UTC) < deadline:
            _cycle(s, compiled)
        assert proxy.dropped_connections >= 3
        assert pending.poll() is None  # still holding the second half
        proxy.mode = "pass"
        out, _ = pending.communicate(timeout=180)
        assert pending.returncode == 0, out
        _cycle(s, compiled)
        results["through an outage"] = _alerts(s)
    for how, found in results.items():
        _check(found)
        assert found == results["at once"], how


def _fails(ip: str, times: list[datetime]) -> list[dict[str, Any]]:
    return [{"@timestamp": store.iso(t), "organization": {"id": "dept-b"},
             "event": {"dataset": "nginx.access", "original": f'{ip} - - "GET /x{i} HTTP/1.1" 404 9 "-" "curl/8"'},
             "source": {"ip": ip}, "http": {"request": {"method": "GET"}, "response": {"status_code": 404}},
             "url": {"original": f"/x{i}"}, "user_agent": {"original": "curl/8"}} for i, t in enumerate(times)]


@pytest.mark.parametrize("late", [timedelta(0), timedelta(hours=3)])
def test_a_real_burst_fires_once_live_or_late_and_a_slow_one_never(
        isolated: Settings, compiled: list[convert.Result], late: timedelta) -> None:
    now = datetime.now(UTC) - late
    slow = _fails("198.51.100.7", [now - timedelta(minutes=10) + timedelta(seconds=30 * i) for i in range(20)])
    burst = _fails("198.51.100.8", [now - timedelta(seconds=40) + timedelta(seconds=1.6 * i) for i in range(25)])
    client, names = search.client(isolated), search.names(isolated)
    rnd = random.Random(7)
    events = slow + burst
    rnd.shuffle(events)
    for i in range(0, len(events), 9):  # arrives in pieces, out of order, a cycle after each
        store.index_events(client, names, events[i:i + 9])
        _cycle(isolated, compiled)
    found = [k for k in _alerts(isolated) if k[0] == BURST_RULE]
    assert [k[1] for k in found] == ["source.ip=198.51.100.8"]
    hits = client.search(index=names.alerts, body={"query": {"term": {"rule.id": BURST_RULE}}})["hits"]["hits"]
    [alert] = [h["_source"] for h in hits]
    assert alert["event_count"] == 25 and alert["@timestamp"] == alert["first_seen"] == store.iso(
        now - timedelta(seconds=40))
    assert alert["delay_s"] >= late.total_seconds() - 60  # detection time minus event time
    # a re-run of the same windows after a crash adds nothing
    for slot in ("logs-web", "logs-syslog"):
        client.delete(index=names.checkpoints, id=f"detect:{slot}", ignore=[404])
    again = runner.run_cycle(isolated, replace(DS, first_lookback_s=3600), compiled)
    assert again.alerts_created == 0
    assert [k for k in _alerts(isolated) if k[0] == BURST_RULE] == found


def test_groups_are_counted_within_their_agency(isolated: Settings, compiled: list[convert.Result]) -> None:
    """The group requests read one agency's streams: the same address failing 13 times in each of two
    agencies is no burst (26 in all, 20 needed), 25 times in a third agency is one, reported there."""
    now = datetime.now(UTC)
    ip = "198.51.100.9"
    events: list[dict[str, Any]] = []
    for agency, n in (("dept-c", 13), ("dept-d", 13), ("dept-e", 25)):
        events += [{**e, "organization": {"id": agency}}
                   for e in _fails(ip, [now - timedelta(seconds=40) + timedelta(seconds=1.5 * i) for i in range(n)])]
    client, names = search.client(isolated), search.names(isolated)
    random.Random(3).shuffle(events)
    for i in range(0, len(events), 17):
        store.index_events(client, names, events[i:i + 17])
        _cycle(isolated, compiled)
    client.indices.refresh(index=names.alerts)
    hits = client.search(index=names.alerts, body={"query": {"term": {"rule.id": BURST_RULE}}})["hits"]["hits"]
    assert [(h["_source"]["organization"]["id"], h["_source"]["group_key"], h["_source"]["event_count"])
            for h in hits] == [("dept-e", f"source.ip={ip}", 25)]


_RULE = """title: Five errors in a minute (property test)
id: 5e1f3a20-0d2c-4b7e-9a51-6c0f14f0e0a1
name: prop_burst
correlation:
  type: event_count
  rules: [prop_404]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 5}
level: medium
---
title: a 404 (property test base)
id: 5e1f3a20-0d2c-4b7e-9a51-6c0f14f0e0a2
name: prop_404
logsource: {category: webserver}
detection:
  sel: {sc-status: 404}
  condition: sel
level: informational
"""


@st.composite
def _streams(draw: st.DrawFn) -> tuple[list[tuple[str, int]], list[int], int]:
    """(address, ms before now) events with known bursts, a chunking (cut points), and a seed."""
    events: list[tuple[str, int]] = []
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        events += [(ip, draw(st.integers(0, 1_800_000))) for _ in range(draw(st.integers(0, 8)))]
        for _ in range(draw(st.integers(0, 2))):
            at = draw(st.integers(60_000, 1_800_000))
            events += [(ip, at - draw(st.integers(0, 45_000))) for _ in range(draw(st.integers(3, 9)))]
    cuts = sorted(set(draw(st.lists(st.integers(1, max(len(events) - 1, 1)), max_size=4))))
    return events, cuts, draw(st.integers(0, 10_000))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_streams())
# always tried: a burst of six, shuffled and cut into three deliveries, beside a slow trickle elsewhere
@example(case=([("198.51.100.1", 300_000 - 7_000 * i) for i in range(6)]
               + [("198.51.100.2", 200_000 * i) for i in range(6)], [3, 9], 3))
def test_random_chunkings_and_orders_equal_the_event_time_reference(
        opensearch_settings: Settings, tmp_path: Path, case: tuple[list[tuple[str, int]], list[int], int]) -> None:
    events, cuts, seed = case
    rule = tmp_path / "prop.yml"
    rule.write_text(_RULE)
    loaded, problems = rules.load([rule])
    assert not problems
    prop = convert.compile_rules(loaded)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    docs = [{**_fails(ip, [datetime.fromtimestamp((now_ms - ago) / 1000, UTC)])[0],
             "event": {"dataset": "nginx.access", "original": f"{ip} n{i} 404"}} for i, (ip, ago) in enumerate(events)]
    random.Random(seed).shuffle(docs)
    with bootstrap.scratch(opensearch_settings, "scratch-prop-") as s:
        client, names = search.client(s), search.names(s)
        for a, b in zip([0, *cuts], [*cuts, len(docs)], strict=True):
            if docs[a:b]:
                store.index_events(client, names, docs[a:b])
            _cycle(s, prop)
        got = {(k[1], k[2], k[3]) for k in _alerts(s)}
        # the reference works on what was stored (millisecond times), by address
        hits = client.search(index=names.web, body={"size": 1000, "query": {"match_all": {}}})["hits"]["hits"]
    want = set()
    for ip in {ip for ip, _ in events}:
        pts = [Point(int(store.parse_time(h["_source"]["@timestamp"]).timestamp() * 1000), h["_id"])
               for h in hits if h["_source"]["source"]["ip"] == ip]
        for start, end in reference(Condition("event_count", "gte", 5, 60_000), pts):
            want.add((f"source.ip={ip}", _iso_ms(start), _iso_ms(end)))
    assert got == want
    if len(events) == 12 and cuts == [3, 9]:  # the explicit example: one burst, the trickle silent
        assert [g for g, _, _ in got] == ["source.ip=198.51.100.1"]


def _iso_ms(ms: int) -> str:
    return store.iso(datetime.fromtimestamp(ms / 1000, UTC))
