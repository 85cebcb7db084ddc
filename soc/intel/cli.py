"""``soc intel import|list|remove`` and ``soc intel feed add|list|remove|pull``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from soc import search
from soc.agencies.cli import operator
from soc.config import Settings
from soc.errors import Invalid
from soc.intel import feeds, service
from soc.intel.settings import load


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"{path}: cannot read it as UTF-8 text: {exc}") from None
    days = args.expires if args.expires is not None else load().expires_days
    result = service.import_text(search.client(settings), search.names(settings), operator(), text,
                                 args.feed or path.stem, args.format, args.type, days, str(path))
    print(f"{path}: {result.read} indicators read ({result.format}) into feed {result.feed}: "
          f"{result.created} new, {result.updated} updated, {result.expired} already expired")
    for note in result.notes:
        print(f"  not imported: {note}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    rows, total = service.listing(search.client(settings), search.names(settings), operator(), args.feed,
                                  args.limit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        print(f"{r['id']}\t{r['feed']}\t{r['type']}\t{r['name']}\tconfidence {r.get('confidence')}\t"
              f"until {r.get('valid_until') or '-'}")
    print(f"{len(rows)} of {total} indicators")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    gone = service.remove(search.client(settings), search.names(settings), operator(), args.id, args.feed)
    print(f"removed {gone} indicators")
    return 0


def cmd_feed_add(args: argparse.Namespace, settings: Settings) -> int:
    doc = feeds.new_feed(args.name, args.url, args.format, args.interval, args.expires, args.confidence,
                         args.auth_env, args.auth_header, not args.keep_withdrawn)
    feeds.add(search.client(settings), search.names(settings), operator(), doc)
    print(f"feed {doc['name']}: pulled from {doc['url']} every {doc['interval_s']} s by the service's scheduler "
          f"(now: soc intel feed pull {doc['name']})")
    return 0


def cmd_feed_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = feeds.listing(search.client(settings), search.names(settings), operator())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for f in rows:
        last = f.get("last") or {}
        print(f"{f['name']}\t{f['format']}\tevery {f['interval_s']} s\t{f['url']}\tlast: {last.get('status')} "
              f"{last.get('attempt') or ''}\t{last.get('read', '-')} indicators" + (
                  f"\terror: {last['error']}" if last.get("error") else ""))
    print(f"{len(rows)} feeds")
    return 0


def cmd_feed_remove(args: argparse.Namespace, settings: Settings) -> int:
    feeds.remove(search.client(settings), search.names(settings), operator(), args.name)
    print(f"feed {args.name} removed; its indicators stay until they expire (soc intel remove --feed {args.name})")
    return 0


def cmd_feed_pull(args: argparse.Namespace, settings: Settings) -> int:
    r = feeds.pull(search.client(settings), search.names(settings), operator(), args.name)
    if r.status == "failed":
        print(f"feed {r.feed}: pull failed, the indicators of its last good pull stay: {r.error}")
        return 1
    if r.status == "unchanged":
        print(f"feed {r.feed}: unchanged since the last pull (HTTP 304)")
        return 0
    print(f"feed {r.feed}: {r.read} indicators read: {r.created} new, {r.updated} updated, "
          f"{r.withdrawn} no longer listed (ended)")
    for note in r.notes or []:
        print(f"  not imported: {note}")
    return 0


def _register_feed(ip: Any) -> None:
    fp = ip.add_parser("feed", help="feeds pulled from a URL on a schedule").add_subparsers(dest="feed_action",
                                                                                         required=True)
    add = fp.add_parser("add", help="subscribe to a feed (http or https URL)")
    add.add_argument("name")
    add.add_argument("url")
    add.add_argument("--format", default="auto", choices=service.FORMATS)
    add.add_argument("--interval", default="1h", help="how often: seconds, or 15m, 6h, 1d (default 1h)")
    add.add_argument("--expires", type=float, default=90.0, metavar="DAYS",
                     help="validity of indicators that carry no end of their own (default 90 days)")
    add.add_argument("--confidence", type=int, help="0-100, for indicators that carry none")
    add.add_argument("--auth-env", help="environment variable (SOC_FEED_...) of the service holding the "
                                        "authorization header's value; the secret is never stored")
    add.add_argument("--auth-header", default="Authorization", help="the header --auth-env fills")
    add.add_argument("--keep-withdrawn", action="store_true",
                     help="keep indicators the feed no longer lists until they expire (default: they end at the pull)")
    add.set_defaults(func=cmd_feed_add)
    ls = fp.add_parser("list", help="feeds and their last pull")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_feed_list)
    rm = fp.add_parser("remove", help="end a subscription (its indicators stay until they expire)")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_feed_remove)
    pull = fp.add_parser("pull", help="pull a feed now")
    pull.add_argument("name")
    pull.set_defaults(func=cmd_feed_pull)


def register(sub: Any) -> None:
    ip = sub.add_parser("intel", help="threat-intelligence indicators").add_subparsers(dest="action", required=True)
    imp = ip.add_parser("import", help="import indicators from a STIX 2.1 bundle, MISP event, CSV or plain list")
    imp.add_argument("file")
    imp.add_argument("--feed", help="the feed's name (default: the file name without extension)")
    imp.add_argument("--expires", type=float, metavar="DAYS",
                     help="validity of indicators that carry no end of their own (default 90 days)")
    imp.add_argument("--format", default="auto", choices=service.FORMATS)
    imp.add_argument("--type", help="type of a list's values (ip, domain, url, md5, sha1, sha256); default: guessed")
    imp.set_defaults(func=cmd_import)
    ls = ip.add_parser("list", help="list indicators, newest import first")
    ls.add_argument("--feed")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    rm = ip.add_parser("remove", help="remove indicators by id, or a whole feed")
    rm.add_argument("id", nargs="*", help="indicator ids (as 'soc intel list' shows)")
    rm.add_argument("--feed", help="remove every indicator of this feed")
    rm.set_defaults(func=cmd_remove)
    _register_feed(ip)
