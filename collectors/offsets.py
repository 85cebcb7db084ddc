"""The tail source's checkpoint: per file identity, the offset up to which OpenSearch has every line.

One JSON file per file source in the queue folder (``offsets-<source id>.json``), rewritten whole
and atomically (write to a temporary file, fsync, rename, fsync the folder), so a crash leaves
either the old or the new checkpoint, never a torn one. Offsets only move when the sink reports
that the events up to them were acknowledged; identities are also recorded when first seen
(at offset 0), so that a restart recognises a file that moved meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

VERSION = 1


@dataclass
class FileState:
    file_id: str  # the identity fixed at first sight (see collectors.sources.fileid)
    dev: int  # where the content is now (it may have moved since first sight)
    ino: int
    fp: str
    fp_len: int
    path: str
    offset: int = 0  # acknowledged: every line before it is in OpenSearch
    gz: bool = False
    done: bool = False  # a compressed file read to its end and acknowledged: never read again
    size: int = -1  # for compressed files: the content's length once read to the end
    seen: float = 0.0  # unix time the file was last found by the glob patterns


class CorruptOffsets(Exception):
    """The checkpoint file cannot be read; it is left in place for the operator."""


class OffsetStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> dict[str, FileState]:
        if not self.path.exists():
            return {}
        try:
            body = json.loads(self.path.read_text(encoding="utf-8"))
            if body.get("version") != VERSION:
                raise ValueError(f"version {body.get('version')!r}")
            return {f["file_id"]: FileState(**f) for f in body["files"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptOffsets(
                f"{self.path}: cannot read the tail checkpoint ({exc}); restore it, or move it aside to read the "
                "source's files again from their start (lines already shipped from files still where they were "
                "keep their ids, so OpenSearch refuses them as duplicates)") from None

    def save(self, states: list[FileState]) -> None:
        body = json.dumps({"version": VERSION, "files": [asdict(s) for s in states]}, separators=(",", ":"))
        with self._lock:
            tmp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, body.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
