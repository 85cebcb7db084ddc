# ruff: noqa: E501  (sample log lines stay whole)
"""Parse throughput per format, one core: ``.venv/bin/python -m tests.benchmarks.bench_parse``.

Each format is a set of distinct generated lines (varied addresses, times, and for access logs
user agents, paths and users drawn from pools of thousands with a skewed popularity: corpus.py),
parsed several times with the parsers' caches cleared before each run; it prints min / median /
max lines/s over the runs and the caches' hit rates within a run (a handful of agents and paths
would let the caches answer nearly every line). The baseline, measured in the same run over the
same lines, is the least any parser must do: one ``bytes.decode`` and one precompiled regex match
per line. When the public logs beside the checkout exist (``../shared/testdata``), they are parsed
too, as extra rows; the benchmark runs without them.

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
from functools import lru_cache
from pathlib import Path

from collectors.parsers import ParseContext, access, clock, event, linux, parse, urls, useragent
from tests.benchmarks import measure
from tests.benchmarks.corpus import Vocabulary

# every memo the parsers keep: cleared before each timed run, so no run profits from the one before
CACHES = (clock.zone, clock._bsd, access._clf_time, access._iso_time, urls._cached, useragent._parse, event.ip,
          linux.enricher)  # fmt: skip



@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """Thousands of agents, paths and users with a skewed popularity (built on first use)."""
    return Vocabulary.make(DRAWS)


DRAWS = 100_000  # lines beyond this repeat the order of agents, paths and users from the start
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _clock(i: int) -> tuple[int, int, int, int]:
    second = i // 7  # several lines per second, as on a busy server
    return (second // 3600) % 24, (second // 60) % 60, second % 60, 1 + (i // 50000) % 28


def rfc3164(i: int) -> bytes:
    h, m, s, d = _clock(i)
    return (f"<86>Nov {d:2d} {h:02d}:{m:02d}:{s:02d} web{i % 13} cron[{1000 + i % 5000}]: "
            f"pam_unix(cron:session): session closed for user {vocabulary().user(i)}").encode()  # fmt: skip


def rfc5424(i: int) -> bytes:
    h, m, s, d = _clock(i)
    return (f"<165>1 2026-11-{d:02d}T{h:02d}:{m:02d}:{s:02d}.{i % 1000000:06d}+07:00 app{i % 11}.agency.gov "
            f"billing {2000 + i % 900} TX{i % 40} [meta seq=\"{i}\" zone=\"dmz\"] payment batch {i} committed").encode()  # fmt: skip


def sshd(i: int) -> bytes:
    h, m, s, d = _clock(i)
    return (f"Nov {d:2d} {h:02d}:{m:02d}:{s:02d} bastion sshd[{3000 + i % 20000}]: Failed password for "
            f"{'invalid user ' if i % 3 else ''}{vocabulary().user(i)} from 203.0.{i % 256}.{(i // 256) % 256} "
            f"port {1024 + i % 60000} ssh2").encode()  # fmt: skip


def combined(i: int) -> bytes:
    h, m, s, d = _clock(i)
    return (f'198.51.{i % 256}.{(i // 7) % 256} - - [{d:02d}/Nov/2026:{h:02d}:{m:02d}:{s:02d} +0700] '
            f'"GET {vocabulary().path(i)} HTTP/1.1" {(200, 404, 304, 500)[i % 4]} {i % 50000} '
            f'"https://portal.agency.gov/" "{vocabulary().agent(i)}"').encode()  # fmt: skip


def nginx_json(i: int) -> bytes:
    h, m, s, d = _clock(i)
    path = vocabulary().path(i)
    record = {
        "time_iso8601": f"2026-11-{d:02d}T{h:02d}:{m:02d}:{s:02d}+07:00",
        "remote_addr": f"198.51.{i % 256}.{(i // 7) % 256}", "remote_user": "",
        "request": f"GET {path} HTTP/1.1", "request_method": "GET", "request_uri": path,
        "server_protocol": "HTTP/1.1", "status": str((200, 404, 304, 500)[i % 4]), "body_bytes_sent": str(i % 50000),
        "http_referer": "https://portal.agency.gov/", "http_user_agent": vocabulary().agent(i), "host": "portal.agency.gov",
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


def _rates(work: Callable[[], None], count: int, runs: int) -> list[float]:
    rates = []
    for _ in range(runs):
        for cache in CACHES:
            cache.cache_clear()
        started = time.perf_counter()
        work()
        rates.append(count / (time.perf_counter() - started))
    return rates


def _hit_rate() -> str:
    """Cache hits of the last run, for the caches that depend on the vocabulary."""
    parts = []
    for name, cache in (("agents", useragent._parse), ("URLs", urls._cached), ("times", access._clf_time),
                        ("addresses", event.ip)):
        info = cache.cache_info()
        if info.hits + info.misses:
            parts.append(f"{name} {100 * info.hits / (info.hits + info.misses):.1f} %")
    return ", ".join(parts)


def public_samples() -> dict[str, tuple[str, list[bytes]]]:
    """Real logs beside the checkout (../shared/testdata), when present: name -> (parser kind, lines)."""
    root = Path(__file__).resolve().parents[3] / "shared" / "testdata"
    files = {"testdata nginx/access.log": ("nginx", root / "nginx" / "access.log"),
             "testdata nginx/access.json.log": ("nginx-json", root / "nginx" / "access.json.log"),
             "testdata syslog/auth.log": ("syslog", root / "syslog" / "auth.log"),
             "public elastic apache": ("nginx", root / "public" / "elastic_examples_apache_logs_head3000.log")}
    return {name: (kind, path.read_bytes().splitlines()) for name, (kind, path) in files.items() if path.is_file()}


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=20000)
    options.add_argument("--runs", type=int, default=5)
    args = options.parse_args(argv)
    ctx = ParseContext(received_at=datetime(2026, 11, 28, tzinfo=UTC), timezone="Asia/Ho_Chi_Minh")
    vocab = vocabulary()
    n = min(args.lines, DRAWS)
    print(f"{args.lines} generated lines per format, {args.runs} runs each, one core, load average before "
          f"{measure.loadavg()}; distinct in the sample: {len({vocab.agent(i) for i in range(n)}):,} user agents, "
          f"{len({vocab.path(i) for i in range(n)}):,} paths, {len({vocab.user(i) for i in range(n)}):,} users "
          f"(pools of {len(vocab.agents):,}, {len(vocab.paths):,}, {len(vocab.users):,})")
    print("\n| format | parser lines/s, min / median / max | baseline lines/s (median) | parser / baseline "
          "| cache hits in a run |\n|---|---|---:|---:|---|")
    samples = {name: (kind, [make(i) for i in range(args.lines)]) for name, (kind, make, _) in FORMATS.items()}
    extra = public_samples()
    for name, (kind, lines) in {**samples, **extra}.items():
        failures = sum("_parse_failure" in parse(kind, line, ctx).get("tags", ()) for line in lines)
        if failures and name in samples:
            print(f"{name}: {failures} lines did not parse; figures would be meaningless")
            return 1

        def full(lines: list[bytes] = lines, kind: str = kind) -> None:
            for line in lines:
                parse(kind, line, ctx)

        rates = _rates(full, len(lines), args.runs)
        hits = _hit_rate()
        label = name if name in samples else f"{name} ({len(lines):,} real lines, {failures} unparsed)"
        if name in FORMATS:
            pattern = FORMATS[name][2]

            def baseline(lines: list[bytes] = lines, pattern: re.Pattern[str] = pattern) -> None:
                for line in lines:
                    pattern.match(line.decode("utf-8"))

            base = statistics.median(_rates(baseline, len(lines), args.runs))
            print(f"| {label} | {measure.spread(rates)} | {base:,.0f} | {statistics.median(rates) / base:.3f} | {hits} |")
        else:
            print(f"| {label} | {measure.spread(rates)} | | | {hits} |")
    print(f"\nload average after: {measure.loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
