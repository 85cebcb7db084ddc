"""One condition of the search language as OpenSearch DSL, by the type soc.ecs gives the field.

Values are checked here (a number where the field holds numbers, a time, an address or a network),
so a bad value is a 400 naming its position, never an error from inside OpenSearch. Patterns go to
the ``.wildcard`` sub-fields where a field has one (served by trigrams; case-insensitive because those
sub-fields and the patterns sent to them are lower-cased by the field's normalizer, so the query does not
ask for ``case_insensitive``, which made every trigram an automaton and lower-cased every candidate value
again: a 7-day raw-line search of a frequent word fell from 2.6 s to 1.4 s, see BENCHMARKS.md); a pattern
that starts with a wildcard needs such a sub-field and three literal characters in a row, otherwise
it would walk every value ever indexed.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from soc import ecs
from soc.errors import BadQuery
from soc.hunt.lexer import Token

RAW_LINE = "event.original"
MIN_LITERAL_RUN = 3  # literal characters in a row a pattern with a leading wildcard needs
MAX_PATTERN = 128  # characters of one pattern (its trigrams become clauses)
RANGE_KINDS = ("long", "date", "ip")
_WILD_SPLIT = re.compile(r"(?<!\\)[*?]")


def field_kind(name: str, pos: int) -> str:
    kind = ecs.FIELDS.get(name)
    if kind is None:
        raise BadQuery(f"unknown field {name!r} (fields are the ECS names of soc/ecs.py, e.g. source.ip, "
                       "url.path, http.response.status_code)", pos)
    return kind


def literal_run(pattern: str) -> int:
    """The longest run of literal characters in a wildcard pattern."""
    return max((len(part.replace("\\", "")) for part in _WILD_SPLIT.split(pattern)), default=0)


def _check_pattern(pattern: str, pos: int) -> None:
    if len(pattern) > MAX_PATTERN:
        raise BadQuery(f"a pattern may have at most {MAX_PATTERN} characters", pos)


def raw_line(tok: Token) -> dict[str, Any]:
    """Free text: the word or phrase anywhere in the raw line, case-insensitively."""
    inner = tok.pattern.strip("*") if tok.kind == "WORD" else tok.pattern
    if literal_run(inner) < MIN_LITERAL_RUN:
        raise BadQuery(f"free text searches the raw line and needs at least {MIN_LITERAL_RUN} characters in a "
                       f"row without wildcards: {tok.text!r}", tok.pos)
    pattern = f"*{inner}*"
    _check_pattern(pattern, tok.pos)
    return {"wildcard": {f"{RAW_LINE}.{ecs.PATTERN_SUBFIELD}": {"value": pattern.lower()}}}


def match(name: str, tok: Token) -> dict[str, Any]:
    """``field:value`` (a WORD or PHRASE token)."""
    kind = field_kind(name, tok.pos)
    if tok.kind == "WORD" and tok.wild:
        if tok.pattern == "*":
            return {"exists": {"field": name}}
        return _pattern(name, kind, tok)
    value = tok.text
    if kind in ("long", "date", "ip", "boolean"):
        return {"term": {name: _scalar(kind, value, tok.pos)}}
    if kind in ("text", "text+keyword"):
        return {"match_phrase": {name: value}}
    return {"term": {name: value}}  # keyword (ci_keyword fields lower-case the value with their normalizer)


def _pattern(name: str, kind: str, tok: Token) -> dict[str, Any]:
    pattern = tok.pattern
    _check_pattern(pattern, tok.pos)
    sub = ecs.pattern_field(name)
    leading = pattern[0] in "*?"
    if sub is not None:
        if leading and literal_run(pattern) < MIN_LITERAL_RUN:
            raise BadQuery(f"a pattern starting with a wildcard needs at least {MIN_LITERAL_RUN} characters in a "
                           f"row without wildcards: {tok.text!r}", tok.pos)
        return {"wildcard": {sub: {"value": pattern.lower()}}}
    if kind not in ("keyword", "ci_keyword", "text+keyword"):
        raise BadQuery(f"wildcards work on keyword fields only; {name} holds {_kind_name(kind)}", tok.pos)
    if leading:
        raise BadQuery(f"a pattern may not start with a wildcard on {name} (unbounded); fields that allow it: "
                       + ", ".join(ecs.PATTERN_FIELDS), tok.pos)
    target = f"{name}.keyword" if kind == "text+keyword" else name
    return {"wildcard": {target: {"value": pattern, "case_insensitive": kind == "ci_keyword"}}}


def _kind_name(kind: str) -> str:
    return {"long": "numbers", "date": "times", "ip": "addresses", "boolean": "true/false",
            "flat_object": "structured data", "text": "text"}.get(kind, kind)


def _scalar(kind: str, value: str, pos: int) -> Any:
    if kind == "long":
        if not re.fullmatch(r"-?\d{1,18}", value):
            raise BadQuery(f"{value!r} is not a whole number", pos)
        return int(value)
    if kind == "date":
        return _time(value, pos)
    if kind == "ip":
        try:
            return str(ipaddress.ip_network(value, strict=False)) if "/" in value else str(ipaddress.ip_address(value))
        except ValueError:
            raise BadQuery(f"{value!r} is not an IP address or a network (CIDR)", pos) from None
    if value.lower() not in ("true", "false"):
        raise BadQuery(f"{value!r} is not true or false", pos)
    return value.lower() == "true"


def _time(value: str, pos: int) -> str:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"{value!r} is not an ISO-8601 time (e.g. 2025-03-01T08:00:00Z)", pos) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bound(kind: str, tok: Token) -> Any:
    if tok.kind == "WORD" and tok.pattern == "*":
        return None
    if tok.kind == "WORD" and tok.wild:
        raise BadQuery("a range bound is a value or *, not a pattern", tok.pos)
    if kind == "ip" and "/" in tok.text:
        raise BadQuery("a range bound is one address, not a network", tok.pos)
    return _scalar(kind, tok.text, tok.pos)


def span(name: str, pos: int, low: Token | None, high: Token | None, low_incl: bool, high_incl: bool) -> dict[str, Any]:
    """``field:[a TO b]`` (``{}`` exclusive), and ``field:>=a`` style comparisons (one bound)."""
    kind = field_kind(name, pos)
    if kind not in RANGE_KINDS:
        raise BadQuery(f"ranges work on numbers, times and addresses; {name} holds {_kind_name(kind)}", pos)
    spec: dict[str, Any] = {}
    lo = _bound(kind, low) if low is not None else None
    hi = _bound(kind, high) if high is not None else None
    if lo is not None:
        spec["gte" if low_incl else "gt"] = lo
    if hi is not None:
        spec["lte" if high_incl else "lt"] = hi
    if lo is not None and hi is not None and kind != "ip" and lo > hi:
        raise BadQuery("the range's lower bound is above its upper bound", pos)
    if not spec:
        return {"exists": {"field": name}}
    return {"range": {name: spec}}
