"""``soc rules check|test|evaluate`` and ``soc detect --once``."""

from __future__ import annotations

import argparse
import json
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from soc import search
from soc.config import Settings
from soc.detection import catalogue, convert, evaluate, ruletest, runner, store
from soc.detection import settings as detect_settings


def _paths(args: argparse.Namespace) -> list[Path]:
    return [Path(p) for p in args.paths] if args.paths else list(detect_settings.load().rule_paths)


def cmd_rules_check(args: argparse.Namespace, settings: Settings) -> int:
    rules_now = catalogue.get(_paths(args))
    problems = rules_now.problems
    rows: list[dict[str, Any]] = [{"path": str(p.path), "id": None, "title": None, "status": "failed",
                                   "reason": p.reason} for p in problems]
    results = rules_now.compiled
    client = search.client(settings) if args.execute else None
    names = search.names(settings)
    for res in results:
        row = {"path": str(res.rule.path), "id": res.rule.id, "title": res.rule.title, "status": "ok", "reason": ""}
        if isinstance(res, convert.Unsupported):
            row.update(status="unsupported", reason=res.reason)
        elif client is not None:
            queries = [res] if isinstance(res, convert.Compiled) else list(res.bases)
            for q in queries:
                index = ",".join(names(s) for s in q.streams)
                try:
                    store.search(client, index, {"size": 0, "query": q.dsl()}, 30)
                except Exception as exc:  # the point is to report what OpenSearch says
                    row.update(status="failed", reason=f"OpenSearch refused the query: {exc}"[:500])
                    break
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['status']:>11}  {row['path']}  {row['title'] or ''}  {row['reason']}")
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "unsupported", "failed")}
    summary = f"{len(rows)} rules: {counts['ok']} ok, {counts['unsupported']} unsupported, {counts['failed']} failed"
    print(summary if not args.json else "", end="\n" if not args.json else "")
    return 0 if counts["failed"] == 0 else 1


def cmd_rules_test(args: argparse.Namespace, settings: Settings) -> int:
    from soc.opensearch import bootstrap

    rules_now = catalogue.get(_paths(args))
    problems = rules_now.problems
    for p in problems:
        print(f"FAIL  {p.path}: {p.reason}")
    with bootstrap.scratch(settings) as scratch:
        results = ruletest.run(search.client(scratch), search.names(scratch), list(rules_now.compiled))
    for r in results:
        print(f"{'pass' if r.passed else 'FAIL'}  {r.path}  {r.case}  {r.detail}")
    failed = sum(1 for r in results if not r.passed) + len(problems)
    print(f"{len(results)} cases, {failed} failed")
    return 0 if failed == 0 else 1


def cmd_rules_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from soc.opensearch import bootstrap

    folder = Path(args.logs)
    if not evaluate.discover(folder):
        print(f"{folder}: no labelled logs (expected labels/<log path>.actors beside nginx/ or syslog/ files)")
        return 2
    rules_now = catalogue.get(_paths(args))
    for p in rules_now.problems:
        print(f"not loaded: {p.path}: {p.reason}")
    # Labelled captures are history: their events are judged as if they had arrived on time.
    with bootstrap.scratch(settings, lateness_s=evaluate.HISTORY_LATENESS_S) as scratch:
        result = evaluate.evaluate(search.client(scratch), search.names(scratch), folder,
                                   list(rules_now.compiled))
    print(json.dumps(evaluate.to_json(result), indent=2) if args.json else evaluate.render(result))
    missed = [a for a, found in result.detected().items() if not found]
    return 0 if not missed and result.false_positive_alerts() == 0 and not result.errors else 1


