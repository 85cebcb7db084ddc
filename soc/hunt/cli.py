"""``soc rules preview RULE [--since 7d]``: the rule lab from a terminal (as an admin of every agency)."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from soc import search
from soc.auth import Principal
from soc.config import Settings
from soc.errors import Invalid
from soc.hunt import preview
from soc.hunt.schemas import PreviewIn

_SPAN = re.compile(r"^(\d{1,5})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def span(text: str) -> timedelta:
    m = _SPAN.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a span such as 30m, 12h or 7d")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def printable(value: object) -> str:
    """Log content shown on a terminal: control characters (escape sequences) spelled out."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(value))


def cmd_rules_preview(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = Path(args.rule).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.rule}: {exc}")
        return 2
    now = datetime.now(UTC)
    who = Principal("cli", "admin", ("*",))
    try:
        req = PreviewIn.model_validate({"rule": text, "from": now - args.since, "to": now, "agency": args.agency,
                                        "size": args.limit})
        result = preview.preview(search.client(settings), search.names(settings), who, req, now)
    except (Invalid, ValueError) as exc:
        print(f"{args.rule}: {exc}")
        return 2
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    _render(result, now - args.since, now)
    return 0


def _render(result: dict[str, Any], start: datetime, end: datetime) -> None:
    print(f"{result['total']} alerts between {start:%Y-%m-%dT%H:%M:%SZ} and {end:%Y-%m-%dT%H:%M:%SZ}")
    for rule in result["rules"]:
        print(f"  {rule['alerts']:>7}  {printable(rule['title'])} ({rule['kind']}, {rule['level']})")
    if result["per_day"]:
        print("per day:")
        for day in result["per_day"]:
            print(f"  {day['day']}  {day['count']}")
    if result["by_entity"]:
        print("top entities:")
        for row in result["by_entity"]:
            print(f"  {row['count']:>7}  {printable(row['entity'])}")


def add_preview(rsub: Any) -> None:
    """``preview`` under ``soc rules``."""
    p = rsub.add_parser("preview", help="what a rule would have raised over past events (no alerts written)")
    p.add_argument("rule", help="a Sigma YAML file: a rule, or a correlation with its rules")
    p.add_argument("--since", type=span, default=span("7d"), help="how far back (30m, 12h, 7d; default 7d)")
    p.add_argument("--agency", default=None, help="only this agency's events")
    p.add_argument("--limit", type=int, default=0, help="matches (or episodes) to include with --json")
    p.add_argument("--json", action="store_true", help="print the preview as JSON")
    p.set_defaults(func=cmd_rules_preview)
