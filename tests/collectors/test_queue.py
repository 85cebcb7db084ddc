"""The disk queue alone (no OpenSearch): ordering, acknowledgement, restart, torn tails, size cap."""

from __future__ import annotations

import json
from pathlib import Path

from collectors.queue import DiskQueue


def _items(n: int, start: int = 0) -> list[tuple[bytes, str, bytes]]:
    return [(b"frame %d" % i, "logs-syslog", b'{"n":%d}' % i) for i in range(start, start + n)]


def test_records_come_back_in_order_and_ack_frees_segments(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, "c1", 10_000_000, segment_bytes=600)
    for i in range(0, 100, 10):
        assert q.append("s1", _items(10, i))
    assert q.depth == 100
    seen = []
    while True:
        batch = q.read_batch(17, 10_000_000, wait=0)
        if batch is None:
            break
        seen += [r.doc for r in batch.records]
        q.ack(batch)
    assert seen == [b'{"n":%d}' % i for i in range(100)]
    assert q.depth == 0 and q.pending_bytes == 0
    assert len(list(tmp_path.glob("*.seg"))) == 1  # acknowledged segments are deleted
    q.close()


def test_restart_resumes_after_the_acknowledged_batch_with_the_same_ids(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, "c1", 10_000_000, 4096)
    q.append("s1", _items(30))
    first = q.read_batch(10, 10_000_000, wait=0)
    assert first is not None
    q.ack(first)
    unacked = q.read_batch(10, 10_000_000, wait=0)  # read but never acknowledged: a crash now
    assert unacked is not None
    # no close(): the process dies here
    q2 = DiskQueue(tmp_path, "c1", 10_000_000, 4096)
    assert q2.depth == 20
    again = q2.read_batch(10, 10_000_000, wait=0)
    assert again is not None
    assert [(r.seq, r.doc_id) for r in again.records] == [(r.seq, r.doc_id) for r in unacked.records]
    q2.append("s1", _items(1, 30))
    rest = q2.read_batch(100, 10_000_000, wait=0)
    assert rest is not None and rest.records[-1].seq == 30  # the sequence continues, it does not restart
    q2.close()


def test_sequence_continues_when_the_queue_was_empty(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, "c1", 10_000_000, 4096)
    q.append("s1", _items(5))
    batch = q.read_batch(10, 10_000_000, wait=0)
    assert batch is not None
    q.ack(batch)
    q.close()
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["next_seq"] == 5
    q2 = DiskQueue(tmp_path, "c1", 10_000_000, 4096)
    q2.append("s1", _items(1))
    batch = q2.read_batch(10, 10_000_000, wait=0)
    assert batch is not None and batch.records[0].seq == 5
    q2.close()


def test_same_frame_different_sequence_gives_different_ids(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, "c1", 10_000_000, 4096)
    q.append("s1", [(b"same", "x", b"{}"), (b"same", "x", b"{}")])
    batch = q.read_batch(10, 10_000_000, wait=0)
    assert batch is not None
    assert len({r.doc_id for r in batch.records}) == 2
    q.close()


def test_torn_tail_is_cut_and_earlier_records_kept(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, "c1", 10_000_000, 1 << 20)
    q.append("s1", _items(10))
    q.close()
    seg = next(tmp_path.glob("*.seg"))
    data = seg.read_bytes()
    seg.write_bytes(data[:-7])  # a power loss cut the last record
    q2 = DiskQueue(tmp_path, "c1", 10_000_000, 1 << 20)
    assert q2.depth == 9
    q2.append("s1", _items(1, 10))
    batch = q2.read_batch(100, 10_000_000, wait=0)
    assert batch is not None
    assert [r.doc for r in batch.records][-2:] == [b'{"n":8}', b'{"n":10}']
    q2.close()


def test_full_queue_refuses_without_blocking_and_accepts_after_ack(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path, "c1", max_bytes=200, segment_bytes=1 << 20)
    outcomes: list[bool] = []
    assert q.append("s1", _items(5), block=False, counted=outcomes.append)
    assert not q.append("s1", _items(1), block=False, counted=outcomes.append)
    assert outcomes == [True, False]
    batch = q.read_batch(100, 10_000, wait=0)
    assert batch is not None
    q.ack(batch)
    assert q.append("s1", _items(1), block=False)
    q.close()
