"""Search results as files: CSV (formula-neutralised, as the weekly report's CSV) and NDJSON.

Log content is attacker-written: a CSV cell that a spreadsheet would read as a formula gets the same
leading apostrophe the report's CSV gives it (``soc.reports.render_csv.neutralize``); NDJSON is JSON
per line, so every quote, newline and control character of a value is escaped by the encoder.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import orjson

from soc import ecs
from soc.reports.render_csv import neutralize

DEFAULT_FIELDS = ("@timestamp", "organization.id", "event.dataset", "host.name", "source.ip", "user.name",
                  "process.name", "http.request.method", "url.original", "http.response.status_code",
                  "event.outcome", "event.original")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, dict | bool):
        value = orjson.dumps(value).decode()
    return neutralize(value)


def to_csv(rows: Iterable[dict[str, Any]], fields: Iterable[str] = ()) -> str:
    columns = list(fields) or list(DEFAULT_FIELDS)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["_id", *columns])
    for row in rows:
        flat = ecs.flatten({k: v for k, v in row.items() if not k.startswith("_")})
        writer.writerow([_cell(row.get("_id")), *(_cell(flat.get(c)) for c in columns)])
    return buf.getvalue()


def to_ndjson(rows: Iterable[dict[str, Any]], fields: Iterable[str] = ()) -> bytes:
    columns = list(fields)
    out = bytearray()
    for row in rows:
        if columns:
            flat = ecs.flatten({k: v for k, v in row.items() if not k.startswith("_")})
            row = {"_id": row.get("_id"), **{c: flat.get(c) for c in columns}}
        out += orjson.dumps(row) + b"\n"
    return bytes(out)
