"""Cuts a file's bytes into lines with their offsets, holding an unterminated last line.

``feed`` takes the next bytes of the file and returns the complete lines in them, each with the
offset where it starts and the offset just past its newline. A line without its newline yet is
held (at most ``max_bytes`` of it) until the newline comes, or until the caller flushes it (a
timeout, or the end of a file that will not grow). A line longer than ``max_bytes`` is cut to
that many bytes and flagged; the rest of it is skipped without being kept. A trailing CR is
removed; empty lines are skipped (they still advance the offsets).
"""

from __future__ import annotations

from typing import NamedTuple


class Line(NamedTuple):
    start: int  # offset of the line's first byte
    end: int  # offset just past its newline (where reading resumes)
    raw: bytes
    cut: bool  # longer than max_bytes: truncated


def _clean(raw: bytes) -> bytes:
    return raw[:-1] if raw.endswith(b"\r") else raw


class Splitter:
    def __init__(self, offset: int, max_bytes: int) -> None:
        self.start = offset  # where the held (unterminated) line begins
        self.held = bytearray()  # its first bytes, at most max_bytes
        self.seen = 0  # how many bytes of it were fed (more than len(held) when it is too long)
        self.max = max_bytes

    @property
    def end(self) -> int:
        """The offset just past every byte fed so far."""
        return self.start + self.seen

    @property
    def pending(self) -> bool:
        return self.seen > 0

    def _hold(self, data: bytes | memoryview) -> None:
        room = self.max + 1 - len(self.held)  # one byte more than allowed tells "too long"
        if room > 0:
            self.held += data[:room]
        self.seen += len(data)

    def feed(self, data: bytes) -> list[Line]:
        out: list[Line] = []
        first = data.find(b"\n")
        if first < 0:
            self._hold(data)
            return out
        pos = 0
        if self.seen:
            self._hold(data[:first])
            out.extend(self._take(self.start + self.seen + 1))
            pos = first + 1
        base = self.start + self.seen
        parts = data[pos:].split(b"\n")
        tail = parts.pop()
        offset = base
        limit = self.max
        append = out.append
        for part in parts:
            end = offset + len(part) + 1
            if part:
                if len(part) > limit:
                    append(Line(offset, end, _clean(part[:limit]), True))
                elif part != b"\r":
                    append(Line(offset, end, part[:-1] if part[-1] == 13 else part, False))
            offset = end
        self.start, self.seen = offset, 0
        self.held.clear()
        if tail:
            self._hold(tail)
        return out

    def _take(self, end: int) -> list[Line]:
        raw = bytes(self.held)
        cut = self.seen > self.max
        line = Line(self.start, end, _clean(raw[:self.max]), cut)
        self.start, self.seen = end, 0
        self.held.clear()
        return [line] if line.raw else []

    def flush(self) -> list[Line]:
        """The held line as a line of its own (the file will not, or not soon, complete it)."""
        if not self.seen:
            return []
        return self._take(self.start + self.seen)
