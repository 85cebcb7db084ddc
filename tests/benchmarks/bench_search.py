"""Search benchmark: ``.venv/bin/python -m tests.benchmarks.bench_search [--events N] [--runs R] [--sets S]``.

Data: N generated web-access events (ECS documents as the collectors write them: raw line, address,
path, status, agent) spread over the last 24 hours and 41 agencies, written with ``_bulk`` into the
agencies' data streams through the ingest pipeline (``soc.detection.store.index_documents``), then
refreshed and force-merged to one segment per backing index (a day's data at rest). One line in 200
requests ``/wp-login.php``.

Measured in process through ``soc.hunt.service.SearchService.search`` as an admin of every agency (the
query language, scope, point in time and OpenSearch; not HTTP):

(a) a term and a 6-hour time range with the histogram and three facets
    (``http.response.status_code:404``; facets ``source.ip``, ``url.path``, ``organization.id``);
(b) free text on the raw line over 24 hours (``wp-login``: ``*wp-login*`` on ``event.original.wildcard``).

Each set runs R searches of each kind, alternating; a set's p95 is printed, then the min / median / max
of the sets' p95 and of every search. A dedicated node is started (and stopped) unless ``--url`` names
one. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from soc import search
from soc.auth import Principal
from soc.config import Settings
from soc.detection import store
from soc.hunt.schemas import SearchIn
from soc.hunt.service import SearchService
from soc.opensearch import bootstrap
from tests.benchmarks.dedicated import dedicated_node

AGENCIES = [f"so-{i:02d}" for i in range(20)] + [f"huyen-{i:02d}" for i in range(21)]
PATHS = ["/", "/index.html", "/news/{n}", "/api/v1/items/{n}", "/static/app.{n}.js", "/search?q=term{n}",
         "/images/{n}.png", "/login", "/admin/", "/.env", "/wp-admin/setup.php"]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0", "Mozilla/5.0 (iPhone) Version/17.5 Mobile",
          "curl/8.5.0", "python-requests/2.31", "Mozilla/5.0 zgrab/0.x"]
STATUS = [200] * 14 + [304, 301, 404, 404, 403, 500]


def events(n: int, now: datetime, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i in range(n):
        when = now - timedelta(seconds=rng.uniform(60, 86_000))
        ip = f"10.{rng.randrange(64)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        path = "/wp-login.php" if i % 200 == 0 else rng.choice(PATHS).format(n=rng.randrange(5000))
        status, ua = rng.choice(STATUS), rng.choice(AGENTS)
        size = rng.randrange(9999)
        line = f'{ip} - - [{when:%d/%b/%Y:%H:%M:%S +0000}] "GET {path} HTTP/1.1" {status} {size} "-" "{ua}"'
        out.append((uuid.uuid4().hex, {
            "@timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "organization": {"id": AGENCIES[i % len(AGENCIES)]},
            "event": {"dataset": "nginx.access", "original": line}, "source": {"ip": ip},
            "http": {"request": {"method": "GET"}, "response": {"status_code": status}},
            "url": {"original": path, "path": path.split("?")[0]}, "user_agent": {"original": ua}}))
    return out


def _close(svc: SearchService, cursor: str | None) -> None:
    """Give back the point in time a page left open (outside the timing)."""
    if cursor:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        svc.client.delete_pit(body={"pit_id": [json.loads(raw[16:])["p"]]})


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def run(settings: Settings, n: int, runs: int, sets: int) -> None:
    client = search.client(settings, serializer=search.OrjsonSerializer())
    names = search.names(settings)
    now = datetime.now(UTC)
    t0 = time.monotonic()
    made = store.index_documents(client, names, events(n, now, random.Random(7)))
    client.indices.forcemerge(index=f"{names.web}", max_num_segments=1, request_timeout=600)
    client.indices.refresh(index=names.web)
    print(f"loaded {made} events into {len(AGENCIES)} agencies' streams in {time.monotonic() - t0:.1f}s")
    svc = SearchService(client, names)
    admin = Principal("bench", "admin", ("*",))
    asks = {
        "term+6h+histogram+3 facets": {"query": "http.response.status_code:404", "from": now - timedelta(hours=6),
                                       "to": now, "histogram": True,
                                       "facets": ["source.ip", "url.path", "organization.id"]},
        "raw-line wildcard 24h": {"query": "wp-login", "from": now - timedelta(hours=24), "to": now},
    }
    timings: dict[str, list[list[float]]] = {k: [] for k in asks}
    totals: dict[str, int] = {}
    for _ in range(sets):
        current: dict[str, list[float]] = {k: [] for k in asks}
        for _ in range(runs):
            for name, body in asks.items():
                req = SearchIn.model_validate(body)
                start = time.perf_counter()
                result = svc.search(admin, req, now)
                current[name].append((time.perf_counter() - start) * 1000)
                totals[name] = result["total"]
                _close(svc, result["next"])
        for name in asks:
            timings[name].append(current[name])
            print(f"  set: {name}: p95 {p95(current[name]):.1f} ms, median {statistics.median(current[name]):.1f} ms")
    for name in asks:
        per_set = [p95(t) for t in timings[name]]
        every = [v for t in timings[name] for v in t]
        print(f"{name} (total {totals[name]}): p95 per set min/median/max {min(per_set):.1f} / "
              f"{statistics.median(per_set):.1f} / {max(per_set):.1f} ms; every search min/median/max "
              f"{min(every):.1f} / {statistics.median(every):.1f} / {max(every):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--sets", type=int, default=3)
    ap.add_argument("--url", default=None, help="a running cluster (a scratch index prefix is used and dropped)")
    args = ap.parse_args()
    prefix = f"bench-search-{uuid.uuid4().hex[:6]}-"

    def go(url: str) -> None:
        settings = replace(Settings(opensearch_url=url), index_prefix=prefix)
        client = search.client(settings)
        bootstrap.init(settings, client, search.names(settings))
        try:
            run(settings, args.events, args.runs, args.sets)
        finally:
            bootstrap.remove_prefix(client, prefix)

    if args.url:
        go(args.url)
    else:
        with dedicated_node() as url:
            go(url)


if __name__ == "__main__":
    main()
