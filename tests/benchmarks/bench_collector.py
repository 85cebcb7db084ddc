"""Collector benchmark: end-to-end TCP → OpenSearch rate against raw ``_bulk`` and against rsyslog.

    .venv/bin/python -m tests.benchmarks.bench_collector [--url URL] [--events N] [--runs R] [--sink K=V]

In one run of this command, on the same node, with the same input (N syslog lines, RFC 5424
sshd-style lines with a unique marker each):

(b) raw ``_bulk``: the documents the collector would produce (same parser, same fields, same ids),
    pre-built into bulk bodies before the clock starts, posted one after the other in batches of
    the collector's size; then ``soc-collector run`` receiving the lines from one TCP sender and
    shipping them, timed from the first byte sent until the collector reports all of them
    acknowledged by OpenSearch. The ratio is collector / raw.
(c) rsyslog (Debian's, with omelasticsearch) receiving the same lines over TCP and shipping them in
    bulk mode to the same node, timed until the index holds all of them.
(d) the collector's peak resident memory (VmHWM).

Every measurement writes under its own fresh index prefix, deleted afterwards. Medians over runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from collectors import ids
from collectors.parsers import ParseContext, parse
from soc import search
from soc.config import Settings
from soc.opensearch import bootstrap

BATCH = 5000


def lines(n: int, tag: str) -> list[bytes]:
    return [b"<38>1 2026-11-26T23:59:%02d.%06dZ vm sshd %d - - Failed password for invalid user u%d from "
            b"127.0.0.%d port %d ssh2 %s-%08d" % (i % 60, i % 1000000, 1000 + i % 5000, i % 97, 1 + i % 200,
                                                 30000 + i % 30000, tag.encode(), i) for i in range(n)]


def count(settings: Settings, index: str) -> int:
    r = httpx.get(f"{settings.url}/{index}/_count", timeout=30)
    return int(r.json().get("count", 0)) if r.status_code == 200 else 0


def raw_bulk(settings: Settings, data: list[bytes]) -> float:
    url = settings.url
    stream = search.names(settings).syslog
    ctx = ParseContext(received_at=datetime.now(UTC), peer_ip="127.0.0.1")
    epoch = os.urandom(16)
    bodies = []
    for start in range(0, len(data), BATCH):
        parts = []
        for seq, raw in enumerate(data[start:start + BATCH], start):
            event = parse("syslog", raw, ctx)
            event.update({"organization": {"id": "so-bench"}, "observer": {"name": "bench"},
                          "agent": {"id": "bench", "type": "soc-collector"}})
            event.setdefault("log", {}).setdefault("source", {})["id"] = "s"
            doc_id = ids.syslog_id(epoch, "bench", "s", seq, raw)
            parts.append(b'{"create":{"_index":"%s","_id":"%s"}}\n%s\n' % (stream.encode(), doc_id.encode(),
                                                                          orjson.dumps(event)))
        bodies.append(b"".join(parts))
    with httpx.Client(timeout=120) as client:
        t0 = time.perf_counter()
        for body in bodies:
            r = client.post(f"{url}/_bulk", content=body, params={"filter_path": "errors"},
                            headers={"Content-Type": "application/x-ndjson"})
            assert r.status_code == 200 and not r.json()["errors"], r.text[:300]
        elapsed = time.perf_counter() - t0
    assert count(settings, stream) == len(data) or refresh_count(settings, stream) == len(data)
    return len(data) / elapsed


def refresh_count(settings: Settings, index: str) -> int:
    httpx.post(f"{settings.url}/{index}/_refresh", timeout=60)
    return count(settings, index)


def send(port: int, data: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for start in range(0, len(data), 2000):
            sock.sendall(b"".join(b"%d %s" % (len(x), x) for x in data[start:start + 2000]))


def collector(settings: Settings, data: list[bytes], work: Path, sink: dict[str, Any] | None = None
              ) -> tuple[float, int]:
    url = settings.url
    queue = work / f"q-{uuid.uuid4().hex[:6]}"
    cfg = {"organization": {"id": "so-bench"},
           "collector": {"id": "bench", "queue_dir": str(queue), "heartbeat_seconds": 3600},
           "opensearch": {"url": url, "index_prefix": settings.index_prefix},
           "sink": {"batch_max_events": BATCH, **(sink or {})}, "metrics": {"listen": "127.0.0.1:0"},
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
        t0 = time.perf_counter()
        send(info["sources"]["s"], data)
        r = httpx.get(f"http://127.0.0.1:{info['metrics_port']}/wait",
                      params={"shipped": str(len(data)), "timeout": "600"}, timeout=700)
        elapsed = time.perf_counter() - t0
        assert r.status_code == 200, r.text
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        return len(data) / elapsed, rss_kb
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(queue, ignore_errors=True)


RSYSLOG_CONF = """\
global(workDirectory="{work}")
module(load="imtcp")
module(load="omelasticsearch")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="ship" SupportOctetCountedFraming="on")
template(name="doc" type="string" string="{{\\"@timestamp\\":\\"%timegenerated:::date-rfc3339%\\",\
\\"message\\":\\"%msg:::json%\\",\\"event\\":{{\\"original\\":\\"%rawmsg:::json%\\",\\"dataset\\":\\"syslog\\"}},\
\\"host\\":{{\\"name\\":\\"%hostname:::json%\\"}},\\"process\\":{{\\"name\\":\\"%app-name:::json%\\"}}}}")
template(name="bulkid" type="string" string="%uuid%")
ruleset(name="ship") {{
  action(type="omelasticsearch" server="127.0.0.1" serverport="{es_port}" searchIndex="{index}"
         template="doc" bulkmode="on" writeoperation="create" bulkid="bulkid" dynbulkid="on"
         esVersion.major="8" maxbytes="8m"
         queue.type="linkedlist" queue.size="200000" queue.dequeuebatchsize="{batch}" action.resumeRetryCount="-1")
}}
"""


def rsyslog(settings: Settings, data: list[bytes], work: Path) -> float:
    url = settings.url
    stream = search.names(settings).syslog
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rdir = work / f"rsyslog-{uuid.uuid4().hex[:6]}"
    rdir.mkdir()
    conf = rdir / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=rdir, port=port, es_port=url.rsplit(":", 1)[1].rstrip("/"),
                                        index=stream, batch=BATCH))
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(rdir / "pid")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        t0 = time.perf_counter()
        send(port, data)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and refresh_count(settings, stream) < len(data):
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        got = refresh_count(settings, stream)
        if got < len(data):
            raise RuntimeError(f"rsyslog delivered {got} of {len(data)}")
        return len(data) / elapsed
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(rdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--url", default=os.environ.get("SOC_TEST_OPENSEARCH_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sink", action="append", default=[], metavar="KEY=VALUE",
                    help="a collector sink setting for the run, e.g. in_flight=1 or gzip=false (repeatable)")
    args = ap.parse_args()
    sink = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.sink)}
    results: dict[str, list[float]] = {"raw": [], "collector": [], "rsyslog": [], "rss_mb": []}
    work = Path(tempfile.mkdtemp(prefix="soc-bench-"))
    try:
        for run in range(args.runs):
            data = lines(args.events, f"r{run}{uuid.uuid4().hex[:4]}")
            base = Settings(opensearch_url=args.url)  # each measurement on a deployment of its own
            with bootstrap.scratch(base, "bench") as settings:
                results["raw"].append(raw_bulk(settings, data))
            with bootstrap.scratch(base, "bench") as settings:
                rate, rss = collector(settings, data, work, sink)
            results["collector"].append(rate)
            results["rss_mb"].append(rss / 1024)
            with bootstrap.scratch(base, "bench") as settings:
                results["rsyslog"].append(rsyslog(settings, data, work))
            print(f"run {run + 1}: raw _bulk {results['raw'][-1]:,.0f}/s  collector {rate:,.0f}/s  "
                  f"rsyslog {results['rsyslog'][-1]:,.0f}/s  collector peak RSS {rss / 1024:.0f} MiB", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med: dict[str, Any] = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmedians over {args.runs} runs of {args.events:,} events:")
    print(f"(b) raw _bulk of pre-built docs: {med['raw']:,.0f} events/s")
    print(f"(b) collector end to end (TCP -> OpenSearch): {med['collector']:,.0f} events/s, "
          f"ratio {med['collector'] / med['raw']:.2f} of raw _bulk")
    print(f"(c) rsyslog + omelasticsearch end to end: {med['rsyslog']:,.0f} events/s "
          f"(collector / rsyslog {med['collector'] / med['rsyslog']:.2f})")
    print(f"(d) collector peak RSS: {med['rss_mb']:.0f} MiB")


if __name__ == "__main__":
    main()
