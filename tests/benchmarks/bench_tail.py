"""Tail and replay throughput: ``.venv/bin/python -m tests.benchmarks.bench_tail --url URL``.

1. Tail to OpenSearch: a file of ``--lines`` nginx combined lines is tailed by an in-process
   collector (file source → parser → disk queue → bulk sink) until every line is acknowledged;
   events/s from the start to the last acknowledgement. Baseline in the same run: the same
   documents (parsed and enriched beforehand, with the same ids), sent by plain ``_bulk``
   requests of the sink's batch size, gzip-compressed, one after another. Each run uses fresh
   index prefixes; runs alternate tail and baseline; the figures are medians.
2. Replay: ``soc-collector replay`` of a ``--replay-lines`` file as a child process: wall time and
   the child's peak RSS.

Every index the benchmark creates is deleted at the end. Timings never fail anything.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson
import yaml

from collectors.config import parse_config
from collectors.parsers import ParseContext, parse
from collectors.pipeline import Collector
from collectors.sources import fileid
from soc import search
from soc.config import Settings
from soc.opensearch import bootstrap

AGENTS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0", "curl/7.88.1",
          "Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:000704)")
PATHS = ("/", "/products.html", "/search?q=rock+%26+roll+tee", "/api/items?id=42", "/..%2f..%2fetc/passwd")


def line(i: int) -> bytes:
    s = i // 5
    return (f'10.{i % 200}.{i % 7}.{i % 250 + 1} - - [27/Nov/2026:{(s // 3600) % 24:02d}:{(s // 60) % 60:02d}:'
            f'{s % 60:02d} +0700] "GET {PATHS[i % 5]}&n={i} HTTP/1.1" {(200, 404, 301)[i % 3]} {i % 9000} '
            f'"-" "{AGENTS[i % 3]}"\n').encode()


def write_file(path: Path, n: int) -> None:
    with open(path, "wb") as fh:
        for start in range(0, n, 10000):
            fh.write(b"".join(line(i) for i in range(start, min(n, start + 10000))))


def config_text(settings: Settings, queue: Path, paths: list[str]) -> str:
    return yaml.safe_dump({
        "organization": {"id": "so-bench"}, "collector": {"id": "bench", "queue_dir": str(queue)},
        "opensearch": {"url": settings.url, "index_prefix": settings.index_prefix},
        "metrics": {"listen": "127.0.0.1:0"},
        "sources": [{"id": "web", "type": "file", "format": "nginx", "paths": paths, "poll_seconds": 0.05}]})


def tail_run(settings: Settings, log: Path, work: Path, n: int) -> float:
    config = parse_config(config_text(settings, work / f"q{uuid.uuid4().hex[:6]}", [str(log)]))
    collector = Collector(config)
    start = time.perf_counter()
    collector.start()
    try:
        assert collector.metrics.wait({"shipped": n}, 1800), collector.metrics.snapshot()
        return n / (time.perf_counter() - start)
    finally:
        collector.stop()


def bulk_bodies(settings: Settings, n: int, batch: int) -> list[bytes]:
    """The documents the collector makes of the lines, with their ids, as gzip'd _bulk bodies."""
    index = search.names(settings).web
    ctx = ParseContext(received_at=ParseContext().received_at, hostname="bench")
    bodies = []
    for start in range(0, n, batch):
        parts = []
        for i in range(start, min(n, start + batch)):
            event = parse("nginx", line(i).rstrip(b"\n"), ctx)
            event.update({"organization": {"id": "so-bench"}, "agent": {"id": "bench"}, "observer": {"name": "bench"}})
            event.setdefault("log", {}).update({"source": {"id": "web"}, "offset": i})
            doc_id = fileid.line_id("web", "bench", i)
            parts.append(b'{"create":{"_index":"%s","_id":"%s"}}\n%s\n' % (index.encode(), doc_id.encode(),
                                                                          orjson.dumps(event)))
        bodies.append(gzip.compress(b"".join(parts), compresslevel=1))
    return bodies


def bulk_run(settings: Settings, n: int, batch: int) -> float:
    bodies = bulk_bodies(settings, n, batch)
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    with httpx.Client(timeout=120) as client:
        start = time.perf_counter()
        for body in bodies:
            r = client.post(f"{settings.url}/_bulk", content=body, headers=headers, params={"filter_path": "errors"})
            assert r.status_code == 200 and not r.json()["errors"], r.text[:300]
        return n / (time.perf_counter() - start)


def replay_run(settings: Settings, work: Path, n: int) -> tuple[float, float]:
    big = work / "big.log"
    write_file(big, n)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "collectors.cli", "replay", "--type", "nginx", "--agency", "so-bench",
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
    ap.add_argument("--replay-lines", type=int, default=1000000)
    args = ap.parse_args()
    base = Settings(opensearch_url=args.url)
    tail_rates, bulk_rates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = work / "access.log"
        write_file(log, args.lines)
        for _ in range(args.runs):
            for kind in ("tail", "bulk"):
                with bootstrap.scratch(base, "bench") as settings:
                    if kind == "tail":
                        tail_rates.append(tail_run(settings, log, work, args.lines))
                    else:
                        bulk_rates.append(bulk_run(settings, args.lines, 5000))
        t, b = statistics.median(tail_rates), statistics.median(bulk_rates)
        print(f"tail to OpenSearch: {t:,.0f} events/s (runs {[round(x) for x in tail_rates]})")
        print(f"raw _bulk baseline: {b:,.0f} events/s (runs {[round(x) for x in bulk_rates]})")
        print(f"tail / raw _bulk: {t / b:.2f}")
        if args.replay_lines:
            with bootstrap.scratch(base, "bench") as settings:
                wall, rss = replay_run(settings, work, args.replay_lines)
            print(f"replay of {args.replay_lines:,} lines: {wall:.1f} s wall, {args.replay_lines / wall:,.0f} lines/s, "
                  f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