def cmd_detect(args: argparse.Namespace, settings: Settings) -> int:
    """``soc detect --once``: the backfill command. Everything indexed before the call is evaluated (the
    streams are refreshed and no settle delay holds back the last seconds), in as many windows as the
    backlog needs; the alerts are then grouped into incidents as the service would."""
    ds = detect_settings.load()
    if args.paths:
        ds = replace(ds, rule_paths=tuple(Path(p) for p in args.paths))
    if not args.once:
        print("use --once for one cycle now; the scheduler runs inside the service")
        return 2
    rules_now = catalogue.get(ds.rule_paths)
    problems, compiled = rules_now.problems, list(rules_now.compiled)
    client = runner.detection_client(settings)
    names = search.names(settings)
    store.refresh_streams(client, names, search.LOG_STREAMS)
    until = store.node_now(client)
    reports = backfill(settings, ds, compiled, client, until)
    if not reports:
        print("another runner holds the lease; nothing done")
        return 0
    covered: dict[str, tuple[str, str]] = {}
    for report in reports:
        for slot, (start, end) in report.windows.items():
            covered[slot] = (covered.get(slot, (start, end))[0], end)
    unsupported = sum(1 for c in compiled if isinstance(c, convert.Unsupported))
    for slot, (start, end) in sorted(covered.items()):
        events = store.count_ingested(client, names, slot.split("#")[0], start, end)
        print(f"covered {slot}: ({start}, {end}], {events} events, in {sum(1 for r in reports if slot in r.windows)}"
              " window(s)")
    errors = {k: v for r in reports for k, v in r.errors.items()}
    tags = {t: sum(r.time_tags.get(t, 0) for r in reports) for t in ("_late", "_future_timestamp", "_time_missing")}
    print(f"rules {len(compiled)} ({unsupported} unsupported, {len(problems)} files not loaded); "
          f"matches {sum(r.matches for r in reports)}; alerts created {sum(r.alerts_created for r in reports)}, "
          f"already present {sum(r.alerts_existing for r in reports)}; "
          f"suppressed {sum(r.suppressed for r in reports)}; "
          f"errors {len(errors)}; {sum(r.requests for r in reports)} requests in "
          f"{sum(r.duration_s for r in reports):.2f}s")
    print(f"late events (not correlated) {tags['_late']}; future times clamped {tags['_future_timestamp']}; "
          f"missing times {tags['_time_missing']}")
    from soc.incidents import grouping
    from soc.runtime import Runtime

    grouped = grouping.run_exclusive(Runtime.build(settings), f"detect-once-{uuid.uuid4().hex[:8]}")
    if grouped is None:
        print("incidents: another process is grouping now; it takes these alerts too")
    else:
        print(f"incidents: {len(grouped.created)} opened, {len(grouped.updated)} updated, from {grouped.alerts} alerts")
    for rule_id, err in errors.items():
        print(f"  error {rule_id}: {err}")
    return 0 if not errors else 1


def backfill(settings: Settings, ds: detect_settings.DetectionSettings, compiled: list[convert.Result],
             client: Any, until: datetime, max_cycles: int = 10_000) -> list[runner.CycleReport]:
    """Cycles until every slot's checkpoint reached ``until`` (a long backlog is cut into windows of
    at most max_window_s). Empty when another runner holds the slots."""
    reports: list[runner.CycleReport] = []
    for _ in range(max_cycles):
        report = runner.run_cycle(settings, ds, compiled, client=client, until=until)
        if not report.ran:
            break
        reports.append(report)
        ends = [store.parse_time(end) for _, end in report.windows.values()]
        if not report.windows or all(end >= until for end in ends) or report.errors:
            break
    return reports


def register(sub: Any) -> None:
    """Add ``rules`` and ``detect`` to the ``soc`` command's subparsers."""
    rp = sub.add_parser("rules", help="Sigma rules: check conversion, run their test events")
    rsub = rp.add_subparsers(dest="action", required=True)
    check = rsub.add_parser("check", help="convert each rule; report ok / unsupported / failed with the reason")
    check.add_argument("paths", nargs="*", help="rule files or folders (default: the configured rule paths)")
    check.add_argument("--execute", action="store_true", help="also run each query once on its target")
    check.add_argument("--json", action="store_true", help="print [{path, id, title, status, reason}]")
    check.set_defaults(func=cmd_rules_check)
    test = rsub.add_parser("test", help="index each rule's test events into a scratch target and run the rule")
    test.add_argument("paths", nargs="*")
    test.set_defaults(func=cmd_rules_test)
    ev = rsub.add_parser("evaluate", help="run the rules over labelled logs; detected actors and false positives")
    ev.add_argument("paths", nargs="*", help="rule files or folders (default: the configured rule paths)")
    ev.add_argument("--logs", required=True, help="folder with nginx/, syslog/ logs and labels/<path>.actors")
    ev.add_argument("--json", action="store_true", help="print the figures as JSON")
    ev.set_defaults(func=cmd_rules_evaluate)
    from soc.hunt.cli import add_preview

    add_preview(rsub)
    det = sub.add_parser("detect", help="run detection")
    det.add_argument("--once", action="store_true", help="one full cycle now, with a summary")
    det.add_argument("paths", nargs="*", help="rule files or folders (default: the configured rule paths)")
    det.set_defaults(func=cmd_detect)
