"""Tail and replay throughput: ``.venv/bin/python -m tests.benchmarks.bench_tail --url URL``.

1. Tail to OpenSearch: a file of ``--lines`` nginx combined lines (the parse benchmark's, with
   thousands of distinct agents and paths) is tailed by an in-process collector (file source →
   parser → disk queue → bulk sink) with its shipped settings. Baseline in the same run: the same
   documents (parsed and enriched beforehand, with the same ids) posted as raw ``_bulk`` requests
   of the sink's batch size with each ``--raw`` setting (requests in flight, gzip or not; see
   raw_bulk.py), the best of them being the baseline. Both are timed from their start to the
   latest ``event.ingested`` of the stored documents (measure.py); the tail's "all acknowledged"
   time is printed beside it. Each measurement uses a fresh deployment; the order rotates per run;
   min / median / max over ``--runs`` and the load average of each run are printed.
2. Replay: ``soc-collector replay`` of a ``--replay-lines`` file as a child process: wall time and
   the child's peak RSS (once; 0 skips it).

Every index the benchmark creates is deleted at the end. Timings never fail anything.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import yaml

from collectors.config import parse_config
from collectors.contract.ids import line_id
from collectors.parsers import ParseContext, parse
from collectors.pipeline import Collector
from soc.config import Settings
from soc.opensearch import bootstrap
from tests.benchmarks import measure, raw_bulk
from tests.benchmarks.bench_parse import combined

AGENCY = "so-bench"
BATCH = 5000


def line(i: int) -> bytes:
    return combined(i) + b"\n"


def write_file(path: Path, n: int) -> None:
    with open(path, "wb") as fh:
        for start in range(0, n, 10000):
            fh.write(b"".join(line(i) for i in range(start, min(n, start + 10000))))


def config_text(settings: Settings, queue: Path, paths: list[str]) -> str:
    return yaml.safe_dump({
        "organization": {"id": AGENCY}, "collector": {"id": "bench", "queue_dir": str(queue)},
        "opensearch": {"url": settings.url, "index_prefix": settings.index_prefix},
        "metrics": {"listen": "127.0.0.1:0"},
        "sources": [{"id": "web", "type": "file", "format": "nginx", "paths": paths, "poll_seconds": 0.05}]})


def tail_run(settings: Settings, log: Path, work: Path, n: int) -> tuple[float, float]:
    """(events/s to the last event.ingested, events/s to "all acknowledged")."""
    config = parse_config(config_text(settings, work / f"q{uuid.uuid4().hex[:6]}", [str(log)]))
    collector = Collector(config)
    start = time.time()
    collector.start()
    try:
        assert collector.metrics.wait({"shipped": n}, 1800), collector.metrics.snapshot()
        acked = time.time()
    finally:
        collector.stop()
    last = measure.wait_stored(settings, measure.streams_pattern(settings, "web"), n)
    return n / (last - start), n / (acked - start)


def bulk_bodies(settings: Settings, n: int, batch: int) -> list[bytes]:
    """The documents the collector makes of the lines, with their ids, as uncompressed _bulk bodies."""
    index = measure.log_stream(settings, "web", AGENCY)
    ctx = ParseContext(received_at=ParseContext().received_at, hostname="bench")
    bodies = []
    for start in range(0, n, batch):
        parts = []
        for i in range(start, min(n, start + batch)):
            event = parse("nginx", line(i).rstrip(b"\n"), ctx)
            event.update({"organization": {"id": AGENCY}, "agent": {"id": "bench"}, "observer": {"name": "bench"}})
            event.setdefault("log", {}).update({"source": {"id": "web"}, "offset": i})
            doc_id = line_id("web", "bench", i)
            parts.append(b'{"create":{"_index":"%s","_id":"%s"}}\n%s\n' % (index.encode(), doc_id.encode(),
                                                                          orjson.dumps(event)))
        bodies.append(b"".join(parts))
    return bodies


def replay_run(settings: Settings, work: Path, n: int) -> tuple[float, float]:
    big = work / "big.log"
    write_file(big, n)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "collectors.cli", "replay", "--type", "nginx", "--agency", AGENCY,
                           "--source", "web", "--url", settings.url, "--index-prefix", settings.index_prefix,
                           "--queue-dir", str(work / "rq"), str(big)], capture_output=True, check=True)
    wall = time.perf_counter() - start
    print(proc.stdout.decode().strip().splitlines()[-1])
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:9200")
    ap.add_argument("--lines", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--raw", nargs="+", default=list(raw_bulk.DEFAULT_SETTINGS), metavar="N:gzip|N:plain")
    ap.add_argument("--replay-lines", type=int, default=1000000)
    args = ap.parse_args()
    settings_raw = [raw_bulk.Setting.parse(x) for x in args.raw]
    base = Settings(opensearch_url=args.url)
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = work / "access.log"
        write_file(log, args.lines)
        print(f"{args.lines:,} lines per measurement, {args.runs} runs")
        for run in range(args.runs):
            before = measure.loadavg()
            result: dict[str, float] = {}
            steps: list[raw_bulk.Setting | None] = [None, *settings_raw]  # None: the tail
            shift = run % len(steps)
            for step in steps[shift:] + steps[:shift]:
                with bootstrap.scratch(base, "bench") as settings:
                    if step is None:
                        result["tail"], result["tail, to all acknowledged"] = tail_run(settings, log, work, args.lines)
                    else:
                        bodies = bulk_bodies(settings, args.lines, BATCH)
                        pattern = measure.streams_pattern(settings, "web")
                        result[f"raw _bulk, {step.label}"] = raw_bulk.run(settings, bodies, args.lines, pattern, step)
            result["best raw _bulk"] = max(v for k, v in result.items() if k.startswith("raw"))
            result["tail / best raw _bulk"] = result["tail"] / result["best raw _bulk"]
            runs.append(result)
            print(f"run {run + 1} at {measure.stamp()}, load average before {before}, after {measure.loadavg()}: "
                  + ", ".join(f"{k} {v:,.2f}" if "/" in k else f"{k} {v:,.0f}" for k, v in result.items()), flush=True)
        print(f"\n| {args.lines:,} lines, {args.runs} runs | min / median / max |\n|---|---|")
        for key in runs[0]:
            fmt = (lambda v: f"{v:.2f}") if "/" in key else (lambda v: f"{v:,.0f}")
            unit = "" if "/" in key else " (events/s)"
            print(f"| {key}{unit} | {measure.spread([r[key] for r in runs], fmt)} |")
        if args.replay_lines:
            before = measure.loadavg()
            with bootstrap.scratch(base, "bench") as settings:
                wall, rss = replay_run(settings, work, args.replay_lines)
            print(f"\nreplay of {args.replay_lines:,} lines (one run, load average before {before}, after "
                  f"{measure.loadavg()}): {wall:.1f} s wall, {args.replay_lines / wall:,.0f} lines/s, "
                  f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
