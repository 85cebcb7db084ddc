"""CSV files and plain lists, one indicator a line.

CSV: a header row naming a ``value`` (or ``indicator``) column, and optionally ``type``,
``confidence``, ``valid_from``, ``valid_until``, ``description``. A plain list: one value a line;
blank lines and lines starting with ``#`` are skipped. Without a type (column or ``--type``) it is
guessed: an address or network, a 32/40/64-digit hex hash, a URL (``scheme://``), else a domain.
Errors name the line.
"""

from __future__ import annotations

import csv

from soc.intel.indicators import Indicator, IndicatorError, atom, confidence, guess, timestamp

VALUE_COLUMNS = ("value", "indicator", "ioc")
COLUMNS = (*VALUE_COLUMNS, "type", "confidence", "valid_from", "valid_until", "description", "comment")


def looks_like_csv(text: str) -> bool:
    """Whether the first line that is not a comment is a header naming a value column."""
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            cells = {c.strip().lower() for c in next(csv.reader([line]), [])}
            return bool(cells & set(VALUE_COLUMNS))
    return False


def _one(value: str, kind: str | None, where: str) -> Indicator:
    try:
        return Indicator((atom(kind, value) if kind else guess(value),), where)
    except IndicatorError as exc:
        raise IndicatorError(f"{where}: {exc}") from None


def parse_plain(text: str, kind: str | None = None) -> tuple[list[Indicator], list[str]]:
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        value = line.strip()
        if value and not value.startswith("#"):
            found.append(_one(value, kind, f"line {n}"))
    return found, []


def parse_csv(text: str, kind: str | None = None) -> tuple[list[Indicator], list[str]]:
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not lines:
        return [], []
    header_line, header = lines[0][0], [c.strip().lower() for c in next(csv.reader([lines[0][1]]))]
    value_col = next((c for c in VALUE_COLUMNS if c in header), None)
    if value_col is None:
        raise IndicatorError(f"line {header_line}: the header names no value column ({', '.join(VALUE_COLUMNS)})")
    unknown = [c for c in header if c and c not in COLUMNS]
    if unknown:
        raise IndicatorError(f"line {header_line}: unknown columns {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    found = []
    for n, line in lines[1:]:
        cells = next(csv.reader([line]))
        if len(cells) > len(header):
            raise IndicatorError(f"line {n}: {len(cells)} cells, the header has {len(header)}")
        row = dict(zip(header, (c.strip() for c in cells), strict=False))
        where = f"line {n}"
        if not row.get(value_col):
            raise IndicatorError(f"{where}: no {value_col}")
        one = _one(row[value_col], row.get("type") or kind, where)
        one.confidence = confidence(row.get("confidence"), where)
        one.valid_from = timestamp(row.get("valid_from"), where, "valid_from")
        one.valid_until = timestamp(row.get("valid_until"), where, "valid_until")
        one.description = (row.get("description") or row.get("comment") or "")[:1000]
        found.append(one)
    return found, []


def parse(text: str, kind: str | None = None) -> tuple[list[Indicator], list[str]]:
    return parse_csv(text, kind) if looks_like_csv(text) else parse_plain(text, kind)
