"""The search language: a small Lucene-like syntax on ECS field names, parsed into OpenSearch DSL.

Grammar (recursive descent; ``AND`` binds tighter than ``OR``; terms side by side are ANDed)::

    query   := or
    or      := and ("OR" and)*
    and     := not (["AND"] not)*
    not     := "NOT" not | primary
    primary := "(" or ")" | FIELD ":" value | FIELD ":" "(" values ")" | FIELD ":" range
             | FIELD ":" CMP bound | WORD | PHRASE
    values  := value (["OR"] value)*
    range   := ("[" | "{") bound "TO" bound ("]" | "}")
    CMP     := ">=" | ">" | "<=" | "<"

A bare word or phrase is free text, looked for anywhere in the raw line (``event.original``). The
result never passes through ``query_string``: every condition is built as DSL by ``soc.hunt.terms``.
Costs are bounded: the query's length, its nesting, its conditions and its patterns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from soc.errors import BadQuery
from soc.hunt import terms
from soc.hunt.lexer import Token, tokenize

MAX_LENGTH = 4000
MAX_DEPTH = 20
MAX_CLAUSES = 100
MAX_PATTERNS = 8


@dataclass
class _Budget:
    clauses: int = 0
    patterns: int = 0
    fields: list[str] = field(default_factory=list)


def parse(text: str) -> dict[str, Any]:
    """The DSL for a query (``match_all`` for an empty one); BadQuery with a position otherwise."""
    return Parser(text).run()


def fields_of(text: str) -> list[str]:
    """The fields a query names, in order (for highlighting and the console's sidebar)."""
    parser = Parser(text)
    parser.run()
    return list(dict.fromkeys(parser.budget.fields))


class Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise BadQuery(f"a query may have at most {MAX_LENGTH} characters", MAX_LENGTH)
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.budget = _Budget()

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise BadQuery(f"expected {what}, found {_describe(self.tok)}", self.tok.pos)
        return self.advance()

    def run(self) -> dict[str, Any]:
        if self.tok.kind == "EOF":
            return {"match_all": {}}
        tree = self.parse_or()
        if self.tok.kind != "EOF":
            raise BadQuery(f"unexpected {_describe(self.tok)}", self.tok.pos)
        return _resolve(tree)

    # boolean structure ---------------------------------------------------------------------------
    def parse_or(self) -> dict[str, Any]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BadQuery(f"a query may nest at most {MAX_DEPTH} levels", self.tok.pos)
        items = [self.parse_and()]
        while self.tok.kind == "OR":
            self.advance()
            items.append(self.parse_and())
        self.depth -= 1
        if len(items) == 1:
            return items[0]
        return {"bool": {"should": [_resolve(q) for q in items], "minimum_should_match": 1}}

    def parse_and(self) -> dict[str, Any]:
        items = [self.parse_not()]
        while self.tok.kind not in ("EOF", "OR", ")"):
            if self.tok.kind == "AND":
                self.advance()
            items.append(self.parse_not())
        if len(items) == 1:
            return items[0]
        must, must_not = [q for q in items if "_not" not in q], [q["_not"] for q in items if "_not" in q]
        return {"bool": {"filter": must, "must_not": must_not} if must_not else {"filter": must}}

    def parse_not(self) -> dict[str, Any]:
        if self.tok.kind == "NOT":
            pos = self.advance().pos
            if self.tok.kind in ("EOF", ")", "OR", "AND"):
                raise BadQuery("NOT needs a condition after it", pos)
            inner = self.parse_not()
            # a double negation cancels; a single one is folded into the enclosing AND
            folded: dict[str, Any] = inner.get("_not", {"_not": inner})
            return folded
        return self.parse_primary()

    def parse_primary(self) -> dict[str, Any]:
        tok = self.tok
        if tok.kind == "(":
            self.advance()
            inner = self.parse_or()
            self.expect(")", "')' to close the '(' at position " + str(tok.pos))
            return _resolve(inner)
        if tok.kind in ("WORD", "PHRASE"):
            self.advance()
            if tok.kind == "WORD" and self.tok.kind == "COLON":
                return self.field_expr(tok)
            return self.leaf(lambda: terms.raw_line(tok), tok)
        if tok.kind == "COLON":
            raise BadQuery("a field name is missing before ':'", tok.pos)
        raise BadQuery(f"expected a condition, found {_describe(tok)}", tok.pos)

    # conditions ----------------------------------------------------------------------------------
    def leaf(self, build: Any, tok: Token) -> dict[str, Any]:
        self.budget.clauses += 1
        if self.budget.clauses > MAX_CLAUSES:
            raise BadQuery(f"a query may have at most {MAX_CLAUSES} conditions", tok.pos)
        q: dict[str, Any] = build()
        if "wildcard" in q:
            self.budget.patterns += 1
            if self.budget.patterns > MAX_PATTERNS:
                raise BadQuery(f"a query may have at most {MAX_PATTERNS} patterns (wildcards or free text)", tok.pos)
        return q

    def field_expr(self, name_tok: Token) -> dict[str, Any]:
        name = name_tok.text
        terms.field_kind(name, name_tok.pos)
        if name_tok.wild:
            raise BadQuery("a field name cannot hold wildcards", name_tok.pos)
        self.budget.fields.append(name)
        self.advance()  # the colon
        tok = self.tok
        if tok.kind in ("WORD", "PHRASE"):
            self.advance()
            return self.leaf(lambda: terms.match(name, tok), tok)
        if tok.kind == "CMP":
            self.advance()
            bound = self.expect_value("a value after " + tok.text)
            low, high = (bound, None) if tok.text.startswith(">") else (None, bound)
            return self.leaf(lambda: terms.span(name, name_tok.pos, low, high, tok.text == ">=",
                                                tok.text == "<="), tok)
        if tok.kind in ("[", "{"):
            return self.range_expr(name, name_tok)
        if tok.kind == "(":
            return self.value_group(name)
        raise BadQuery(f"expected a value for {name}, found {_describe(tok)}", tok.pos)

    def expect_value(self, what: str) -> Token:
        if self.tok.kind not in ("WORD", "PHRASE"):
            raise BadQuery(f"expected {what}, found {_describe(self.tok)}", self.tok.pos)
        return self.advance()

    def range_expr(self, name: str, name_tok: Token) -> dict[str, Any]:
        opening = self.advance()
        low = self.expect_value("the range's lower bound (or *)")
        self.expect("TO", "TO between the range's bounds")
        high = self.expect_value("the range's upper bound (or *)")
        if self.tok.kind not in ("]", "}"):
            raise BadQuery(f"expected ']' or '}}' to close the range, found {_describe(self.tok)}", self.tok.pos)
        closing = self.advance()
        return self.leaf(lambda: terms.span(name, name_tok.pos, low, high, opening.kind == "[",
                                            closing.kind == "]"), opening)

    def value_group(self, name: str) -> dict[str, Any]:
        self.advance()
        items = [self.value_leaf(name)]
        while self.tok.kind != ")":
            if self.tok.kind == "OR":
                self.advance()
            items.append(self.value_leaf(name))
        self.advance()
        return items[0] if len(items) == 1 else {"bool": {"should": items, "minimum_should_match": 1}}

    def value_leaf(self, name: str) -> dict[str, Any]:
        tok = self.expect_value(f"a value of {name} (values in parentheses are separated by OR)")
        return self.leaf(lambda: terms.match(name, tok), tok)


def _resolve(q: dict[str, Any]) -> dict[str, Any]:
    """A lone negation that reached a boundary (a parenthesis, an OR branch, the top) as a bool query."""
    return {"bool": {"must_not": [q["_not"]]}} if "_not" in q else q


def _describe(tok: Token) -> str:
    if tok.kind == "EOF":
        return "the end of the query"
    if tok.kind in ("WORD", "PHRASE"):
        return repr(tok.text)
    return repr(tok.text or tok.kind)
