"""Deterministic document ids.

A syslog event's id is a hash of the queue's epoch, the collector, the source, the arrival
sequence and the received frame. The sequence is assigned when the record enters the disk queue
and is stored with it, so a re-delivery of a queued record (after a crash or a retry) carries the
same id and OpenSearch answers 409 instead of storing a duplicate. The epoch is a random value
created with the queue folder: a wiped queue starts its sequence again without colliding with
events already indexed.
"""

from __future__ import annotations

import base64
import hashlib
import struct

_SEQ = struct.Struct(">Q")


def syslog_id(epoch: bytes, collector_id: str, source_id: str, sequence: int, frame: bytes) -> str:
    h = hashlib.blake2b(digest_size=16, person=b"soc-syslog-id")
    h.update(epoch)
    h.update(collector_id.encode() + b"\0" + source_id.encode() + b"\0")
    h.update(_SEQ.pack(sequence))
    h.update(frame)
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii")
