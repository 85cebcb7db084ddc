"""One tailed file's reading state: its handle (plain or gzip), position and held partial line.

A plain file is read with ``pread`` at the position just past the last byte fed to the
splitter, so a file that was renamed keeps being read through the same descriptor. After each
read the file must still start with its fingerprinted first line; if it does not, or if it got
shorter than the position, it was truncated (copytruncate) or replaced, and what was read is
discarded rather than shipped under the wrong identity. A gzip file is decompressed as a
stream from the start (seeking skips decompressed bytes); one that is still being written
(its end is missing) is retried later from the same position.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from enum import Enum

from collectors.offsets import FileState
from collectors.sources import fileid
from collectors.sources.lines import Line, Splitter

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class Outcome(Enum):
    LINES = "lines"  # read something (maybe no complete line yet)
    IDLE = "idle"  # at the end of the file
    TRUNCATED = "truncated"  # content replaced or cut: the caller decides what it means
    END = "end"  # a compressed file read to its end
    RETRY = "retry"  # a compressed file not complete yet


class Tracked:
    def __init__(self, state: FileState, max_line_bytes: int, fp_limit: int, position: int | None = None) -> None:
        self.state = state
        self.fp_limit = fp_limit
        self.splitter = Splitter(state.offset if position is None else position, max_line_bytes)
        self.fd: int | None = None
        self.stream: gzip.GzipFile | None = None
        self.last_size = 0  # size at the last read that still had the right content
        self.idle_since: float | None = None
        self.partial_since: float | None = None
        self.in_glob = True
        self.finished = False  # read to the end for good (compressed, or a one-shot replay)
        self.retry_at = 0.0
        self.lines: list[Line] = []

    @property
    def position(self) -> int:
        return self.splitter.end

    @property
    def is_open(self) -> bool:
        return self.fd is not None or self.stream is not None

    def open(self) -> bool:
        """Open the file at ``state.path``; False when it is gone."""
        try:
            if self.state.gz:
                stream = gzip.open(self.state.path, "rb")  # noqa: SIM115 (kept open across reads)
                assert isinstance(stream, gzip.GzipFile)
                try:
                    stream.seek(self.position)
                except (EOFError, zlib.error, gzip.BadGzipFile):
                    stream.close()
                    return False
                self.stream = stream
            else:
                self.fd = os.open(self.state.path, os.O_RDONLY | os.O_CLOEXEC)
                st = os.fstat(self.fd)
                if (st.st_dev, st.st_ino) != (self.state.dev, self.state.ino):
                    self.close()  # the path names another file now
                    return False
        except OSError as exc:
            log.info("cannot open %s: %s", self.state.path, exc)
            return False
        self.idle_since = None
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def read(self) -> tuple[Outcome, int]:
        """Read the next chunk into ``self.lines``; (outcome, link count or 1)."""
        if self.stream is not None:
            return self._read_gzip(), 1
        assert self.fd is not None
        st = os.fstat(self.fd)
        if st.st_size < self.position:
            return Outcome.TRUNCATED, st.st_nlink
        if st.st_size == self.position:
            return Outcome.IDLE, st.st_nlink
        data = os.pread(self.fd, min(st.st_size - self.position, CHUNK), self.position)
        if not fileid.matches(self.fd, self.state.fp, self.state.fp_len, self.fp_limit):
            return Outcome.TRUNCATED, st.st_nlink
        self.last_size = st.st_size
        self.lines = self.splitter.feed(data)
        return Outcome.LINES, st.st_nlink

    def _read_gzip(self) -> Outcome:
        assert self.stream is not None
        try:
            data = self.stream.read(CHUNK)
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
            log.info("%s is not complete yet (%s); retrying from offset %d", self.state.path, exc, self.position)
            self.close()
            self.splitter = Splitter(self.splitter.start, self.splitter.max)  # re-read the held part
            return Outcome.RETRY
        if not data:
            return Outcome.END
        self.lines = self.splitter.feed(data)
        return Outcome.LINES

    def current_size(self) -> int:
        if self.fd is None:
            return self.position
        try:
            return os.fstat(self.fd).st_size
        except OSError:
            return self.position
