"""Request lines and URLs: split them into ECS ``url.*`` fields and decode copies for detection.

``url.original``, ``url.path`` and ``url.query`` keep what the client sent. ``url.decoded.*``
hold the same text percent-decoded repeatedly (up to :data:`ROUNDS` times, for ``%252e``-style
double encoding), with ``+`` read as a space in the query, IIS ``%uXXXX`` escapes read, and
overlong UTF-8 forms (``%c0%af``) read as the ASCII character they spell, the way vulnerable
servers did. Bytes that are still not UTF-8 become ``\\xNN``. Decoding never raises.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

ROUNDS = 3
_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_IIS_UNICODE = re.compile(r"%[uU]([0-9A-Fa-f]{4})")
_OVERLONG = re.compile(rb"[\xc0\xc1][\x80-\xbf]|\xe0[\x80-\x9f][\x80-\xbf]")
_METHOD = re.compile(r"[A-Za-z][A-Za-z_-]{0,31}")
_VERSION = re.compile(r"HTTP/(\d(?:\.\d)?)")
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def request_line(line: str) -> tuple[str | None, str | None, str | None]:
    """``GET /a?b HTTP/1.1`` -> (method, target, version). Targets may hold spaces (then nginx said 400)."""
    if not line or line == "-":
        return None, None, None
    method, _, rest = line.partition(" ")
    rest = rest.lstrip(" ")
    if not _METHOD.fullmatch(method):
        return None, None, None
    version = None
    head, space, last = rest.rpartition(" ")
    if space:
        found = _VERSION.fullmatch(last)
        if found is not None:
            version = found.group(1)
            rest = head.rstrip(" ")  # nginx accepts several spaces before the version
    return method, (rest or None), version


def fields(target: str, domain: str | None) -> dict[str, Any]:
    """The ``url`` object for a request target (origin form ``/p?q`` or absolute ``http://h/p?q``)."""
    url: dict[str, Any] = {"original": target}
    path = target
    if target.startswith(("http://", "https://")):
        scheme_end = target.index("//") + 2
        slash = target.find("/", scheme_end)
        authority = target[scheme_end:] if slash < 0 else target[scheme_end:slash]
        path = "/" if slash < 0 else target[slash:]
        host = authority.rpartition("@")[2]
        host = host[: host.find("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
        if host:
            domain = host
    path, question, query = path.partition("?")
    url["path"] = path
    if question:
        url["query"] = query
    if domain:
        url["domain"] = domain
    extension = _EXTENSION.search(path.rsplit("/", 1)[-1]) if "." in path else None
    if extension is not None:
        url["extension"] = extension.group(1).lower()
    if "%" in target or "+" in query:
        decoded_path = decode(path)
        decoded: dict[str, str] = {"path": decoded_path}
        if question:
            decoded_query = decode(query, plus=True)
            decoded["query"] = decoded_query
            decoded["original"] = f"{decode(target[: len(target) - len(query) - 1])}?{decoded_query}"
        else:
            decoded["original"] = decode(target)
        url["decoded"] = decoded
    else:
        decoded_copy = {"original": target, "path": path}
        if question:
            decoded_copy["query"] = query
        url["decoded"] = decoded_copy
    return url


def decode(value: str, plus: bool = False) -> str:
    """Percent-decode ``value`` until it stops changing (at most :data:`ROUNDS` rounds)."""
    if len(value) > _CACHED_LENGTH:  # long values are rare and would crowd the cache
        return _decode(value, plus)
    return _cached(value, plus)


_CACHED_LENGTH = 512


@lru_cache(maxsize=8192)
def _cached(value: str, plus: bool) -> str:
    return _decode(value, plus)


def _decode(value: str, plus: bool) -> str:
    text = value.replace("+", " ") if plus else value
    for _ in range(ROUNDS):
        if "%" not in text:
            break
        decoded = _once(text)
        if decoded == text:
            break
        text = decoded
    return text


def _once(text: str) -> str:
    if "%u" in text or "%U" in text:
        text = _IIS_UNICODE.sub(_iis_char, text)
    return _PERCENT_RUN.sub(_run, text)


def _iis_char(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    if 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return chr(code)


def _run(match: re.Match[str]) -> str:
    raw = bytes.fromhex(match.group(0).replace("%", ""))
    if raw.isascii():
        return raw.decode("ascii")
    raw = _OVERLONG.sub(_overlong, raw)
    return raw.decode("utf-8", "backslashreplace")


def _overlong(match: re.Match[bytes]) -> bytes:
    seq = match.group(0)
    if len(seq) == 2:
        return chr(((seq[0] & 0x1F) << 6) | (seq[1] & 0x3F)).encode("utf-8")
    return chr(((seq[0] & 0x0F) << 12) | ((seq[1] & 0x3F) << 6) | (seq[2] & 0x3F)).encode("utf-8")
