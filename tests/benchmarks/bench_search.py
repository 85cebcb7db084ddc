"""Search benchmark: ``.venv/bin/python -m tests.benchmarks.bench_search [--events N] [--days D] [--runs R]``.

Data (``tests/benchmarks/search_data.py``): N web-access events of 41 agencies' portals over D days of
event time, parsed by the collector's parser, in the agencies' data streams of the shipped templates.
``--load precomputed`` (the default) writes the ingest pipeline's output computed in the benchmark
(checked first on a sample against documents the pipeline wrote); ``--load pipeline`` sends the
collector's documents through the pipeline. Parallel ``_bulk`` with refresh off during the load.

Measured in process through ``soc.hunt.service.SearchService.search`` as an admin of every agency (the
query language, scope, point in time and OpenSearch; not HTTP), for each time span (24 h and 7 days by
default, windows ending at random points of the last day of the data):

(a) a term with the histogram and three facets (``http.response.status_code:<404|403|500>``; facets
    ``source.ip``, ``url.path``, ``organization.id``);
(b) free text on the raw line (``wp-login``, ``sqlmap``, ``etc/passwd``: ``*…*`` on ``event.original.wildcard``).

The baseline, in the same sets: the same requests as hand-written DSL sent with opensearch-py straight to
the streams (no parser, no scope layer, no point in time). Each set runs R searches of each kind in
rotation; per kind the p50 / p95 / max of every search and the min / median / max of the sets' p95 are
printed. ``--keep`` leaves the node (and data) running and prints how to measure it again
(``--url``, ``--prefix``) and stop it (``--stop``). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import subprocess
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from soc import search
from soc.auth import Principal
from soc.config import Settings
from soc.hunt import query as hunt_query
from soc.hunt import store as hunt_store
from soc.hunt.schemas import SearchIn
from soc.hunt.service import SearchService, aggregations, iso, scope, sort_spec
from soc.opensearch import bootstrap
from soc.search import Names
from tests.benchmarks import search_data
from tests.benchmarks.dedicated import dedicated_node, stop_dedicated

TERMS = ["http.response.status_code:404", "http.response.status_code:403", "http.response.status_code:500"]
WORDS = ["wp-login", "sqlmap", "etc/passwd"]
FACETS = ["source.ip", "url.path", "organization.id"]
SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), round(q * len(ordered))) - 1)]


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def data_size(client: OpenSearch, names: Names) -> str:
    stats = client.indices.stats(index=names.web, metric="store,docs,segments")["_all"]["primaries"]
    return (f"{stats['docs']['count']:,} documents, {stats['store']['size_in_bytes'] / 2**30:.2f} GiB on disk "
            f"(primaries, no replicas), {stats['segments']['count']} segments")


def load(client: OpenSearch, names: Names, args: argparse.Namespace) -> None:
    precomputed = args.load == "precomputed"
    if precomputed:
        check = args.prefix + "check-"
        settings = replace(Settings(opensearch_url=args.url), index_prefix=check)
        bootstrap.init(settings, client, search.names(settings))
        try:
            print("check:", search_data.check_precomputed(client, search.names(settings)))
        finally:
            bootstrap.remove_prefix(client, check)
    end = datetime.now(UTC).replace(microsecond=0)
    gen = search_data.Generator(end, args.days)
    print(f"load average before the load: {load_avg()}")
    t0 = time.monotonic()
    search_data.prepare(client, names, precomputed)
    made = search_data.load(client, names, gen, args.events, precomputed, args.batch, args.threads,
                            budget_s=args.budget_s)
    if made < args.events:
        print(f"the load stopped at its time budget ({args.budget_s:.0f} s): {made:,} of {args.events:,} events, "
              f"the first {args.days * made / args.events:.1f} days at the density of {args.events:,} in "
              f"{args.days:g} days")
    search_data.finish(client, names)
    took = time.monotonic() - t0
    print(f"loaded {made:,} events ({args.load}) into {len(search_data.AGENCIES)} agencies' streams in {took:.0f} s "
          f"({made / took:,.0f} events/s), {args.threads} client threads, {args.batch} events per _bulk; "
          f"event time {end - timedelta(days=args.days):%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
    if args.forcemerge:
        t1 = time.monotonic()
        client.indices.forcemerge(index=names.web, max_num_segments=1, request_timeout=7200)
        print(f"force-merged to one segment per backing index in {time.monotonic() - t1:.0f} s")
    print(f"load average after the load: {load_avg()}")


def latest_event(client: OpenSearch, names: Names) -> datetime:
    resp = client.search(index=names.web, body={"size": 0, "aggs": {"t": {"max": {"field": "@timestamp"}}}})
    return datetime.fromtimestamp(resp["aggregations"]["t"]["value"] / 1000, UTC)


def requests(spans: list[str], last: datetime, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """One search of each kind and span: (kind, the request body of the API)."""
    out = []
    for span in spans:
        end = last - timedelta(seconds=rng.uniform(0, 86400))
        window = {"from": end - SPANS[span], "to": end}
        out.append((f"term {span} + histogram + 3 facets",
                    {"query": rng.choice(TERMS), "histogram": True, "facets": FACETS, **window}))
        out.append((f"raw-line wildcard {span}", {"query": rng.choice(WORDS), **window}))
    return out


def baseline(client: OpenSearch, names: Names, req: SearchIn) -> float:
    """The same search as plain DSL straight to the streams; milliseconds (DSL built outside the timing)."""
    assert req.start and req.end
    body = {"size": req.size, "track_total_hits": True, "sort": sort_spec(req.sort)[:1],
            "query": {"bool": {"filter": [scope(Principal("b", "admin", ("*",)), None, iso(req.start),
                                                      iso(req.end))[-1], hunt_query.parse(req.query)]}}}
    if aggs := aggregations(req, req.start, req.end):
        body["aggs"] = aggs
    start = time.perf_counter()
    client.search(index=hunt_store.log_index(names), body=body, request_timeout=60)
    return (time.perf_counter() - start) * 1000


def measure(client: OpenSearch, names: Names, args: argparse.Namespace) -> None:
    svc = SearchService(client, names)
    admin = Principal("bench", "admin", ("*",))
    last = latest_event(client, names)
    print(f"data: {data_size(client, names)}; latest event {last:%Y-%m-%d %H:%M:%S} UTC")
    print(f"load average before the searches: {load_avg()}")
    rng = random.Random(5)
    ours: dict[str, list[list[float]]] = {}
    base: dict[str, list[float]] = {}
    totals: dict[str, list[int]] = {}
    by_query: dict[tuple[str, str], list[tuple[float, int]]] = {}
    svc.search(admin, SearchIn.model_validate({"query": "", "to": last}), last)  # cursor key, first PIT
    for s in range(args.sets):
        current: dict[str, list[float]] = {}
        for _ in range(args.runs):
            for kind, body in requests(args.spans, last, rng):
                req = SearchIn.model_validate(body)
                start = time.perf_counter()
                result = svc.search(admin, req, last)
                current.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
                if result["next"]:
                    hunt_store.close_pit(client, _pit(result["next"]))
                totals.setdefault(kind, []).append(result["total"])
                by_query.setdefault((kind, req.query), []).append((current[kind][-1], result["total"]))
                base.setdefault(kind, []).append(baseline(client, names, req))
        for kind, values in current.items():
            ours.setdefault(kind, []).append(values)
            print(f"  set {s + 1}: {kind}: p50 {pct(values, 0.5):.0f} ms, p95 {pct(values, 0.95):.0f} ms, "
                  f"max {max(values):.0f} ms", flush=True)
    print(f"load average after the searches: {load_avg()}")
    print(f"{'search':38} {'hits min-max':>19}  {'p50':>6} {'p95':>6} {'max':>6}  {'p95 of sets min/med/max':>24}"
          f"  {'baseline p50/p95':>17}")
    for kind, sets in ours.items():
        every = [v for t in sets for v in t]
        per_set = [pct(t, 0.95) for t in sets]
        print(f"{kind:38} {min(totals[kind]):>9,}-{max(totals[kind]):<9,} {pct(every, 0.5):6.0f} "
              f"{pct(every, 0.95):6.0f} {max(every):6.0f}  {min(per_set):7.0f} /{statistics.median(per_set):6.0f} /"
              f"{max(per_set):6.0f}  {pct(base[kind], 0.5):7.0f} /{pct(base[kind], 0.95):6.0f}")
    print("per query (every set): searches, hits min-max, p50 / p95 / max ms")
    for (kind, text), seen in sorted(by_query.items()):
        ms, hits = [m for m, _ in seen], [h for _, h in seen]
        print(f"  {kind:38} {text:32} {len(ms):3} {min(hits):>9,}-{max(hits):<9,} {pct(ms, 0.5):6.0f} / "
              f"{pct(ms, 0.95):6.0f} / {max(ms):6.0f}")
    runs = args.runs * args.sets
    for kind, sets in ours.items():
        every = [v for t in sets for v in t]
        target = 1000 if kind.startswith("term") else 3000
        print(f"p95 {kind}: {pct(every, 0.95):.0f} ms over {runs} searches (target {target} ms: "
              f"{'met' if pct(every, 0.95) <= target else 'missed'})")


def _pit(cursor_text: str) -> str:
    """The point in time a first page left open (closed outside the timing)."""
    raw = base64.urlsafe_b64decode(cursor_text + "=" * (-len(cursor_text) % 4))
    return str(json.loads(raw[16:])["p"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--runs", type=int, default=20, help="searches of each kind per set")
    ap.add_argument("--sets", type=int, default=3)
    ap.add_argument("--spans", default="24h,7d", help="comma-separated: 24h, 7d, 30d")
    ap.add_argument("--load", choices=("precomputed", "pipeline"), default="precomputed")
    ap.add_argument("--threads", type=int, default=2, help="client threads sending _bulk")
    ap.add_argument("--batch", type=int, default=4000, help="events per _bulk request")
    ap.add_argument("--forcemerge", action="store_true", help="one segment per backing index after the load")
    ap.add_argument("--budget-s", type=float, default=None, help="stop the load after this many seconds")
    ap.add_argument("--heap", default="4g", help="heap of the dedicated node")
    ap.add_argument("--url", default=None, help="a running node; with --prefix, its loaded data is measured again")
    ap.add_argument("--prefix", default=None, help="index prefix of data loaded earlier (skips the load)")
    ap.add_argument("--keep", action="store_true", help="leave the node and the data for later runs")
    ap.add_argument("--stop", default=None, metavar="HOME", help="stop a node left by --keep and delete its home")
    args = ap.parse_args()
    args.spans = [s for s in args.spans.split(",") if s]
    if args.stop:
        stop_dedicated(Path(args.stop))
        return
    reuse = args.prefix is not None
    args.prefix = args.prefix or f"bench-search-{uuid.uuid4().hex[:6]}-"

    def go(url: str) -> None:
        args.url = url
        settings = replace(Settings(opensearch_url=url), index_prefix=args.prefix)
        client = search.client(settings, serializer=search.OrjsonSerializer(), timeout=120)
        names = search.names(settings)
        print(f"node {url}, index prefix {args.prefix}; machine: {os.cpu_count()} cores, "
              f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        heap = client.nodes.stats(metric="jvm")["nodes"]
        print("heap:", ", ".join(f"{n['jvm']['mem']['heap_max_in_bytes'] / 2**30:.1f} GiB" for n in heap.values()))
        if not reuse:
            bootstrap.init(settings, client, names)
            load(client, names, args)
        else:
            search_data.finish(client, names)  # a load that was interrupted left refresh off
        try:
            measure(client, names, args)
        finally:
            if not args.keep:
                bootstrap.remove_prefix(client, args.prefix)
            else:
                print(f"data kept: --url {url} --prefix {args.prefix}")

    if args.url:
        go(args.url)
    else:
        with dedicated_node(args.heap, keep=args.keep) as url:
            go(url)


if __name__ == "__main__":
    main()
