"""``soc report weekly`` and ``soc report list``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soc import search
from soc.agencies import store as agency_store
from soc.config import Settings
from soc.reports import delivery, service, store
from soc.reports import settings as report_settings
from soc.reports.period import last_complete, parse


def cmd_weekly(args: argparse.Namespace, settings: Settings) -> int:
    rs = report_settings.load()
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip()) if args.format else rs.formats
    week = parse(args.week, rs.timezone) if args.week else last_complete(datetime.now(UTC), rs.timezone)
    client, names = search.client(settings), search.names(settings)
    if args.all:
        scopes: list[str | None] = [None, *sorted(agency_store.by_id(client, names))]
    else:
        scopes = [args.agency]
    langs = [args.lang] if args.lang else list(rs.langs)
    for agency in scopes:
        for lang in langs:
            service.check_request(agency, lang, formats)
    out = Path(args.out) if args.out else None
    for agency in scopes:
        for lang in langs:
            made = service.produce(client, names, rs, week, agency, lang, formats, "cli", out_dir=out)
            s = made.doc["summary"]
            print(f"{made.doc['id']}: events {s['events']}, alerts {s['alerts']}, incidents opened "
                  f"{s['incidents_opened']}, open at week end {s['open_at_end']}")
            for fmt, path in made.paths.items():
                print(f"  {fmt:>4}  {path}")
            if args.deliver:
                for channel, outcome in delivery.deliver(rs, made.doc, made.paths).items():
                    print(f"  sent by {channel}: {'ok' if outcome.get('ok') else outcome.get('error', outcome)}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    client, names = search.client(settings), search.names(settings)
    filters: list[dict[str, Any]] = []
    if args.week:
        filters.append({"term": {"week": args.week}})
    if args.agency:
        filters.append({"term": {"organization.id": args.agency}})
    total, docs = store.list_reports(client, names, filters, args.limit, 0)
    for doc in docs:
        agency = doc["organization"]["id"]
        print(f"{doc['week']}  {'province' if agency == '*' else agency:<24} {doc['lang']}  "
              f"{','.join(doc['formats']):<18} {doc['created'][:19]}  {doc['id']}")
    print(f"{total} reports")
    return 0


def register(sub: Any) -> None:
    """Add ``report`` to the ``soc`` command's subparsers."""
    rp = sub.add_parser("report", help="security reports")
    rsub = rp.add_subparsers(dest="action", required=True)
    weekly = rsub.add_parser("weekly", help="produce the weekly report (default: province-wide, last complete week)")
    weekly.add_argument("--week", help="ISO week, e.g. 2025-W10 (default: the last complete week)")
    scope = weekly.add_mutually_exclusive_group()
    scope.add_argument("--agency", help="one agency's report instead of the province-wide one")
    scope.add_argument("--all", action="store_true", help="the province-wide report and one per agency")
    weekly.add_argument("--lang", choices=report_settings.LANGS, help="language (default: every configured one)")
    weekly.add_argument("--format", help="comma-separated: html,pdf,json,csv (default: all)")
    weekly.add_argument("--out", help="folder for the files (default: SOC_REPORT_OUT_DIR or var/reports)")
    weekly.add_argument("--deliver", action="store_true", help="also send by the configured webhook / email")
    weekly.set_defaults(func=cmd_weekly)
    listing = rsub.add_parser("list", help="stored reports, newest week first")
    listing.add_argument("--week")
    listing.add_argument("--agency")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_list)


