"""The rotation matrix, with lines written continuously (thousands per second, bounded).

Each case ends with the same check: every line written is in OpenSearch exactly once, except,
for copytruncate, lines written between the copy and the truncation, which are counted.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from soc.config import Settings
from tests.collectors.conftest import running
from tests.collectors.tail.harness import Writer, docs, file_source, originals, tail_config


def _exactly_once(settings: Settings, source: str, expected: set[str]) -> None:
    got = originals(settings, source)
    assert not [line for line, n in got.items() if n > 1], "duplicates"
    assert set(got) == expected, f"missing {len(expected - set(got))}, unexpected {len(set(got) - expected)}"


def test_rename_and_create_while_writing(isolated: Settings, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    cfg = tail_config(isolated, tmp_path / "q", [file_source("web", "nginx", [str(log)])])
    writer = Writer(log, "rename")
    with running(cfg) as collector, writer:
        tailer = collector.tailers[0]
        for n in (1, 2):
            writer.wait_for(1500)
            os.rename(log, tmp_path / f"access.log.{n}")  # outside the pattern: read through the open file
            writer.wait_for(300)  # the server still writes to the renamed file until it reopens
            writer.reopen()
        writer.wait_for(1500)
        writer.stop_event.set()
        writer.thread.join(5)
        assert tailer.wait_caught_up(60), tailer.stats
        assert tailer.stats["files"] == 3 and tailer.stats["truncations"] == 0
    writer.close()
    _exactly_once(isolated, "web", writer.expected())


def test_copytruncate_while_writing_loses_at_most_the_window_and_reports_it(
        isolated: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "access.log"
    cfg = tail_config(isolated, tmp_path / "q", [file_source("web", "nginx", [str(tmp_path / "access.log*")])])
    writer = Writer(log, "copytrunc")
    with caplog.at_level(logging.WARNING, "collectors.sources.tail"), running(cfg) as collector, writer:
        tailer = collector.tailers[0]
        writer.wait_for(2000)
        before_copy = writer.count
        shutil.copyfile(log, tmp_path / "access.log.1")
        os.truncate(log, 0)
        after_truncate = writer.count
        writer.wait_for(2000)
        writer.stop_event.set()
        writer.thread.join(5)
        assert tailer.wait_caught_up(60), tailer.stats
        assert tailer.stats["truncations"] == 1 and tailer.stats["continued"] == 1
    writer.close()
    got = originals(isolated, "web")
    assert max(got.values()) == 1, "duplicates"
    expected = writer.expected()
    missing = {int(line.split("/copytrunc/")[1][:7]) for line in expected - set(got)}
    window = set(range(before_copy, after_truncate + 1))
    assert missing <= window, f"lost outside the copy-truncate window: {sorted(missing - window)[:5]}"
    assert not set(got) - expected
    assert any("truncated or replaced" in r.message and "continuing in its copy" in r.message for r in caplog.records)


def test_rotation_and_compression_while_the_collector_is_stopped(isolated: Settings, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    cfg = tail_config(isolated, tmp_path / "q", [file_source("web", "nginx", [str(tmp_path / "access.log*")])])
    writer = Writer(log, "stopped")
    writer.write(3000)
    with running(cfg) as collector:
        assert collector.tailers[0].wait_caught_up(60)
    writer.write(2000)  # written while the collector is down, then rotated and compressed
    os.rename(log, tmp_path / "access.log.1")
    with open(tmp_path / "access.log.1", "rb") as src, gzip.open(tmp_path / "access.log.1.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.unlink(tmp_path / "access.log.1")
    writer.reopen()
    writer.write(1000)
    with running(cfg) as collector:
        tailer = collector.tailers[0]
        assert tailer.wait_caught_up(60), tailer.stats
        assert tailer.stats["continued"] == 1 and tailer.stats["lines"] == 3000
    writer.close()
    _exactly_once(isolated, "web", writer.expected())


def _recreate(log: Path, inode: int, content: bytes) -> None:
    """Delete ``log`` and create it again, on the same inode when the file system hands it out.

    ext4 gives a freed inode to the next file created nearby, but another process may take it
    first: a few new files are tried, the one with the old inode (else the first) becomes ``log``.
    """
    log.unlink()
    made = []
    for n in range(20):
        candidate = log.with_name(f".new{n}")
        candidate.write_bytes(content)
        made.append(candidate)
        if os.stat(candidate).st_ino == inode:
            break
    keep = made[-1] if os.stat(made[-1]).st_ino == inode else made[0]
    os.rename(keep, log)
    for candidate in made:
        if candidate != keep:
            candidate.unlink()


def test_deleted_and_recreated_with_the_same_inode_and_first_line(isolated: Settings, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    cfg = tail_config(isolated, tmp_path / "q", [file_source("web", "nginx", [str(log)])])
    writer = Writer(log, "inode")
    writer.write(2000)
    writer.close()
    first = log.read_bytes().split(b"\n")[0] + b"\n"
    inode = os.stat(log).st_ino
    expected = Counter(writer.expected())
    with running(cfg) as collector:
        assert collector.tailers[0].wait_caught_up(60)
    # round 1: deleted and created again while the collector is stopped (same inode when reused)
    # round 2: the same inode for certain: the content replaced in place, shorter, same first line
    for round_, numbers in ((1, range(5000, 5010)), (2, range(6000, 6005))):
        content = first + b"".join(writer.line(n) for n in numbers)
        if round_ == 1:
            _recreate(log, inode, content)
        else:
            inode = os.stat(log).st_ino
            log.write_bytes(content)
            assert os.stat(log).st_ino == inode
        expected.update([first.decode().rstrip("\n")] + [writer.line(n).decode().rstrip("\n") for n in numbers])
        with running(cfg) as collector:
            tailer = collector.tailers[0]
            assert tailer.wait_caught_up(60), tailer.stats
            assert tailer.stats["lines"] == len(numbers) + 1
    assert originals(isolated, "web") == expected


def test_old_compressed_files_are_read_once_when_configured(isolated: Settings, tmp_path: Path) -> None:
    old = Writer(tmp_path / "old.log", "gz")
    old.write(1500)
    old.close()
    with open(tmp_path / "old.log", "rb") as src, gzip.open(tmp_path / "access.log.4.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.unlink(tmp_path / "old.log")
    skipped = tail_config(isolated, tmp_path / "q0", [file_source("off", "nginx", [str(tmp_path / "access.log*")])])
    cfg = tail_config(isolated, tmp_path / "q", [file_source("web", "nginx", [str(tmp_path / "access.log*")],
                                                             read_gzip=True)])
    with running(skipped) as collector:
        assert collector.tailers[0].wait_caught_up(30) and collector.tailers[0].stats["lines"] == 0
    for expected_lines in (1500, 0):  # the second run finds it done
        with running(cfg) as collector:
            tailer = collector.tailers[0]
            assert tailer.wait_caught_up(60), tailer.stats
            assert tailer.stats["lines"] == expected_lines
    _exactly_once(isolated, "web", old.expected())


def test_partial_lines_wait_for_their_newline_or_a_timeout_and_long_lines_are_cut(
        isolated: Settings, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    cfg = tail_config(isolated, tmp_path / "q", [file_source("web", "nginx", [str(log)], max_line_bytes=300,
                                                             partial_flush_seconds=30)])
    writer = Writer(log, "partial")
    line = writer.line(1)
    with running(cfg) as collector:
        tailer = collector.tailers[0]
        os.write(writer.fd, writer.line(0) + line[:40])
        assert not tailer.wait_caught_up(1.0)  # the held half line is not shipped before its newline
        os.write(writer.fd, line[40:-1] + b"x" * 1000 + b"\n")
        assert tailer.wait_caught_up(30), tailer.stats
    fast = tail_config(isolated, tmp_path / "q", [file_source("web", "nginx", [str(log)], partial_flush_seconds=0.2)])
    with running(fast) as collector:
        os.write(writer.fd, b"no newline yet")
        assert collector.tailers[0].wait_caught_up(30)
    writer.close()
    found = {d["event"]["original"]: d for d in docs(isolated, "web")}
    assert len(found) == 3
    assert "_parse_failure" not in found[writer.line(0).decode().rstrip()]["tags"]
    long = next(d for o, d in found.items() if o.startswith(line[:40].decode()))
    assert "_truncated" in long["tags"] and len(long["event"]["original"]) == 300
    assert "_partial" in found["no newline yet"]["tags"]
