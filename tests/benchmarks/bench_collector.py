"""Collector benchmark: end-to-end TCP → OpenSearch rate against raw ``_bulk`` and against rsyslog.

    .venv/bin/python -m tests.benchmarks.bench_collector [--url URL] [--events N] [--runs R]
        [--raw 1:plain 2:gzip 2:plain 4:plain] [--rsyslog-workers 1 2 4] [--sink K=V] [--secured-home DIR]

Each run, on the same node and the same input (N RFC 5424 sshd-style lines, a unique marker each),
every measurement on a fresh deployment of its own (deleted afterwards), in an order rotated from
run to run:

- raw ``_bulk``: the documents the collector would produce (same parser, fields and ids),
  pre-built (and pre-compressed) before the clock starts, posted with each ``--raw`` setting
  (requests in flight, gzip or not); the baseline of a run is its best setting;
- the collector: ``soc-collector run`` as its own process, one TCP sender with octet-counted
  frames, with its shipped sink settings (``--sink`` overrides them);
- rsyslog (Debian's, omelasticsearch in bulk mode, see rsyslog_run.py) with each
  ``--rsyslog-workers`` count; the comparison takes its best;
- raw ``_bulk`` of rsyslog-shaped documents (``--raw-thin`` settings): what the node takes of
  documents as thin as rsyslog's, so that "collector / rsyslog" can be split into the weight of
  the documents and the shipper;
- with ``--secured-home``, the collector again into the secured node started there
  (``soc opensearch start --security``): HTTPS verified with the node's CA, as the agency's
  collector user with its own role (the deployment and identity made with the admin user).

All three are timed alike: from the first byte or request sent to the latest ``event.ingested`` of
the stored documents once the stream holds all N (measure.py). The collector's own "all
acknowledged" time is printed beside it. Also the collector's peak resident memory (VmHWM).
Timings never fail anything; the load average is printed with every run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from collectors.contract import ids
from collectors.parsers import ParseContext, parse
from soc import search
from soc.agencies import identities
from soc.config import Settings
from soc.opensearch import bootstrap, secured, security_store
from tests.benchmarks import measure, raw_bulk, rsyslog_run

BATCH = 5000
AGENCY = "so-bench"


def lines(n: int, tag: str) -> list[bytes]:
    return [b"<38>1 2026-11-26T23:59:%02d.%06dZ vm sshd %d - - Failed password for invalid user u%d from "
            b"127.0.0.%d port %d ssh2 %s-%08d" % (i % 60, i % 1000000, 1000 + i % 5000, i % 97, 1 + i % 200,
                                                 30000 + i % 30000, tag.encode(), i) for i in range(n)]


def bodies(settings: Settings, data: list[bytes], thin: bool = False) -> list[bytes]:
    """The collector's documents for ``data``, with its ids, as uncompressed _bulk bodies of BATCH.

    ``thin``: documents shaped like rsyslog's instead (rsyslog_run.CONF's template: time, message,
    raw text, host, program), so that the weight of a document and the shipper can be told apart.
    """
    stream = measure.log_stream(settings, "syslog", AGENCY).encode()
    ctx = ParseContext(received_at=datetime.now(UTC), peer_ip="127.0.0.1")
    epoch = os.urandom(16)
    out = []
    for start in range(0, len(data), BATCH):
        parts = []
        for seq, raw in enumerate(data[start:start + BATCH], start):
            event = parse("syslog", raw, ctx)
            event.update({"organization": {"id": AGENCY}, "observer": {"name": "bench"},
                          "agent": {"id": "bench", "type": "soc-collector"}})
            event.setdefault("log", {}).setdefault("source", {})["id"] = "s"
            if thin:
                event = {"@timestamp": event.get("@timestamp"), "message": event.get("message"),
                         "event": {"original": raw.decode(), "dataset": "syslog"},
                         "host": {"name": event.get("host", {}).get("name")},
                         "process": {"name": event.get("process", {}).get("name")}}
            doc_id = ids.syslog_id(epoch, "bench", "s", seq, raw)
            head = b'{"create":{"_index":"%s","_id":"%s"}}\n' % (stream, doc_id.encode())
            parts.append(head + orjson.dumps(event) + b"\n")
        out.append(b"".join(parts))
    return out


def send(port: int, data: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for start in range(0, len(data), 2000):
            sock.sendall(b"".join(b"%d %s" % (len(x), x) for x in data[start:start + 2000]))


def collector(settings: Settings, data: list[bytes], work: Path, sink: dict[str, Any],
              identity: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(events/s to the last event.ingested, events/s to "all acknowledged", peak RSS in KiB)."""
    queue = work / f"q-{uuid.uuid4().hex[:6]}"
    cfg = {"organization": {"id": AGENCY},
           "collector": {"id": "bench", "queue_dir": str(queue), "heartbeat_seconds": 3600},
           "opensearch": {"url": settings.url, "index_prefix": settings.index_prefix, **(identity or {})},
           "sink": {"batch_max_events": BATCH, **sink}, "metrics": {"listen": "127.0.0.1:0"},
           "sources": [{"id": "s", "protocol": "tcp", "listen": "127.0.0.1:0"}]}
    path = work / "collector.yml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "collectors.cli", "run", "-c", str(path), "--log-level", "WARNING"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        runtime = queue / "runtime.json"
        deadline = time.monotonic() + 30
        while not runtime.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        info = json.loads(runtime.read_text())
        started = time.time()
        send(info["sources"]["s"], data)
        r = httpx.get(f"http://127.0.0.1:{info['metrics_port']}/wait",
                      params={"shipped": str(len(data)), "timeout": "600"}, timeout=700)
        acked = time.time()
        if r.status_code != 200:
            raise RuntimeError(f"collector: {r.text[:300]}")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        last = measure.wait_stored(settings, measure.streams_pattern(settings, "syslog"), len(data))
        return len(data) / (last - started), len(data) / (acked - started), rss_kb
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(queue, ignore_errors=True)


