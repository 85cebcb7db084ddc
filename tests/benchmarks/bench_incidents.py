"""Benchmark: list one agency's open incidents and change a status, at 50 concurrent clients.

    .venv/bin/python -m tests.benchmarks.bench_incidents [--incidents 100000] [--alerts 1000000] \
        [--clients 50] [--requests 2000] [--workers 2] [--think 0 1] [--url URL]

Without ``--url`` it starts a dedicated OpenSearch node (own temporary home, free port, 1 GiB
heap) so the figures are not polluted by other data, and stops it at the end. It bulk-loads the
data (refresh off and asynchronous translog while loading), runs the API with ``soc serve`` in a
child process, first times single requests one at a time (where the time goes), then measures
from ``--clients`` asyncio clients and prints p50/p99 per operation. ``--think S [S ...]`` makes each
client pause a random (exponential) S seconds between iterations, one run per value: 0 is a
closed loop (every client sends its next request as soon as the last one is answered: the
saturation case, where latency is mostly queueing). Each run also prints the CPU time per
iteration of the API workers, the node (from its own statistics; with ``--url`` that is the
whole cluster's, whoever else uses it) and the load generator. Not collected by pytest (the file
is not named test_*).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import uvloop
from opensearchpy import OpenSearch, helpers

from soc import search, users_store
from soc.config import Settings, default_cache
from soc.incidents import model, sla
from soc.incidents.service import IncidentService
from soc.opensearch import bootstrap, dist, node

AGENCIES = [f"agency-{i:02d}" for i in range(41)]
SEVERITIES = ["low", "medium", "high", "critical"]
STATUSES = ["new", "new", "acknowledged", "in_progress", "resolved", "closed"]


def _incidents(n: int, t0: datetime) -> Iterator[dict[str, Any]]:
    policy = sla.SlaPolicy()
    for i in range(n):
        at = t0 + timedelta(seconds=i * 7)
        alert = {"rule": {"id": f"rule-{i % 60}", "name": f"Rule {i % 60}"}, "severity": SEVERITIES[i % 4],
                 "organization": {"id": AGENCIES[i % 41]}, "group_key": f"source.ip=10.{i % 250}.{i % 199}.1",
                 "first_seen": at.isoformat(), "last_seen": at.isoformat()}
        doc = model.new_incident(f"inc{i:08d}", model.group_key(alert), alert, at)
        doc["status"] = STATUSES[(i // 41) % len(STATUSES)]
        doc["alert_count"] = 10
        sla.set_dues(doc, policy)
        yield {"_id": doc["id"], "_source": doc}


def _alerts(n: int, incidents: int, t0: datetime) -> Iterator[dict[str, Any]]:
    for i in range(n):
        at = (t0 + timedelta(seconds=i)).isoformat()
        yield {"_id": f"al{i:09d}", "_source": {
            "kind": "match", "created": at, "@timestamp": at, "first_seen": at, "last_seen": at,
            "rule": {"id": f"rule-{i % 60}", "name": "r", "level": "medium", "author": "bench", "tags": []},
            "severity": "medium", "severity_rank": 3, "organization": {"id": AGENCIES[i % 41]},
            "group_key": f"source.ip=10.{i % 250}.{i % 199}.1", "incident_id": f"inc{i % incidents:08d}",
            "grouped": True, "events": [], "event_count": 1, "summary": "bench"}}


def load(client: OpenSearch, settings: Settings, incidents: int, alerts: int) -> None:
    names = search.names(settings)
    t0 = datetime.now(UTC) - timedelta(days=30)
    loading = {"index": {"refresh_interval": "-1", "translog.durability": "async"}}
    serving = {"index": {"refresh_interval": "1s", "translog.durability": "request"}}
    for index, gen in ((names.incidents, _incidents(incidents, t0)), (names.alerts, _alerts(alerts, incidents, t0))):
        client.indices.put_settings(index=index, body=loading)
        docs = ({**d, "_index": index} for d in gen)
        for ok, item in helpers.parallel_bulk(client, docs, chunk_size=5000, thread_count=2, queue_size=4):
            if not ok:
                raise RuntimeError(item)
        client.indices.put_settings(index=index, body=serving)
        client.indices.refresh(index=index)
        client.indices.forcemerge(index=index, max_num_segments=1, request_timeout=600)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def _status_body(current: dict[str, Any]) -> dict[str, Any]:
    target = "resolved" if current["status"] == "in_progress" else "in_progress"  # reopen included
    body: dict[str, Any] = {"version": current["version"], "status": target}
    if target == "resolved":
        body["resolution"] = "benign"
    return body


def profile(client: OpenSearch, settings: Settings, base: str, token: str, incidents: int, n: int = 100) -> None:
    """One request at a time: the OpenSearch search alone, then the same list and a status change via the API."""
    from soc.auth import Principal
    from soc.incidents.runtime import Runtime

    rt = Runtime(settings, client, search.names(settings))
    service = IncidentService(rt)
    who = Principal("bench", "admin", ("*",))
    took, direct = [], []
    for _ in range(n):
        f = {"agency": [random.choice(AGENCIES)], "status": list(model.OPEN_STATUSES), "limit": 50}
        t = time.perf_counter()
        service.search(who, f)
        direct.append(time.perf_counter() - t)
        body = {"size": 0, "query": service.query(who, f)}
        took.append(client.search(index=rt.names.incidents, body=body)["took"] / 1000)
    # The API one request at a time, with the same client and the same requests as the concurrent runs.
    # First untimed iterations: each worker's first requests and the node's caches right after the
    # load (force-merged segments not yet read) would otherwise be counted as the cost of a request.
    uvloop.run(run(base, token, 10, 300, incidents, 0.0))
    alone = uvloop.run(run(base, token, 1, n, incidents, 0.0))
    api_list, api_patch = alone["list"], alone["status"]
    for name, values in (("opensearch query (took)", took), ("service.search in-process", direct),
                         ("API list, one client", api_list), ("API status change, one client", api_patch)):
        print(f"  {name}: p50={pct(values, 0.5):.1f} ms p99={pct(values, 0.99):.1f} ms")


class Connection:
    """One kept-alive HTTP/1.1 connection per simulated client, as lean as a client can be.

    httpx cost the load generator about 3.5 ms of CPU per request, more than the API process spent
    answering it, on the same two cores; this costs a small fraction of that, so the machine's
    CPU goes to what is measured. Timing is unchanged: from sending the request to having read the
    whole answer. Only what the API sends is handled (Content-Length bodies).
    """

    def __init__(self, base: str, token: str) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port or 80
        self.head = f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        data = orjson.dumps(body) if body is not None else b""
        extra = f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n" if body is not None else ""
        message = f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + data
        if self.reader is not None and self.reader.at_eof():
            await self.close()  # the server ended the idle connection (keep-alive timeout, 5 s)
        reused = self.writer is not None
        line = await self._send(message)
        if not line and reused:  # closed while the request was on its way: nothing was read, send it again
            await self.close()
            line = await self._send(message)
        status = int(line.split(b" ", 2)[1])
        assert self.reader is not None
        length, close = None, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise RuntimeError(f"{method} {path}: an answer without Content-Length")
        answer = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, answer

    async def _send(self, message: bytes) -> bytes:
        """Sends on the open connection (opening one if needed); the answer's status line, b"" if closed."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        self.writer.write(message)
        try:
            return await self.reader.readline()
        except ConnectionError:
            return b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


