"""How the file source finds its files: glob patterns matched again on every scan, and each file
found matched to a known identity (same inode and fingerprint; or moved: same fingerprint, its
old inode gone or holding other content, at least as long as what was read) or made a new one.
A file whose first line is that of a file being read is a copy of it (copytruncate, before the
truncation) and is left alone until the original is truncated.

Two different files that start with the same first line (up to ``fingerprint_bytes``) cannot be
told apart once the first one's inode is gone: the second is taken as the first one's
continuation when it is at least as long as what was read of the first.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time

from collectors.config import SourceConfig
from collectors.fileconfig import FileOptions
from collectors.offsets import FileState
from collectors.sources import fileid
from collectors.sources.tracked import Tracked

log = logging.getLogger("collectors.sources.tail")

FORGET_SECONDS = 7 * 86400  # a checkpoint of a file not seen for this long is dropped


class Discovery:
    """The scanning half of :class:`collectors.sources.tail.FileTailer` (which sets these attributes)."""

    source: SourceConfig
    opts: FileOptions
    states: dict[str, FileState]
    tracked: dict[str, Tracked]
    stats: dict[str, int]
    lock: threading.Lock
    changed: threading.Condition
    scans: int
    _fp_cache: dict[tuple[int, int, int, int], tuple[str, int] | None]

    def _save(self) -> None:
        raise NotImplementedError

    def _paths(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.opts.paths:
            found.update(glob.glob(pattern))
        for pattern in self.opts.exclude:
            found.difference_update(glob.glob(pattern))
        return sorted(p for p in found if os.path.isfile(p))

    def _fingerprint(self, path: str, st: os.stat_result, gz: bool) -> tuple[str, int] | None:
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in self._fp_cache:
            limit = self.opts.fingerprint_bytes
            self._fp_cache[key] = fileid.fingerprint(fileid.read_head(path, gz, limit), limit)
        return self._fp_cache[key]

    def _find_copy(self, state: FileState) -> str | None:
        for path in self._paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (state.dev, state.ino):
                continue
            fp = self._fingerprint(path, st, fileid.is_gzip(path))
            if fp == (state.fp, state.fp_len):
                return path
        return None

    def scan(self) -> None:
        """Match the patterns again: open new files, find moved ones, reopen grown ones."""
        now = time.time()
        paths = self._paths()
        stats: dict[str, os.stat_result] = {}
        for path in paths:
            try:
                stats[path] = os.stat(path)
            except OSError:
                continue
        present = {(st.st_dev, st.st_ino): path for path, st in stats.items()}
        open_by_inode = {(t.state.dev, t.state.ino): t for t in self.tracked.values() if t.is_open}
        for t in self.tracked.values():
            t.in_glob = (t.state.dev, t.state.ino) in present
        structural = False
        for path, st in stats.items():
            live = open_by_inode.get((st.st_dev, st.st_ino))
            if live is not None:
                live.state.path, live.state.seen = path, now
                continue
            structural = self._consider(path, st, present, now) or structural
        if len(self._fp_cache) > 4096:
            self._fp_cache.clear()
        with self.lock:
            for fid in [f for f, s in self.states.items() if now - s.seen > FORGET_SECONDS and f not in self.tracked]:
                del self.states[fid]
                structural = True
        if structural:
            self._save()
        with self.lock:
            self.scans += 1
            self.changed.notify_all()

    def _consider(self, path: str, st: os.stat_result, present: dict[tuple[int, int], str], now: float) -> bool:
        """A file not open now; True when the checkpoint must be written (a new or moved identity)."""
        gz = fileid.is_gzip(path)
        fp = self._fingerprint(path, st, gz)
        if fp is None:
            return False  # no complete first line yet
        digest, length = fp
        exact = [s for s in self.states.values() if (s.dev, s.ino, s.fp) == (st.st_dev, st.st_ino, digest)]
        retired = None
        if exact:
            state = exact[0]
            state.seen, state.path = now, path
            t = self.tracked.get(state.file_id)
            position = t.position if t is not None else state.offset
            if state.done or (t is not None and t.finished):
                return False
            if gz or st.st_size > position or (t is not None and t.splitter.pending):
                self._open(state, t)
                return False
            if st.st_size >= position:
                return False
            retired = state.file_id
            with self.lock:
                state.ino = 0  # shorter than what was read: another content with the same first line
            log.warning("source %s: %s restarted with the same first line; reading it as a new file",
                        self.source.id, path)
            self.tracked.pop(state.file_id, None)
        live = {t.state.fp for t in self.tracked.values() if t.is_open}
        if digest in live:
            return False  # a copy of a file being read (copytruncate before the truncation)
        for state in self.states.values():
            if state.fp != digest or state.file_id == retired or (state.file_id in self.tracked
                                                                  and self.tracked[state.file_id].is_open):
                continue
            elsewhere = present.get((state.dev, state.ino))
            if elsewhere is not None and self._fingerprint(elsewhere, os.stat(elsewhere), state.gz) == fp:
                continue
            if state.done:
                return False
            known = self.tracked.get(state.file_id)
            if not gz and st.st_size < (known.position if known is not None else state.offset):
                continue  # shorter than what was read of it: not its continuation
            log.info("source %s: %s continues %s at offset %d", self.source.id, path, state.path, state.offset)
            with self.lock:
                state.dev, state.ino, state.path, state.gz, state.seen = st.st_dev, st.st_ino, path, gz, now
            self.stats["continued"] += 1
            self._open(state, self.tracked.get(state.file_id))
            return True
        if gz and not self.opts.read_gzip:
            return False
        generation = 0
        while fileid.file_id(st.st_dev, st.st_ino, digest, generation) in self.states:
            generation += 1
        state = FileState(fileid.file_id(st.st_dev, st.st_ino, digest, generation), st.st_dev, st.st_ino, digest,
                          length, path, gz=gz, seen=now)
        with self.lock:
            self.states[state.file_id] = state
        self.stats["files"] += 1
        log.info("source %s: reading %s (%s)", self.source.id, path, state.file_id)
        self._open(state, None)
        return True

    def _open(self, state: FileState, t: Tracked | None) -> None:
        if t is None:
            t = Tracked(state, self.opts.max_line_bytes, self.opts.fingerprint_bytes)
            self.tracked[state.file_id] = t
        if time.monotonic() >= t.retry_at and t.open():
            t.in_glob = True
