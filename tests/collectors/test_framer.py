"""The TCP framer: newline and octet-counted frames detected per frame, split reads, oversize."""

from __future__ import annotations

import random

from collectors.sources.syslog import Framer


def test_mixed_framing_on_one_connection() -> None:
    f = Framer(1000)
    data = b"<13>plain one\n11 <13>counted<13>plain two\r\n\n5 hello"
    assert f.feed(data) == [
        (b"<13>plain one", False),
        (b"<13>counted", False),
        (b"<13>plain two", False),
        (b"hello", False),
    ]
    assert f.flush() == []


def test_frames_split_at_every_byte_boundary() -> None:
    def octet(m: bytes) -> bytes:
        return b"%d %s" % (len(m), m)

    stream = (
        octet(b"<13>1 - h a - - x")
        + b"\n<14>line with newline\n"
        + octet(b"<15>a b cd")
        + octet(b"<13>octet with\nnewline in")
    )
    expected = Framer(1000).feed(stream)
    assert [m for m, _ in expected] == [
        b"<13>1 - h a - - x",
        b"<14>line with newline",
        b"<15>a b cd",
        b"<13>octet with\nnewline in",
    ]
    rng = random.Random(7)
    for _ in range(200):
        f = Framer(1000)
        got = []
        pos = 0
        while pos < len(stream):
            step = rng.randint(1, 5)
            got += f.feed(stream[pos : pos + step])
            pos += step
        assert got == expected


def test_oversized_newline_frame_is_truncated_and_the_next_frame_survives() -> None:
    f = Framer(64)
    big = b"<13>" + b"A" * 500
    got = f.feed(big[:100]) + f.feed(big[100:] + b"\n<13>next\n")
    assert got == [(big[:64], True), (b"<13>next", False)]


def test_oversized_octet_frame_is_truncated_and_the_rest_skipped() -> None:
    f = Framer(64)
    body = b"<13>" + b"B" * 300
    got = f.feed(b"%d " % len(body) + body[:70]) + f.feed(body[70:] + b"6 <13>ok")
    assert got == [(body[:64], True), (b"<13>ok", False)]


def test_digits_without_space_are_a_newline_frame_and_close_flushes() -> None:
    f = Framer(100)
    assert f.feed(b"2024-01-01 no pri\n1234567890123 x\nunterminated") == [
        (b"2024-01-01 no pri", False),
        (b"1234567890123 x", False),
    ]
    assert f.flush() == [(b"unterminated", False)]


def test_random_bytes_never_raise_and_stay_bounded() -> None:
    rng = random.Random(11)
    for _ in range(300):
        f = Framer(128)
        for _ in range(20):
            f.feed(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))))
            assert len(f.buf) <= 128 + 12 + 200
        for msg, _ in f.flush():
            assert len(msg) <= 128
