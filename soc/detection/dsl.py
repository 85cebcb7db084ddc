"""The backend's Lucene query string → OpenSearch query DSL that puts patterns on the wildcard sub-fields.

Why: a leading wildcard or a regular expression on a ``keyword`` field is answered by walking the
field's whole term dictionary (every distinct URL or raw line in the backing index), whatever the
ingest-time window, so a rule's cost grew with the index. The same pattern on a ``wildcard``-type
sub-field (``soc.ecs.PATTERN_FIELDS``) is answered from trigrams and verified only on candidate
documents inside the window. ``query_string`` cannot search those sub-fields (infix patterns find
nothing there), so the query string pySigma prints is parsed here and rebuilt as DSL.

Exactness: only the pattern leaves change field; everything else (terms, phrases, CIDR, numbers,
``_exists_``) stays a ``query_string`` of its own fully parenthesized Lucene text, so OpenSearch
parses it as before. A pattern on a lower-cased field stays lower-cased on its sub-field (same
normalizer). The case-insensitive keyword regexes of raw-line searches (``[aA][bB]`` spelled by the
pipeline) are recognized and become lower-cased wildcards on ``event.original.wildcard``; any other
regex on the raw line keeps its case-sensitive field. A query whose meaning under Lucene's parser
could differ from boolean logic (``AND`` and ``OR`` mixed without parentheses, ``OR NOT``, implicit
operators) is refused with :class:`Untranslatable`, and the caller keeps the plain ``query_string``.
Tests compare the hits of both forms for every rule on the real node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from soc import ecs

RAW_LINE_FIELD = "event.original.keyword"
RAW_LINE_PATTERN_FIELD = f"event.original.{ecs.PATTERN_SUBFIELD}"
_STOP = set(" \t\r\n()")
_REGEX_OPERATORS = set('.?+*|{}[]()"#@&<>~^$')
_WILDCARDS = re.compile(r"(?<!\\)[*?.]")  # a regex's literal runs are cut at its operators too
MAX_CLAUSES = 900  # below OpenSearch's indices.query.bool.max_clause_count (1024)


class Untranslatable(ValueError):
    """The query uses syntax whose Lucene meaning this translator does not reproduce exactly."""


@dataclass(frozen=True)
class Leaf:
    field: str
    kind: str  # term, regex, phrase
    raw: str  # as written in the query, escapes kept


@dataclass(frozen=True)
class Node:
    op: str  # and, or, not
    items: tuple[Leaf | Node, ...]


Tree = Leaf | Node


def _tokens(query: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append((ch, ch))
            i += 1
        elif ch in '/"':
            j = i + 1
            while j < n and query[j] != ch:
                j += 2 if query[j] == "\\" else 1
            if j >= n:
                raise Untranslatable(f"unterminated {ch} at {i}")
            out.append(("regex" if ch == "/" else "phrase", query[i + 1:j]))
            i = j + 1
        else:
            j = i
            while j < n and query[j] not in _STOP and query[j] != ":":
                j += 2 if query[j] == "\\" else 1
            word = query[i:j]
            if j < n and query[j] == ":":
                out.append(("field", word))
                j += 1
            elif word in ("AND", "OR", "NOT"):
                out.append((word, word))
            else:
                out.append(("term", word))
            i = j
    return out


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _tokens(query)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise Untranslatable("unexpected end of query")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def parse(self) -> Tree:
        tree, _ = self.any_of(None)
        if self.peek() is not None:
            raise Untranslatable(f"unexpected {self.tokens[self.pos][1]!r} (implicit operator)")
        return tree

    def any_of(self, field: str | None) -> tuple[Tree, bool]:
        """An OR chain; the flag says it is a bare chain (not parenthesized) of several operands."""
        items = [self.all_of(field)]
        while self.peek() == "OR":
            self.take()
            items.append(self.all_of(field))
        if len(items) > 1 and any(bare for _, bare in items):
            raise Untranslatable("AND/NOT and OR mixed without parentheses")
        if len(items) == 1:
            return items[0][0], False
        return Node("or", tuple(t for t, _ in items)), True

    def all_of(self, field: str | None) -> tuple[Tree, bool]:
        items = [self.negation(field)]
        while self.peek() == "AND":
            self.take()
            items.append(self.negation(field))
        if len(items) == 1:
            tree, negated = items[0]
            return tree, negated  # a bare NOT may not be an operand of OR (Lucene reads it as AND NOT)
        return Node("and", tuple(t for t, _ in items)), True

    def negation(self, field: str | None) -> tuple[Tree, bool]:
        if self.peek() == "NOT":
            self.take()
            inner, _ = self.negation(field)
            return Node("not", (inner,)), True
        return self.primary(field), False

    def primary(self, field: str | None) -> Tree:
        kind, text = self.take()
        if kind == "(":
            tree, _ = self.any_of(field)
            if self.take()[0] != ")":
                raise Untranslatable("unbalanced parentheses")
            return tree
        if kind == "field":
            if field is not None:
                raise Untranslatable("field inside a field group")
            return self.primary(text)
        if kind in ("term", "regex", "phrase") and field is not None:
            return Leaf(field, kind, text)
        raise Untranslatable(f"unexpected {text!r}")


def parse(query: str) -> Tree:
    return _Parser(query).parse()


def render(tree: Tree) -> str:
    """Lucene text of a tree, every group parenthesized."""
    if isinstance(tree, Leaf):
        value = {"regex": f"/{tree.raw}/", "phrase": f'"{tree.raw}"'}.get(tree.kind, tree.raw)
        return f"{tree.field}:{value}"
    if tree.op == "not":
        return f"NOT {render(tree.items[0])}"
    joined = f" {tree.op.upper()} ".join(render(t) for t in tree.items)
    return f"({joined})"


def _has_wildcard(raw: str) -> bool:
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
            continue
        if raw[i] in "*?":
            return True
        i += 1
    return False


def wildcard_pattern(raw: str) -> str | None:
    """A query-string term's pattern for a ``wildcard`` query: escapes kept only where the wildcard
    syntax needs them (the field's trigram extraction would take any other backslash literally).
    None when a literal backslash comes right before a wildcard (the extraction misreads that)."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            ch = raw[i + 1]
            out.append("\\" + ch if ch in "*?\\" else ch)
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return _checked("".join(out))


def _checked(pattern: str) -> str | None:
    if "\\\\*" in pattern or "\\\\?" in pattern:
        return None
    return pattern


def raw_line_pattern(regex: str) -> str | None:
    """The lower-cased wildcard pattern a pipeline-spelled raw-line regex stands for (``.*[jJ][nN]\\:.*``
    → ``*jn:*``), or None when the regex is anything else (a real ``|re``, a case-sensitive letter)."""
    out: list[str] = []
    i, n = 0, len(regex)
    while i < n:
        ch = regex[i]
        if regex.startswith(".*", i):
            out.append("*")
            i += 2
        elif ch == ".":
            out.append("?")
            i += 1
        elif ch == "[":
            pair = regex[i + 1:i + 3]
            if (i + 3 < n and regex[i + 3] == "]" and len(pair) == 2 and pair.isascii() and pair.isalpha()
                    and pair[0].lower() == pair[1].lower() and pair[0] != pair[1]):
                out.append(pair[0].lower())
                i += 4
            else:
                return None
        elif ch == "\\":
            if i + 1 >= n or regex[i + 1].isalnum():
                return None  # \d, \w ... are classes, not literals
            lit = regex[i + 1]
            out.append("\\" + lit if lit in "*?\\" else lit)
            i += 2
        elif ch in _REGEX_OPERATORS or ch.lower() != ch.upper():
            return None  # an operator, or a letter matched with its case
        else:
            out.append(ch)
            i += 1
    return _checked("".join(out)) if out else None


def _leaf(leaf: Leaf) -> dict[str, Any] | None:
    """The DSL for a pattern leaf moved to a wildcard sub-field, or None when it stays as it is."""
    if leaf.kind == "regex":
        if leaf.field == RAW_LINE_FIELD:
            pattern = raw_line_pattern(leaf.raw)
            return {"wildcard": {RAW_LINE_PATTERN_FIELD: {"value": pattern}}} if pattern else None
        target = ecs.pattern_field(leaf.field)
        return {"regexp": {target: {"value": leaf.raw, "flags": "ALL"}}} if target else None
    if leaf.kind != "term" or not _has_wildcard(leaf.raw) or set(leaf.raw) <= {"*"}:
        return None
    target = ecs.pattern_field(leaf.field)
    pattern = wildcard_pattern(leaf.raw) if target else None
    return {"wildcard": {target: {"value": pattern}}} if target and pattern else None


def _moves(tree: Tree) -> bool:
    if isinstance(tree, Leaf):
        return _leaf(tree) is not None
    return any(_moves(t) for t in tree.items)


def _query_string(tree: Tree) -> dict[str, Any]:
    return {"query_string": {"query": render(tree), "analyze_wildcard": True}}


def to_dsl(tree: Tree) -> dict[str, Any]:
    if not _moves(tree):
        return _query_string(tree)
    if isinstance(tree, Leaf):
        moved = _leaf(tree)
        assert moved is not None
        return moved
    parts = [to_dsl(t) for t in tree.items]
    if tree.op == "not":
        return {"bool": {"must_not": parts}}
    if tree.op == "and":
        return {"bool": {"filter": parts}}
    return {"bool": {"should": parts, "minimum_should_match": 1}}


def _trigrams(pattern: str) -> set[str]:
    """The distinct trigrams (and anchored pairs) a wildcard field looks up for a pattern, at most."""
    runs = [run.replace("\\", "") for run in _WILDCARDS.split(pattern)]
    grams = {run[i:i + 3] for run in runs for i in range(max(1, len(run) - 2)) if run}
    return grams | {"^" + runs[0][:2], runs[-1][-2:] + "$"}


def clauses(tree: Tree) -> int:
    """An upper bound of the Lucene clauses the DSL expands to: a pattern on a wildcard field becomes
    one term clause per trigram of its literal text (OpenSearch refuses more than 1024 in all)."""
    if isinstance(tree, Leaf):
        moved = _leaf(tree)
        if moved is None:
            return 1
        spec = next(iter(next(iter(moved.values())).values()))
        return 1 + len(_trigrams(str(spec["value"])))
    return 1 + sum(clauses(t) for t in tree.items)


def translate(query: str) -> dict[str, Any]:
    """DSL for a Lucene query string of the backend; raises :class:`Untranslatable`."""
    tree = parse(query)
    if clauses(tree) > MAX_CLAUSES:
        raise Untranslatable(f"its patterns expand to more than {MAX_CLAUSES} trigram clauses")
    return to_dsl(tree)


def _flat_or(tree: Tree) -> list[Tree]:
    if isinstance(tree, Node) and tree.op == "or":
        return [leaf for item in tree.items for leaf in _flat_or(item)]
    return [tree]


def split(tree: Tree, budget: int = MAX_CLAUSES) -> list[Tree]:
    """Trees of at most ``budget`` clauses each whose union matches what ``tree`` matches.

    An OR is cut into groups of its (flattened) branches; an AND keeps its other operands in every
    part and cuts its largest operand (``a AND (b OR c)`` is ``(a AND b) OR (a AND c)``). A NOT, or an
    operand that cannot be cut below the budget, raises :class:`Untranslatable`.
    """
    if clauses(tree) <= budget:
        return [tree]
    if isinstance(tree, Leaf) or tree.op == "not":
        raise Untranslatable(f"a single pattern or negation expands to more than {budget} trigram clauses")
    if tree.op == "and":
        big = max(range(len(tree.items)), key=lambda i: clauses(tree.items[i]))
        others = tree.items[:big] + tree.items[big + 1:]
        room = budget - 1 - sum(clauses(t) for t in others)
        if room < 2:
            raise Untranslatable(f"the fixed operands of an AND leave no room under {budget} clauses")
        return [Node("and", (*others, part)) for part in split(tree.items[big], room)]
    groups: list[list[Tree]] = [[]]
    for branch in _flat_or(tree):
        for piece in split(branch, budget - 1):
            if groups[-1] and 1 + sum(clauses(t) for t in groups[-1]) + clauses(piece) > budget:
                groups.append([])
            groups[-1].append(piece)
    return [g[0] if len(g) == 1 else Node("or", tuple(g)) for g in groups]


def translate_parts(query: str) -> list[dict[str, Any]]:
    """DSL queries whose union is the query string: one when it fits under OpenSearch's clause limit,
    several otherwise (each run as its own search, hits merged by document)."""
    return [to_dsl(t) for t in split(parse(query))]


Requirement = tuple[str, frozenset[str]]  # a keyword field, and values of which a match has one


def required_terms(tree: Tree) -> tuple[Requirement, ...]:
    """What every match must carry: for each exact-term condition on a keyword field that the
    query ANDs in (``process.name:vsftpd``, ``http.request.method:(POST OR PUT)``), the field and its
    values, lower-cased. A window without any of those values cannot match, whatever the rest says."""
    if isinstance(tree, Leaf):
        one = _exact_term(tree)
        return (one,) if one else ()
    if tree.op == "and":
        return tuple(r for item in tree.items for r in required_terms(item))
    if tree.op == "or":
        terms = [_exact_term(t) if isinstance(t, Leaf) else None for t in tree.items]
        found = [t for t in terms if t is not None]
        if found and len(found) == len(terms) and len({f for f, _ in found}) == 1:
            return ((found[0][0], frozenset(v for _, values in found for v in values)),)
    return ()


def _exact_term(leaf: Leaf) -> Requirement | None:
    if leaf.kind != "term" or ecs.FIELDS.get(leaf.field) not in ("keyword", "ci_keyword") or _has_wildcard(leaf.raw):
        return None
    return leaf.field, frozenset({re.sub(r"\\(.)", r"\1", leaf.raw).lower()})
