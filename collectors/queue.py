"""The disk-backed queue: an event leaves it only after OpenSearch acknowledged it.

Layout of the queue folder::

    state.json                 the acknowledged position, written atomically (write, fsync, rename)
    0000000000000001.seg ...   segment files of length-prefixed, checksummed records

A record is ``header | payload`` with header ``<IIQQ`` (payload length, CRC-32 of seq+time+payload,
arrival sequence, arrival time in ms) and payload ``id \\n index \\n document-json``.

Writers append whole records with one ``write`` each batch, so a killed process leaves either the
record or nothing in the page cache; a torn tail (power loss) fails its checksum and is cut off
when the queue opens. Durability uses group commit: the sink fsyncs whatever was appended before
it reads, so one fsync covers every record of a batch and the sink never ships a record that
a power loss could take back. ``ack`` moves the acknowledged position past a shipped batch and
persists it; on restart reading resumes there, so a crash replays at most the batch in flight
(whose deterministic ids make OpenSearch answer 409) and never skips a record.

The arrival sequence is stored in every record and, for an empty queue, in ``state.json``: a restart
continues the sequence. Size cap: ``append`` waits for room (TCP/TLS: the socket is not read
meanwhile, which is backpressure) or, with ``block=False``, refuses (UDP counts a drop).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from collectors.contract import ids

log = logging.getLogger(__name__)

HEADER = struct.Struct("<IIQQ")
STATE = "state.json"


@dataclass(frozen=True)
class Record:
    seq: int
    arrival_ms: int
    doc_id: str
    index: str
    doc: bytes
    size: int


@dataclass(frozen=True)
class Batch:
    records: list[Record]
    end: tuple[int, int]  # (segment, offset) just after the last record
    size: int


def _segment_name(number: int) -> str:
    return f"{number:016d}.seg"


def _encode(seq: int, arrival_ms: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(struct.pack("<QQ", seq, arrival_ms)))
    return HEADER.pack(len(payload), crc, seq, arrival_ms) + payload


def _decode(buf: bytes | memoryview, pos: int) -> tuple[Record | None, int]:
    """(record, size) at ``pos``; (None, 0) when incomplete, (None, -1) when corrupt."""
    if len(buf) - pos < HEADER.size:
        return None, 0
    length, crc, seq, arrival = HEADER.unpack_from(buf, pos)
    end = pos + HEADER.size + length
    if end > len(buf):
        return None, 0
    payload = bytes(buf[pos + HEADER.size:end])
    if zlib.crc32(payload, zlib.crc32(struct.pack("<QQ", seq, arrival))) != crc:
        return None, -1
    doc_id, index, doc = payload.split(b"\n", 2)
    return Record(seq, arrival, doc_id.decode(), index.decode(), doc, end - pos), end - pos


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class QueueStopped(Exception):
    """The queue was closed while a writer waited for room."""


class DiskQueue:
    def __init__(self, directory: Path, collector_id: str, max_bytes: int, segment_bytes: int) -> None:
        self.dir = directory
        self.collector_id = collector_id
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._data = threading.Condition(self._lock)
        self._stopped = False
        self._fd = -1
        self._read_fds: dict[int, int] = {}
        self.epoch = b""
        self.depth = 0  # records appended and not yet acknowledged
        self.pending_bytes = 0
        self.oldest_ms = 0  # arrival time of the oldest unacknowledged record (0: none)
        self._ack_listeners: list[Callable[[int], None]] = []
        self._open()

    # -- opening and recovery -------------------------------------------------------------------------
    def _open(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        state_path = self.dir / STATE
        if state_path.exists():
            state = json.loads(state_path.read_text())
            self.epoch = bytes.fromhex(state["epoch"])
            self._commit = (int(state["segment"]), int(state["offset"]))
            self._acked_next_seq = int(state["next_seq"])
        else:
            self.epoch = secrets.token_bytes(16)
            self._commit = (1, 0)
            self._acked_next_seq = 0
            self._write_state()
        self._next_seq = self._acked_next_seq
        segments = sorted(int(p.name[:-4]) for p in self.dir.glob("*.seg") if p.name[:-4].isdigit())
        for number in segments:
            if number < self._commit[0]:
                (self.dir / _segment_name(number)).unlink()
        segments = [n for n in segments if n >= self._commit[0]] or [self._commit[0]]
        for number in segments:
            self._scan(number, self._commit[1] if number == self._commit[0] else 0)
        self._segment = segments[-1]
        path = self.dir / _segment_name(self._segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._durable = (self._segment, self._size)
        self._cursor = self._commit
        if self.depth:
            log.info("queue %s: %d events (%d bytes) waiting from an earlier run", self.dir, self.depth,
                     self.pending_bytes)

    def _scan(self, number: int, start: int) -> None:
        path = self.dir / _segment_name(number)
        if not path.exists():
            return
        data = path.read_bytes()
        pos = start
        while True:
            record, size = _decode(data, pos)
            if record is None:
                break
            self.depth += 1
            self.pending_bytes += size
            self._next_seq = record.seq + 1
            if not self.oldest_ms:
                self.oldest_ms = record.arrival_ms
            pos += size
        if pos < len(data):
            log.warning("queue %s: cutting a torn or corrupt tail of %d bytes at offset %d", path.name,
                        len(data) - pos, pos)
            os.truncate(path, pos)

    def _write_state(self) -> None:
        body = json.dumps({"epoch": self.epoch.hex(), "segment": self._commit[0], "offset": self._commit[1],
                           "next_seq": self._acked_next_seq}).encode()
        tmp = self.dir / (STATE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.dir / STATE)
        _fsync_dir(self.dir)

    # -- writing --------------------------------------------------------------------------------------
    def append(self, source_id: str, items: Sequence[tuple[bytes, str, bytes]], block: bool = True,
               counted: Callable[[bool], None] | None = None, doc_ids: Sequence[str] | None = None) -> bool:
        """Append (frame, index, document-json) records; False when refused (full and not blocking).

        ``counted(queued)`` runs under the queue's lock, before the sink can see the records, so
        counters never show a record shipped before it was received (and ``next_seq`` read there is
        the sequence just past these records). ``doc_ids``, when given, are the records' document ids
        (file sources: source, file identity and offset); otherwise the syslog id is derived.
        """
        now_ms = int(time.time() * 1000)
        with self._lock:
            while not self._stopped and self.pending_bytes and self.pending_bytes >= self.max_bytes:
                if not block:
                    if counted is not None:
                        counted(False)
                    return False
                self._room.wait(0.5)
            if self._stopped:
                raise QueueStopped
            parts = []
            size = 0
            for n, (frame, index, doc) in enumerate(items):
                seq = self._next_seq
                self._next_seq += 1
                doc_id = doc_ids[n] if doc_ids is not None else \
                    ids.syslog_id(self.epoch, self.collector_id, source_id, seq, frame)
                rec = _encode(seq, now_ms, b"%s\n%s\n%s" % (doc_id.encode(), index.encode(), doc))
                parts.append(rec)
                size += len(rec)
            if self._size >= self.segment_bytes:
                self._roll()
            os.write(self._fd, b"".join(parts))
            self._size += size
            self.depth += len(parts)
            self.pending_bytes += size
            if not self.oldest_ms:
                self.oldest_ms = now_ms
            if counted is not None:
                counted(True)
            self._data.notify_all()
        return True

    @property
    def next_seq(self) -> int:
        """The sequence the next appended record gets (read it under the lock: in ``counted``)."""
        return self._next_seq

    def add_ack_listener(self, listener: Callable[[int], None]) -> None:
        """``listener(next_seq)`` runs after every acknowledgement is persisted: each record with a
        sequence below ``next_seq`` is in OpenSearch (or dead-lettered). File sources checkpoint on it."""
        self._ack_listeners.append(listener)

    def _roll(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._segment += 1
        self._fd = os.open(self.dir / _segment_name(self._segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = 0
        _fsync_dir(self.dir)
        self._durable = (self._segment, 0)

    # -- reading and acknowledging --------------------------------------------------------------------
    def read_batch(self, max_events: int, max_bytes: int, wait: float) -> Batch | None:
        """The next records after the last batch, made durable first (group commit); None if none came."""
        with self._lock:
            if self._cursor >= (self._segment, self._size) and not self._stopped:
                self._data.wait(wait)
            if self._cursor >= (self._segment, self._size):
                return None
            fd, end = self._fd, (self._segment, self._size)
        if end > self._durable:
            with contextlib.suppress(OSError):  # a roll closed it after syncing it itself
                os.fsync(fd)
            with self._lock:
                self._durable = max(self._durable, end)
        return self._read(self._cursor, self._durable, max_events, max_bytes)

    def _read_fd(self, number: int) -> int:
        if number not in self._read_fds:
            self._read_fds[number] = os.open(self.dir / _segment_name(number), os.O_RDONLY)
        return self._read_fds[number]

    def _read(self, cursor: tuple[int, int], limit: tuple[int, int], max_events: int, max_bytes: int) -> Batch:
        number, offset = cursor
        while True:
            fd = self._read_fd(number)
            stop = limit[1] if number == limit[0] else os.fstat(fd).st_size
            if offset < stop or number >= limit[0]:
                break
            number, offset = number + 1, 0  # a finished segment: continue in the next one
        want = min(stop - offset, max(max_bytes, 1 << 20))
        data = os.pread(fd, want, offset)
        records: list[Record] = []
        pos = total = 0
        while len(records) < max_events:
            record, size = _decode(data, pos)
            if record is None:
                if size == 0 and not records and offset + pos < stop:  # one record larger than the chunk
                    length = HEADER.unpack_from(os.pread(fd, HEADER.size, offset))[0]
                    data = os.pread(fd, HEADER.size + length, offset)
                    continue
                if size < 0:
                    log.error("queue segment %d: corrupt record at offset %d; skipping the rest of the segment",
                              number, offset + pos)
                    pos = stop - offset
                break
            if records and total + size > max_bytes:
                break
            records.append(record)
            pos += size
            total += size
        self._cursor = (number, offset + pos)
        return Batch(records, self._cursor, total)

    def ack(self, batch: Batch) -> None:
        """The batch is in OpenSearch (or dead-lettered): persist the position past it, free its space."""
        with self._lock:
            self._commit = batch.end
            if batch.records:
                self._acked_next_seq = batch.records[-1].seq + 1
            self.depth -= len(batch.records)
            self.pending_bytes -= batch.size
            self._write_state()
            for number in [n for n in self._read_fds if n < self._commit[0]]:
                os.close(self._read_fds.pop(number))
                (self.dir / _segment_name(number)).unlink(missing_ok=True)
            self.oldest_ms = self._peek_arrival() if self.depth else 0
            self._room.notify_all()
            acked = self._acked_next_seq
        for listener in self._ack_listeners:
            listener(acked)

    def _peek_arrival(self) -> int:
        number, offset = self._commit
        path = self.dir / _segment_name(number)
        try:
            head = os.pread(self._read_fd(number), HEADER.size, offset)
            if len(head) < HEADER.size:
                head = os.pread(self._read_fd(number + 1), HEADER.size, 0)
        except OSError:
            log.debug("queue: cannot peek %s", path)
            return int(time.time() * 1000)
        return int(HEADER.unpack(head)[3]) if len(head) == HEADER.size else int(time.time() * 1000)

    def rewind(self) -> None:
        """Read again from the acknowledged position (the sink gave up on an unacknowledged batch)."""
        with self._lock:
            self._cursor = self._commit

    def close(self) -> None:
        with self._lock:
            self._stopped = True
            self._room.notify_all()
            self._data.notify_all()
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
            for fd in self._read_fds.values():
                os.close(fd)
            self._read_fds.clear()
