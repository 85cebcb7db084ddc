"""Deterministic document ids: a retry or a replay of the same event gives the same id.

A syslog event's id is a hash of the queue's epoch, the collector, the source, the arrival
sequence and the received frame. The sequence is assigned when the record enters the disk queue
and is stored with it, so a re-delivery of a queued record (after a crash or a retry) carries the
same id and OpenSearch answers 409 instead of storing a duplicate. The epoch is a random value
created with the queue folder: a wiped queue starts its sequence again without colliding with
events already indexed.

A tailed line's id is a hash of the source id, the file's identity (see
``collectors.sources.fileid``) and the line's offset. A heartbeat's id names the collector and
the source, so the heartbeat index holds the latest state of each pair.
"""

from __future__ import annotations

import base64
import hashlib
import struct

_U64 = struct.Struct(">Q")


def _encode(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def syslog_id(epoch: bytes, collector_id: str, source_id: str, sequence: int, frame: bytes) -> str:
    h = hashlib.blake2b(digest_size=16, person=b"soc-syslog-id")
    h.update(epoch)
    h.update(collector_id.encode() + b"\0" + source_id.encode() + b"\0")
    h.update(_U64.pack(sequence))
    h.update(frame)
    return _encode(h.digest())


def line_id(source_id: str, identity: str, offset: int) -> str:
    """The document id of the line starting at ``offset`` of file ``identity`` in ``source_id``."""
    h = hashlib.blake2b(digest_size=16, person=b"soc-file-line")
    h.update(source_id.encode() + b"\0" + identity.encode() + b"\0")
    h.update(_U64.pack(offset))
    return _encode(h.digest())


def heartbeat_id(collector_id: str, source_id: str) -> str:
    return f"heartbeat.{collector_id}.{source_id}"
