"""Tokens of the search language, each with the position (0-based character offset) it starts at.

Words keep which of their characters were escaped, so ``\\*`` is a literal star and ``*`` a wildcard;
phrases (``"..."``) are literal throughout. A ``/`` that starts a term would open a regular
expression, which the language refuses. After ``:`` (a value) and inside a range a word may hold colons, so that
``source.ip:2001:db8::1`` and ``url.original:http://x/y`` need no quotes.
"""

from __future__ import annotations

from dataclasses import dataclass

from soc.errors import BadQuery

KEYWORDS = ("AND", "OR", "NOT", "TO")
PUNCT = "()[]{}"
COMPARISONS = (">=", "<=", ">", "<")
_STOP = set(' \t\r\n():"[]{}')


@dataclass(frozen=True)
class Token:
    kind: str  # WORD, PHRASE, AND, OR, NOT, TO, COLON, CMP, one of PUNCT, EOF
    pos: int
    text: str = ""  # the literal value (escapes resolved)
    pattern: str = ""  # WORD: the value as a wildcard pattern (literal * ? \\ escaped)
    wild: bool = False  # WORD: holds an unescaped * or ?


def _control(ch: str) -> bool:
    return ord(ch) < 32 and ch not in "\t\r\n"


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if _control(ch):
            raise BadQuery("control characters are not allowed in a query", i)
        if ch in " \t\r\n":
            i += 1
        elif ch in PUNCT:
            out.append(Token(ch, i, ch))
            i += 1
        elif ch == ":":
            out.append(Token("COLON", i, ch))
            i += 1
        elif ch == '"':
            i = _phrase(text, i, out)
        elif out and out[-1].kind == "COLON" and text.startswith(COMPARISONS, i):
            op = next(c for c in COMPARISONS if text.startswith(c, i))
            out.append(Token("CMP", i, op))
            i += len(op)
        elif ch == "/" and not (out and out[-1].kind in ("COLON", "CMP")):
            raise BadQuery("regular expressions (/.../) are not supported; quote a path (\"/etc/passwd\") "
                           "or use the wildcards * and ?", i)
        else:
            i = _word(text, i, out)
    out.append(Token("EOF", n))
    return out


def _phrase(text: str, start: int, out: list[Token]) -> int:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if _control(ch):
            raise BadQuery("control characters are not allowed in a query", i)
        if ch == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
        elif ch == '"':
            value = "".join(chars)
            out.append(Token("PHRASE", start, value, escape_pattern(value)))
            return i + 1
        else:
            chars.append(ch)
            i += 1
    raise BadQuery("a quoted phrase is not closed", start)


def _word(text: str, start: int, out: list[Token]) -> int:
    value_position = bool(out) and out[-1].kind in ("COLON", "CMP", "[", "{", "TO")
    stop = _STOP - ({":"} if value_position else set())
    chars: list[str] = []
    pattern: list[str] = []
    wild = False
    i = start
    while i < len(text) and text[i] not in stop:
        ch = text[i]
        if _control(ch):
            raise BadQuery("control characters are not allowed in a query", i)
        if ch == "\\":
            if i + 1 >= len(text):
                raise BadQuery("a backslash at the end escapes nothing", i)
            lit = text[i + 1]
            chars.append(lit)
            pattern.append(escape_pattern(lit))
            i += 2
            continue
        if ch in "*?":
            wild = True
        chars.append(ch)
        pattern.append(ch)
        i += 1
    value = "".join(chars)
    plain = "".join(pattern) == value and not wild
    if plain and value in KEYWORDS:
        out.append(Token(value, start, value))
    else:
        out.append(Token("WORD", start, value, "".join(pattern), wild))
    return i


def escape_pattern(literal: str) -> str:
    """A literal as a wildcard pattern that matches exactly it."""
    return "".join("\\" + c if c in "*?\\" else c for c in literal)