def cpu_seconds(client: OpenSearch, api_pid: int) -> dict[str, float]:
    """CPU time so far of the API workers (children of ``soc serve``), the node(s) and this process."""
    tick = os.sysconf("SC_CLK_TCK")
    api = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == api_pid:
                api += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    stats = client.nodes.stats(metric="process")
    node = sum(n["process"]["cpu"]["total_in_millis"] for n in stats["nodes"].values()) / 1000
    return {"API workers": api, "OpenSearch": node, "load generator": time.process_time()}


def _ok(status: int, answer: bytes, what: str) -> None:
    if status >= 400:
        raise RuntimeError(f"{what}: HTTP {status}: {answer[:300]!r}")


async def run(base: str, token: str, clients: int, requests: int, incidents: int,
              think: float) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"list": [], "status": []}
    ids = iter(random.sample(range(incidents), min(incidents, requests)))

    async def worker(http: Connection, n: int) -> None:
        try:
            for _ in range(n):
                if think:
                    await asyncio.sleep(random.expovariate(1 / think))
                query = urlencode({"agency": random.choice(AGENCIES), "status": model.OPEN_STATUSES, "limit": 50},
                                  doseq=True)
                t = time.perf_counter()
                status, answer = await http.request("GET", f"/api/v1/incidents?{query}")
                times["list"].append(time.perf_counter() - t)
                _ok(status, answer, "list")
                iid = f"inc{next(ids):08d}"
                status, answer = await http.request("GET", f"/api/v1/incidents/{iid}")
                _ok(status, answer, "read")
                t = time.perf_counter()
                status, answer = await http.request("PATCH", f"/api/v1/incidents/{iid}",
                                                    _status_body(orjson.loads(answer)))
                times["status"].append(time.perf_counter() - t)
                _ok(status, answer, "status change")
        finally:
            await http.close()

    await asyncio.gather(*(worker(Connection(base, token), requests // clients) for _ in range(clients)))
    return times


@contextmanager
def dedicated_node(heap: str) -> Iterator[str]:
    home = Path(tempfile.mkdtemp(prefix="soc-bench-node-"))
    home.chmod(0o755)  # the node runs as the service user when started by root
    port = node.free_port()
    distribution = dist.install(Settings().opensearch_version, default_cache())
    node.start(distribution, home, port, heap=heap, timeout=300)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        node.stop(home)
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", help="an existing node (default: start a dedicated one)")
    p.add_argument("--heap", default="1g")
    p.add_argument("--incidents", type=int, default=100_000)
    p.add_argument("--alerts", type=int, default=1_000_000)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--think", type=float, nargs="+", default=[0.0], help="one run per value")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    with (dedicated_node(args.heap) if not args.url else _given(args.url)) as url:
        return bench(url, args)


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


def bench(url: str, args: argparse.Namespace) -> int:
    settings = replace(Settings(opensearch_url=url), index_prefix=f"bench{uuid.uuid4().hex[:6]}-")
    client = search.client(settings, timeout=300)
    bootstrap.init(settings, client, search.names(settings))
    server = None
    server_log = None
    done = False
    try:
        t = time.monotonic()
        load(client, settings, args.incidents, args.alerts)
        print(f"loaded {args.incidents} incidents and {args.alerts} alerts in {time.monotonic() - t:.0f} s")
        token = users_store.create_token(client, search.names(settings), "bench", "admin", ["*"])
        # The API alone: no scheduler (its SLA sweep would rewrite the many loaded incidents past due).
        env = os.environ | {"SOC_OPENSEARCH_URL": url, "SOC_INDEX_PREFIX": settings.index_prefix,
                            "SOC_SCHEDULER": "off"}
        port = args.port or node.free_port()
        server_log = tempfile.NamedTemporaryFile(prefix="soc-bench-api-", suffix=".log", delete=False)  # noqa: SIM115
        print(f"API server log: {server_log.name}")
        server = subprocess.Popen([sys.executable, "-m", "soc.cli", "serve", "--port", str(port),
                                   "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=server_log)
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                httpx.get(f"{base}/api/v1/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"load average before measuring: {os.getloadavg()}")
        profile(client, settings, base, token, args.incidents)
        for think in args.think:
            t = time.monotonic()
            cpu = cpu_seconds(client, server.pid)
            times = uvloop.run(run(base, token, args.clients, args.requests, args.incidents, think))
            took = time.monotonic() - t
            used = {k: v - cpu[k] for k, v in cpu_seconds(client, server.pid).items()}
            print(f"{args.clients} clients, think {think} s, {took:.0f} s, load average {os.getloadavg()}")
            for name, values in times.items():
                print(f"  {name}: n={len(values)} p50={pct(values, 0.5):.1f} ms p99={pct(values, 0.99):.1f} ms "
                      f"mean={statistics.mean(values) * 1000:.1f} ms ({len(values) / took:.0f}/s)")
            n = len(times["status"])
            print("  CPU per iteration (list + read + status change): "
                  + ", ".join(f"{k} {v / n * 1000:.2f} ms" for k, v in used.items()))
        done = True
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if server_log is not None and done:
            os.unlink(server_log.name)  # kept when something failed
        prefix = settings.index_prefix
        bootstrap.remove_prefix(client, prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
