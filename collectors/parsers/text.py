"""Raw bytes to text, safely: the one place a record's bytes become a ``str``.

Whatever the bytes hold, :func:`decode` returns text and loses nothing a reader could want back:
invalid UTF-8 bytes and NULs become visible ``\\xNN`` escapes, a leading byte-order mark and the
line terminator (the framing, not the record) are dropped.
"""

from __future__ import annotations

import re

BOM = "\ufeff"
_BOM_BYTES = b"\xef\xbb\xbf"

# nginx and Apache write `"`, `\` and non-printable bytes of a logged value as \xNN; Apache
# also writes \" and \\ (and \n, \t).
_LOG_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})|\\([\"\\nrt])")
_SIMPLE = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def decode(raw: bytes) -> str:
    """The record as text: UTF-8, bad bytes and NULs escaped as ``\\xNN``, no BOM, no line end."""
    if raw.endswith(b"\n"):
        raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if raw.startswith(_BOM_BYTES):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text


def json_text(raw: bytes) -> str:
    """Text for a JSON decoder: like :func:`decode`, but bad bytes become U+FFFD (``\\x`` is not JSON)."""
    if raw.endswith(b"\n"):
        raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if raw.startswith(_BOM_BYTES):
        raw = raw[3:]
    return raw.decode("utf-8", "replace")


def unescape_log(value: str) -> str:
    """Undo the web servers' access-log escaping (``\\x22`` -> ``"``), re-reading escaped bytes as UTF-8."""
    if "\\" not in value:
        return value
    out = bytearray()
    pos = 0
    for match in _LOG_ESCAPE.finditer(value):
        out += value[pos : match.start()].encode("utf-8", "surrogatepass")
        hexbyte = match.group(1)
        if hexbyte is not None:
            out.append(int(hexbyte, 16))
        else:
            out += _SIMPLE[match.group(2)].encode()
        pos = match.end()
    out += value[pos:].encode("utf-8", "surrogatepass")
    text = out.decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00") if "\x00" in text else text
