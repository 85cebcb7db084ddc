"""Bytes on disk per stored event, for sizing (SCALING.md).

Generates distinct lines of each format (the parse benchmark's generators: varied addresses and
times, thousands of agents, paths and users), parses them with the collectors' parsers, adds the
fields the collector adds, and bulk-indexes each format into a data stream of its own under a
scratch prefix of the given cluster. It reports primary store bytes per document twice: as
written (after a refresh and a flush, with whatever merging the node did on its own: what a hot
index holds) and after a force-merge to one segment (the best case, what a warm tier that
force-merges holds), each against the raw line length. ``--runs`` repeats the whole measurement
on fresh streams and prints min / median / max. The scratch indices are deleted at the end.

    .venv/bin/python -m tests.benchmarks.bench_storage --url http://127.0.0.1:9200 [--events 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch, helpers

from collectors.parsers import ParseContext, parse
from soc import search
from soc.config import Settings
from soc.opensearch import bootstrap
from tests.benchmarks import measure
from tests.benchmarks.bench_parse import FORMATS

KINDS = {"rfc3164": ("syslog", "syslog"), "rfc5424": ("syslog", "syslog"), "sshd": ("syslog", "syslog"),
         "nginx combined": ("nginx", "web"),
         "nginx json": ("nginx-json", "web")}


def _agency(fmt: str) -> str:
    return "so-size-" + fmt.replace(" ", "-")


def _docs(fmt: str, index: str, count: int) -> Iterator[dict[str, Any]]:
    kind, _ = KINDS[fmt]
    make = FORMATS[fmt][1]
    ctx = ParseContext(received_at=datetime(2026, 11, 27, tzinfo=UTC))
    for i in range(count):
        doc = parse(kind, make(i), ctx)
        doc["organization"] = {"id": _agency(fmt)}
        doc.setdefault("log", {})["source"] = {"id": f"src-{i % 3}"}
        doc["agent"] = {"id": "col-1", "type": "soc-collector", "version": "0.1.0"}
        doc["observer"] = {"name": "col-1"}
        yield {"_op_type": "create", "_index": index, "_id": f"{fmt}-{i}", "_source": doc}


def _per_doc(client: OpenSearch, stream: str) -> tuple[float, int, int]:
    """(primary bytes per document, documents, segments), from the live segments themselves.

    Store statistics are cached by the node (``index.store.stats_refresh_interval``, 10 s), so a
    size read right after a merge would still be the one before it; the segments API is not.
    """
    count = client.count(index=stream)["count"]
    size = segments = 0
    for index in client.indices.segments(index=stream)["indices"].values():
        for copies in index["shards"].values():
            for copy in copies:
                if copy["routing"]["primary"]:
                    live = [seg for seg in copy["segments"].values() if seg.get("search")]
                    size += sum(seg["size_in_bytes"] for seg in live)
                    segments += len(live)
    return size / count, count, segments


def one_run(client: OpenSearch, settings: Settings, events: int) -> dict[str, tuple[float, float, float, int]]:
    """format -> (raw bytes per line, stored bytes per event as written, after force-merge, segments as written)."""
    out = {}
    for fmt in KINDS:
        stream = measure.log_stream(settings, KINDS[fmt][1], _agency(fmt))
        raw = sum(len(FORMATS[fmt][1](i)) + 1 for i in range(events))
        helpers.bulk(client, _docs(fmt, stream, events), chunk_size=2000, request_timeout=300)
        client.indices.refresh(index=stream)
        client.indices.flush(index=stream)
        written, count, segments = _per_doc(client, stream)
        client.indices.forcemerge(index=stream, max_num_segments=1, request_timeout=600)
        client.indices.refresh(index=stream)  # releases the merged-away segments
        client.indices.flush(index=stream)
        merged, _, merged_segments = _per_doc(client, stream)
        if merged_segments != 1:
            print(f"{fmt}: {merged_segments} segments after the force-merge")
        out[fmt] = (raw / count, written, merged, segments)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, default=100_000, help="per format")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    runs = []
    print(f"{args.events:,} events per format, {args.runs} runs")
    for run in range(args.runs):
        before = measure.loadavg()
        with bootstrap.scratch(Settings(opensearch_url=args.url), "bench-size") as settings:
            client = search.client(settings, timeout=300)
            runs.append(one_run(client, settings, args.events))
        print(f"run {run + 1} at {measure.stamp()}, load average before {before}, after {measure.loadavg()}: "
              + "; ".join(f"{fmt} {w:.0f} B as written ({seg} segments), {m:.0f} B merged"
                          for fmt, (_, w, m, seg) in runs[-1].items()), flush=True)
    print("\n| format | raw bytes/line | stored bytes/event as written, min / median / max | ratio to raw (median) "
          "| after force-merge to 1 segment, min / median / max | ratio to raw (median) |")
    print("|---|---:|---|---:|---|---:|")
    for fmt in KINDS:
        raw = runs[0][fmt][0]
        written = [r[fmt][1] for r in runs]
        merged = [r[fmt][2] for r in runs]
        print(f"| {fmt} | {raw:.0f} | {measure.spread(written)} | {statistics.median(written) / raw:.2f} "
              f"| {measure.spread(merged)} | {statistics.median(merged) / raw:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
