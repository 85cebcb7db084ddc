"""Memory of a correlation's book of recent matches: ``.venv/bin/python -m tests.benchmarks.bench_recent_memory``.

Fills one book (``soc.detection.recent``) with ``--entries`` base matches of the project's 1-minute
client-error burst rule, the way windows fill it (backing index names as the streams make them,
20-character document ids), and prints the bytes ``tracemalloc`` counts per entry. Two shapes: every
entry its own group (addresses that each failed once: the worst case) and 25 entries per group.
Median of ``--runs``; nothing touches OpenSearch, nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tracemalloc
from pathlib import Path

from soc.detection import convert, recent, rules
from soc.detection.convert import CompiledCorrelation

ROOT = Path(__file__).resolve().parents[2]
BURST = "2f84518d-20c9-5170-b649-127b24a2f7f9"


def fill(corr: CompiledCorrelation, entries: int, per_group: int, seed: int) -> float:
    rnd = random.Random(seed)
    book = recent.Book((), 60_000, 720_000, 0, 0)
    tracemalloc.start()
    for i in range(entries):
        g = i // per_group
        agency = f"agency-{g % 41:02d}"
        entry = recent._entry(corr, 1_790_000_000_000 + i * 7,
                              (f".ds-logs-web-{agency}-2026.12.04-000001", f"{rnd.getrandbits(120):030x}"[:20], i),
                              frozenset({0}), [])
        book.add((agency, f"10.{g % 41}.{(g // 41) % 250}.{1 + (g // 10250) % 250}"), entry)
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return used / entries


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--entries", type=int, default=100_000)
    options.add_argument("--runs", type=int, default=3)
    args = options.parse_args(argv)
    compiled = convert.compile_rules(rules.load([ROOT / "rules"])[0])
    corr = next(c for c in compiled if isinstance(c, CompiledCorrelation) and c.rule.id == BURST)
    for label, per_group in (("every entry its own group", 1), ("25 entries per group", 25)):
        got = [fill(corr, args.entries, per_group, seed) for seed in range(args.runs)]
        print(f"{label}: {statistics.median(got):.0f} bytes an entry (min {min(got):.0f}, max {max(got):.0f}, "
              f"{args.runs} runs of {args.entries:,} entries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
