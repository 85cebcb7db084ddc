"""``soc intel import|list|remove``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from soc import search
from soc.agencies.cli import operator
from soc.config import Settings
from soc.errors import Invalid
from soc.intel import service
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
