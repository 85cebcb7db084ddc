"""A rule's query evaluated in the service on documents already fetched: the same answer as the node's.

Why: every log stream is one data stream per agency, so a rule query sent to OpenSearch visits one
shard per agency, and each shard builds the rule's pattern automata again; with 41 agencies a cycle of
144 rules cost about 45 s whatever the number of new events (BENCHMARKS.md, detection). A small
ingest window is cheaper to read once (one range search, every field) and to match here, rule by
rule, than to search 144 times. Large windows (a backfill) still go to the node (``runner``).

Exactness: the tree is the one ``soc.detection.dsl`` parses from the backend's query string, and each
leaf is answered as the node answers it for that field's mapping (``soc.ecs``):

- ``keyword``: the value as indexed (JSON text of numbers and booleans), case-sensitive, not indexed
  beyond ``ignore_above`` characters (UTF-16 units, as Java counts them);
- ``ci_keyword``: the same, lower-cased as Lucene's lowercase filter does (one code point at a time);
- a pattern moved to a ``wildcard`` sub-field: value and pattern through the ``soc_pattern``
  normalizer (NUL to U+FFFD, lower case), ``*`` any run, ``?`` one code point, the whole value;
- ``long``: numbers (coerced as OpenSearch coerces: strings parsed, fractions truncated), equality
  and the query string's ``<``, ``<=``, ``>``, ``>=``;
- ``ip``: an address or a CIDR block, IPv4-mapped IPv6 read as IPv4 (as OpenSearch stores both);
- ``_exists_:f`` and ``f:*``: a value indexed for ``f``;
- a wildcard left on the field itself (no pattern sub-field): Lucene's wildcard over the indexed
  terms, the pattern normalized as the field's values are; on a number field, nothing (as the node).

- a regular expression on a keyword field, in the part of Lucene's syntax that Python reads alike.

Any other leaf (full-text fields, regular expressions on pattern sub-fields or beyond that syntax,
dates, booleans) raises :class:`NotLocal`
and the rule keeps running on the node. ``tests/detection/test_dsl.py`` compares, for every project
and public rule, the documents matched here with those the node matches, on rule samples, real logs
and case, escape, NUL and length probes.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import ahocorasick

from soc import ecs
from soc.detection import dsl

Values = dict[str, list[Any]]  # dotted field -> the scalar values a document holds for it
Matcher = Callable[["Doc"], bool]

KEYWORD_IGNORE_ABOVE = 4096  # soc.ecs: plain keyword fields
CI_IGNORE_ABOVE = ecs.IGNORE_ABOVE  # lower-cased keywords and pattern sub-fields


class NotLocal(ValueError):
    """A leaf whose node-side meaning is not reproduced here: the rule runs on the node."""


def _scalars(value: Any, out: list[Any]) -> None:
    if isinstance(value, list):
        for v in value:
            _scalars(v, out)
    elif value is not None:
        out.append(value)


def values_of(source: dict[str, Any]) -> Values:
    """Every field of a ``_source`` (dotted or nested keys alike) with its non-null scalar values."""
    out: Values = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = prefix + key
            if isinstance(value, dict) and ecs.FIELDS.get(name) != "flat_object":
                walk(value, name + ".")
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                for v in value:
                    if isinstance(v, dict):
                        walk(v, name + ".")
                    else:
                        _scalars(v, out.setdefault(name, []))
            else:
                _scalars(value, out.setdefault(name, []))

    walk(source, "")
    return out


def lookup(source: dict[str, Any], fld: str) -> list[Any]:
    """One field's non-null scalar values in a ``_source`` whose keys may be nested or dotted at any
    level (what ``values_of(source).get(fld, [])`` gives, without walking the whole document)."""
    out: list[Any] = []

    def walk(node: Any, parts: list[str]) -> None:
        if isinstance(node, list):
            for item in node:
                if isinstance(item, dict):
                    walk(item, parts)
            return
        if not isinstance(node, dict):
            return
        for i in range(1, len(parts) + 1):
            key = ".".join(parts[:i]) if i > 1 else parts[0]
            if key not in node:
                continue
            value, rest = node[key], parts[i:]
            if rest:
                walk(value, rest)
            elif isinstance(value, list):
                _scalars([v for v in value if not isinstance(v, dict)], out)
            elif not isinstance(value, dict):
                _scalars(value, out)

    walk(source, fld.split("."))
    return out


def _utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def java_lower(text: str) -> str:
    """Lower case one code point at a time, as Lucene's LowerCaseFilter (Python's ``str.lower`` turns
    U+0130 into two code points)."""
    if text.isascii():
        return text.lower()
    return "".join("i" if ch == "\u0130" else ch.lower() for ch in text)


def _as_keyword(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return value if isinstance(value, str) else str(value)
    return None


class Doc:
    """One fetched document, with each field's indexed forms computed once and shared by every rule."""

    __slots__ = ("_cache", "_values", "ref", "source")

    def __init__(self, source: dict[str, Any], ref: tuple[str, str, int] | None = None) -> None:
        self.source = source
        self.ref = ref  # where it is stored: backing index, id, sequence number
        self._values: dict[str, list[Any]] = {}
        self._cache: dict[tuple[str, str | int], Any] = {}  # (field, form) or (field, literals' generation)

    def get(self, fld: str) -> list[Any]:
        """The field's non-null scalar values (looked up once)."""
        got = self._values.get(fld)
        if got is None:
            got = self._values[fld] = lookup(self.source, fld)
        return got

    def keywords(self, fld: str, mode: str) -> tuple[str, ...]:
        """The terms ``fld`` indexes: ``exact`` (keyword), ``lower`` (ci_keyword), ``pattern`` (its
        wildcard sub-field)."""
        key = (fld, mode)
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self._keywords(fld, mode)
        return got

    def _keywords(self, fld: str, mode: str) -> tuple[str, ...]:
        limit = KEYWORD_IGNORE_ABOVE if mode == "exact" else CI_IGNORE_ABOVE
        if ecs.FIELDS.get(fld) == "text+keyword":
            limit = CI_IGNORE_ABOVE  # its .keyword sub-field
        out = []
        for v in self.get(fld):
            text = _as_keyword(v)
            if text is None or (len(text) > limit // 2 and _utf16_len(text) > limit):
                continue
            if mode == "pattern":
                text = java_lower(text.replace("\x00", "\ufffd"))
            elif mode == "lower":
                text = java_lower(text)
            out.append(text)
        return tuple(out)

    def contained(self, source: str) -> set[int]:
        """The ids of the registered ``*literal*`` patterns (:data:`LITERALS`) that some value of the
        field's pattern sub-field holds: one Aho-Corasick pass per value, shared by every rule."""
        key = (source, LITERALS.generation)
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = LITERALS.found(source, self.keywords(source, "pattern"))
        return got

    def numbers(self, fld: str) -> tuple[int, ...]:
        key = (fld, "long")
        got = self._cache.get(key)
        if got is None:
            out = []
            for v in self.get(fld):
                try:
                    out.append(_to_long(v))
                except (TypeError, ValueError):
                    continue
            got = self._cache[key] = tuple(out)
        return got

    def addresses(self, fld: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
        key = (fld, "ip")
        got = self._cache.get(key)
        if got is None:
            out = []
            for v in self.get(fld):
                try:
                    out.append(_address(str(v)))
                except ValueError:
                    continue
            got = self._cache[key] = tuple(out)
        return got


def _to_long(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return int(float(text))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    addr = ipaddress.ip_address(text)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw, flags=re.S)


def _field_mode(fld: str) -> str:
    kind = ecs.FIELDS.get(fld)
    if fld == dsl.RAW_LINE_FIELD:
        return "exact"
    if kind == "keyword":
        return "exact"
    if kind == "ci_keyword":
        return "lower"
    if kind in ("long", "ip"):
        return kind
    raise NotLocal(f"field {fld} ({kind}) is not matched here")


def _source_field(fld: str) -> str:
    return fld.removesuffix(".keyword") if fld == dsl.RAW_LINE_FIELD else fld


# --- wildcard patterns ---------------------------------------------------------------------------

def _pattern_parts(pattern: str) -> list[str | None]:
    """A wildcard pattern as literal runs and ``None`` for ``*``; ``?`` stays as the one-char marker."""
    out: list[str | None] = []
    buf: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            buf.append(pattern[i + 1])
            i += 2
            continue
        if ch == "*":
            out.append("".join(buf))
            out.append(None)
            buf = []
        elif ch == "?":
            out.append("".join(buf))
            out.append("?")
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    parts: list[str | None] = []
    for p in out:  # "**" is "*": a keyword search wraps an already wrapped pattern
        if p != "" and not (p is None and parts and parts[-1] is None):
            parts.append(p)
    return parts


def pattern_test(pattern: str) -> Callable[[str], bool]:
    """A test of a whole (already normalized) value against a wildcard pattern."""
    parts = _pattern_parts(pattern)
    literal = [p for p in parts if p is not None and p != "?"]
    if "?" not in parts:
        if parts == [None, *literal[:1], None] and len(literal) == 1 and len(parts) == 3:
            lit = literal[0]
            return lambda v: lit in v
        if len(parts) == 2 and parts[0] is not None and parts[1] is None:
            lit = parts[0]
            return lambda v: v.startswith(lit)
        if len(parts) == 2 and parts[0] is None and parts[1] is not None:
            lit = parts[1]
            return lambda v: v.endswith(lit)
        if len(parts) == 1 and parts[0] is not None:
            lit = parts[0]
            return lambda v: v == lit
    if "?" not in parts:
        return _in_order(parts)
    regex = "".join(".*" if p is None else "." if p == "?" else re.escape(p) for p in parts)
    compiled = re.compile(regex, re.S)
    return lambda v: compiled.fullmatch(v) is not None


def _in_order(parts: list[str | None]) -> Callable[[str], bool]:
    """A ``*``-only pattern as substring searches: the first literal at the start (unless the pattern
    starts with ``*``), the last at the end, the others in order between (the leftmost fit of each is
    the best one, so no backtracking is needed)."""
    head = parts[0] if parts and parts[0] is not None else None
    tail = parts[-1] if len(parts) > 1 and parts[-1] is not None else None
    inner = parts[1 if head is not None else 0:len(parts) - (1 if tail is not None else 0)]
    middle = [p for p in inner if p is not None]

    def test(v: str) -> bool:
        lo, hi = 0, len(v)
        if head is not None:
            if not v.startswith(head):
                return False
            lo = len(head)
        if tail is not None:
            if len(v) - len(tail) < lo or not v.endswith(tail):
                return False
            hi = len(v) - len(tail)
        for lit in middle:
            at = v.find(lit, lo, hi)
            if at < 0:
                return False
            lo = at + len(lit)
        return True

    return test


def _contains_literal(pattern: str) -> str | None:
    """The literal of a ``*literal*`` pattern (the commonest rule pattern), else None."""
    parts = _pattern_parts(pattern)
    if len(parts) == 3 and parts[0] is None and parts[2] is None and parts[1] not in (None, "?"):
        return parts[1]
    return None


class Literals:
    """Every ``*literal*`` that compiled rules test on a field's pattern sub-field (the commonest rule
    condition: ``|contains`` on a URL, a user agent, a command line, the raw line), per field, found
    in a value with one Aho-Corasick pass (pyahocorasick, in C) instead of one substring search per
    rule and literal: about 100 web rules test some 1,500 literals on a handful of fields. Exact:
    the automaton reports every occurrence of every literal, code point by code point, as ``in``.

    Rules are compiled in more than one thread (detection's catalogue, the rule lab's previews in
    API requests): the registry is changed under a lock, and a built automaton is never changed,
    only replaced. A literal is held while a matcher that tests it lives (``release`` is called when
    the matcher is collected), so previews of rules tried once do not grow detection's automata."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, dict[str, int]] = {}  # source field -> literal -> id
        self._held: dict[tuple[str, str], int] = {}  # (source field, literal) -> matchers testing it
        self._automata: dict[str, Any] = {}
        self._next = 0
        self.generation = 0  # changes with the literals: a Doc's cached answers are then not reused

    def register(self, source: str, lits: list[str]) -> frozenset[int]:
        with self._lock:
            ids = self._ids.setdefault(source, {})
            out = set()
            for lit in dict.fromkeys(lits):
                if lit not in ids:
                    ids[lit] = self._next
                    self._next += 1
                    self._automata.pop(source, None)
                    self.generation += 1
                self._held[(source, lit)] = self._held.get((source, lit), 0) + 1
                out.add(ids[lit])
            return frozenset(out)

    def release(self, source: str, lits: list[str]) -> None:
        with self._lock:
            for lit in dict.fromkeys(lits):
                left = self._held.get((source, lit), 0) - 1
                if left > 0:
                    self._held[(source, lit)] = left
                    continue
                self._held.pop((source, lit), None)
                self._ids.get(source, {}).pop(lit, None)
                self._automata.pop(source, None)
                self.generation += 1

    def count(self, source: str) -> int:
        """How many literals are held for a field (tests)."""
        return len(self._ids.get(source, {}))

    def found(self, source: str, values: tuple[str, ...]) -> set[int]:
        out: set[int] = set()
        if not values:
            return out
        with self._lock:
            if not self._ids.get(source):
                return out
            automaton = self._automata.get(source)
            if automaton is None:
                automaton = ahocorasick.Automaton()
                for lit, i in self._ids.get(source, {}).items():
                    automaton.add_word(lit, i)
                automaton.make_automaton()
                self._automata[source] = automaton
        for v in values:
            for _, i in automaton.iter(v):
                out.add(i)
        return out


LITERALS = Literals()


def _contains(source: str, lits: list[str]) -> Matcher:
    """A leaf (or an OR of leaves) holding when a value of the field's pattern sub-field contains one
    of ``lits`` (already normalized)."""
    ids = LITERALS.register(source, lits)
    match: Matcher
    if len(ids) == 1:
        [one] = ids
        match = lambda doc: one in doc.contained(source)  # noqa: E731
    else:
        match = lambda doc: not ids.isdisjoint(doc.contained(source))  # noqa: E731
    weakref.finalize(match, LITERALS.release, source, list(lits))
    return match


# --- leaves --------------------------------------------------------------------------------------

def _any_value(source: str, mode: str, test: Callable[[str], bool]) -> Matcher:
    """A leaf that holds when any value the field indexes (as ``mode`` reads it) passes ``test``."""
    def match(doc: Doc) -> bool:  # a loop: about twice as fast as any()/all() over a generator
        for v in doc.keywords(source, mode):  # noqa: SIM110
            if test(v):
                return True
        return False

    return match


def _pattern_leaf(fld: str, pattern: str) -> Matcher:
    normalized = java_lower(pattern.replace("\x00", "\ufffd"))
    lit = _contains_literal(normalized)
    if lit is not None:
        return _contains(_source_field(fld), [lit])
    return _any_value(_source_field(fld), "pattern", pattern_test(normalized))


def _keyword_pattern(fld: str, mode: str, raw: str) -> Matcher:
    """A wildcard the query string runs on the field itself (no pattern sub-field, or a pattern the
    sub-field cannot take): Lucene's wildcard over the indexed terms, the pattern through the field's
    normalizer (``analyze_wildcard``); on a number field it matches nothing (tried on the node)."""
    if mode == "long":
        return lambda doc: False
    if mode not in ("exact", "lower"):
        raise NotLocal(f"a wildcard on {fld}")
    return _any_value(_source_field(fld), mode, pattern_test(java_lower(raw) if mode == "lower" else raw))


_LUCENE_ONLY = re.compile(r"[~&<>@#]|\\[A-Za-z0-9]|\(\?|(?<!\[)\^|\$")


def _keyword_regex(fld: str, raw: str) -> Matcher:
    """A regular expression the query string runs on a keyword field, for the part of Lucene's syntax
    that Python's ``re`` reads the same way (whole value, ``.`` any code point): none of Lucene's own
    operators (``~ & < > @ #``), no class escapes, anchors or groups with ``(?``. On a lower-cased
    field only a regex without letters (whether the node lower-cases a regex is not relied on)."""
    mode = _field_mode(fld)
    if mode not in ("exact", "lower") or _LUCENE_ONLY.search(raw):
        raise NotLocal("a regular expression beyond the shared syntax")
    text = raw.replace("\\/", "/")
    if mode == "lower" and any(ch.lower() != ch.upper() for ch in text):
        raise NotLocal("a regular expression with letters on a lower-cased field")
    try:
        compiled = re.compile(text, re.S)
    except re.error:
        raise NotLocal("a regular expression Python does not read") from None
    return _any_value(_source_field(fld), mode, lambda v: compiled.fullmatch(v) is not None)


def _exists(fld: str) -> Matcher:
    mode = _field_mode(fld)
    source = _source_field(fld)
    if mode == "long":
        return lambda doc: bool(doc.numbers(source))
    if mode == "ip":
        return lambda doc: bool(doc.addresses(source))
    return lambda doc: bool(doc.keywords(source, mode))


_COMPARE = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__}


def _number_leaf(fld: str, text: str) -> Matcher:
    op = next((o for o in ("<=", ">=", "<", ">") if text.startswith(o)), None)
    try:
        bound = int(text[len(op):] if op else text)
    except ValueError:
        raise NotLocal(f"{fld}:{text} is not a whole number") from None
    if op:
        cmp = _COMPARE[op]
        return lambda doc: any(cmp(v, bound) for v in doc.numbers(fld))
    return lambda doc: bound in doc.numbers(fld)


def _ip_leaf(fld: str, text: str) -> Matcher:
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            return lambda doc: any(a.version == net.version and a in net for a in doc.addresses(fld))
        addr = _address(text)
    except ValueError:
        raise NotLocal(f"{fld}:{text} is not an address or a block") from None
    return lambda doc: addr in doc.addresses(fld)


def leaf(node: dsl.Leaf) -> Matcher:
    fld = node.field
    if fld == "_exists_":
        if node.kind != "term":
            raise NotLocal("_exists_ of a phrase or regex")
        return _exists(unescape(node.raw))
    if node.kind == "regex":
        if fld == dsl.RAW_LINE_FIELD:
            pattern = dsl.raw_line_pattern(node.raw)
            if pattern is not None:
                return _pattern_leaf(fld, pattern)
        if dsl._leaf(node) is not None:
            raise NotLocal("a regular expression on a pattern sub-field")
        return _keyword_regex(fld, node.raw)
    if node.kind == "term" and node.raw and set(node.raw) <= {"*"}:
        return _exists(fld)
    mode = _field_mode(fld)
    if node.kind == "term" and dsl._has_wildcard(node.raw):
        moved = dsl._leaf(node)
        if moved is not None and "wildcard" in moved:
            return _pattern_leaf(fld, str(next(iter(moved["wildcard"].values()))["value"]))
        return _keyword_pattern(fld, mode, node.raw)
    text = unescape(node.raw)
    if mode == "long":
        if node.kind != "term":
            raise NotLocal("a phrase on a number")
        return _number_leaf(fld, text)
    if mode == "ip":
        if node.kind != "term":
            raise NotLocal("a phrase on an address")
        return _ip_leaf(fld, text)
    source = _source_field(fld)
    if mode == "lower":
        want = java_lower(text)
        return lambda doc: want in doc.keywords(source, "lower")
    return lambda doc: text in doc.keywords(source, "exact")


# --- the tree ------------------------------------------------------------------------------------

def _contains_group(items: tuple[dsl.Tree, ...]) -> tuple[list[Matcher], list[dsl.Tree]]:
    """OR branches that are ``*literal*`` patterns on one field become one leaf per field (:class:`Literals`)."""
    by_field: dict[str, list[str]] = {}
    rest: list[dsl.Tree] = []
    for item in items:
        lit = None
        if isinstance(item, dsl.Leaf) and item.kind == "term" and item.field != "_exists_":
            moved = dsl._leaf(item) if dsl._has_wildcard(item.raw) else None
            if moved and "wildcard" in moved:
                lit = _contains_literal(str(next(iter(moved["wildcard"].values()))["value"]))
        elif isinstance(item, dsl.Leaf) and item.kind == "regex" and item.field == dsl.RAW_LINE_FIELD:
            pattern = dsl.raw_line_pattern(item.raw)
            lit = _contains_literal(pattern) if pattern else None
        if lit is None or not isinstance(item, dsl.Leaf):
            rest.append(item)
        else:
            by_field.setdefault(_source_field(item.field), []).append(java_lower(lit.replace("\x00", "\ufffd")))
    return [_contains(source, lits) for source, lits in by_field.items()], rest


def compile_tree(tree: dsl.Tree) -> Matcher:
    """A matcher for a parsed query; raises :class:`NotLocal` when any leaf is not reproduced here."""
    if isinstance(tree, dsl.Leaf):
        return leaf(tree)
    if tree.op == "not":
        inner = compile_tree(tree.items[0])
        return lambda doc: not inner(doc)
    if tree.op == "and":
        parts = [compile_tree(t) for t in tree.items]
        return _all(parts)
    grouped, rest = _contains_group(tree.items)
    parts = grouped + [compile_tree(t) for t in rest]
    if len(parts) == 1:
        return parts[0]
    return _any(parts)


def _all(parts: list[Matcher]) -> Matcher:
    return _first_decides(parts, False)


def _any(parts: list[Matcher]) -> Matcher:
    return _first_decides(parts, True)


def _first_decides(parts: list[Matcher], decisive: bool) -> Matcher:
    """AND (``decisive`` False: the first part that fails decides) or OR (True: the first that holds)."""
    if len(parts) == 2:
        first, second = parts
        if decisive:
            return lambda doc: first(doc) or second(doc)
        return lambda doc: first(doc) and second(doc)

    def match(doc: Doc) -> bool:  # a loop: about twice as fast as any()/all() over a generator
        for p in parts:
            if bool(p(doc)) is decisive:
                return decisive
        return not decisive

    return match


def matcher(query: str) -> Matcher | None:
    """The local matcher of a backend query string, or None when the rule must run on the node."""
    try:
        return compile_tree(dsl.parse(query))
    except (NotLocal, dsl.Untranslatable):
        return None


# --- what aggregations read: doc values ---------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def doc_values(doc: Doc, fld: str) -> list[Any]:
    """A field's values as a terms or composite aggregation returns them (the lower-cased form of a
    ``ci_keyword``, numbers as integers, addresses in canonical text), distinct; raises
    :class:`NotLocal` for field types not reproduced here."""
    kind = ecs.FIELDS.get(fld)
    if kind == "keyword":
        values: list[Any] = list(doc.keywords(fld, "exact"))
    elif kind == "ci_keyword":
        values = list(doc.keywords(fld, "lower"))
    elif kind == "long":
        values = list(doc.numbers(fld))
    elif kind == "ip":
        values = [str(a) for a in doc.addresses(fld)]
    else:
        raise NotLocal(f"field {fld} ({kind}) is not aggregated here")
    return list(dict.fromkeys(values))


def epoch_ms(doc: Doc, fld: str = "@timestamp") -> int | None:
    """The first value of a date field in epoch milliseconds (ISO text or epoch_millis), or None."""
    for v in doc.get(fld):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return int(v)
        try:
            when = datetime.fromisoformat(str(v))
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (when - _EPOCH) // timedelta(milliseconds=1)
    return None
