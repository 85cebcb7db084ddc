"""Benchmark: list one agency's open incidents and change a status, at 50 concurrent clients.

    .venv/bin/python -m tests.benchmarks.bench_incidents --url http://127.0.0.1:9200 \
        [--incidents 100000] [--alerts 1000000] [--clients 50] [--requests 2000] [--workers 2]

It loads the data under a fresh index prefix, runs the API with ``soc serve`` in a child
process, measures with httpx from 50 asyncio clients, prints p50/p99 per operation, and removes
the prefix's indices at the end. Not collected by pytest (the file is not named test_*).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from opensearchpy import helpers

from soc import search, users_store
from soc.config import Settings
from soc.incidents import model, sla
from soc.opensearch import bootstrap

AGENCIES = [f"agency-{i:02d}" for i in range(41)]
SEVERITIES = ["low", "medium", "high", "critical"]


def _incidents(n: int, t0: datetime) -> Any:
    policy = sla.SlaPolicy()
    for i in range(n):
        at = t0 + timedelta(seconds=i * 7)
        sev = SEVERITIES[i % 4]
        alert = {"rule": {"id": f"rule-{i % 60}", "name": f"Rule {i % 60}"}, "severity": sev,
                 "organization": {"id": AGENCIES[i % 41]}, "group_key": f"source.ip=10.{i % 250}.{i % 199}.1",
                 "first_seen": at.isoformat(), "last_seen": at.isoformat()}
        key = model.group_key(alert)
        doc = model.new_incident(f"inc{i:08d}", key, alert, at)
        doc["status"] = random.choice(["new", "new", "acknowledged", "in_progress", "resolved", "closed"])
        doc["alert_count"] = 10
        sla.set_dues(doc, policy)
        yield {"_index": None, "_id": doc["id"], "_source": doc}


def _alerts(n: int, incidents: int, t0: datetime) -> Any:
    for i in range(n):
        at = (t0 + timedelta(seconds=i)).isoformat()
        yield {"_index": None, "_id": f"al{i:09d}", "_source": {
            "kind": "match", "created": at, "@timestamp": at, "first_seen": at, "last_seen": at,
            "rule": {"id": f"rule-{i % 60}", "name": "r", "level": "medium", "author": "bench", "tags": []},
            "severity": "medium", "severity_rank": 3, "organization": {"id": AGENCIES[i % 41]},
            "group_key": f"source.ip=10.{i % 250}.{i % 199}.1", "incident_id": f"inc{i % incidents:08d}",
            "events": [], "event_count": 1, "summary": "bench"}}


def load(settings: Settings, incidents: int, alerts: int) -> None:
    client, names = search.client(settings, timeout=120), search.names(settings)
    t0 = datetime.now(UTC) - timedelta(days=30)
    for index, gen in ((names.incidents, _incidents(incidents, t0)), (names.alerts, _alerts(alerts, incidents, t0))):
        client.indices.put_settings(index=index, body={"index": {"refresh_interval": "-1"}})
        docs = ({**d, "_index": index} for d in gen)
        for ok, item in helpers.parallel_bulk(client, docs, chunk_size=2000, thread_count=2):
            if not ok:
                raise RuntimeError(item)
        client.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
        client.indices.refresh(index=index)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


async def run(base: str, token: str, clients: int, requests: int, incidents: int) -> dict[str, list[float]]:
    head = {"Authorization": f"Bearer {token}"}
    times: dict[str, list[float]] = {"list": [], "status": []}
    ids = iter(random.sample(range(incidents), min(incidents, requests)))

    async def worker(http: httpx.AsyncClient, n: int) -> None:
        for _ in range(n):
            agency = random.choice(AGENCIES)
            t = time.perf_counter()
            r = await http.get("/api/v1/incidents", params={"agency": agency, "status": model.OPEN_STATUSES,
                                                           "limit": 50})
            times["list"].append(time.perf_counter() - t)
            r.raise_for_status()
            iid = f"inc{next(ids):08d}"
            current = (await http.get(f"/api/v1/incidents/{iid}")).json()
            target = "resolved" if current["status"] == "in_progress" else "in_progress"  # reopen included
            body: dict[str, Any] = {"version": current["version"], "status": target}
            if target == "resolved":
                body["resolution"] = "benign"
            t = time.perf_counter()
            r = await http.patch(f"/api/v1/incidents/{iid}", json=body)
            times["status"].append(time.perf_counter() - t)
            r.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=head, limits=limits, timeout=30) as http:
        await asyncio.gather(*(worker(http, requests // clients) for _ in range(clients)))
    return times


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", default=os.environ.get("SOC_OPENSEARCH_URL", "http://127.0.0.1:9200"))
    p.add_argument("--incidents", type=int, default=100_000)
    p.add_argument("--alerts", type=int, default=1_000_000)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=8765)
    args = p.parse_args()
    settings = replace(Settings(opensearch_url=args.url), index_prefix=f"bench{uuid.uuid4().hex[:6]}-")
    client = search.client(settings)
    bootstrap.init(settings, client, search.names(settings))
    server = None
    try:
        t = time.monotonic()
        load(settings, args.incidents, args.alerts)
        print(f"loaded {args.incidents} incidents and {args.alerts} alerts in {time.monotonic() - t:.0f} s")
        token = users_store.create_token(client, search.names(settings), "bench", "admin", ["*"])
        env = os.environ | {"SOC_OPENSEARCH_URL": args.url, "SOC_INDEX_PREFIX": settings.index_prefix}
        server = subprocess.Popen([sys.executable, "-m", "soc.cli", "serve", "--port", str(args.port),
                                   "--workers", str(args.workers)], env=env, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/api/v1/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        times = asyncio.run(run(base, token, args.clients, args.requests, args.incidents))
        for name, values in times.items():
            print(f"{name}: n={len(values)} p50={pct(values, 0.5):.1f} ms p99={pct(values, 0.99):.1f} ms "
                  f"mean={statistics.mean(values) * 1000:.1f} ms")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        prefix = settings.index_prefix
        client.indices.delete(index=f"{prefix}*", ignore=[404])
        client.indices.delete_data_stream(name=f"{prefix}*", ignore=[404])
        client.indices.delete_index_template(name=f"{prefix}*", ignore=[404])
        client.ingest.delete_pipeline(id=f"{prefix}*", ignore=[404])
    return 0


if __name__ == "__main__":
    sys.exit(main())
