"""STIX 2.1 bundles: indicator objects whose pattern compares observables this service can match.

Supported: comparisons ``<path> = '<value>'`` on ``ipv4-addr:value``, ``ipv6-addr:value``,
``domain-name:value``, ``url:value`` and ``file:hashes.'SHA-256'`` (also MD5, SHA-1), joined by AND
and OR inside one observation (``[a OR b AND c]``, AND binding tighter), and observations joined by
OR. Anything else (other objects or operators, qualifiers, FOLLOWEDBY, AND between observations,
which needs two events) is reported as unsupported with the reason; it is never dropped silently.
A malformed bundle or object is an error naming the object.
"""

from __future__ import annotations

import re
from typing import Any

from soc.intel.indicators import Atom, Indicator, IndicatorError, atom, confidence, timestamp

_TOKEN = re.compile(r"""\s*(?:(?P<lb>\[)|(?P<rb>\])|(?P<op>AND|OR)\b|(?P<str>'(?:[^'\\]|\\.)*')
                    |(?P<path>[a-z0-9-]+:[A-Za-z0-9_.'\-]+)|(?P<cmp>=|!=|<=|>=|<|>)|(?P<word>[A-Za-z_]+)
                    |(?P<other>\S))""", re.VERBOSE)
PATHS = {"ipv4-addr:value": "ip", "ipv6-addr:value": "ip", "domain-name:value": "domain", "url:value": "url",
         "file:hashes.md5": "md5", "file:hashes.'md5'": "md5", "file:hashes.'sha-1'": "sha1",
         "file:hashes.sha1": "sha1", "file:hashes.'sha-256'": "sha256", "file:hashes.sha256": "sha256",
         "file:hashes.'sha256'": "sha256", "file:hashes.'sha1'": "sha1"}


class Unsupported(Exception):
    """A well-formed pattern the service cannot match; the message says what."""


def _tokens(pattern: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(pattern):
        m = _TOKEN.match(pattern, pos)
        if not m or m.end() == pos:
            if pattern[pos:].strip():
                raise IndicatorError(f"cannot read the pattern at {pattern[pos:pos + 20]!r}")
            break
        kind = m.lastgroup or "other"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_pattern(pattern: str) -> list[tuple[Atom, ...]]:
    """The pattern as alternatives (OR) of conjunctions (AND) of atoms."""
    tokens = _tokens(pattern)
    alternatives: list[tuple[Atom, ...]] = []
    i = 0
    expect_observation = True
    while i < len(tokens):
        kind, text = tokens[i]
        if expect_observation:
            if kind != "lb":
                raise IndicatorError(f"expected '[' at {text!r}")
            close = next((j for j in range(i + 1, len(tokens)) if tokens[j][0] == "rb"), None)
            if close is None:
                raise IndicatorError("an observation '[' is never closed")
            alternatives += _observation(tokens[i + 1:close])
            i = close + 1
            expect_observation = False
            continue
        if kind == "op" and text == "OR":
            expect_observation = True
            i += 1
            continue
        if kind == "op":
            raise Unsupported("AND between observations needs two events (not matched per event)")
        raise Unsupported(f"{text!r} after an observation (qualifiers and FOLLOWEDBY are not matched)")
    if expect_observation:
        raise IndicatorError("the pattern ends where an observation was expected")
    return alternatives


def _observation(tokens: list[tuple[str, str]]) -> list[tuple[Atom, ...]]:
    groups: list[list[Atom]] = [[]]
    i = 0
    while i < len(tokens):
        if len(tokens) < i + 3:
            raise IndicatorError("a comparison must be <object path> <operator> <value>")
        (pk, path), (ck, cmp), (vk, value) = tokens[i:i + 3]
        if pk == "lb" or path == "(":
            raise Unsupported("nested or parenthesised expressions")
        if pk != "path":
            raise IndicatorError(f"expected an object path at {path!r}")
        if ck != "cmp" and not (ck == "word" and cmp.upper() in ("LIKE", "MATCHES", "IN", "ISSUBSET", "ISSUPERSET",
                                                                  "NOT")):
            raise IndicatorError(f"expected a comparison operator after {path}, not {cmp!r}")
        if cmp != "=":
            raise Unsupported(f"operator {cmp!r} on {path} (only '=' is matched)")
        if vk != "str":
            raise Unsupported(f"a non-string value {value!r} on {path}")
        kind = PATHS.get(path.lower())
        if kind is None:
            raise Unsupported(f"object path {path} (matched: {', '.join(sorted({p.split('.')[0] for p in PATHS}))})")
        groups[-1].append(atom(kind, value[1:-1].replace("\\'", "'").replace("\\\\", "\\")))
        i += 3
        if i < len(tokens):
            kind_, op = tokens[i]
            if kind_ != "op":
                raise IndicatorError(f"expected AND or OR at {op!r}")
            if op == "OR":
                groups.append([])
            i += 1
            if i == len(tokens):
                raise IndicatorError(f"the observation ends after {op}")
    return [tuple(dict.fromkeys(g)) for g in groups]


def _object(obj: Any, n: int) -> tuple[list[Indicator], list[str]]:
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise IndicatorError(f"object {n}: not a STIX object (no 'type')")
    where = str(obj.get("id") or f"object {n}")
    if obj["type"] != "indicator":
        return [], []
    if not isinstance(obj.get("id"), str) or not obj["id"].startswith("indicator--"):
        raise IndicatorError(f"{where}: an indicator needs an id 'indicator--<uuid>'")
    pattern_type = obj.get("pattern_type", "stix")
    if pattern_type != "stix":
        return [], [f"{where}: pattern_type {pattern_type!r} is not matched (only stix)"]
    pattern = obj.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip():
        raise IndicatorError(f"{where}: no pattern")
    try:
        alternatives = parse_pattern(pattern)
        common = {"confidence": confidence(obj.get("confidence"), where),
                  "valid_from": timestamp(obj.get("valid_from"), where, "valid_from"),
                  "valid_until": timestamp(obj.get("valid_until"), where, "valid_until")}
    except Unsupported as exc:
        return [], [f"{where}: unsupported pattern {pattern[:200]!r}: {exc}"]
    except IndicatorError as exc:
        raise IndicatorError(f"{where}: {exc}") from None
    text = str(obj.get("description") or obj.get("name") or "")[:1000]
    labels = [x for x in obj.get("labels") or [] if isinstance(x, str)] if isinstance(obj.get("labels"), list) else []
    return [Indicator(atoms, where, description=text, source_ref=obj["id"], tags=labels, **common)  # type: ignore[arg-type]
            for atoms in alternatives], []


def parse(doc: Any) -> tuple[list[Indicator], list[str]]:
    """(indicators, unsupported notes) of a bundle; IndicatorError naming the object when malformed."""
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise IndicatorError("not a STIX bundle (no \"type\": \"bundle\")")
    objects = doc.get("objects")
    if not isinstance(objects, list):
        raise IndicatorError(f"bundle {doc.get('id', '')}: 'objects' is not a list".replace("bundle : ", "bundle: "))
    found: list[Indicator] = []
    notes: list[str] = []
    for n, obj in enumerate(objects):
        items, skipped = _object(obj, n)
        found += items
        notes += skipped
    return found, notes
