#!/usr/bin/env bash
# Run the benchmark set (tests/benchmarks/run_set.py) and write a dated results file under
# tests/benchmarks/results/. It starts its own OpenSearch node on a free loopback port and stops it
# at the end; every benchmark sends traffic to loopback only. Arguments go to run_set.py, e.g.
#   scripts/bench.sh --only parse collector     scripts/bench.sh --skip detection
# Nothing fails on a wall-clock figure; the exit status says only whether every benchmark ran.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tests.benchmarks.run_set "$@"
