"""Threat-intelligence matching at scale: ``.venv/bin/python -m tests.benchmarks.bench_intel``.

Loads ``--indicators`` live indicators (default one million: addresses, /24 networks, domains, URLs
and SHA-256 hashes, generated) through the real import path (``soc.intel.service.import_text``, in
files of 100,000 lines) and times it. Then measures:

1. what one detection cycle's matching costs (``soc.intel.matching.match_window``: the window's
   distinct values, the indicator lookup, the per-indicator searches) over windows of ``--events``
   web events (a 1 s window at 1k events/s by default, and a one-minute window of 60 times as many),
   one event in a hundred holding an indicator;
2. the retro-hunt of newly imported indicators (``soc.intel.cycle.retro``: 1,000 pending indicators
   a cycle, searched for over the last 30 days of ``--history`` events spread over 30 days), for
   ``--retro-steps`` cycles, and what draining every pending indicator would take at that rate.

The baseline, measured in the same run over the same windows and history, is the same work with
only ``--baseline`` indicators loaded (and pending): matching is done from the events' side, so its
cost should follow the window, not the number of indicators.

A dedicated OpenSearch node is started on a free port in a temporary folder and stopped at the end.
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from soc import search
from soc.alerts import store as alert_store
from soc.auth import Principal
from soc.config import Settings
from soc.detection import store
from soc.intel import cycle, matching, service
from soc.intel import settings as intel_settings
from soc.intel import store as intel_store
from soc.opensearch import bootstrap
from tests.benchmarks.dedicated import dedicated_node
from tests.benchmarks.measure import loadavg, spread

ADMIN = Principal("bench", "admin", ("*",))
CHUNK = 100_000


def _address(rng: random.Random) -> str:
    return f"{rng.randint(11, 90)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def indicator_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(n):
        k = i % 20
        if k < 12:
            out.append(_address(rng))
        elif k == 12:
            out.append(f"{rng.randint(11, 90)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24")
        elif k < 17:
            out.append(f"h{i}.bad{rng.randint(0, 99999)}.com")
        elif k < 19:
            out.append(f"http://c{i}.drop{rng.randint(0, 9999)}.net/p/{i}.bin")
        else:
            out.append(f"{rng.getrandbits(256):064x}")
    return out


def load(settings: Settings, lines: list[str], feed: str) -> tuple[float, float]:
    """Imports ``lines`` through ``soc.intel.service.import_text``, ``CHUNK`` lines a file, as
    ``soc intel import`` does. Returns (seconds in all, of which parsing and validating)."""
    client = search.client(settings, serializer=search.OrjsonSerializer())
    names = search.names(settings)
    t0 = time.monotonic()
    parsing = 0.0
    for start in range(0, len(lines), CHUNK):
        text = "\n".join(lines[start:start + CHUNK])
        p0 = time.monotonic()
        service.parse(text, "list")  # timed apart: the import parses again, then writes
        parsing += time.monotonic() - p0
        service.import_text(client, names, ADMIN, text, feed, "list")
    took = time.monotonic() - t0 - parsing
    return took, parsing


def write_window(settings: Settings, n: int, hits: list[str], seed: int) -> tuple[datetime, datetime]:
    """``n`` web events from about n/2 distinct addresses, 1 in 100 holding one of ``hits``; their ingest span."""
    rng = random.Random(seed)
    client, names = search.client(settings), search.names(settings)
    start = store.node_now(client)
    events = []
    for i in range(n):
        src = hits[i // 100 % len(hits)] if i % 100 == 7 else f"{rng.randint(91, 120)}.{rng.randint(0, 255)}." \
                                                                f"{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        events.append({"@timestamp": store.iso(datetime.now(UTC)), "organization": {"id": f"agency-{i % 41:02d}"},
                       "event": {"dataset": "nginx.access", "original": f"GET /p/{i} HTTP/1.1"},
                       "source": {"ip": src}, "url": {"domain": f"site{i % 300}.example.org", "original": f"/p/{i}"}})
    for i in range(0, n, 5000):
        store.index_events(client, names, events[i:i + 5000])
    return start - timedelta(milliseconds=1), store.node_now(client)


def write_history(settings: Settings, n: int, hits: list[str], seed: int) -> None:
    """``n`` web events spread evenly over the last 30 days (event time), 1 in 1,000 holding one of ``hits``."""
    rng = random.Random(seed)
    client, names = search.client(settings, serializer=search.OrjsonSerializer()), search.names(settings)
    now = datetime.now(UTC)
    for start in range(0, n, 5000):
        events = []
        for i in range(start, min(n, start + 5000)):
            src = hits[i // 1000 % len(hits)] if i % 1000 == 13 else f"{rng.randint(91, 120)}." \
                f"{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            when = now - timedelta(days=30) + timedelta(seconds=30 * 86400 * (i + 0.5) / n)
            events.append({"@timestamp": store.iso(when), "organization": {"id": f"agency-{i % 41:02d}"},
                           "event": {"dataset": "nginx.access", "original": f"GET /h/{i} HTTP/1.1"},
                           "source": {"ip": src}, "url": {"domain": f"site{i % 300}.example.org",
                                                          "original": f"/h/{i}"}})
        store.index_events(client, names, events)


def retro_steps(settings: Settings, steps: int, again: bool) -> tuple[dict[str, list[float]], int, int]:
    """Runs the retro-hunt of ``steps`` detection cycles (the steps of ``soc.intel.cycle.retro``, timed
    apart: ``search`` the pending indicators and their events, ``write`` the alerts and mark them done);
    (ms per cycle, alerts made, indicators still pending). ``again``: when none is pending, every
    indicator is marked pending again (to repeat a baseline's one cycle)."""
    client, names = search.client(settings, serializer=search.OrjsonSerializer()), search.names(settings)
    s = intel_settings.IntelSettings()
    index = ",".join(names(stream) for stream in search.LOG_STREAMS)
    took: dict[str, list[float]] = {"total": [], "search": [], "write": []}
    made = 0
    for _ in range(steps):
        now = datetime.now(UTC)
        if not intel_store.pending_retro(client, names, now, size=1):
            if not again:
                break
            client.update_by_query(index=names.indicators, refresh=True, conflicts="proceed", body={
                "query": {"match_all": {}}, "script": {"source": "ctx._source.retro.done = false"}})
        t0 = time.monotonic()
        found, per = matching.retro_hunt(client, names, index, now - timedelta(days=s.retro_days), now,
                                         now.isoformat(), s.max_hits)
        t1 = time.monotonic()
        cycle.enrich_all(found, None)
        made += alert_store.create_alerts(client, names, found)[0]
        intel_store.mark_retro(client, names, per, now)
        t2 = time.monotonic()
        for key, value in (("search", t1 - t0), ("write", t2 - t1), ("total", t2 - t0)):
            took[key].append(value * 1000)
    body = {"query": {"bool": {"filter": [{"term": {"retro.done": False}}]}}}
    pending = int(client.count(index=names.indicators, body=body)["count"])
    return took, made, pending


def measure(settings: Settings, span: tuple[datetime, datetime], runs: int) -> dict[str, list[float]]:
    """Milliseconds of each part of ``match_window`` and of the whole, per run; and the alerts made."""
    client, names = search.client(settings), search.names(settings)
    out: dict[str, list[float]] = {"values": [], "lookup": [], "events": [], "total": [], "alerts": []}
    ingested = {"range": {"event.ingested": {"gt": span[0].isoformat(), "lte": span[1].isoformat()}}}
    window = {"start": span[0].isoformat(), "end": span[1].isoformat()}
    for _ in range(runs):
        t0 = time.monotonic()
        values = matching.window_values(client, names.web, ingested)
        t1 = time.monotonic()
        found = intel_store.lookup(client, names, values, datetime.now(UTC))
        t2 = time.monotonic()
        alerts = matching.hunt(client, names.web, found, ingested, "bench", window, 500, "window")[0]
        t3 = time.monotonic()
        for key, value in (("values", t1 - t0), ("lookup", t2 - t1), ("events", t3 - t2), ("total", t3 - t0)):
            out[key].append(value * 1000)
        out["alerts"].append(len(alerts))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--indicators", type=int, default=1_000_000)
    ap.add_argument("--baseline", type=int, default=1_000)
    ap.add_argument("--events", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--history", type=int, default=200_000, help="events over the last 30 days (retro-hunt)")
    ap.add_argument("--retro-steps", type=int, default=7, help="retro-hunt cycles measured at each scale")
    ap.add_argument("--retro-group", type=int, default=0,
                    help="at scale, also measure the retro-hunt searching this many indicators at once")
    ap.add_argument("--heap", default="1g")
    args = ap.parse_args()
    lines = indicator_lines(args.indicators, 1)
    hits = [line for line in lines[:200] if "/" not in line and line.count(".") == 3][:20]
    # history hits: addresses among the first 1,000 (the baseline's) and spread over the whole list
    old = [line for line in lines[::max(1, len(lines) // 400)] if "/" not in line and line.count(".") == 3]
    with dedicated_node(args.heap) as url:
        settings = replace(Settings(opensearch_url=url), index_prefix="bench-intel-")
        bootstrap.init(settings, search.client(settings), search.names(settings))
        small = write_window(settings, args.events, hits, 2)
        large = write_window(settings, args.events * 60, hits, 3)
        t0 = time.monotonic()
        write_history(settings, args.history, hits[:5] + old, 4)
        print(f"history: {args.history:,} events over 30 days written in {time.monotonic() - t0:.1f} s")
        print(f"load average before: {loadavg()}")
        for label, count in (("baseline", args.baseline), ("scale", args.indicators)):
            have = intel_store.count(search.client(settings), search.names(settings))
            took, parsing = load(settings, lines[have:count], "bench")
            total = intel_store.count(search.client(settings), search.names(settings))
            print(f"{label}: {total:,} live indicators ({count - have:,} imported in {took:.1f} s, "
                  f"{(count - have) / max(took, 1e-9):,.0f}/s; reading and validating them alone: {parsing:.1f} s)")
            for name, span, n in (("1 s window", small, args.events), ("1 min window", large, args.events * 60)):
                got = measure(settings, span, args.runs)
                print(f"  {name} ({n:,} events, {got['alerts'][-1]:.0f} alerts), ms min / median / max:")
                for part in ("total", "values", "lookup", "events"):
                    print(f"    {part:>6}: {spread(got[part], lambda v: f'{v:,.1f}')}")
            groups = [matching.RETRO_GROUP] + ([args.retro_group] if args.retro_group and label == "scale" else [])
            for group in groups:
                matching.RETRO_GROUP = group
                took_ms, made, pending = retro_steps(settings, args.retro_steps, label == "baseline")
                done = min(len(took_ms["total"]) * 1000, count)
                print(f"  retro-hunt over 30 days ({args.history:,} events), 1,000 pending indicators a cycle, "
                      f"{group} a search: {made} alerts, {pending:,} still pending; ms min / median / max:")
                for part in ("total", "search", "write"):
                    print(f"    {part:>6}: {spread(took_ms[part], lambda v: f'{v:,.0f}')}")
                if took_ms["total"] and pending:
                    median = statistics.median(took_ms["total"])
                    print(f"    at that rate the {pending + done:,} new indicators take {(pending + done) / 1000:,.0f} "
                          f"cycles and {(pending + done) / 1000 * median / 1000 / 60:,.1f} min of retro-hunt in all")
            matching.RETRO_GROUP = groups[0]
        print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
