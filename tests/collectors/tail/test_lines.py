"""Pure file-system units: line cutting with offsets, fingerprints, ids, the checkpoint file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from collectors.contract import ids
from collectors.offsets import CorruptOffsets, FileState, OffsetStore
from collectors.sources import fileid
from collectors.sources.lines import Line, Splitter


def test_lines_carry_their_offsets_and_a_partial_line_is_held_until_its_newline() -> None:
    s = Splitter(100, 64)
    assert s.feed(b"one\ntwo\r\nthr") == [Line(100, 104, b"one", False), Line(104, 109, b"two", False)]
    assert s.pending and s.end == 112
    assert s.feed(b"ee") == []
    assert s.feed(b"\n\nfour\n") == [Line(109, 115, b"three", False), Line(116, 121, b"four", False)]
    assert not s.pending and s.end == 121


def test_a_held_line_is_flushed_on_request() -> None:
    s = Splitter(0, 64)
    assert s.feed(b"a\nno newline") == [Line(0, 2, b"a", False)]
    assert s.flush() == [Line(2, 12, b"no newline", False)]
    assert s.flush() == [] and s.end == 12


def test_overlong_lines_are_cut_and_flagged_and_the_rest_is_skipped_without_keeping_it() -> None:
    s = Splitter(0, 8)
    assert s.feed(b"0123456789abc\nok\n") == [Line(0, 14, b"01234567", True), Line(14, 17, b"ok", False)]
    for _ in range(1000):  # a huge line fed in pieces keeps at most max+1 bytes
        s.feed(b"x" * 100)
    assert len(s.held) <= 9
    assert s.feed(b"y\nz\n") == [Line(17, 100_019, b"xxxxxxxx", True), Line(100_019, 100_021, b"z", False)]


def test_fingerprint_covers_the_first_line_and_waits_for_it() -> None:
    assert fileid.fingerprint(b"abc", 1024) is None
    fp = fileid.fingerprint(b"abc\ndef", 1024)
    assert fp is not None and fp[1] == 4
    assert fileid.fingerprint(b"abc\nxyz and more", 1024) == fp  # stable while the file grows
    assert fileid.fingerprint(b"a" * 20, 16) == fileid.fingerprint(b"a" * 16 + b"b", 16)


def test_gzip_heads_are_fingerprinted_by_their_content(tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.log", tmp_path / "a.log.gz"
    plain.write_bytes(b"first line\nsecond\n")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert fileid.is_gzip(str(packed)) and not fileid.is_gzip(str(plain))
    assert fileid.read_head(str(packed), True, 64) == plain.read_bytes()
    truncated = tmp_path / "b.log.gz"
    truncated.write_bytes(packed.read_bytes()[:12])
    assert fileid.read_head(str(truncated), True, 64) == b""


def test_line_ids_depend_on_source_file_and_offset_only() -> None:
    a = ids.line_id("web", "1-2-ab", 10)
    assert a == ids.line_id("web", "1-2-ab", 10)
    assert len({a, ids.line_id("web2", "1-2-ab", 10), ids.line_id("web", "1-2-ac", 10),
                ids.line_id("web", "1-2-ab", 11)}) == 4
    assert fileid.file_id(1, 2, "ab") == "1-2-ab" and fileid.file_id(1, 2, "ab", 2) == "1-2-ab~2"


def test_checkpoint_is_rewritten_whole_and_a_corrupt_one_is_refused(tmp_path: Path) -> None:
    store = OffsetStore(tmp_path / "offsets-web.json")
    assert store.load() == {}
    state = FileState("1-2-ab", 1, 2, "ab", 4, "/x/access.log", offset=42)
    store.save([state])
    assert store.load() == {"1-2-ab": state}
    assert not (tmp_path / "offsets-web.json.tmp").exists()
    assert json.loads((tmp_path / "offsets-web.json").read_text())["files"][0]["offset"] == 42
    (tmp_path / "offsets-web.json").write_text("{not json")
    with pytest.raises(CorruptOffsets, match=r"offsets-web\.json"):
        store.load()
