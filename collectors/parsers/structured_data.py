"""RFC 5424 STRUCTURED-DATA: ``[id key="value" ...][id2 ...]`` -> ``{id: {key: value}}``.

Values keep their text with the three RFC escapes (``\\"``, ``\\\\``, ``\\]``) undone. The result is
stored as one ``flat_object`` field (``log.syslog.structured_data``), so names never become
mapping fields of their own.
"""

from __future__ import annotations

import re

_ELEMENT_ID = re.compile(r"\[([^\s\]=\"]{1,64})")
_PARAM = re.compile(r" ([^\s\]=\"]{1,64})=\"((?:[^\"\\]|\\.)*)\"", re.DOTALL)
_ESCAPE = re.compile(r"\\([\"\\\]])")


def parse(text: str, start: int) -> tuple[dict[str, dict[str, str]], int] | None:
    """Read the SD elements at ``text[start:]``; returns them and the index just past them, or None."""
    elements: dict[str, dict[str, str]] = {}
    pos = start
    length = len(text)
    while pos < length and text[pos] == "[":
        head = _ELEMENT_ID.match(text, pos)
        if head is None:
            return None
        params: dict[str, str] = {}
        pos = head.end()
        while True:
            param = _PARAM.match(text, pos)
            if param is None:
                break
            value = param.group(2)
            params[param.group(1)] = _ESCAPE.sub(r"\1", value) if "\\" in value else value
            pos = param.end()
        if pos >= length or text[pos] != "]":
            return None
        pos += 1
        name = head.group(1)
        if name in elements:  # a repeated id (not allowed, but seen): keep both
            elements[name].update(params)
        else:
            elements[name] = params
    if pos == start:
        return None
    return elements, pos
