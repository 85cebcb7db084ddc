# ruff: noqa: E501  (sample log lines stay whole)
"""Parse throughput per format, one core: ``.venv/bin/python -m tests.benchmarks.bench_parse``.

Each format is a set of distinct lines (varied addresses, users, times, paths, agents; several
lines per second, as on a busy server), parsed several times with the parsers' caches cleared
before each run; the figure is the median lines/s. The baseline,
measured in the same run over the same lines, is the least any parser must do: one
``bytes.decode`` and one precompiled regex match per line. The ratio says what the full parser
(ECS event, enrichment, URL decoding, user agent) costs on top of that.

Options: ``--lines N`` (default 20000), ``--runs N`` (default 5). Timings never fail anything.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from collectors.parsers import ParseContext, access, clock, event, linux, parse, urls, useragent

# every memo the parsers keep: cleared before each timed run, so no run profits from the one before
CACHES = (clock.zone, clock._bsd, access._clf_time, access._iso_time, urls._cached, useragent._parse, event.ip,
          linux.enricher)  # fmt: skip

AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "curl/7.88.1",
    "Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:000704)",
)
PATHS = (
    "/",
    "/products.html",
    "/search?q=rock+%26+roll+tee",
    "/api/items?id=42",
    "/img/logo.png",
    "/..%2f..%2fetc/passwd",
)
USERS = ("root", "admin", "alice", "oracle", "test", "ubuntu")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _clock(i: int) -> tuple[int, int, int, int]:
    second = i // 7  # several lines per second, as on a busy server
    return (second // 3600) % 24, (second // 60) % 60, second % 60, 1 + (i // 50000) % 28


def rfc3164(i: int) -> bytes:
    h, m, s, d = _clock(i)
    return (f"<86>Nov {d:2d} {h:02d}:{m:02d}:{s:02d} web{i % 13} cron[{1000 + i % 5000}]: "
            f"pam_unix(cron:session): session closed for user {USERS[i % 6]}").encode()  # fmt: skip


def rfc5424(i: int) -> bytes:
    h, m, s, d = _clock(i)
    return (f"<165>1 2026-11-{d:02d}T{h:02d}:{m:02d}:{s:02d}.{i % 1000000:06d}+07:00 app{i % 11}.agency.gov "
            f"billing {2000 + i % 900} TX{i % 40} [meta seq=\"{i}\" zone=\"dmz\"] payment batch {i} committed").encode()  # fmt: skip


def sshd(i: int) -> bytes:
    h, m, s, d = _clock(i)
    return (f"Nov {d:2d} {h:02d}:{m:02d}:{s:02d} bastion sshd[{3000 + i % 20000}]: Failed password for "
            f"{'invalid user ' if i % 3 else ''}{USERS[i % 6]} from 203.0.{i % 256}.{(i // 256) % 256} "
            f"port {1024 + i % 60000} ssh2").encode()  # fmt: skip


def combined(i: int) -> bytes:
    h, m, s, d = _clock(i)
    return (f'198.51.{i % 256}.{(i // 7) % 256} - - [{d:02d}/Nov/2026:{h:02d}:{m:02d}:{s:02d} +0700] '
            f'"GET {PATHS[i % 6]} HTTP/1.1" {(200, 404, 304, 500)[i % 4]} {i % 50000} '
            f'"https://portal.agency.gov/" "{AGENTS[i % 5]}"').encode()  # fmt: skip


def nginx_json(i: int) -> bytes:
    h, m, s, d = _clock(i)
    record = {
        "time_iso8601": f"2026-11-{d:02d}T{h:02d}:{m:02d}:{s:02d}+07:00",
        "remote_addr": f"198.51.{i % 256}.{(i // 7) % 256}", "remote_user": "",
        "request": f"GET {PATHS[i % 6]} HTTP/1.1", "request_method": "GET", "request_uri": PATHS[i % 6],
        "server_protocol": "HTTP/1.1", "status": str((200, 404, 304, 500)[i % 4]), "body_bytes_sent": str(i % 50000),
        "http_referer": "https://portal.agency.gov/", "http_user_agent": AGENTS[i % 5], "host": "portal.agency.gov",
    }  # fmt: skip
    return json.dumps(record).encode()


# format -> (parser kind, line maker, baseline regex)
FORMATS: dict[str, tuple[str, Callable[[int], bytes], re.Pattern[str]]] = {
    "rfc3164": ("syslog", rfc3164, re.compile(r"<(\d+)>(\w{3}) +(\d+) (\S+) (\S+) ([^\[:]+)\[(\d+)\]: (.*)")),
    "rfc5424": ("syslog", rfc5424, re.compile(r"<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[.*?\]|-) (.*)")),
    "sshd": ("syslog", sshd, re.compile(r"(\w{3}) +(\d+) (\S+) (\S+) ([^\[:]+)\[(\d+)\]: (.*)")),
    "nginx combined": ("nginx", combined, re.compile(r'(\S+) \S+ (\S+) \[([^\]]+)\] "([^"]*)" (\d+) (\d+) "([^"]*)" "([^"]*)"')),
    "nginx json": ("nginx-json", nginx_json, re.compile(r'"remote_addr":"([^"]*)".*"status":"(\d+)"')),
}  # fmt: skip


def _median_rate(work: Callable[[], None], count: int, runs: int) -> float:
    rates = []
    for _ in range(runs):
        for cache in CACHES:
            cache.cache_clear()
        started = time.perf_counter()
        work()
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=20000)
    options.add_argument("--runs", type=int, default=5)
    args = options.parse_args(argv)
    ctx = ParseContext(received_at=datetime(2026, 11, 28, tzinfo=UTC), timezone="Asia/Ho_Chi_Minh")
    print(f"{args.lines} distinct lines per format, median of {args.runs} runs, one core")
    print(f"{'format':<16}{'parser lines/s':>16}{'baseline lines/s':>18}{'parser/baseline':>17}")
    for name, (kind, make, pattern) in FORMATS.items():
        lines = [make(i) for i in range(args.lines)]
        failures = sum("_parse_failure" in parse(kind, line, ctx).get("tags", ()) for line in lines)
        if failures:
            print(f"{name}: {failures} lines did not parse; figures would be meaningless")
            return 1

        def full(lines: list[bytes] = lines, kind: str = kind) -> None:
            for line in lines:
                parse(kind, line, ctx)

        def baseline(lines: list[bytes] = lines, pattern: re.Pattern[str] = pattern) -> None:
            for line in lines:
                pattern.match(line.decode("utf-8"))

        rate = _median_rate(full, len(lines), args.runs)
        base = _median_rate(baseline, len(lines), args.runs)
        print(f"{name:<16}{rate:>16,.0f}{base:>18,.0f}{rate / base:>17.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
