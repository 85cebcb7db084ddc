"""Routes a record to its parser, and keeps the promise that parsing never raises.

Text decoding happens once here (:mod:`collectors.parsers.text`); the format parsers get a
``str``. Should a parser ever fail on input it did not foresee, the record is still returned,
whole, as a parse failure tagged ``_parser_error`` too, so the bug is visible and nothing is lost.
"""

from __future__ import annotations

from typing import Any

from collectors.parsers import ParseContext, access, syslog, text
from collectors.parsers.event import failure, tag

DATASETS = {"syslog": syslog.DATASET, **access.DATASETS}


def parse(kind: str, raw: bytes, ctx: ParseContext) -> dict[str, Any]:
    line = text.decode(raw)
    try:
        if kind == "syslog":
            return syslog.parse(line, ctx)
        if kind == "nginx" or kind == "apache":
            return access.parse_text(kind, line, ctx)
        if kind == "nginx-json":
            return access.parse_json(line, text.json_text(raw), ctx)
    except Exception:  # a parser bug must not lose the record
        event = failure(line, DATASETS.get(kind, kind), ctx)
        tag(event, "_parser_error")
        return event
    event = failure(line, kind, ctx)
    tag(event, "_unknown_kind")
    return event