def secured_admin(home: str) -> Settings:
    env = secured.env(Path(home), admin=True)
    return Settings(opensearch_url=env["SOC_OPENSEARCH_URL"], opensearch_user=env["SOC_OPENSEARCH_USER"],
                    opensearch_password=env["SOC_OPENSEARCH_PASSWORD"],
                    opensearch_ca_file=env["SOC_OPENSEARCH_CA_FILE"])


def collector_identity(settings: Settings) -> dict[str, str]:
    """The bench agency's collector role and user in this deployment, with a fresh password."""
    client = search.client(settings)
    ident = identities.ensure(client, search.names(settings), AGENCY)
    assert ident is not None, "the secured node has no security plugin"
    password = secrets.token_urlsafe(24)
    security_store.put_user(client, ident.user, password)
    return {"user": ident.user, "password": password, "ca_file": settings.opensearch_ca_file or ""}


def one_run(run: int, base: Settings, data: list[bytes], work: Path, args: argparse.Namespace,
            sink: dict[str, Any]) -> dict[str, float]:
    """Every measurement of one run, in an order rotated by the run number; name -> events/s."""
    def pattern(s: Settings) -> str:
        return measure.streams_pattern(s, "syslog")

    result: dict[str, float] = {}

    def raw(setting: raw_bulk.Setting) -> Callable[[], None]:
        def go() -> None:
            with bootstrap.scratch(base, "bench") as s:
                result[f"raw _bulk, {setting.label}"] = raw_bulk.run(s, bodies(s, data), len(data), pattern(s), setting)
        return go

    def ours() -> None:
        with bootstrap.scratch(base, "bench") as s:
            rate, acked, rss = collector(s, data, work, sink)
        result["collector"], result["collector, to all acknowledged"] = rate, acked
        result["collector peak RSS MiB"] = rss / 1024

    def rsyslog(workers: int) -> Callable[[], None]:
        def go() -> None:
            with bootstrap.scratch(base, "bench") as s:
                index = measure.log_stream(s, "syslog", AGENCY)
                result[f"rsyslog, {workers} worker{'s' if workers > 1 else ''}"] = rsyslog_run.run(
                    s, data, work, index, pattern(s), workers, BATCH, send)
        return go

    def ours_secured() -> None:
        with bootstrap.scratch(secured_admin(args.secured_home), "bench") as s:
            rate, acked, _ = collector(s, data, work, sink, collector_identity(s))
        result["collector, secured node"], result["collector, secured node, to all acknowledged"] = rate, acked

    def thin(setting: raw_bulk.Setting) -> Callable[[], None]:
        def go() -> None:
            with bootstrap.scratch(base, "bench") as s:
                result[f"thin raw _bulk (rsyslog-shaped documents), {setting.label}"] = raw_bulk.run(
                    s, bodies(s, data, thin=True), len(data), pattern(s), setting)
        return go

    steps = [raw(raw_bulk.Setting.parse(x)) for x in args.raw] + [ours] + [rsyslog(w) for w in args.rsyslog_workers]
    steps += [thin(raw_bulk.Setting.parse(x)) for x in args.raw_thin]
    steps += [ours_secured] if args.secured_home else []
    shift = run % len(steps)
    for step in steps[shift:] + steps[:shift]:
        step()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--url", default=os.environ.get("SOC_TEST_OPENSEARCH_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--raw", nargs="+", default=list(raw_bulk.DEFAULT_SETTINGS), metavar="N:gzip|N:plain",
                    help="raw _bulk settings to measure (requests in flight : compression)")
    ap.add_argument("--rsyslog-workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--raw-thin", nargs="*", default=["2:plain"], metavar="N:gzip|N:plain",
                    help="raw _bulk of rsyslog-shaped documents with these settings (none: skipped)")
    ap.add_argument("--sink", action="append", default=[], metavar="KEY=VALUE",
                    help="a collector sink setting for the run, e.g. in_flight=1 or gzip=false (repeatable)")
    ap.add_argument("--secured-home", metavar="DIR",
                    help="also ship into the secured node started with 'soc opensearch start --security --home DIR'")
    args = ap.parse_args()
    for text in args.raw + args.raw_thin:
        raw_bulk.Setting.parse(text)  # a wrong setting is refused before anything runs
    sink = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.sink)}
    runs: list[dict[str, float]] = []
    work = Path(tempfile.mkdtemp(prefix="soc-bench-"))
    print(f"{args.events:,} events per measurement, {args.runs} runs, collector sink {sink or 'as shipped'}")
    try:
        for run in range(args.runs):
            before = measure.loadavg()
            data = lines(args.events, f"r{run}{uuid.uuid4().hex[:4]}")
            result = one_run(run, Settings(opensearch_url=args.url), data, work, args, sink)
            result["best raw _bulk"] = max(v for k, v in result.items() if k.startswith("raw"))
            result["best rsyslog"] = max(v for k, v in result.items() if k.startswith("rsyslog"))
            result["collector / best raw _bulk"] = result["collector"] / result["best raw _bulk"]
            result["collector / best rsyslog"] = result["collector"] / result["best rsyslog"]
            thin_rates = [v for k, v in result.items() if k.startswith("thin")]
            if thin_rates:
                result["best rsyslog / best thin raw _bulk"] = result["best rsyslog"] / max(thin_rates)
            if args.secured_home:
                result["collector, secured / plain node"] = result["collector, secured node"] / result["collector"]
            runs.append(result)
            print(f"run {run + 1} at {measure.stamp()}, load average before {before}, after {measure.loadavg()}: "
                  + ", ".join(f"{k} {v:,.2f}" if "/" in k else f"{k} {v:,.0f}" for k, v in result.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| {args.events:,} events, {args.runs} runs | min / median / max |\n|---|---|")
    for key in runs[0]:
        fmt = (lambda v: f"{v:.2f}") if "/" in key else (lambda v: f"{v:,.0f}")
        unit = "" if "MiB" in key or "/" in key else " (events/s)"
        print(f"| {key}{unit} | {measure.spread([r[key] for r in runs], fmt)} |")


if __name__ == "__main__":
    main()
