# ruff: noqa: E501  (log lines are corpus data; they stay whole)
"""Hostile input: whatever bytes arrive, parsing returns an event that keeps them, and never raises."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.parsers import KINDS, ParseContext, parse, text
from soc import ecs
from tests.collectors.parsers.contract import RECEIVED, failed, run

CTX = ParseContext(received_at=RECEIVED, timezone="Asia/Ho_Chi_Minh")

SEEDS = [
    b"<38>Nov 26 23:59:44 vm sshd[18349]: Failed password for root from 127.0.0.31 port 46232 ssh2",
    b'<46>1 2026-11-26T23:59:11.083502+00:00 vm rsyslogd - - [origin software="rsyslogd" x-pid="1"] start',
    b"2026-11-26T23:59:57.1+00:00 vm sudo: alice : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/id",
    b"<189>12: r1: *Mar  1 00:00:00.123 UTC: %SYS-5-CONFIG_I: Configured",
    b'127.0.0.22 - - [26/Nov/2026:23:59:29 +0000] "GET /a?b=%252e\\x22 HTTP/1.1" 404 153 "-" "Nikto"',
    b'{"time_iso8601":"2026-11-26T23:59:14+00:00","remote_addr":"127.0.0.10","request":"GET / HTTP/1.1","status":"200"}',
]
JUNK = [b"%s%n%x%p", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"[", b"]", b'"', b"\\", b"<", b">", b" ", b"\r\n",
        b"${jndi:ldap://x}", b"%c0%af", b"%", b"\\x", b"=", b":", b"[x a=\"", b"\xc3", b"\t"]  # fmt: skip


def check(kind: str, raw: bytes) -> None:
    event = parse(kind, raw, CTX)
    assert isinstance(event["event"]["original"], str)
    if raw.strip(b"\r\n\x00 \xef\xbb\xbf"):
        assert event["event"]["original"] != ""
    assert event["@timestamp"].endswith("Z")
    assert "\x00" not in event["event"]["original"]
    assert ecs.unknown_fields(event) == []
    json.dumps(event)  # shippable as it is (no bytes, no surrogates)
    assert "_parser_error" not in event.get("tags", []), event["event"]["original"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        where = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(("insert", "delete", "flip", "cut")))
        if action == "insert":
            line[where:where] = draw(st.sampled_from(JUNK) | st.binary(max_size=8))
        elif action == "delete" and line:
            del line[where : where + draw(st.integers(1, 10))]
        elif action == "flip" and where < len(line):
            line[where] = draw(st.integers(0, 255))
        else:
            del line[where:]
    return bytes(line)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), raw=mutated())
def test_mutated_lines_never_raise(kind: str, raw: bytes) -> None:
    check(kind, raw)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), raw=st.binary(max_size=300))
def test_random_bytes_never_raise(kind: str, raw: bytes) -> None:
    check(kind, raw)


@settings(max_examples=150, deadline=None)
@given(raw=st.text(max_size=200))
def test_random_text_never_raises(raw: str) -> None:
    for kind in KINDS:
        check(kind, raw.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("kind", KINDS)
def test_huge_lines_parse_in_linear_time(kind: str) -> None:
    heads = {
        "syslog": b"<38>Nov 26 23:59:44 vm sshd[1]: Failed password for ",
        "nginx": b'1.2.3.4 - - [26/Nov/2026:23:59:29 +0000] "GET /',
        "apache": b'1.2.3.4 - - [26/Nov/2026:23:59:29 +0000] "GET /',
        "nginx-json": b'{"request":"',
    }
    for filler in (b"a" * 4_000_000, b"%25" * 1_000_000, b" from 1.2.3.4 port" * 200_000, b'\\"' * 1_000_000):
        started = time.perf_counter()
        event = parse(kind, heads[kind] + filler, CTX)
        assert time.perf_counter() - started < 5  # catastrophic backtracking would take hours
        assert len(event["event"]["original"]) >= len(filler)


def test_decoding_keeps_bad_bytes_visible() -> None:
    assert text.decode(b"\xef\xbb\xbfhello\r\n") == "hello"
    assert text.decode(b"a\x00b\xffc") == "a\\x00b\\xffc"
    assert text.decode("tiếng Việt".encode()) == "tiếng Việt"
    assert text.unescape_log(r"\x22a\x5Cb\xC3\xA9\xff") == '"a\\bé\\xff'


def test_nul_and_invalid_utf8_in_a_syslog_line_are_kept_escaped() -> None:
    event = run("syslog", b"<13>Nov 26 23:59:44 vm app: evil\x00tail \xc3\x28 end")
    assert not failed(event)
    assert event["message"] == "evil\\x00tail \\xc3( end"
