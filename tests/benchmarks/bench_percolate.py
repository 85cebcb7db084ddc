"""Detection over per-agency streams, two ways: ``.venv/bin/python -m tests.benchmarks.bench_percolate``.

Why: with one data stream per agency, a rule query visits one shard per agency, and each shard
builds the rule's pattern automata again; a cycle's cost then grows with rules x agencies, whatever
the number of new events (BENCHMARKS.md, detection). This measures the alternative before the
engine adopts it: fetch the window's documents once (one cheap range search over every shard), and
match them with OpenSearch's percolator against every single-event rule stored once in a one-shard
index with the streams' own mapping.

Data: ``--events`` generated ECS events (the detection benchmark's: real parsers, 41 agencies, one
line in a hundred an attack) written through the ingest pipeline into the agencies' streams. Every
run evaluates the same ingest window both ways, alternating: (1) the engine's per-rule searches
(``runner._batched_hits``, batched ``_msearch``); (2) fetch pages of ``--page`` documents and
percolate each page. The (rule, document) pairs found must be equal; the times are printed with
min / median / max over ``--runs``. A dedicated node is started and stopped. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from soc import search
from soc.config import Settings, default_cache
from soc.detection import runner, slots, store
from soc.detection.settings import DetectionSettings
from soc.opensearch import bootstrap, dist, node
from soc.search import Names
from tests.benchmarks import bench_detection

QUERY_FIELD = "soc_rule_query"


def percolator_indices(client: OpenSearch, names: Names, prefix: str, works: list[runner.Work]) -> dict[str, str]:
    """Per stream, a one-shard index with the stream's settings and mapping plus a percolator field,
    holding every part of every single-event rule of the stream (id: rule id and part)."""
    out = {}
    for w in works:
        stream = names(w.slot.stream)
        mapping = next(iter(client.indices.get_mapping(index=stream).values()))["mappings"]
        mapping.pop("_data_stream_timestamp", None)  # a plain index, not a stream's backing index
        mapping["properties"][QUERY_FIELD] = {"type": "percolator"}
        index_settings = next(iter(client.indices.get_settings(index=stream).values()))["settings"]["index"]
        analysis = index_settings.get("analysis", {})
        index = f"{prefix}percolate-{w.slot.stream}"
        client.indices.create(index=index, body={"mappings": mapping, "settings": {
            "number_of_shards": 1, "number_of_replicas": 0, "analysis": analysis}})
        ops: list[dict[str, Any]] = []
        for c in w.singles:
            for j, q in enumerate(c.searches()):
                ops += [{"index": {"_index": index, "_id": f"{c.rule.id}|{j}"}}, {QUERY_FIELD: q}]
        resp = client.bulk(body=ops, refresh=True)
        if resp["errors"]:
            refused = [i for i in resp["items"] if "error" in i["index"]]
            raise SystemExit(f"rules refused by the percolator index: {refused[:2]}")
        out[w.slot.stream] = index
    return out


def by_percolation(client: OpenSearch, names: Names, works: list[runner.Work], indices: dict[str, str],
                   page_size: int) -> tuple[set[tuple[str, str]], float, int]:
    """(rule id, document id) pairs of the windows, the time spent fetching, the documents fetched."""
    pairs: set[tuple[str, str]] = set()
    fetching, fetched = 0.0, 0
    for w in works:
        after = None
        while True:
            t0 = time.perf_counter()
            body: dict[str, Any] = {"size": page_size, "sort": runner.PAGE_SORT, "query": {"range": {
                "event.ingested": {"gt": store.iso(w.since), "lte": store.iso(w.end)}}}}
            if after:
                body["search_after"] = after
            page = client.search(index=names(w.slot.stream), body=body, request_timeout=600)["hits"]["hits"]
            fetching += time.perf_counter() - t0
            if not page:
                break
            fetched += len(page)
            after = page[-1]["sort"]
            found = client.search(index=indices[w.slot.stream], request_timeout=600, body={
                "size": 10_000, "_source": False,
                "query": {"percolate": {"field": QUERY_FIELD, "documents": [h["_source"] for h in page]}}})
            for hit in found["hits"]["hits"]:
                rule_id = hit["_id"].split("|")[0]
                pairs |= {(rule_id, page[i]["_id"]) for i in hit["fields"]["_percolator_document_slot"]}
    return pairs, fetching, fetched


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--events", type=int, default=10_000)
    options.add_argument("--agencies", type=int, default=41)
    options.add_argument("--runs", type=int, default=3)
    options.add_argument("--page", type=int, default=500, help="documents per percolate request")
    args = options.parse_args(argv)
    bench_detection.AGENCIES[0] = max(1, args.agencies)
    home = Path(tempfile.mkdtemp(prefix="soc-bench-node-"))
    home.chmod(0o755)
    port = node.free_port()
    node.start(dist.install(Settings().opensearch_version, default_cache()), home, port,
               heap=os.environ.get("SOC_BENCH_HEAP", "1g"), timeout=180)
    try:
        with bootstrap.scratch(Settings(node_port=port, node_home=home), "scratch-bench-") as settings:
            client, names = search.client(settings), search.names(settings)
            compiled = bench_detection.load_rules(public=True)
            docs, _ = bench_detection.make_events(args.events, "p")
            began = store.node_now(client)
            store.index_documents(client, names, docs, chunk=5000)
            end = store.node_now(client)
            store.refresh_streams(client, names, search.LOG_STREAMS)
            start = began - timedelta(seconds=1)
            ds = replace(DetectionSettings(), request_timeout_s=600)
            works = [runner.plan(compiled, slots.Slot(s, 0, 1), start, end, ds) for s in search.LOG_STREAMS]
            indices = percolator_indices(client, names, settings.index_prefix, works)
            rules = sum(len(w.singles) for w in works)
            load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
            print(f"{args.events} events over {args.agencies} agencies' streams; {rules} single-event rules; {load}")
            searched: list[float] = []
            percolated: list[float] = []
            for run in range(args.runs):
                report = runner.CycleReport()
                t0 = time.perf_counter()
                found = runner._batched_hits(client, names, works, ds, report, True)
                searched.append(time.perf_counter() - t0)
                expected = {(rule_id, h["_id"]) for (_, rule_id), (hits, _) in found.items() for h in hits}
                t0 = time.perf_counter()
                pairs, fetching, fetched = by_percolation(client, names, works, indices, args.page)
                percolated.append(time.perf_counter() - t0)
                print(f"  run {run + 1}: per-rule searches {searched[-1]:.2f} s ({len(expected)} pairs) | "
                      f"fetch + percolate {percolated[-1]:.2f} s (fetch {fetching:.2f} s, {fetched} documents, "
                      f"{len(pairs)} pairs) | same pairs: {pairs == expected}", flush=True)
            for label, times in (("per-rule searches", searched), ("fetch + percolate", percolated)):
                print(f"{label}: min {min(times):.2f} / median {statistics.median(times):.2f} / max {max(times):.2f} s")
            print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    finally:
        node.stop(home)
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
