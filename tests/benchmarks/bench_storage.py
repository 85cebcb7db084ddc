"""Bytes on disk per stored event, for sizing (SCALING.md).

Generates distinct lines of each format (the same generators as the parse benchmark: varied
addresses, users, paths and agents), parses them with the collectors' parsers, adds the fields the
pipeline adds, bulk-indexes them into a scratch prefix of the given cluster, force-merges to one
segment and reports primary store bytes per document against the raw line length. The scratch
indices are deleted at the end.

    .venv/bin/python -m tests.benchmarks.bench_storage --url http://127.0.0.1:9200 [--events 100000]
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from opensearchpy import helpers

from collectors.parsers import ParseContext, parse
from soc import search
from soc.config import Settings
from soc.opensearch import bootstrap
from tests.benchmarks.bench_parse import FORMATS

KINDS = {"rfc3164": ("syslog", "syslog"), "rfc5424": ("syslog", "syslog"), "sshd": ("syslog", "syslog"),
         "nginx combined": ("nginx", "web"),
         "nginx json": ("nginx-json", "web")}


def _docs(fmt: str, index: str, count: int) -> Iterator[dict[str, Any]]:
    kind, _ = KINDS[fmt]
    make = FORMATS[fmt][1]
    ctx = ParseContext(received_at=datetime(2026, 11, 27, tzinfo=UTC))
    for i in range(count):
        doc = parse(kind, make(i), ctx)
        doc["organization"] = {"id": f"so-{i % 41:02d}"}
        doc.setdefault("log", {})["source"] = {"id": f"so-{i % 41:02d}-src-{i % 3}"}
        doc["agent"] = {"id": f"col-{i % 41:02d}", "type": "soc-collector", "version": "0.1.0"}
        doc["observer"] = {"name": f"col-{i % 41:02d}"}
        yield {"_op_type": "create", "_index": index, "_id": f"{fmt}-{i}", "_source": doc}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, default=100_000, help="per format")
    args = parser.parse_args(argv)
    settings = replace(Settings(opensearch_url=args.url), index_prefix=f"bench-size-{uuid.uuid4().hex[:6]}-")
    client = search.client(settings, timeout=300)
    names = search.names(settings)
    bootstrap.init(settings, client, names)
    print(f"{'format':<15} {'events':>8} {'raw bytes/line':>15} {'stored bytes/event':>19} {'ratio':>6}")
    try:
        for fmt in KINDS:
            stream = names.syslog if KINDS[fmt][1] == "syslog" else names.web
            client.indices.delete_data_stream(name=stream, ignore=[404])
            client.indices.create_data_stream(name=stream)
            raw = sum(len(FORMATS[fmt][1](i)) + 1 for i in range(args.events))
            helpers.bulk(client, _docs(fmt, stream, args.events), chunk_size=2000, request_timeout=300)
            client.indices.refresh(index=stream)
            client.indices.forcemerge(index=stream, max_num_segments=1, request_timeout=600)
            stats = client.indices.stats(index=stream, metric="store,docs")["_all"]["primaries"]
            count = stats["docs"]["count"]
            per_doc = stats["store"]["size_in_bytes"] / count
            print(f"{fmt:<15} {count:>8} {raw / count:>15.0f} {per_doc:>19.0f} {per_doc / (raw / count):>6.2f}")
    finally:
        bootstrap.remove_prefix(client, settings.index_prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
