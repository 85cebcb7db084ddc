"""Runs the benchmark set and writes a dated results file: ``make bench`` (scripts/bench.sh).

    .venv/bin/python -m tests.benchmarks.run_set [--url URL] [--only NAME ...] [--skip NAME ...] [--out DIR]

Without ``--url`` it starts one dedicated OpenSearch node (1 GiB heap, free port, loopback) for
the benchmarks that take a URL, and stops it at the end; the detection benchmark starts its own.
Each benchmark runs as its own process with the arguments below (sizes chosen to keep the whole
set modest on a 2-core machine; each benchmark repeats its measurements and prints min / median /
max). The results file (``tests/benchmarks/results/<UTC date and time>.md``) holds the machine,
the commit, and per benchmark the exact command, the load average before and after, the wall
time and the full output. A benchmark that fails is recorded as failed and the others still run;
no wall-clock figure ever fails anything.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.benchmarks import measure
from tests.benchmarks.dedicated import dedicated_node

ROOT = Path(__file__).resolve().parents[2]
URL = "{url}"  # replaced by the node's URL


@dataclass(frozen=True)
class Bench:
    name: str
    module: str
    args: tuple[str, ...]
    env_url: bool = False  # takes the URL from SOC_TEST_OPENSEARCH_URL instead of --url


SET = (
    Bench("parse", "bench_parse", ("--lines", "20000", "--runs", "5")),
    Bench("storage", "bench_storage", ("--url", URL, "--events", "20000", "--runs", "3")),
    Bench("collector", "bench_collector", ("--url", URL, "--events", "30000", "--runs", "3")),
    Bench("tail", "bench_tail", ("--url", URL, "--lines", "30000", "--runs", "3", "--replay-lines", "100000")),
    Bench("incidents", "bench_incidents", ("--url", URL, "--incidents", "100000", "--alerts", "200000",
                                           "--clients", "50", "--requests", "2000", "--rate", "50",
                                           "--duration", "15", "--repeat", "3")),
    Bench("report", "bench_report", ("--events", "50000", "--runs", "3"), env_url=True),
    Bench("detection", "bench_detection", ()),  # its default arguments; it starts its own node
)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "0")
    dirty = " (with uncommitted changes in the working tree)" if _git("status", "--porcelain", "-uno") else ""
    return (f"- machine: {os.cpu_count()} CPUs ({cpu}), {int(mem) / 1024 / 1024:.0f} GiB, shared with other work\n"
            f"- Python {platform.python_version()}, {platform.platform()}\n"
            f"- commit {_git('rev-parse', '--short', 'HEAD')}{dirty}\n")


def run_one(bench: Bench, url: str | None, out: list[str]) -> bool:
    args = [a.replace(URL, url or "") for a in bench.args]
    shown = " ".join(("URL" if a == url else a) for a in args)
    command = [sys.executable, "-m", f"tests.benchmarks.{bench.module}", *args]
    env = os.environ | ({"SOC_TEST_OPENSEARCH_URL": url} if bench.env_url and url else {})
    started, before = datetime.now(UTC), measure.loadavg()
    t = time.monotonic()
    print(f"[{started:%H:%M:%S}] {bench.name}: load average {before}", flush=True)
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall, after = time.monotonic() - t, measure.loadavg()
    prefix = "SOC_TEST_OPENSEARCH_URL=URL " if bench.env_url else ""
    out.append(f"## {bench.name}\n\n```sh\n{prefix}.venv/bin/python -m tests.benchmarks.{bench.module} {shown}\n```\n\n"
               f"- started {started:%Y-%m-%d %H:%M:%S} UTC, wall time {wall:.0f} s, exit status {proc.returncode}\n"
               f"- load average (1, 5, 15 min) before {before}, after {after}\n\n"
               f"```text\n{proc.stdout.strip()}\n```\n")
    if proc.returncode != 0:
        out.append(f"Failed; the end of its error output:\n\n```text\n{proc.stderr.strip()[-3000:]}\n```\n")
    print(f"  {'ok' if proc.returncode == 0 else 'FAILED'} in {wall:.0f} s, load average after {after}", flush=True)
    return proc.returncode == 0


def main(argv: list[str] | None = None) -> int:
    names = [b.name for b in SET]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--url", help="an existing node on this machine (default: a dedicated one)")
    ap.add_argument("--only", nargs="+", choices=names, default=names)
    ap.add_argument("--skip", nargs="+", choices=names, default=[])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "benchmarks" / "results")
    args = ap.parse_args(argv)
    chosen = [b for b in SET if b.name in args.only and b.name not in args.skip]
    stamp = datetime.now(UTC)
    out = [f"# Benchmark results, {stamp:%Y-%m-%d %H:%M} UTC\n\n{_machine()}- benchmarks: "
           f"{', '.join(b.name for b in chosen)}\n"]
    ok = True
    needs_node = any(URL in b.args or b.env_url for b in chosen)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{stamp:%Y-%m-%d-%H%M}.md"
    with (nullcontext(args.url) if args.url or not needs_node else dedicated_node("1g")) as url:
        out.append(f"- OpenSearch node: {'given' if args.url else 'dedicated, 1 GiB heap, started by the run'}\n")
        for bench in chosen:
            ok &= run_one(bench, url, out)
            path.write_text("\n".join(out))  # after each benchmark: an interrupted set keeps what it measured
    print(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
