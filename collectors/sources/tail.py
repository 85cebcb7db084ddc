"""The file source: tails files matched by glob patterns through rotation, exactly once.

Each file is known by its identity (:mod:`collectors.sources.fileid`). The source reads complete
lines (:mod:`collectors.sources.lines`), hands them to the pipeline with document ids made of
source id, identity and offset, and records, per identity, the offset up to which OpenSearch
acknowledged every line (:mod:`collectors.offsets`): the disk queue calls back after each
acknowledged batch. A restart resumes at those offsets; lines read again get the ids they had.

What logrotate does, and what the source does about it:

- rename + create: the renamed file keeps its inode and is read to its end through the open
  descriptor (also when the new name is outside the patterns); the new file is a new identity.
- rename while the collector is stopped: found again by inode and fingerprint; compressed
  meanwhile (``.gz``): found by the fingerprint of its decompressed start, continued at the offset.
- copytruncate: the truncation is seen (shorter file, or another first line); the copy, when the
  patterns match it, has the same fingerprint and the reading continues in it at the same offset.
  Lines written between the copy and the truncation are in neither file: the bytes the source
  saw but could not read are counted (``lost_bytes``) and logged; the truncations are counted.
- deleted and recreated with the same inode: the fingerprint differs (a new identity), or, for an
  identical first line, the shorter content is detected and a new generation of the identity used.
- compressed files matched by the patterns that are not the continuation of a known file are
  read once when ``read_gzip`` is set, and then marked done.

The checkpoint is written at most every ``checkpoint_seconds`` (1 s) while lines flow, and when the source stops: it
may lag the acknowledgements, never run ahead of them.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from collectors.config import SourceConfig
from collectors.contract.ids import line_id
from collectors.fileconfig import FileOptions
from collectors.offsets import OffsetStore
from collectors.queue import DiskQueue
from collectors.sources.discovery import Discovery
from collectors.sources.lines import Line
from collectors.sources.tracked import Outcome, Tracked

log = logging.getLogger(__name__)

BATCH = 2000  # lines per append to the queue

# submit(source, frames, peer_ip, block, doc_ids=..., extra=..., on_queued=...) -> queued?
Submit = Callable[..., bool]


class Stopping(Exception):
    """The queue refused the lines because the collector is stopping."""


class FileTailer(Discovery):
    def __init__(self, source: SourceConfig, queue: DiskQueue, submit: Submit, store: OffsetStore,
                 once: bool = False) -> None:
        assert source.file is not None
        self.source = source
        self.opts: FileOptions = source.file
        self.submit = submit
        self.store = store
        self.once = once
        self.states = store.load()
        self.tracked: dict[str, Tracked] = {}
        self.pending: deque[tuple[int, str, int]] = deque()  # (sequence past the lines, file id, offset)
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.save_lock = threading.Lock()
        self.dirty = False  # offsets moved since the checkpoint was last written
        self.saved_at = 0.0
        self.stats = dict.fromkeys(("lines", "files", "truncations", "lost_bytes", "partial_flushes", "continued",
                                    "truncated_lines"), 0)
        self._fp_cache: dict[tuple[int, int, int, int], tuple[str, int] | None] = {}
        self.scans = 0
        self.reading = False  # between reading bytes and queueing their lines (not caught up)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"tail-{source.id}", daemon=True)
        queue.add_ack_listener(self._acked)

    # -- acknowledgements and the checkpoint -----------------------------------------------------------
    def _acked(self, next_seq: int) -> None:
        with self.lock:
            while self.pending and self.pending[0][0] <= next_seq:
                _, fid, offset = self.pending.popleft()
                state = self.states.get(fid)
                if state is not None and offset > state.offset:
                    state.offset = offset
                    state.done = state.done or 0 <= state.size <= offset
                    self.dirty = True
            self.changed.notify_all()
        self.checkpoint(due_only=True)

    def checkpoint(self, due_only: bool = False) -> None:
        """Write the acknowledged offsets if they moved (with ``due_only``: at most every
        ``checkpoint_seconds``). The checkpoint may lag the acknowledgements: after a crash the
        lines in between are read again under the same ids, and OpenSearch answers 409 for them."""
        if not self.dirty or (due_only and time.monotonic() - self.saved_at < self.opts.checkpoint_seconds):
            return
        self._save()

    def _save(self) -> None:
        with self.save_lock:
            with self.lock:
                snapshot = [copy.copy(s) for s in self.states.values()]
                self.dirty = False
            self.saved_at = time.monotonic()
            self.store.save(snapshot)

    # -- the loop ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(10)
        for t in self.tracked.values():
            t.close()
        self.checkpoint()

    def run(self) -> None:
        next_scan = 0.0
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                if now >= next_scan:
                    self.scan()
                    next_scan = now + self.opts.scan_seconds
                busy = False
                for t in [t for t in self.tracked.values() if t.is_open]:
                    busy = self.poll(t, now) or busy
                self.checkpoint(due_only=True)
                if not busy:
                    with self.lock:
                        self.changed.notify_all()
                    self.stop_event.wait(self.opts.poll_seconds)
        except Stopping:
            log.info("source %s: stopping with lines unqueued; they are read again at the next start",
                     self.source.id)

    def run_once(self, progress: Callable[[Tracked], None] | None = None) -> None:
        """Read every matched file to its end, once (replay); unterminated last lines are shipped."""
        self.scan()
        for t in list(self.tracked.values()):
            while t.is_open:
                self.poll(t, time.monotonic())
                if progress is not None:
                    progress(t)

    # -- reading ----------------------------------------------------------------------------------------
    def poll(self, t: Tracked, now: float) -> bool:
        """Read what is new in one open file; True when something was read."""
        self.reading = True
        try:
            return self._poll(t, now)
        finally:
            self.reading = False

    def _poll(self, t: Tracked, now: float) -> bool:
        try:
            outcome, links = t.read()
        except OSError as exc:
            log.warning("source %s: reading %s failed: %s", self.source.id, t.state.path, exc)
            t.close()
            return False
        if outcome is Outcome.LINES:
            lines, t.lines = t.lines, []
            t.idle_since = t.partial_since = None
            self._emit(t, lines)
            return True
        if outcome is Outcome.TRUNCATED:
            self._truncated(t)
            return True
        if outcome is Outcome.RETRY:
            t.retry_at = now + self.opts.scan_seconds
            return False
        at_end = outcome is Outcome.END or self.once
        if t.splitter.pending:
            t.partial_since = t.partial_since or now
            if at_end or now - t.partial_since >= self.opts.partial_flush_seconds:
                self.stats["partial_flushes"] += 1
                self._emit(t, t.splitter.flush(), partial=True)
                t.partial_since = None
            return at_end or False
        if at_end:
            self._finish(t)
            return False
        t.idle_since = t.idle_since or now
        if now - t.idle_since >= self.opts.close_idle_seconds:
            t.close()  # reopened by the scan when it grows; a deleted one is let go
            if links == 0 or not t.in_glob:
                log.info("source %s: done with %s (rotated away or deleted)", self.source.id, t.state.path)
        return False

    def _finish(self, t: Tracked) -> None:
        t.finished = True
        t.close()
        with self.lock:
            t.state.size = t.position
            t.state.done = t.state.offset >= t.position
            self.changed.notify_all()

    def _emit(self, t: Tracked, lines: list[Line], partial: bool = False) -> None:
        if not lines:
            return
        sid, fid, path = self.source.id, t.state.file_id, t.state.path
        for start in range(0, len(lines), BATCH):
            chunk = lines[start:start + BATCH]
            end = chunk[-1].end
            extra: list[dict[str, Any]] = [{"log": {"file": {"path": path}, "offset": line.start}} for line in chunk]
            if partial:
                for item in extra:
                    item["tags"] = ["_partial"]

            def queued(next_seq: int, fid: str = fid, end: int = end) -> None:
                self.pending.append((next_seq, fid, end))

            ok = self.submit(self.source, [(line.raw, line.cut) for line in chunk], None, True,
                             doc_ids=[line_id(sid, fid, line.start) for line in chunk], extra=extra,
                             on_queued=queued)
            if not ok:
                raise Stopping
            self.stats["lines"] += len(chunk)
            self.stats["truncated_lines"] += sum(1 for line in chunk if line.cut)

    def _truncated(self, t: Tracked) -> None:
        """The content under ``t`` was cut or replaced: continue in its copy if there is one."""
        state = t.state
        seen = t.last_size
        t.close()
        self.stats["truncations"] += 1
        copy_path = self._find_copy(state)
        if copy_path is not None:
            st = os.stat(copy_path)
            lost = max(0, seen - max(t.position, st.st_size))
            with self.lock:
                state.dev, state.ino, state.path = st.st_dev, st.st_ino, copy_path
            t.open()
            self.stats["continued"] += 1
        else:
            lost = max(0, seen - t.position)
            self._emit(t, t.splitter.flush(), partial=True)
            with self.lock:
                state.ino = 0  # the content is nowhere now
            del self.tracked[state.file_id]
        self.stats["lost_bytes"] += lost
        log.warning("source %s: %s was truncated or replaced at offset %d%s; %d bytes seen and not read are "
                    "lost (lines written after the last read and before the truncation cannot be counted)",
                    self.source.id, state.path, t.position, f", continuing in its copy {copy_path}" if copy_path
                    else "", lost)
        self._save()

    # -- waiting (replay, tests) ------------------------------------------------------------------------
    def caught_up(self, after_scan: int = 0) -> bool:
        """A scan numbered above ``after_scan`` ran, every open file is read to its current end,
        nothing is held, and every queued line is acknowledged."""
        if self.pending or self.reading or self.scans <= after_scan:
            return False
        for t in self.tracked.values():
            if t.splitter.pending or (t.is_open and (t.state.gz or t.current_size() > t.position)):
                return False
        return True

    def wait_caught_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            scans = self.scans + 1  # a scan may be under way, begun before the call: wait for the one after it
            while not self.caught_up(scans):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.2))
        return True
