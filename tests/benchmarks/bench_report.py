"""The province-wide weekly report over a large week: ``.venv/bin/python -m tests.benchmarks.bench_report``.

Loads ``--events`` events (default 10 000 000) spread over two ISO weeks and 41 agencies (three
sources each, web and syslog, a share of them from attacking addresses) plus alerts and incidents
into a scratch prefix on ``SOC_TEST_OPENSEARCH_URL`` (default http://127.0.0.1:9250), then produces
the province-wide report (content, HTML with charts, PDF, JSON, CSV) in a child process and prints
its wall time and peak memory (max RSS of that process). The scratch prefix is deleted at the end
unless ``--keep``. ``--prefix P --report-only`` re-measures a kept dataset. Timings never fail anything.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opensearchpy import helpers

from soc import search
from soc.alerts.documents import SEVERITY_RANK
from soc.config import Settings
from soc.opensearch import bootstrap
from soc.reports import content, period, render_csv, render_html, render_pdf
from soc.reports.settings import ReportSettings
from tests.benchmarks import measure

WEEK = "2025-W10"
TZ = "Asia/Ho_Chi_Minh"
AGENCIES = [f"agency-{i:02d}" for i in range(41)]


def _settings(prefix: str) -> Settings:
    url = os.environ.get("SOC_TEST_OPENSEARCH_URL", "http://127.0.0.1:9250")
    return replace(Settings(opensearch_url=url), index_prefix=prefix)


def _events(n: int, start: datetime, seconds: int, names: search.Names) -> Iterator[dict[str, Any]]:
    rnd = random.Random(7)
    attackers = [f"203.0.113.{i}" for i in range(1, 60)]
    for i in range(n):
        org = AGENCIES[i % 41]
        kind = i % 3
        doc: dict[str, Any] = {"@timestamp": (start + timedelta(seconds=rnd.randrange(seconds))).isoformat(),
                               "organization": {"id": org}, "log": {"source": {"id": f"{org}-s{kind}"}}}
        bad = rnd.random() < 0.05
        doc["source"] = {"ip": rnd.choice(attackers) if bad else f"10.{i % 200}.{(i >> 8) % 250}.{i % 250}"}
        if kind == 0:
            doc["url"] = {"path": rnd.choice(["/wp-login.php", "/.env", "/admin", "/"]) if bad else f"/p/{i % 500}"}
            stream = measure.stream_of(names, "web", org)
        else:
            doc["host"] = {"name": f"{org}-h{i % 7}"}
            doc["user"] = {"name": rnd.choice(["root", "admin", "oracle"]) if bad else f"u{i % 50}"}
            stream = measure.stream_of(names, "syslog", org)
        yield {"_op_type": "create", "_index": stream, "_source": doc}


def _alerts_and_incidents(start: datetime, names: search.Names) -> Iterator[dict[str, Any]]:
    rnd = random.Random(11)
    levels = list(SEVERITY_RANK)
    for i in range(20_000):
        at = (start + timedelta(seconds=rnd.randrange(14 * 86400))).isoformat()
        level = levels[i % 5]
        yield {"_index": names.alerts, "_source": {
            "created": at, "@timestamp": at, "rule": {"id": f"r{i % 30}", "name": f"Rule {i % 30}", "level": level},
            "threat": {"tactic": {"name": [rnd.choice(["initial-access", "credential-access", "discovery"])]}},
            "severity": level, "severity_rank": SEVERITY_RANK[level], "organization": {"id": AGENCIES[i % 41]},
            "source": {"ip": f"203.0.113.{1 + i % 59}"}}}
    for i in range(2_000):
        created = start + timedelta(seconds=rnd.randrange(14 * 86400))
        acked = created + timedelta(minutes=rnd.randrange(1, 120))
        resolved = created + timedelta(hours=rnd.randrange(1, 48))
        level = levels[i % 5]
        yield {"_index": names.incidents, "_id": f"inc{i}", "_source": {
            "id": f"inc{i}", "title": f"Incident {i}", "severity": level, "severity_rank": SEVERITY_RANK[level],
            "status": "resolved" if i % 3 else "new", "resolution": "true_positive" if i % 3 else None,
            "organization": {"id": AGENCIES[i % 41]}, "created": created.isoformat(),
            "acknowledged_at": acked.isoformat(), "resolved_at": resolved.isoformat() if i % 3 else None,
            "tta_seconds": int((acked - created).total_seconds()),
            "ttr_seconds": int((resolved - created).total_seconds()) if i % 3 else None,
            "sla": {"ack_due": (created + timedelta(minutes=30)).isoformat(), "ack_breached": bool(i % 4 == 0),
                    "resolve_due": (created + timedelta(hours=8)).isoformat(), "resolve_breached": bool(i % 5 == 0)}}}
    for org in AGENCIES:
        yield {"_index": names.agencies, "_id": org, "_source": {"id": org, "name_vi": f"Sở số {org[-2:]}",
                                                                "name_en": f"Department {org[-2:]}", "timezone": TZ}}


def load(prefix: str, events: int) -> float:
    settings = _settings(prefix)
    client, names = search.client(settings, timeout=120), search.names(settings)
    bootstrap.init(settings, client, names)
    week = period.parse(WEEK, TZ)
    start = week.previous().start
    t0 = time.perf_counter()
    for ok, item in helpers.streaming_bulk(client, _events(events, start, 14 * 86400, names), chunk_size=5000,
                                           raise_on_error=False, max_retries=5):
        if not ok:
            raise RuntimeError(f"an event was refused: {item}")
    helpers.bulk(client, _alerts_and_incidents(start, names), chunk_size=2000)
    client.indices.refresh(index=f"{prefix}*")
    return time.perf_counter() - t0


def report(prefix: str, out: Path) -> dict[str, Any]:
    settings = _settings(prefix)
    client, names = search.client(settings, timeout=120), search.names(settings)
    week = period.parse(WEEK, TZ)
    now = week.end + timedelta(hours=1)
    t0 = time.perf_counter()
    c = content.build(client, names, week, None, "vi", ReportSettings(), now)
    t1 = time.perf_counter()
    html = render_html.render(c)
    t2 = time.perf_counter()
    pdf = render_pdf.render(html)
    t3 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.pdf").write_bytes(pdf)
    (out / "bench.csv").write_text(render_csv.render(c), encoding="utf-8")
    (out / "bench.json").write_text(json.dumps(c, ensure_ascii=False), encoding="utf-8")
    t4 = time.perf_counter()
    return {"events_in_week": c["events"]["total"]["current"], "events_previous": c["events"]["total"]["previous"],
            "agencies": len(c["events"]["agencies"]), "sources": len(c["source_health"]["sources"]),
            "aggregations_s": round(t1 - t0, 2), "html_s": round(t2 - t1, 2), "pdf_s": round(t3 - t2, 2),
            "total_s": round(t4 - t0, 2), "pdf_pages_bytes": len(pdf),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=1, help="load and report this many times, each on a fresh prefix")
    ap.add_argument("--prefix")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--out", default="var/bench-report")
    args = ap.parse_args()
    if args.report_only:
        print(json.dumps(report(args.prefix, Path(args.out))))
        return
    results = []
    for run in range(args.runs):
        prefix = args.prefix or f"bench{uuid.uuid4().hex[:8]}-"
        client = search.client(_settings(prefix))
        before = measure.loadavg()
        try:
            load_s = load(prefix, args.events)
            child = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_report", "--report-only", "--prefix",
                                    prefix, "--out", args.out], capture_output=True, text=True, check=True)
            result = {"events_loaded": args.events, "load_s": round(load_s, 1),
                      **json.loads(child.stdout.strip().splitlines()[-1])}
            results.append(result)
            print(f"run {run + 1} at {measure.stamp()}, load average before {before}, after {measure.loadavg()}:")
            print(json.dumps(result, indent=2), flush=True)
        finally:
            if not args.keep:
                bootstrap.remove_prefix(client, prefix)
    if len(results) > 1:
        print(f"\n| {args.events:,} events loaded, {len(results)} runs | min / median / max |\n|---|---|")
        for key in ("load_s", "aggregations_s", "html_s", "pdf_s", "total_s", "peak_rss_mib"):
            print(f"| {key} | {measure.spread([r[key] for r in results], lambda v: f'{v:.2f}')} |")


if __name__ == "__main__":
    main()
