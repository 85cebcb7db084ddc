"""Benchmark: list one agency's open incidents and change a status, through the HTTP API.

    .venv/bin/python -m tests.benchmarks.bench_incidents [--incidents 100000] [--alerts 1000000] \
        [--clients 50] [--requests 2000] [--rate 50] [--duration 20] [--repeat 3] [--workers 2] [--url URL]

Without ``--url`` it starts a dedicated OpenSearch node (own temporary home, free port, 1 GiB
heap) so the figures are not polluted by other data, and stops it at the end. It bulk-loads the
data (refresh off and asynchronous translog while loading), runs the API with ``soc serve`` in a
child process (scheduler off) and measures, for two kinds of caller: an all-agency admin token,
and analyst tokens each scoped to one agency (their requests carry the agency filter of their
scope, as an analyst's do):

- one request at a time (where the time goes);
- a closed loop: ``--clients`` clients each sending its next request as soon as the last one is
  answered (``--requests`` iterations in all; 0 skips it): the saturation case, where latency is
  mostly queueing;
- an open loop (open_loop.py): Poisson arrivals at ``--rate`` requests/s for ``--duration``
  seconds, half listings and half status changes, sent on schedule whatever the answers, latency
  from the scheduled send time; ``--repeat`` times per kind of caller (0 skips it). The version a
  status change needs is read beforehand, untimed, so each arrival is one request.

Each run prints its load average, and the CPU time per request of the API workers, the node (from
its own statistics; with ``--url`` that is the whole cluster's) and the load generator. Timings
never fail anything. Not collected by pytest (the file is not named test_*).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import uvloop
from opensearchpy import OpenSearch

from soc import search
from soc.accounts import store as accounts_store
from soc.config import Settings
from soc.incidents import model
from soc.incidents.service import IncidentService
from soc.opensearch import bootstrap, node
from tests.benchmarks import measure
from tests.benchmarks.dedicated import dedicated_node
from tests.benchmarks.incident_data import AGENCIES, load
from tests.benchmarks.incident_load import Caller, Pools, closed, open_run


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def profile(client: OpenSearch, settings: Settings, base: str, caller: Caller, pools: Pools, n: int = 100) -> None:
    """One request at a time: the OpenSearch search alone, then the same list and a status change via the API."""
    from soc.auth import Principal
    from soc.runtime import Runtime

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
    uvloop.run(closed(base, caller, 10, 300, pools))
    alone = uvloop.run(closed(base, caller, 1, n, pools))
    for name, values in (("opensearch query (took)", took), ("service.search in-process", direct),
                         ("API list, one client", alone["list"]),
                         ("API status change, one client", alone["status change"])):
        print(f"  {name}: p50={pct(values, 0.5):.1f} ms p99={pct(values, 0.99):.1f} ms")


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


def _spread_ms(values: list[float]) -> str:
    return measure.spread(values, lambda v: f"{v:.1f}")


def bench(url: str, args: argparse.Namespace) -> int:
    settings = replace(Settings(opensearch_url=url), index_prefix=f"bench{uuid.uuid4().hex[:6]}-")
    client = search.client(settings, timeout=300)
    names = search.names(settings)
    bootstrap.init(settings, client, names)
    server = server_log = None
    done = False
    try:
        t = time.monotonic()
        load(client, settings, args.incidents, args.alerts)
        print(f"loaded {args.incidents} incidents and {args.alerts} alerts in {time.monotonic() - t:.0f} s")
        admin = accounts_store.create_token(client, names, "bench-admin", "admin", ["*"])
        analysts = {a: accounts_store.create_token(client, names, f"bench-{a}", "analyst", [a]) for a in AGENCIES}
        callers: dict[str, Caller] = {"admin token (all agencies)": lambda _agency: admin,
                                      "analyst tokens (one agency each)": analysts.__getitem__}
        pools = Pools(args.incidents)
        # The API alone: no scheduler (its SLA sweep would rewrite the many loaded incidents past due).
        env = os.environ | {"SOC_OPENSEARCH_URL": url, "SOC_INDEX_PREFIX": settings.index_prefix,
                            "SOC_SCHEDULER": "off"}
        port = args.port or node.free_port()
        server_log = tempfile.NamedTemporaryFile(prefix="soc-bench-api-", suffix=".log", delete=False)  # noqa: SIM115
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
        for who, caller in callers.items():
            print(f"one request at a time, {who}, load average before {measure.loadavg()}:")
            profile(client, settings, base, caller, pools)
        if args.requests:
            for who, caller in callers.items():
                before, cpu, t = measure.loadavg(), cpu_seconds(client, server.pid), time.monotonic()
                times = uvloop.run(closed(base, caller, args.clients, args.requests, pools))
                took = time.monotonic() - t
                used = {k: v - cpu[k] for k, v in cpu_seconds(client, server.pid).items()}
                n = len(times["status change"])
                print(f"closed loop, {args.clients} clients, {who}: {took:.0f} s, {n / took:.0f} iterations/s, "
                      f"load average before {before}, after {measure.loadavg()}")
                for name, values in times.items():
                    print(f"  {name}: n={len(values)} p50={pct(values, 0.5):.1f} ms p99={pct(values, 0.99):.1f} ms")
                print("  CPU per iteration (list + read + status change): "
                      + ", ".join(f"{k} {v / n * 1000:.2f} ms" for k, v in used.items()))
        summary: dict[tuple[str, str, str], list[float]] = {}
        for rep in range(args.repeat):
            for who, caller in callers.items():
                before, cpu = measure.loadavg(), cpu_seconds(client, server.pid)
                out = uvloop.run(open_run(base, caller, args.rate, args.duration, seed=1000 + rep, pools=pools))
                used = {k: v - cpu[k] for k, v in cpu_seconds(client, server.pid).items()}
                sent = sum(len(v) for v in out.latency.values())
                print(f"open loop {rep + 1}, {who}, {args.rate:g}/s asked for {args.duration:g} s: {sent} requests "
                      f"in {out.elapsed:.1f} s, at most {out.connections} connections busy, generator late by "
                      f"p99 {pct(out.send_lag, 0.99):.1f} ms; load average before {before}, after {measure.loadavg()}")
                for name, values in out.latency.items():
                    print(f"  {name}: n={len(values)} p50={pct(values, 0.5):.1f} ms p99={pct(values, 0.99):.1f} ms "
                          f"max={max(values) * 1000:.1f} ms")
                    for stat, p in (("p50", 0.5), ("p99", 0.99)):
                        summary.setdefault((who, name, stat), []).append(pct(values, p))
                print("  CPU per request: " + ", ".join(f"{k} {v / sent * 1000:.2f} ms" for k, v in used.items()))
        if summary:
            print(f"\n| open loop, {args.rate:g} requests/s, {args.duration:g} s per run | min / median / max over "
                  f"runs (ms) |\n|---|---|")
            for (who, name, stat), values in summary.items():
                print(f"| {who}: {name} {stat} | {_spread_ms(values)} |")
        done = True
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if server_log is not None and done:
            os.unlink(server_log.name)
        elif server_log is not None:
            print(f"API server log kept: {server_log.name}")  # something failed
        bootstrap.remove_prefix(client, settings.index_prefix)
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", help="an existing node (default: start a dedicated one)")
    p.add_argument("--heap", default="1g")
    p.add_argument("--incidents", type=int, default=100_000)
    p.add_argument("--alerts", type=int, default=1_000_000)
    p.add_argument("--clients", type=int, default=50, help="closed loop")
    p.add_argument("--requests", type=int, default=2000, help="closed loop iterations (0 skips it)")
    p.add_argument("--rate", type=float, default=50, help="open loop: requests per second")
    p.add_argument("--duration", type=float, default=20, help="open loop: seconds per run")
    p.add_argument("--repeat", type=int, default=3, help="open loop runs per kind of caller (0 skips it)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    if args.url:
        return bench(args.url, args)
    with dedicated_node(args.heap) as url:
        return bench(url, args)


if __name__ == "__main__":
    sys.exit(main())
