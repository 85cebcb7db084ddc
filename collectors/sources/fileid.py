"""Who a tailed file is: a fingerprint of its first bytes plus its device and inode, and line ids.

The fingerprint covers the file's first line (up to and including the first newline), or its
first ``limit`` bytes when that line is longer. Until a file has a newline or ``limit`` bytes it
has no fingerprint yet and is not read (nothing could be shipped anyway: only complete lines
are). Hashing the first line rather than a fixed byte count keeps the fingerprint stable while a
new file grows, so it can be recomputed after a restart and give the same identity.

A file's *identity* (``file_id``) is ``DEV-INODE-FINGERPRINT``, with ``~N`` appended for the N-th
reuse of the same inode and fingerprint. It is fixed when the file is first seen and follows the
content when it moves (rename, copy for copytruncate, compression), so a line's document id,
a hash of source id, file id and the line's offset (``collectors.contract.ids.line_id``), is the
same however often the line is read.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib

GZIP_MAGIC = b"\x1f\x8b"


def fingerprint(head: bytes, limit: int) -> tuple[str, int] | None:
    """(hex digest, bytes covered) of a file's beginning ``head``; None while it is too short."""
    newline = head.find(b"\n", 0, limit)
    if newline >= 0:
        part = head[:newline + 1]
    elif len(head) >= limit:
        part = head[:limit]
    else:
        return None
    return hashlib.blake2b(part, digest_size=12, person=b"soc-file-fp").hexdigest(), len(part)


def is_gzip(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC
    except OSError:
        return False


def read_head(path: str, gz: bool, limit: int) -> bytes:
    """The first ``limit`` bytes of the file's content (decompressed for gzip); b"" when unreadable."""
    try:
        if gz:
            with gzip.open(path, "rb") as fh:
                try:
                    return fh.read(limit)
                except (EOFError, zlib.error, gzip.BadGzipFile):
                    return b""  # still being written or damaged: no fingerprint yet
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return b""


def head_of_fd(fd: int, length: int) -> bytes:
    try:
        return os.pread(fd, length, 0)
    except OSError:
        return b""


def matches(fd: int, digest: str, length: int, limit: int) -> bool:
    """Does the open file still start with the content fingerprinted as ``digest``?"""
    found = fingerprint(head_of_fd(fd, length), max(limit, length))
    return found is not None and found[0] == digest and found[1] == length


def file_id(dev: int, ino: int, digest: str, generation: int = 0) -> str:
    base = f"{dev:x}-{ino:x}-{digest}"
    return base if generation == 0 else f"{base}~{generation}"
